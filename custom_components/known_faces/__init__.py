"""The Known Faces integration: people, cameras and face events from a Known Faces service."""

from __future__ import annotations

import logging

from homeassistant.components import mqtt
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import InvalidAuth, KnownFacesClient, KnownFacesError, RequestRejected
from .const import CONF_TOPIC_PREFIX, DOMAIN, PLATFORMS
from .coordinator import KnownFacesCoordinator, is_valid_prefix
from .data import KnownFacesConfigEntry, KnownFacesData
from .entity import service_device_info
from .services import async_setup_services, raise_translated

_LOGGER = logging.getLogger(__name__)

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services once, whatever the number of entries."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: KnownFacesConfigEntry) -> bool:
    """Probe the service, seed the gallery over HTTP, add the entities, then follow MQTT."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_not_ready")

    client = KnownFacesClient(
        async_get_clientsession(hass), entry.data[CONF_URL], entry.data[CONF_TOKEN]
    )
    try:
        health = await client.health()
        people = await client.people()
    except InvalidAuth as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except KnownFacesError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"url": client.url, "error": str(err)},
        ) from err

    # The service says which prefix it publishes under (older services do not): follow it.
    reported = health.get(CONF_TOPIC_PREFIX)
    if (
        isinstance(reported, str)
        and is_valid_prefix(reported)
        and reported != entry.data.get(CONF_TOPIC_PREFIX)
    ):
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_TOPIC_PREFIX: reported}
        )

    coordinator = KnownFacesCoordinator(hass, entry, client, health)
    # People and cameras name the service's device as `via_device`: it must exist first.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **service_device_info(coordinator)
    )
    coordinator.async_set_people(people)
    coordinator.async_restore_cameras()
    entry.runtime_data = KnownFacesData(client=client, coordinator=coordinator)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    for unsubscribe in await coordinator.async_subscribe():
        entry.async_on_unload(unsubscribe)
    entry.async_on_unload(entry.add_update_listener(_async_reload_on_new_override))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: KnownFacesConfigEntry) -> bool:
    """Unload the platforms; the MQTT subscriptions go with the entry's unload callbacks."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: KnownFacesConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a camera that stopped reporting.

    The service clears the camera's retained topics first; if it cannot be reached the device
    stays (it would come back at the next restart). People leave with the `forget` action
    (the service owns them: a device deleted here would come back with the next gallery
    message) and the service's own device with the entry.
    """
    coordinator = entry.runtime_data.coordinator
    camera = coordinator.camera_of(device)
    if camera is None:
        return False
    try:
        # Without this the broker would hand the retained state back at the next restart.
        await entry.runtime_data.client.forget_camera(camera)
    except RequestRejected as err:
        if err.status != 404:
            raise_translated(hass, entry, err)
        _LOGGER.info("The service is too old to clear camera %s; removed here only", camera)
    except KnownFacesError as err:
        raise_translated(hass, entry, err)
    coordinator.async_forget_camera(camera)
    return True


async def _async_reload_on_new_override(hass: HomeAssistant, entry: KnownFacesConfigEntry) -> None:
    """A new topic prefix override (options flow) means new subscriptions: reload.

    Data updates (token, URL, the reported prefix) come from flows that reload the entry
    themselves, or from setup itself.
    """
    if entry.options.get(CONF_TOPIC_PREFIX) != entry.runtime_data.coordinator.prefix_override:
        await hass.config_entries.async_reload(entry.entry_id)
