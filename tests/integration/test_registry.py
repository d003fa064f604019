"""Snapshots of the entities and devices the integration creates, and of its diagnostics.

The registries' own entry types gain fields with every Home Assistant release, so the snapshots
hold what the integration decides (ids, names, categories, classes, devices, states) in a form
that both supported releases render alike.
"""

from __future__ import annotations

import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from .test_entities import camera_state, detected
from .test_visitors import summary

# Values that change from run to run, not with the integration's behaviour.
VOLATILE_ATTRIBUTES = {"access_token", "entity_picture"}


async def _feed(hass: HomeAssistant) -> None:
    """The retained topics of a service that has seen Alice at the front door."""
    async_fire_mqtt_message(hass, "known_faces/status", "online")
    async_fire_mqtt_message(
        hass,
        "known_faces/camera/front_door/state",
        camera_state(
            "front_door",
            people=[{"person": "alice", "name": "Alice", "similarity": 0.78}],
            face_time="2026-11-23T13:45:12+00:00",
        ),
    )
    async_fire_mqtt_message(hass, "known_faces/camera/front_door/face", b"\xff\xd8crop")
    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()


def _device(device_registry: dr.DeviceRegistry, device_id: str | None) -> dict[str, Any] | None:
    """What the integration sets on a device."""
    device = device_registry.async_get(device_id) if device_id else None
    if device is None:
        return None
    via = device_registry.async_get(device.via_device_id) if device.via_device_id else None
    return {
        "identifiers": sorted(device.identifiers),
        "name": device.name,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "sw_version": device.sw_version,
        "configuration_url": device.configuration_url,
        "via_device": sorted(via.identifiers) if via else None,
    }


async def test_entities_and_devices(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every entity with its registry settings, device and state after setup and one sighting."""
    freezer.move_to("2026-11-23T13:45:13+00:00")  # the event entity's state is the event's time
    await _feed(hass)
    entities = {}
    for entry in sorted(
        er.async_entries_for_config_entry(entity_registry, init_integration.entry_id),
        key=lambda e: e.entity_id,
    ):
        state = hass.states.get(entry.entity_id)
        entities[entry.entity_id] = {
            "unique_id": entry.unique_id,
            "translation_key": entry.translation_key,
            "original_device_class": entry.original_device_class,
            "entity_category": entry.entity_category,
            "disabled_by": entry.disabled_by,
            "device": sorted(device_registry.async_get(entry.device_id).identifiers),
            "state": state.state if state else None,
            "attributes": {
                key: value
                for key, value in (state.attributes if state else {}).items()
                if key not in VOLATILE_ATTRIBUTES
            },
        }
    devices = [
        _device(device_registry, device.id)
        for device in sorted(
            dr.async_entries_for_config_entry(device_registry, init_integration.entry_id),
            key=lambda d: sorted(d.identifiers),
        )
    ]
    assert entities == snapshot(name="entities")
    assert devices == snapshot(name="devices")


async def test_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics: the token redacted, face crops only by their size, the visitors awaiting
    review without their crops; times come from MQTT."""
    await _feed(hass)
    async_fire_mqtt_message(
        hass, "known_faces/visitors", summary(("v_0007", "2026-11-23T14:00:00+00:00"), pending=2)
    )
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert "s3cret-token" not in json.dumps(diagnostics)
    assert diagnostics == snapshot
