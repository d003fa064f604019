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
        # The entry's own settings only: its bookkeeping fields differ between HA releases.
        "entry": {
            "title": entry.title,
            "unique_id": entry.unique_id,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "health": async_redact_data(coordinator.health, TO_REDACT),
        "topic_prefix": coordinator.prefix,
        "mqtt_connected": coordinator.mqtt_connected,
        "status": data.status,
        "gallery_version": data.gallery_version,
        "people": [asdict(person) for person in data.people.values()],
        "sightings": {slug: asdict(sighting) for slug, sighting in data.sightings.items()},
        # The visitors summary: ids, times, sighting counts and cameras, no crops.
        "visitors": asdict(data.visitors),
        "cameras": {
            camera: {**asdict(state), "face": None if state.face is None else len(state.face)}
            for camera, state in data.cameras.items()
        },
    }
