"""Config flow: manual, Supervisor and MQTT discovery, reauth, reconfigure, options."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_MQTT, SOURCE_USER
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.known_faces.api import (
    CannotConnect,
    InvalidAuth,
    KnownFacesError,
    NotKnownFaces,
)
from custom_components.known_faces.const import CONF_TOPIC_PREFIX, DOMAIN

from . import HEALTH, URL
from .fake_service import INSTANCE_ID, TOKEN, TOPIC_PREFIX

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Flows are tested without setting the entry up (that needs MQTT)."""
    with patch("custom_components.known_faces.async_setup_entry", return_value=True) as mocked:
        yield mocked


def _mqtt_info(payload: str) -> MqttServiceInfo:
    """The retained announce message as HA's MQTT discovery hands it over."""
    return MqttServiceInfo(
        topic="known_faces/announce",
        payload=payload,
        qos=0,
        retain=True,
        subscribed_topic="known_faces/announce",
        timestamp=0,
    )


def _hassio_info(**config: Any) -> HassioServiceInfo:
    """The Supervisor's discovery message of the add-on."""
    return HassioServiceInfo(
        config={"host": "127.0.0.1", "port": 8066, "token": TOKEN, **config},
        name="Known Faces",
        slug="known_faces",
        uuid="1234",
    )


async def test_user_flow(hass: HomeAssistant, mock_client: AsyncMock) -> None:
    """URL and token checked against /health and /people create the entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"{URL}/", CONF_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The prefix the service reports is kept; older services report none.
    assert result["data"] == {CONF_URL: URL, CONF_TOKEN: TOKEN, CONF_TOPIC_PREFIX: TOPIC_PREFIX}
    assert result["result"].unique_id == INSTANCE_ID
    mock_client.health.assert_awaited_once()
    mock_client.people.assert_awaited_once()


async def test_user_flow_older_service(hass: HomeAssistant, mock_client: AsyncMock) -> None:
    """A service that does not report its prefix leaves it out of the entry (default applies)."""
    mock_client.health.return_value = {k: v for k, v in HEALTH.items() if k != "topic_prefix"}
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_TOKEN: TOKEN}
    )
    assert result["data"] == {CONF_URL: URL, CONF_TOKEN: TOKEN}


async def test_user_flow_while_discovery_pending(
    hass: HomeAssistant, mock_client: AsyncMock
) -> None:
    """Adding the service by hand while its MQTT discovery waits replaces the discovery.

    Bug seen in a real instance: the user step aborted with `already_in_progress`.
    """
    announce = {"instance_id": INSTANCE_ID, "url": URL, "version": "0.1.0"}
    discovered = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(json.dumps(announce))
    )
    assert discovered["step_id"] == "mqtt_confirm"

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == INSTANCE_ID
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


@pytest.mark.parametrize(
    ("side_effect", "method", "error"),
    [
        (CannotConnect("down"), "health", "cannot_connect"),
        (NotKnownFaces("nginx"), "health", "not_known_faces"),
        (InvalidAuth("401"), "people", "invalid_auth"),
        (KnownFacesError("odd"), "people", "unknown"),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant,
    mock_client: AsyncMock,
    side_effect: Exception,
    method: str,
    error: str,
) -> None:
    """Each failure has its own message, and the form recovers once the cause is fixed."""
    getattr(mock_client, method).side_effect = side_effect
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_TOKEN: "wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    getattr(mock_client, method).side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_already_configured(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """The same service (same instance id) is not added twice; its new URL is kept."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://10.0.0.9:8066", CONF_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_URL] == "http://10.0.0.9:8066"


