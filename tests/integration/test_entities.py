"""Entities built from the service's MQTT topics (mocked MQTT)."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any
from unittest.mock import AsyncMock

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.mqtt.const import MQTT_CONNECTION_STATE
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_mqtt_message,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.known_faces.const import DOMAIN, EVENT_PERSON_DETECTED

from .fake_service import INSTANCE_ID

ALICE_CAMERA = "sensor.alice_last_seen_camera"
ALICE_SEEN = "sensor.alice_last_seen"
DOOR_PERSON = "sensor.front_door_last_recognised_person"
DOOR_FACES = "sensor.front_door_face_count"
DOOR_EVENT = "event.front_door_face"
DOOR_IMAGE = "image.front_door_last_face"
STATUS = "binary_sensor.known_faces_status"


def detected(**overrides: Any) -> str:
    """A `person_detected` payload as the service publishes it (addon/DOCS.md)."""
    payload = {
        "event_id": "e-1",
        "snapshot_id": "s-1",
        "camera": "front_door",
        "time": "2026-11-23T13:45:12.123456+00:00",
        "known": True,
        "person": "alice",
        "name": "Alice",
        "similarity": 0.78,
        "threshold": 0.55,
        "margin": 0.08,
        "second": {"person": "bob", "name": "Bob", "similarity": 0.12},
        "box": [412, 160, 530, 301],
        "face_px": 118,
        "detection_score": 0.998,
        "face_count": 1,
        "source": "mqtt",
        "model": "mobilefacenet-192",
        "latency_ms": 41.7,
    }
    payload.update(overrides)
    return json.dumps(payload)


def camera_state(camera: str = "garage", **overrides: Any) -> str:
    """A retained camera state payload; `face_time` only where a test gives it (older services)."""
    payload: dict[str, Any] = {
        "camera": camera,
        "time": "2026-11-23T13:45:12+00:00",
        "snapshot_id": "s",
        "face_count": 1,
        "unknown": 0,
        "people": [],
    }
    payload.update(overrides)
    return json.dumps(payload)


def gallery(*people: tuple[str, str], version: int = 2) -> str:
    """A retained gallery payload."""
    return json.dumps(
        {
            "version": version,
            "model": "mobilefacenet-192",
            "people": [{"person": s, "name": n, "face_count": 1} for s, n in people],
        }
    )


async def test_people_from_http_and_gallery(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """People listed at setup get entities at once; new ones come from the gallery topic."""
    assert hass.states.get(ALICE_CAMERA).state == STATE_UNKNOWN
    assert hass.states.get(ALICE_SEEN).attributes["device_class"] == "timestamp"
    assert hass.states.get("sensor.bob_last_seen_camera") is None

    async_fire_mqtt_message(
        hass, "known_faces/gallery", gallery(("alice", "Alice"), ("bob", "Bob"))
    )
    await hass.async_block_till_done()

    assert hass.states.get("sensor.bob_last_seen_camera").state == STATE_UNKNOWN
    assert hass.states.get("sensor.bob_last_seen").state == STATE_UNKNOWN
    bob = device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:bob")})
    service = device_registry.async_get_device(identifiers={(DOMAIN, INSTANCE_ID)})
    assert bob is not None
    assert bob.name == "Bob"
    assert bob.via_device_id == service.id


async def test_person_detected_updates_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A known face updates the person's and the camera's sensors and fires both events."""
    bus_events = async_capture_events(hass, EVENT_PERSON_DETECTED)
    assert hass.states.get(DOOR_EVENT) is None

    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()

    assert hass.states.get(ALICE_CAMERA).state == "front_door"
    assert hass.states.get(ALICE_SEEN).state == "2026-11-23T13:45:12+00:00"
    assert hass.states.get(DOOR_PERSON).state == "Alice"
    event = hass.states.get(DOOR_EVENT)
    assert event.attributes["event_type"] == "known"
    assert event.attributes["person"] == "alice"
    assert event.attributes["name"] == "Alice"
    assert event.attributes["similarity"] == 0.78
    assert event.attributes["event_id"] == "e-1"
    assert len(bus_events) == 1
    assert bus_events[0].data == json.loads(detected())

    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(event_id="e-2", known=False, person=None, name=None, similarity=0.31),
    )
    await hass.async_block_till_done()
    event = hass.states.get(DOOR_EVENT)
    assert event.attributes["event_type"] == "unknown"
    assert event.attributes["event_id"] == "e-2"
    assert event.attributes["person"] is None
    # An unknown face does not change who was last recognised.
    assert hass.states.get(DOOR_PERSON).state == "Alice"
    assert len(bus_events) == 2

    # Another camera's face fires that camera's event entity only.
    async_fire_mqtt_message(
        hass, "known_faces/event/person_detected", detected(event_id="e-3", camera="garden")
    )
    await hass.async_block_till_done()
    assert hass.states.get(DOOR_EVENT).attributes["event_id"] == "e-2"
    assert hass.states.get("event.garden_face").attributes["event_id"] == "e-3"


