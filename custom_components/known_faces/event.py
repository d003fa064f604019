"""Event entity per camera: fires `known`, `unknown` or `ignored` (a face matching a visitor
the user ignores) for every face the service reports."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_IGNORED, EVENT_KNOWN, EVENT_UNKNOWN
from .coordinator import KnownFacesCoordinator, signal_person_detected
from .data import KnownFacesConfigEntry
from .entity import KnownFacesEntity, async_track_subjects, camera_device_info

PARALLEL_UPDATES = 0

# The payload fields an automation most likely needs; the whole payload is on the bus event.
EVENT_ATTRIBUTES = (
    "person",
    "name",
    "similarity",
    "event_id",
    "frigate_event_id",
    "visitor",
    "visitor_sightings",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KnownFacesConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an event entity for every camera, now and as cameras appear."""
    coordinator = entry.runtime_data.coordinator

    @callback
    def add_camera(camera: str) -> None:
        async_add_entities([KnownFacesFaceEvent(coordinator, camera)])

    async_track_subjects(hass, entry, add_camera=add_camera)


class KnownFacesFaceEvent(KnownFacesEntity, EventEntity):
    """Fires once per face seen on the camera."""

    _attr_translation_key = "face"

    def __init__(self, coordinator: KnownFacesCoordinator, camera: str) -> None:
        """Attach the entity to the camera's device."""
        super().__init__(
            coordinator, camera_device_info(coordinator, camera), f"camera:{camera}:face"
        )
        self._attr_event_types = [EVENT_KNOWN, EVENT_UNKNOWN, EVENT_IGNORED]
        self._camera = camera

    async def async_added_to_hass(self) -> None:
        """Listen to the coordinator's stream of `person_detected` payloads."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_person_detected(self.coordinator.config_entry.entry_id),
                self._on_person_detected,
            )
        )

    @callback
    def _on_person_detected(self, payload: dict[str, Any]) -> None:
        """Fire for this camera's faces only."""
        if payload.get("camera") != self._camera:
            return
        if payload.get("status") == EVENT_IGNORED:
            event_type = EVENT_IGNORED
        else:
            event_type = EVENT_KNOWN if payload.get("known") else EVENT_UNKNOWN
        self._trigger_event(event_type, {key: payload.get(key) for key in EVENT_ATTRIBUTES})
        self.async_write_ha_state()