async def test_hassio_discovery(hass: HomeAssistant, mock_client: AsyncMock) -> None:
    """The add-on's discovery message needs one click."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_hassio_info()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hassio_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_URL: "http://127.0.0.1:8066",
        CONF_TOKEN: TOKEN,
        CONF_TOPIC_PREFIX: TOPIC_PREFIX,
    }
    assert result["result"].unique_id == INSTANCE_ID


async def test_hassio_discovery_updates_existing(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """A rediscovered add-on updates host, token and the prefix it now publishes under."""
    mock_config_entry.add_to_hass(hass)
    mock_client.health.return_value = {**HEALTH, "topic_prefix": "home/faces"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_HASSIO},
        data=_hassio_info(host="addon-host", token="new", topic_prefix="home/faces"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data == {
        CONF_URL: "http://addon-host:8066",
        CONF_TOKEN: "new",
        CONF_TOPIC_PREFIX: "home/faces",
    }


async def test_hassio_discovery_unreachable(hass: HomeAssistant, mock_client: AsyncMock) -> None:
    """A discovered add-on that does not answer aborts the flow."""
    mock_client.health.side_effect = CannotConnect("down")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_hassio_info()
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_mqtt_discovery(hass: HomeAssistant, mock_client: AsyncMock) -> None:
    """The announce topic leads to a confirm step that asks for the token."""
    announce = {"instance_id": INSTANCE_ID, "url": URL, "version": "0.1.0"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(json.dumps(announce))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "mqtt_confirm"
    assert result["description_placeholders"] == {"url": URL}

    mock_client.people.side_effect = InvalidAuth("401")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "x"})
    assert result["errors"] == {"base": "invalid_auth"}

    mock_client.people.side_effect = None
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: URL, CONF_TOKEN: TOKEN, CONF_TOPIC_PREFIX: TOPIC_PREFIX}
    assert result["result"].unique_id == INSTANCE_ID


async def test_mqtt_discovery_other_service_at_url(
    hass: HomeAssistant, mock_client: AsyncMock
) -> None:
    """If the announced URL answers with another instance id, the token form says so."""
    announce = {"instance_id": "someone-else", "url": URL, "version": "0.1.0"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(json.dumps(announce))
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "not_known_faces"}


@pytest.mark.parametrize("payload", ["not json", "[]", json.dumps({"url": URL})])
async def test_mqtt_discovery_invalid(
    hass: HomeAssistant, mock_client: AsyncMock, payload: str
) -> None:
    """An unreadable announcement aborts."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(payload)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"


async def test_mqtt_discovery_already_configured(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """An announcement of a configured service aborts and leaves the URL the user chose."""
    mock_config_entry.add_to_hass(hass)
    announce = {"instance_id": INSTANCE_ID, "url": "http://10.1.1.1:8066", "version": "0.1.0"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(json.dumps(announce))
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_URL] == URL


async def test_mqtt_discovery_updates_prefix(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """The prefix an announcement reports is the service's own: it updates the entry."""
    mock_config_entry.add_to_hass(hass)
    announce = {"instance_id": INSTANCE_ID, "url": URL, "topic_prefix": "home/faces"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=_mqtt_info(json.dumps(announce))
    )
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_TOPIC_PREFIX] == "home/faces"


async def test_reauth(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """A refused token can be replaced."""
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"

    mock_client.people.side_effect = InvalidAuth("401")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "old"})
    assert result["errors"] == {"base": "invalid_auth"}

    mock_client.people.side_effect = None
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "new"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert mock_config_entry.data[CONF_TOKEN] == "new"


async def test_reauth_other_service(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """Reauth refuses a token of another service now living at the URL."""
    mock_config_entry.add_to_hass(hass)
    mock_client.health.return_value = {**HEALTH, "instance_id": "someone-else"}
    result = await mock_config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "new"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_service"
    assert mock_config_entry.data[CONF_TOKEN] == TOKEN


async def test_reconfigure(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """URL and token can be changed for the same service."""
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"

    mock_client.health.side_effect = CannotConnect("down")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://10.0.0.2:8066", CONF_TOKEN: "t2"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    mock_client.health.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://10.0.0.2:8066", CONF_TOKEN: "t2"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.data == {
        CONF_URL: "http://10.0.0.2:8066",
        CONF_TOKEN: "t2",
        CONF_TOPIC_PREFIX: TOPIC_PREFIX,
    }


async def test_options_flow(
    hass: HomeAssistant, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> None:
    """The override is validated and stored; an empty one follows the service again."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["step_id"] == "init"
    assert result["description_placeholders"] == {"reported": "known_faces"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "faces/#"}
    )
    assert result["errors"] == {CONF_TOPIC_PREFIX: "invalid_prefix"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "home/faces"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_TOPIC_PREFIX: "home/faces"}

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: " "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {}
