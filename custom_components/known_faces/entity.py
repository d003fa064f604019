"""Base entity and device descriptions shared by the platforms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import (
    KnownFacesCoordinator,
    camera_identifier,
    person_identifier,
    signal_new_camera,
    signal_new_people,
    signal_updated,
)

if TYPE_CHECKING:
    from .data import KnownFacesConfigEntry


@callback
def async_track_subjects(
    hass: HomeAssistant,
    entry: KnownFacesConfigEntry,
    *,
    add_people: Callable[[list[str]], None] | None = None,
    add_camera: Callable[[str], None] | None = None,
) -> None:
    """Create a platform's entities for the people and cameras known now and for later ones."""
    coordinator = entry.runtime_data.coordinator
    if add_people is not None:
        add_people(list(coordinator.data.people))
        entry.async_on_unload(
            async_dispatcher_connect(hass, signal_new_people(entry.entry_id), add_people)
        )
    if add_camera is not None:
        for camera in sorted(coordinator.cameras_with_entities):
            add_camera(camera)
        entry.async_on_unload(
            async_dispatcher_connect(hass, signal_new_camera(entry.entry_id), add_camera)
        )


def service_device_info(coordinator: KnownFacesCoordinator) -> DeviceInfo:
    """The device standing for the service itself; people and cameras hang off it."""
    return DeviceInfo(
        identifiers={(DOMAIN, coordinator.instance_id)},
        name="Known Faces",
        manufacturer="Known Faces",
        model="Face recognition service",
        sw_version=coordinator.health.get("version"),
        configuration_url=coordinator.client.url,
    )


def person_device_info(coordinator: KnownFacesCoordinator, slug: str) -> DeviceInfo:
    """One device per enrolled person, named with the display name."""
    person = coordinator.data.people.get(slug)
    return DeviceInfo(
        identifiers={person_identifier(coordinator.instance_id, slug)},
        name=person.name if person else slug,
        manufacturer="Known Faces",
        model="Enrolled person",
        via_device=(DOMAIN, coordinator.instance_id),
    )


def camera_device_info(coordinator: KnownFacesCoordinator, camera: str) -> DeviceInfo:
    """One device per camera the service has reported on."""
    return DeviceInfo(
        identifiers={camera_identifier(coordinator.instance_id, camera)},
        name=camera.replace("_", " ").title(),
        manufacturer="Known Faces",
        model="Camera",
        via_device=(DOMAIN, coordinator.instance_id),
    )


class KnownFacesEntity(CoordinatorEntity[KnownFacesCoordinator]):
    """Base of every Known Faces entity: named by translation key, woken only by its subject.

    The coordinator's own updates (every entity) are about availability; the subject's signal
    (`person:alice`, `camera:door`, ...) is about this entity's value.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: KnownFacesCoordinator,
        device_info: DeviceInfo,
        unique_id: str,
        subject: str | None = None,
    ) -> None:
        """Attach the entity to its device; `unique_id` is relative to the service."""
        super().__init__(coordinator)
        self._attr_device_info = device_info
        self._attr_unique_id = f"{coordinator.instance_id}:{unique_id}"
        self._update_subject = subject

    async def async_added_to_hass(self) -> None:
        """Follow the subject's updates besides the coordinator's."""
        await super().async_added_to_hass()
        if self._update_subject is not None:
            self.async_on_remove(
                async_dispatcher_connect(
                    self.hass,
                    signal_updated(self.coordinator.config_entry.entry_id, self._update_subject),
                    self._handle_coordinator_update,
                )
            )

    @property
    def available(self) -> bool:
        """Unavailable only while a link is down, never for lack of sightings."""
        return self.coordinator.available
