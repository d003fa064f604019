"""Entry setup, its failure modes, the topic prefix, and removing devices."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.known_faces.api import CannotConnect, InvalidAuth, RequestRejected
from custom_components.known_faces.const import CONF_TOPIC_PREFIX, DOMAIN

from . import HEALTH
from .fake_service import INSTANCE_ID

PORCH_STATE = json.dumps({"camera": "porch", "face_count": 3, "people": []})


async def test_setup_retries_when_unreachable(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """An unreachable service is retried later."""
    mock_client.health.side_effect = CannotConnect("down")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_refused_token_starts_reauth(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """A refused token fails setup and starts reauth."""
    mock_client.people.side_effect = InvalidAuth("401")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_setup_waits_for_mqtt(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """Without an MQTT client there is nothing to follow: retry later."""
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.known_faces.mqtt.async_wait_for_mqtt_client", return_value=False):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_stale_people_pruned_at_setup(
    hass: HomeAssistant,
    mqtt_mock: Any,
    mock_client: AsyncMock,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A person forgotten while Home Assistant was down loses their device at the next start."""
    mock_config_entry.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, f"{INSTANCE_ID}:person:gone")},
        name="Gone",
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert (
        device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:gone")})
        is None
    )
    assert device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:alice")})


async def _set_override(hass: HomeAssistant, entry: MockConfigEntry, prefix: str) -> None:
    """Set (or with "" clear) the prefix override through the options flow."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: prefix}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_topic_prefix_option(
    hass: HomeAssistant, init_integration: MockConfigEntry, mock_client: AsyncMock
) -> None:
    """An override reloads the entry onto the new topics; clearing it follows the service."""
    await _set_override(hass, init_integration, "home/faces")
    async_fire_mqtt_message(hass, "known_faces/camera/old/state", PORCH_STATE)
    async_fire_mqtt_message(hass, "home/faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.old_face_count") is None
    assert hass.states.get("sensor.porch_face_count").state == "3"

    await _set_override(hass, init_integration, "")
    assert init_integration.runtime_data.coordinator.prefix == "known_faces"


async def test_topic_prefix_follows_service(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """The prefix the service reports in /health is used and remembered, no option needed."""
    mock_client.health.return_value = {**HEALTH, "topic_prefix": "home/faces"}
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.data[CONF_TOPIC_PREFIX] == "home/faces"

    async_fire_mqtt_message(hass, "known_faces/camera/old/state", PORCH_STATE)
    async_fire_mqtt_message(hass, "home/faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.old_face_count") is None
    assert hass.states.get("sensor.porch_face_count").state == "3"


async def test_older_service_gets_default_prefix(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """A service that reports no prefix (or a broken one) is followed on the default topics."""
    mock_client.health.return_value = {**HEALTH, "topic_prefix": "bad/#"}
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert CONF_TOPIC_PREFIX not in mock_config_entry.data
    assert mock_config_entry.runtime_data.coordinator.prefix == "known_faces"


async def test_cameras_come_back_after_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A camera seen before a reload has its entities at once, without any new message."""
    async_fire_mqtt_message(
        hass,
        "known_faces/camera/porch/state",
        json.dumps({"camera": "porch", "face_count": 2, "people": []}),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_face_count").state == "2"

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    for entity_id in ("sensor.porch_face_count", "event.porch_face", "image.porch_last_face"):
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.state != "unavailable", entity_id
    assert hass.states.get("sensor.porch_face_count").state == "2"


async def test_data_update_alone_does_not_reload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Only a new prefix reloads through the update listener (flows reload on their own)."""
    coordinator = init_integration.runtime_data.coordinator
    hass.config_entries.async_update_entry(
        init_integration, data={**init_integration.data, "token": "rotated"}
    )
    await hass.async_block_till_done()
    assert init_integration.runtime_data.coordinator is coordinator


async def _remove_device(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, device_id: str, entry_id: str
) -> bool:
    """Ask to delete a device as the UI does; returns whether it was allowed."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry_id,
            "device_id": device_id,
        }
    )
    response = await client.receive_json()
    return bool(response["success"])


async def test_remove_stale_camera(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mock_client: AsyncMock,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A camera's device can be deleted from the UI; people and the service cannot."""
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    porch = device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:camera:porch")})
    alice = device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:person:alice")})
    service = device_registry.async_get_device(identifiers={(DOMAIN, INSTANCE_ID)})

    for device in (alice, service):
        assert not await _remove_device(hass, hass_ws_client, device.id, init_integration.entry_id)
    assert await _remove_device(hass, hass_ws_client, porch.id, init_integration.entry_id)
    await hass.async_block_till_done()
    mock_client.forget_camera.assert_awaited_once_with("porch")  # its retained topics go too
    assert device_registry.async_get(porch.id) is None
    assert entity_registry.async_get("sensor.porch_face_count") is None

    # If it reports again, it comes back like a new camera.
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_face_count").state == "3"


async def test_camera_stays_while_the_service_cannot_clear_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mock_client: AsyncMock,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Removed here only, the retained state would bring the device back at the next restart."""
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    porch = device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:camera:porch")})
    mock_client.forget_camera.side_effect = CannotConnect("connection refused")
    assert not await _remove_device(hass, hass_ws_client, porch.id, init_integration.entry_id)
    assert device_registry.async_get(porch.id) is not None
    mock_client.forget_camera.side_effect = RequestRejected(404, "not_found", "no such route")
    assert await _remove_device(hass, hass_ws_client, porch.id, init_integration.entry_id)
    assert device_registry.async_get(porch.id) is None


async def test_camera_cleared_by_service(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An empty retained state (a camera gone from the service's configuration) removes it."""
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", PORCH_STATE)
    await hass.async_block_till_done()
    async_fire_mqtt_message(hass, "known_faces/camera/porch/state", "")
    await hass.async_block_till_done()
    assert (
        device_registry.async_get_device(identifiers={(DOMAIN, f"{INSTANCE_ID}:camera:porch")})
        is None
    )
    assert hass.states.get("sensor.porch_face_count") is None
    assert "malformed" not in caplog.text

    # After a restart it does not come back from the device registry either.
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_face_count") is None