async def test_camera_state_and_face(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The camera state topic creates the camera; the face topic feeds its image entity."""
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    await hass.async_block_till_done()
    assert hass.states.get("image.garage_last_face") is None

    async_fire_mqtt_message(
        hass,
        "known_faces/camera/garage/state",
        json.dumps(
            {
                "camera": "garage",
                "time": "2026-11-23T13:45:12+00:00",
                "snapshot_id": "s",
                "face_count": 2,
                "unknown": 1,
                "people": [
                    {"person": "bob", "name": "Bob", "similarity": 0.6},
                    {"person": "alice", "name": "Alice", "similarity": 0.7},
                ],
            }
        ),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.garage_face_count").state == "2"
    assert hass.states.get("sensor.garage_last_recognised_person").state == "Alice"
    image = hass.states.get("image.garage_last_face")
    assert image.state != STATE_UNKNOWN

    client = await hass_client()
    resp = await client.get("/api/image_proxy/image.garage_last_face")
    assert resp.status == HTTPStatus.OK
    assert await resp.read() == b"\xff\xd8jpeg-1"

    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-2")
    await hass.async_block_till_done()
    resp = await client.get("/api/image_proxy/image.garage_last_face")
    assert await resp.read() == b"\xff\xd8jpeg-2"
    assert hass.states.get("image.garage_last_face").state != image.state


async def test_forget_removes_entities_and_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A person gone from the gallery loses device and entities; re-enrolling restores them."""
    async_fire_mqtt_message(
        hass, "known_faces/gallery", gallery(("alice", "Alice"), ("bob", "Bob"))
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.bob_last_seen") is not None

    async_fire_mqtt_message(hass, "known_faces/gallery", gallery(("alice", "Alice"), version=3))
    await hass.async_block_till_done()

    assert hass.states.get("sensor.bob_last_seen") is None
    assert hass.states.get("sensor.bob_last_seen_camera") is None
    assert entity_registry.async_get("sensor.bob_last_seen") is None
    assert (
        device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:bob")})
        is None
    )
    assert hass.states.get(ALICE_CAMERA) is not None

    async_fire_mqtt_message(
        hass, "known_faces/gallery", gallery(("alice", "Alice"), ("bob", "Bob"))
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.bob_last_seen") is not None


async def test_rename_keeps_entity_ids(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """A new display name renames the device; the slug-based entity IDs stay."""
    async_fire_mqtt_message(hass, "known_faces/gallery", gallery(("alice", "Alice Smith")))
    await hass.async_block_till_done()

    device = device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:alice")})
    assert device.name == "Alice Smith"
    state = hass.states.get(ALICE_CAMERA)
    assert state is not None
    assert state.attributes["friendly_name"] == "Alice Smith Last seen camera"


async def test_status_drives_availability(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Only `offline` makes entities unavailable; the status sensor itself stays available."""
    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    async_fire_mqtt_message(hass, "known_faces/status", "online")
    await hass.async_block_till_done()
    assert hass.states.get(STATUS).state == STATE_ON
    assert hass.states.get(ALICE_CAMERA).state == "front_door"

    async_fire_mqtt_message(hass, "known_faces/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(STATUS).state == STATE_OFF
    for entity_id in (ALICE_CAMERA, ALICE_SEEN, DOOR_PERSON, DOOR_FACES, DOOR_EVENT, DOOR_IMAGE):
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE, entity_id

    async_fire_mqtt_message(hass, "known_faces/status", "online")
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == "front_door"


async def test_person_state_topic(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The retained per-person state sets last seen after a restart of Home Assistant."""
    async_fire_mqtt_message(
        hass,
        "known_faces/person/alice/state",
        json.dumps(
            {
                "person": "alice",
                "name": "Alice",
                "camera": "garden",
                "time": "2026-11-22T08:00:00+00:00",
                "similarity": 0.7,
                "event_id": "e",
            }
        ),
    )
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == "garden"
    assert hass.states.get(ALICE_SEEN).state == "2026-11-22T08:00:00+00:00"


async def test_malformed_messages_are_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Garbage on a topic is logged and changes nothing."""
    for topic in (
        "known_faces/gallery",
        "known_faces/event/person_detected",
        "known_faces/camera/x/state",
        "known_faces/person/alice/state",
    ):
        async_fire_mqtt_message(hass, topic, "not json")
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == STATE_UNKNOWN
    assert hass.states.get("sensor.x_face_count") is None


async def test_restore_last_seen(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """Last seen values survive a restart until the service reports new ones."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(ALICE_CAMERA, "garden"),
                {"native_value": "garden", "native_unit_of_measurement": None},
            ),
        ],
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == "garden"

    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == "front_door"


async def test_unload_unsubscribes(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """After unload, messages no longer reach the integration."""
    bus_events = async_capture_events(hass, EVENT_PERSON_DETECTED)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED

    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()
    assert bus_events == []


GARAGE_IMAGE = "image.garage_last_face"
CROP_TIME = "2026-11-23T13:45:12+00:00"


async def test_face_time_is_the_crops(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The image's state is the time the service took the crop, whatever order topics arrive in.

    Bug seen in a real instance: the time was taken when the retained crop arrived, so the
    state moved at every restart and reload although the crop was the same.
    """
    async_fire_mqtt_message(
        hass, "known_faces/camera/garage/state", camera_state(face_time=CROP_TIME)
    )
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    await hass.async_block_till_done()
    before = hass.states.get(GARAGE_IMAGE)
    assert before.state == CROP_TIME

    # The broker hands the same retained crop over again (reconnect): nothing is written.
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).last_reported == before.last_reported

    # A reload (as a restart) gets the retained messages again, here the crop first.
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    await hass.async_block_till_done()
    async_fire_mqtt_message(
        hass, "known_faces/camera/garage/state", camera_state(face_time=CROP_TIME)
    )
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).state == CROP_TIME

    # A new crop: its state message comes first, and the image moves only with the bytes.
    new_time = "2026-11-23T14:00:00+00:00"
    async_fire_mqtt_message(
        hass, "known_faces/camera/garage/state", camera_state(face_time=new_time)
    )
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).state == CROP_TIME
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-2")
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).state == new_time

    # An empty retained crop clears the image.
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"")
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).state == STATE_UNKNOWN


async def test_face_time_from_older_service(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A service that sends no `face_time`: the crop's arrival stands in for it."""
    freezer.move_to("2026-11-23T15:00:00+00:00")
    async_fire_mqtt_message(hass, "known_faces/camera/garage/state", camera_state())
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    await hass.async_block_till_done()
    assert hass.states.get(GARAGE_IMAGE).state == "2026-11-23T15:00:00+00:00"


async def test_updates_reach_only_their_subject(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A message about one camera or person writes only that subject's entities."""
    async_fire_mqtt_message(hass, "known_faces/camera/garage/state", camera_state())
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-1")
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", camera_state("porch"))
    await hass.async_block_till_done()
    # States are updated in place when only `last_reported` moves: keep the times.
    before = {state.entity_id: state.last_reported for state in hass.states.async_all()}

    freezer.tick(10)
    async_fire_mqtt_message(hass, "known_faces/camera/garage/face", b"\xff\xd8jpeg-2")
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", camera_state("porch"))
    await hass.async_block_till_done()

    written = {
        entity_id
        for entity_id, reported in before.items()
        if hass.states.get(entity_id).last_reported != reported
    }
    assert written == {
        GARAGE_IMAGE,
        "sensor.porch_face_count",
        "sensor.porch_last_recognised_person",
    }


async def test_empty_person_state_clears_silently(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty retained payload is the MQTT way of clearing a topic, not a malformed message.

    Bug seen in a real instance: forgetting a person logged `Ignoring malformed person state`.
    """
    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()
    assert init_integration.runtime_data.coordinator.data.sightings["alice"].camera == "front_door"

    async_fire_mqtt_message(hass, "known_faces/person/alice/state", "")
    await hass.async_block_till_done()
    assert "alice" not in init_integration.runtime_data.coordinator.data.sightings
    assert "malformed" not in caplog.text


async def test_mqtt_connection_drives_availability(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Without Home Assistant's own MQTT connection nothing shown is current: unavailable."""
    async_fire_mqtt_message(hass, "known_faces/status", "online")
    await hass.async_block_till_done()

    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == STATE_UNAVAILABLE

    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert hass.states.get(ALICE_CAMERA).state == STATE_UNKNOWN


async def test_offline_logged_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Going offline and coming back are each logged once, however often the status repeats."""
    caplog.set_level(logging.INFO, logger="custom_components.known_faces")
    for status in ("online", "offline", "offline", "online", "online"):
        async_fire_mqtt_message(hass, "known_faces/status", status)
        await hass.async_block_till_done()
    assert caplog.text.count("is offline") == 1
    assert caplog.text.count("is back online") == 1


async def test_entity_categories(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Figures for tuning are diagnostic; the similarities are disabled until wanted."""
    async_fire_mqtt_message(hass, "known_faces/camera/garage/state", camera_state())
    await hass.async_block_till_done()
    expected = {
        STATUS: (EntityCategory.DIAGNOSTIC, None),
        "sensor.garage_face_count": (EntityCategory.DIAGNOSTIC, None),
        "sensor.garage_last_similarity": (
            EntityCategory.DIAGNOSTIC,
            er.RegistryEntryDisabler.INTEGRATION,
        ),
        "sensor.alice_last_similarity": (
            EntityCategory.DIAGNOSTIC,
            er.RegistryEntryDisabler.INTEGRATION,
        ),
        "sensor.garage_last_recognised_person": (None, None),
        ALICE_SEEN: (None, None),
    }
    for entity_id, (category, disabled_by) in expected.items():
        entry = entity_registry.async_get(entity_id)
        assert (entry.entity_category, entry.disabled_by) == (category, disabled_by), entity_id
