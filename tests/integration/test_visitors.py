"""Visitors in Home Assistant (DESIGN §8, §9): the sensor of visitors awaiting review and the
image of the newest one on the service's device, `ignored` on the camera event entity (mocked
MQTT), and the services `assign_visitor`, `ignore_visitor`, `forget_visitor` over HTTP against
the in-test service (a stand-in: the real service needs the models, see tests/service)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from unittest.mock import AsyncMock

import pytest
import voluptuous as vol
from homeassistant.const import CONF_TOKEN, CONF_URL, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.known_faces.api import CannotConnect
from custom_components.known_faces.const import DOMAIN

from .fake_service import IMAGE, INSTANCE_ID, TOKEN, FakeService
from .test_entities import DOOR_EVENT, detected
from .test_services import _call, _check_error

PENDING = "sensor.known_faces_visitors_awaiting_review"
NEWEST = "image.known_faces_newest_visitor"


@pytest.fixture
async def entry(hass: HomeAssistant, mqtt_mock: Any, fake_service: FakeService) -> MockConfigEntry:
    """The integration set up against the in-test service."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=INSTANCE_ID, data={CONF_URL: fake_service.url, CONF_TOKEN: TOKEN}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def summary(*visitors: tuple[str, str], pending: int | None = None) -> str:
    """A retained `<prefix>/visitors` payload: (id, last seen) newest first."""
    return json.dumps(
        {
            "pending": len(visitors) if pending is None else pending,
            "newest": [
                {
                    "visitor": v,
                    "status": "pending",
                    "first_seen": seen,
                    "last_seen": seen,
                    "sightings": 1,
                    "cameras": ["front_door"],
                }
                for v, seen in visitors
            ],
        }
    )


async def test_visitors_sensor_and_newest_image(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mock_client: AsyncMock,
    hass_client: ClientSessionGenerator,
) -> None:
    """The summary drives the sensor and the image; the crop is fetched once per sighting."""
    assert hass.states.get(PENDING).state == STATE_UNKNOWN
    assert hass.states.get(NEWEST).state == STATE_UNKNOWN
    mock_client.visitor_crop.return_value = b"\xff\xd8v7"
    async_fire_mqtt_message(
        hass,
        "known_faces/visitors",
        summary(("v_0007", "2026-11-23T13:45:12+00:00"), ("v_0003", "2026-11-22T08:00:00+00:00")),
    )
    await hass.async_block_till_done()
    sensor = hass.states.get(PENDING)
    assert sensor.state == "2"
    assert sensor.attributes["newest"] == ["v_0007", "v_0003"]
    image = hass.states.get(NEWEST)
    assert image.attributes["visitor"] == "v_0007"
    assert image.state == "2026-11-23T13:45:12+00:00"

    client = await hass_client()
    for _ in range(2):
        resp = await client.get(f"/api/image_proxy/{NEWEST}")
        assert resp.status == HTTPStatus.OK
        assert await resp.read() == b"\xff\xd8v7"
    mock_client.visitor_crop.assert_awaited_once_with("v_0007")

    # The same visitor seen again: a new state and a new fetch.
    async_fire_mqtt_message(
        hass, "known_faces/visitors", summary(("v_0007", "2026-11-23T14:00:00+00:00"), pending=2)
    )
    await hass.async_block_till_done()
    assert hass.states.get(NEWEST).state == "2026-11-23T14:00:00+00:00"
    await client.get(f"/api/image_proxy/{NEWEST}")
    assert mock_client.visitor_crop.await_count == 2

    # A crop the service cannot give (the visitor was just forgotten) shows nothing.
    mock_client.visitor_crop.side_effect = CannotConnect("gone")
    async_fire_mqtt_message(
        hass, "known_faces/visitors", summary(("v_0008", "2026-11-23T15:00:00+00:00"))
    )
    await hass.async_block_till_done()
    resp = await client.get(f"/api/image_proxy/{NEWEST}")
    assert resp.status != HTTPStatus.OK

    # Everybody reviewed: zero, and no image.
    async_fire_mqtt_message(hass, "known_faces/visitors", summary())
    await hass.async_block_till_done()
    assert hass.states.get(PENDING).state == "0"
    assert hass.states.get(NEWEST).state == STATE_UNKNOWN


