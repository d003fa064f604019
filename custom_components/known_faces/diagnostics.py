"""Diagnostics: the entry, the service's health and what MQTT has told us, token redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_TOKEN
from homeassistant.core import HomeAssistant

from .data import KnownFacesConfigEntry

TO_REDACT = {CONF_TOKEN}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: KnownFacesConfigEntry
) -> dict[str, Any]:
    """Return what helps debugging without the token (face crops are left out, they are faces)."""
    coordinator = entry.runtime_data.coordinator
    data = coordinator.data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "health": async_redact_data(coordinator.health, TO_REDACT),
        "topic_prefix": coordinator.prefix,
        "status": data.status,
        "gallery_version": data.gallery_version,
        "people": [asdict(person) for person in data.people.values()],
        "sightings": {slug: asdict(sighting) for slug, sighting in data.sightings.items()},
        "cameras": {
            camera: {**asdict(state), "face": None if state.face is None else len(state.face)}
            for camera, state in data.cameras.items()
        },
    }
