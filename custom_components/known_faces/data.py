"""Runtime data kept on the config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .api import KnownFacesClient
from .coordinator import KnownFacesCoordinator

type KnownFacesConfigEntry = ConfigEntry[KnownFacesData]


@dataclass
class KnownFacesData:
    """What an entry's platforms and services need: the HTTP client and the MQTT state."""

    client: KnownFacesClient
    coordinator: KnownFacesCoordinator
