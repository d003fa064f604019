"""Binary sensor: is the service online (from its retained status topic and MQTT last will)."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import STATUS_ONLINE
from .data import KnownFacesConfigEntry
from .entity import KnownFacesEntity, service_device_info

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KnownFacesConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the service's status sensor."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [KnownFacesStatusSensor(coordinator, service_device_info(coordinator), "status")]
    )


class KnownFacesStatusSensor(KnownFacesEntity, BinarySensorEntity):
    """On while the service reports `online`."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "status"

    @property
    def available(self) -> bool:
        """Always available: it is the entity that reports the service being offline."""
        return True

    @property
    def is_on(self) -> bool | None:
        """Unknown until the first status message, which is retained and so arrives at once."""
        status = self.coordinator.data.status
        return None if status is None else status == STATUS_ONLINE
