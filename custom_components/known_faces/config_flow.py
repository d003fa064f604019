"""Config flow: manual URL and token, Supervisor discovery, MQTT discovery, reauth, reconfigure."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from .api import CannotConnect, InvalidAuth, KnownFacesClient, KnownFacesError, NotKnownFaces
from .const import CONF_TOPIC_PREFIX, DEFAULT_PORT, DEFAULT_TOPIC_PREFIX, DOMAIN
from .coordinator import is_valid_prefix
from .data import KnownFacesConfigEntry

_LOGGER = logging.getLogger(__name__)

TITLE = "Known Faces"
_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TOKEN_SCHEMA = vol.Schema({vol.Required(CONF_TOKEN): _TOKEN_SELECTOR})


def _reported_prefix(source: Mapping[str, Any]) -> dict[str, str]:
    """The `topic_prefix` a service reported (health, discovery), as entry data; older: none."""
    prefix = source.get(CONF_TOPIC_PREFIX)
    if isinstance(prefix, str) and is_valid_prefix(prefix):
        return {CONF_TOPIC_PREFIX: prefix}
    return {}


def _entry_data(url: str, token: str, health: Mapping[str, Any]) -> dict[str, str]:
    """What an entry keeps: where the service is, its token, and the prefix it publishes under."""
    return {CONF_URL: url, CONF_TOKEN: token, **_reported_prefix(health)}


def _url_token_schema(url: str, token: str = "") -> vol.Schema:
    """The form of the user and reconfigure steps."""
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=url): _URL_SELECTOR,
            vol.Required(CONF_TOKEN, default=token): _TOKEN_SELECTOR,
        }
    )


class KnownFacesConfigFlow(ConfigFlow, domain=DOMAIN):
    """Sets up one entry per Known Faces service, keyed by the service's instance id."""

    VERSION = 1

    def __init__(self) -> None:
        """Discovery steps remember what they found until the user confirms."""
        self._data: dict[str, str] = {}
        self._url = ""
        self._instance_id = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: KnownFacesConfigEntry) -> KnownFacesOptionsFlow:
        """The options flow edits the MQTT topic prefix."""
        return KnownFacesOptionsFlow()

    async def _async_validate(
        self, url: str, token: str
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Check the service answers (`/health`) and takes the token (`/people`).

        Returns the health document, or the form errors keyed on `base`.
        """
        client = KnownFacesClient(async_get_clientsession(self.hass), url, token)
        try:
            health = await client.health()
            await client.people()
        except CannotConnect:
            return None, {"base": "cannot_connect"}
        except InvalidAuth:
            return None, {"base": "invalid_auth"}
        except NotKnownFaces:
            return None, {"base": "not_known_faces"}
        except KnownFacesError:
            _LOGGER.exception("Unexpected answer from %s", url)
            return None, {"base": "unknown"}
        return health, {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the service's URL and token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].rstrip("/")
            health, errors = await self._async_validate(url, user_input[CONF_TOKEN])
            if health is not None:
                # A discovery of the same service may be waiting for confirmation: the user's
                # own entry replaces it (Home Assistant aborts that flow when this one ends).
                await self.async_set_unique_id(health["instance_id"], raise_on_progress=False)
                data = _entry_data(url, user_input[CONF_TOKEN], health)
                self._abort_if_unique_id_configured(updates=data)
                return self.async_create_entry(title=TITLE, data=data)
        suggested = user_input or {CONF_URL: f"http://localhost:{DEFAULT_PORT}", CONF_TOKEN: ""}
        return self.async_show_form(
            step_id="user",
            data_schema=_url_token_schema(suggested[CONF_URL], suggested[CONF_TOKEN]),
            errors=errors,
        )

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The add-on announced itself through the Supervisor: `{host, port, token}`."""
        config = discovery_info.config
        url = f"http://{config.get('host')}:{config.get('port', DEFAULT_PORT)}"
        token = str(config.get("token", ""))
        health, errors = await self._async_validate(url, token)
        if health is None:
            return self.async_abort(reason=errors["base"])
        await self.async_set_unique_id(health["instance_id"])
        self._data = _entry_data(url, token, health)
        self._abort_if_unique_id_configured(updates=self._data)
        self.context["title_placeholders"] = {"name": discovery_info.name or TITLE}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One click to add the discovered add-on."""
        if user_input is not None:
            return self.async_create_entry(title=TITLE, data=self._data)
        return self.async_show_form(
            step_id="hassio_confirm", description_placeholders={"url": self._data[CONF_URL]}
        )

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A service announced itself on `known_faces/announce` (no token there, by design)."""
        try:
            announce = json.loads(discovery_info.payload)
        except ValueError:
            return self.async_abort(reason="invalid_discovery_info")
        if (
            not isinstance(announce, dict)
            or not isinstance(announce.get("instance_id"), str)
            or not isinstance(announce.get("url"), str)
        ):
            return self.async_abort(reason="invalid_discovery_info")
        url = announce["url"].rstrip("/")
        await self.async_set_unique_id(announce["instance_id"])
        # The announced URL is the service's own guess: it must not replace one the user chose.
        # Its prefix is no guess, and a changed one means new subscriptions.
        self._abort_if_unique_id_configured(updates=_reported_prefix(announce))
        self._url, self._instance_id = url, announce["instance_id"]
        self.context["title_placeholders"] = {"name": url}
        return await self.async_step_mqtt_confirm()

    async def async_step_mqtt_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the token of the service found over MQTT."""
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await self._async_validate(self._url, user_input[CONF_TOKEN])
            if health is not None and health["instance_id"] != self._instance_id:
                errors = {"base": "not_known_faces"}
            elif health is not None:
                return self.async_create_entry(
                    title=TITLE, data=_entry_data(self._url, user_input[CONF_TOKEN], health)
                )
        return self.async_show_form(
            step_id="mqtt_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"url": self._url},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The service refused the stored token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the new token (shown by `known-faces token` or in the add-on log)."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await self._async_validate(
                entry.data[CONF_URL], user_input[CONF_TOKEN]
            )
            if health is not None:
                await self.async_set_unique_id(health["instance_id"])
                self._abort_if_unique_id_mismatch(reason="wrong_service")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"url": entry.data[CONF_URL]},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the URL or token of the same service."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].rstrip("/")
            health, errors = await self._async_validate(url, user_input[CONF_TOKEN])
            if health is not None:
                await self.async_set_unique_id(health["instance_id"])
                self._abort_if_unique_id_mismatch(reason="wrong_service")
                return self.async_update_reload_and_abort(
                    entry, data_updates=_entry_data(url, user_input[CONF_TOKEN], health)
                )
        current = user_input or entry.data
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_url_token_schema(current[CONF_URL], current[CONF_TOKEN]),
            errors=errors,
        )


class KnownFacesOptionsFlow(OptionsFlow):
    """Overrides the MQTT topic prefix the service reports; empty follows the service again."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One optional field; wildcards and empty levels would break the subscriptions."""
        errors: dict[str, str] = {}
        if user_input is not None:
            prefix = user_input.get(CONF_TOPIC_PREFIX, "").strip()
            if not prefix:
                return self.async_create_entry(data={})
            if is_valid_prefix(prefix):
                return self.async_create_entry(data={CONF_TOPIC_PREFIX: prefix})
            errors[CONF_TOPIC_PREFIX] = "invalid_prefix"
        override = self.config_entry.options.get(CONF_TOPIC_PREFIX)
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(
                {
                    vol.Optional(
                        CONF_TOPIC_PREFIX, description={"suggested_value": override}
                    ): TextSelector()
                }
            ),
            errors=errors,
            description_placeholders={
                "reported": self.config_entry.data.get(CONF_TOPIC_PREFIX, DEFAULT_TOPIC_PREFIX)
            },
        )
