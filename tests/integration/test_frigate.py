"""The Frigate event id on the camera's entities (mocked MQTT): the camera's last-person sensor
and its face event entity say which Frigate event their picture was fetched for."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from .test_entities import DOOR_EVENT, DOOR_PERSON, detected


def camera_state(**overrides: object) -> str:
    """A retained `camera/<camera>/state` payload as the service publishes it."""
    payload = {
        "camera": "front_door",
        "time": "2026-11-23T13:45:12+00:00",
        "snapshot_id": "s",
        "face_count": 1,
        "unknown": 0,
        "face_time": None,
        "people": [{"person": "alice", "name": "Alice", "similarity": 0.7}],
        "frigate_event_id": "1700000000.1-abc",
    }
    payload.update(overrides)
    return json.dumps(payload)


async def test_camera_sensor_and_event_carry_the_frigate_event_id(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Set from the camera state and the face event; a snapshot not from Frigate clears it."""
    async_fire_mqtt_message(hass, "known_faces/camera/front_door/state", camera_state())
    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(source="frigate", frigate_event_id="1700000000.1-abc"),
    )
    await hass.async_block_till_done()
    assert hass.states.get(DOOR_PERSON).attributes["frigate_event_id"] == "1700000000.1-abc"
    assert hass.states.get(DOOR_EVENT).attributes["frigate_event_id"] == "1700000000.1-abc"

    async_fire_mqtt_message(
        hass, "known_faces/camera/front_door/state", camera_state(frigate_event_id=None)
    )
    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected(event_id="e-2"))
    await hass.async_block_till_done()
    assert hass.states.get(DOOR_PERSON).attributes["frigate_event_id"] is None
    assert hass.states.get(DOOR_EVENT).attributes["frigate_event_id"] is None
