"""Entry setup, its failure modes, and the topic prefix option."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.known_faces.api import CannotConnect, InvalidAuth
from custom_components.known_faces.const import CONF_TOPIC_PREFIX, DOMAIN

from .fake_service import INSTANCE_ID


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


async def test_topic_prefix_option(
    hass: HomeAssistant, init_integration: MockConfigEntry, mock_client: AsyncMock
) -> None:
    """Changing the prefix reloads the entry onto the new topics."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "home/faces"}
    )
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED

    payload = json.dumps({"camera": "porch", "face_count": 3, "people": []})
    async_fire_mqtt_message(hass, "known_faces/camera/old/state", payload)
    async_fire_mqtt_message(hass, "home/faces/camera/porch/state", payload)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.old_face_count") is None
    assert hass.states.get("sensor.porch_face_count").state == "3"


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
