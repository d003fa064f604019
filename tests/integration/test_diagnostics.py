"""Diagnostics redact the token."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .fake_service import TOKEN


async def test_diagnostics(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """The token never appears; state and gallery do, face crops only by size."""
    async_fire_mqtt_message(hass, "known_faces/status", "online")
    async_fire_mqtt_message(hass, "known_faces/camera/door/face", b"\xff\xd8abc")
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    assert TOKEN not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["status"] == "online"
    assert diagnostics["people"] == [{"slug": "alice", "name": "Alice", "face_count": 2}]
    assert diagnostics["cameras"]["door"]["face"] == 5