async def test_malformed_summary_is_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    async_fire_mqtt_message(hass, "known_faces/visitors", summary(("v_0001", "t")))
    await hass.async_block_till_done()
    for bad in ("not json", json.dumps({"pending": "2", "newest": []}), json.dumps([1])):
        async_fire_mqtt_message(hass, "known_faces/visitors", bad)
        await hass.async_block_till_done()
    assert hass.states.get(PENDING).state == "1"
    assert "Ignoring malformed visitors message" in caplog.text


async def test_event_entity_fires_ignored_never_unknown(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A face matching an ignored visitor fires `ignored`; a stranger still fires `unknown`."""
    stranger = {"known": False, "person": None, "name": None, "status": "unknown"}
    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(event_id="e-1", visitor="v_0002", visitor_sightings=1, **stranger),
    )
    await hass.async_block_till_done()
    event = hass.states.get(DOOR_EVENT)
    assert event.attributes["event_type"] == "unknown"
    assert (event.attributes["visitor"], event.attributes["visitor_sightings"]) == ("v_0002", 1)

    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(
            event_id="e-2",
            visitor="v_0001",
            visitor_sightings=5,
            **{**stranger, "status": "ignored"},
        ),
    )
    await hass.async_block_till_done()
    event = hass.states.get(DOOR_EVENT)
    assert event.attributes["event_type"] == "ignored"
    assert (event.attributes["event_id"], event.attributes["visitor"]) == ("e-2", "v_0001")
    assert "ignored" in event.attributes["event_types"]


async def test_assign_visitor_to_a_new_name_or_a_person(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    fake_service.add_visitor("v_0001")
    fake_service.add_visitor("v_0002")
    fake_service.add_person("Alice")
    response = await _call(
        hass, "assign_visitor", {"visitor": "v_0001", "name": "Carol"}, return_response=True
    )
    assert response == {
        "person": "carol",
        "name": "Carol",
        "created": True,
        "faces": [1],
        "refused": [],
    }
    assert fake_service.faces == [("carol", IMAGE, "visitor v_0001")]
    # An enrolled person by display name: resolved to the slug first.
    response = await _call(
        hass, "assign_visitor", {"visitor": "v_0002", "person": "alice"}, return_response=True
    )
    assert (response["person"], response["created"]) == ("alice", False)
    assert fake_service.visitors == {}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"visitor": "v_0001"}, "name_or_person"),
        ({"visitor": "v_0001", "name": "X", "person": "alice"}, "name_or_person"),
        ({"visitor": "v_0009", "name": "Dave"}, "unknown_visitor"),
        ({"visitor": "v_0001", "name": "ALICE"}, "duplicate_name"),
        ({"visitor": "v_0001", "person": "nobody"}, "unknown_person"),
    ],
)
async def test_assign_visitor_refusals_are_translated(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_service: FakeService,
    data: dict[str, Any],
    key: str,
) -> None:
    fake_service.add_visitor("v_0001")
    fake_service.add_person("Alice")
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "assign_visitor", data)
    _check_error(err, key, user_error=True)
    assert "v_0001" in fake_service.visitors


async def test_ignore_unignore_and_forget_visitor(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    fake_service.add_visitor("v_0004")
    await _call(hass, "ignore_visitor", {"visitor": "v_0004"})
    assert fake_service.visitors["v_0004"]["status"] == "ignored"
    await _call(hass, "ignore_visitor", {"visitor": "v_0004", "ignored": False})
    assert fake_service.visitors["v_0004"]["status"] == "pending"
    await _call(hass, "forget_visitor", {"visitor": "v_0004"})
    assert fake_service.visitors == {}
    for service in ("ignore_visitor", "forget_visitor"):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, service, {"visitor": "v_0004"})
        _check_error(err, "unknown_visitor", user_error=True)


async def test_visitor_services_report_an_unreachable_service(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    await fake_service.stop()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "forget_visitor", {"visitor": "v_0001"})
    _check_error(err, "cannot_connect", user_error=False)
    assert hass.services.has_service(DOMAIN, "assign_visitor")


@pytest.mark.parametrize("visitor", ["../people/alice", "v_1", "alice", "v_0001/x"])
async def test_visitor_ids_are_checked_before_any_request(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, visitor: str
) -> None:
    """A value that is no visitor id never reaches a URL (`../people/alice` would name a
    person)."""
    fake_service.add_person("Alice")
    before = list(fake_service.requests)
    for service in ("forget_visitor", "ignore_visitor"):
        with pytest.raises(vol.Invalid):
            await _call(hass, service, {"visitor": visitor})
    assert fake_service.requests == before
    assert "alice" in fake_service.people
