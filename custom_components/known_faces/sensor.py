"""Sensors: last seen camera and time per person; last person and face count per camera; the
visitors awaiting review on the service's device.

The similarities behind them are diagnostic sensors, disabled by default: they help tune the
service's threshold, not automations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import (
    SUBJECT_CAMERA,
    SUBJECT_PERSON,
    SUBJECT_VISITORS,
    VISITORS_SUMMARY,
    KnownFacesCoordinator,
    subject,
)
from .data import KnownFacesConfigEntry
from .entity import (
    KnownFacesEntity,
    async_track_subjects,
    camera_device_info,
    person_device_info,
    service_device_info,
)
from .models import KnownFacesState

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class KnownFacesSensorDescription(SensorEntityDescription):
    """A sensor of a person or a camera; `value_fn` reads it from the state by slug or camera,
    `attributes_fn` its extra attributes."""

    value_fn: Callable[[KnownFacesState, str], StateType | datetime]
    attributes_fn: Callable[[KnownFacesState, str], dict[str, Any]] | None = None


def _sighting_camera(data: KnownFacesState, slug: str) -> str | None:
    """The camera a person was last recognised on."""
    sighting = data.sightings.get(slug)
    return sighting.camera if sighting else None


def _sighting_time(data: KnownFacesState, slug: str) -> datetime | None:
    """When a person was last recognised."""
    sighting = data.sightings.get(slug)
    return sighting.time if sighting else None


def _sighting_similarity(data: KnownFacesState, slug: str) -> float | None:
    """The similarity of a person's last recognition."""
    sighting = data.sightings.get(slug)
    return sighting.similarity if sighting else None


def _camera_last_person(data: KnownFacesState, camera: str) -> str | None:
    """Display name of the last person recognised on a camera."""
    state = data.cameras.get(camera)
    return state.last_person if state else None


def _camera_frigate(data: KnownFacesState, camera: str) -> dict[str, Any]:
    """The Frigate event of the camera's last snapshot (None when it did not come from one)."""
    state = data.cameras.get(camera)
    return {"frigate_event_id": state.frigate_event_id if state else None}


def _camera_face_count(data: KnownFacesState, camera: str) -> int | None:
    """Faces in the camera's last processed snapshot."""
    state = data.cameras.get(camera)
    return state.face_count if state else None


def _camera_last_similarity(data: KnownFacesState, camera: str) -> float | None:
    """The similarity of the last person recognised on a camera."""
    state = data.cameras.get(camera)
    return state.last_similarity if state else None


def _similarity(
    value_fn: Callable[[KnownFacesState, str], float | None],
) -> KnownFacesSensorDescription:
    """The diagnostic similarity sensor of a person or a camera."""
    return KnownFacesSensorDescription(
        key="last_similarity",
        translation_key="last_similarity",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


PERSON_SENSORS: tuple[KnownFacesSensorDescription, ...] = (
    KnownFacesSensorDescription(
        key="last_camera", translation_key="last_camera", value_fn=_sighting_camera
    ),
    KnownFacesSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_sighting_time,
    ),
    _similarity(_sighting_similarity),
)

CAMERA_SENSORS: tuple[KnownFacesSensorDescription, ...] = (
    KnownFacesSensorDescription(
        key="last_person",
        translation_key="last_person",
        value_fn=_camera_last_person,
        attributes_fn=_camera_frigate,
    ),
    KnownFacesSensorDescription(
        key="face_count",
        translation_key="face_count",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_camera_face_count,
    ),
    _similarity(_camera_last_similarity),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KnownFacesConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every person and camera, now and as they appear."""
    coordinator = entry.runtime_data.coordinator

    @callback
    def add_people(slugs: list[str]) -> None:
        async_add_entities(
            KnownFacesSensor(
                coordinator,
                description,
                SUBJECT_PERSON,
                slug,
                person_device_info(coordinator, slug),
            )
            for slug in slugs
            for description in PERSON_SENSORS
        )

    @callback
    def add_camera(camera: str) -> None:
        async_add_entities(
            KnownFacesSensor(
                coordinator,
                description,
                SUBJECT_CAMERA,
                camera,
                camera_device_info(coordinator, camera),
            )
            for description in CAMERA_SENSORS
        )

    async_track_subjects(hass, entry, add_people=add_people, add_camera=add_camera)
    async_add_entities([KnownFacesVisitorsSensor(coordinator)])


class KnownFacesSensor(KnownFacesEntity, RestoreSensor):
    """A sensor that keeps its last value across restarts until the service reports a new one."""

    entity_description: KnownFacesSensorDescription

    def __init__(
        self,
        coordinator: KnownFacesCoordinator,
        description: KnownFacesSensorDescription,
        kind: str,
        name: str,
        device_info: DeviceInfo,
    ) -> None:
        """`name` is the person's slug or the camera's name, after `kind`."""
        key = subject(kind, name)
        super().__init__(coordinator, device_info, f"{key}:{description.key}", key)
        self.entity_description = description
        self._subject_name = name
        self._restored: StateType | date | datetime | Decimal = None

    async def async_added_to_hass(self) -> None:
        """Restore the last value: a restart must not make people look never seen."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None:
            self._restored = last.native_value

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The description's attributes (the Frigate event id of a camera), if any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.coordinator.data, self._subject_name) if attributes_fn else None

    @property
    def native_value(self) -> StateType | date | datetime | Decimal:
        """The service's latest value, else the restored one."""
        value = self.entity_description.value_fn(self.coordinator.data, self._subject_name)
        return self._restored if value is None else value


class KnownFacesVisitorsSensor(KnownFacesEntity, SensorEntity):
    """How many visitors (unknown faces grouped) await review; the newest ids as attribute."""

    _attr_translation_key = "visitors_pending"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: KnownFacesCoordinator) -> None:
        """On the service's device, woken by the visitors summary."""
        super().__init__(
            coordinator,
            service_device_info(coordinator),
            "visitors:pending",
            subject(SUBJECT_VISITORS, VISITORS_SUMMARY),
        )

    @property
    def native_value(self) -> int | None:
        """Visitors neither assigned nor ignored (unknown until the service reports)."""
        return self.coordinator.data.visitors.pending

    @property
    def extra_state_attributes(self) -> dict[str, list[str]]:
        """The newest visitors' ids, newest first (for automations and cards)."""
        return {"newest": [str(v["visitor"]) for v in self.coordinator.data.visitors.newest]}
