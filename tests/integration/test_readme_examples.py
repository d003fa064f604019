"""The README's automation examples, run as written against the integration."""

from __future__ import annotations

import json
import re
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Image
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_mock_service,
)

from custom_components.known_faces.const import DOMAIN

from ..photos import REPO
from .fake_service import IMAGE, INSTANCE_ID, TOKEN, FakeService
from .test_entities import detected


def _readme_blocks() -> list[Any]:
    """The YAML blocks of the README's Home Assistant section."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("<!-- ha:start -->")[1].split("<!-- ha:end -->")[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


@pytest.fixture
async def configured(
    hass: HomeAssistant, mqtt_mock: Any, fake_service: FakeService, freezer: FrozenDateTimeFactory
) -> None:
    """The integration on the in-test service plus the README's configuration, at night."""
    freezer.move_to("2026-11-23T06:00:00+00:00")  # 22:00 in the test config's US/Pacific
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=INSTANCE_ID, data={CONF_URL: fake_service.url, CONF_TOKEN: TOKEN}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    blocks = _readme_blocks()
    automations = [item for block in blocks for item in block.get("automation", [])]
    assert len(automations) == 4
    helpers = next(block for block in blocks if "script" in block)
    assert next(block for block in blocks if block.get("type") == "vertical-stack")
    assert await async_setup_component(hass, "automation", {"automation": automations})
    assert await async_setup_component(hass, "input_text", {"input_text": helpers["input_text"]})
    assert await async_setup_component(hass, "script", {"script": helpers["script"]})
    await hass.async_block_till_done()


async def test_notify_on_unknown_at_the_door(
    hass: HomeAssistant, configured: None, freezer: FrozenDateTimeFactory
) -> None:
    """An unknown face at front_door notifies, with the face crop; a known one does not."""
    notify = async_mock_service(hass, "notify", "mobile_app_phone")
    async_mock_service(hass, "light", "turn_on")
    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()
    assert notify == []

    freezer.tick(5)  # the event entity's state is the time of its last event
    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(event_id="e-2", known=False, person=None, name=None),
    )
    await hass.async_block_till_done()
    assert len(notify) == 1
    assert notify[0].data["data"]["image"] == "/api/image_proxy/image.front_door_last_face"


async def test_lights_on_for_a_known_person(hass: HomeAssistant, configured: None) -> None:
    """Alice after dark turns the hall light on; Bob does not."""
    light = async_mock_service(hass, "light", "turn_on")
    async_fire_mqtt_message(
        hass, "known_faces/event/person_detected", detected(person="bob", name="Bob")
    )
    await hass.async_block_till_done()
    assert light == []

    async_fire_mqtt_message(hass, "known_faces/event/person_detected", detected())
    await hass.async_block_till_done()
    assert len(light) == 1
    assert light[0].data["entity_id"] == ["light.hall"]


async def test_enroll_from_the_doorbell_button(
    hass: HomeAssistant, configured: None, fake_service: FakeService
) -> None:
    """The button's script enrolls the typed name from the doorbell camera."""
    notified = async_mock_service(hass, "persistent_notification", "create")
    await hass.services.async_call(
        "input_text",
        "set_value",
        {"entity_id": "input_text.enroll_name", "value": "Carol"},
        blocking=True,
    )
    with patch(
        "homeassistant.components.camera.async_get_image", return_value=Image("image/jpeg", IMAGE)
    ) as get_image:
        await hass.services.async_call("script", "enroll_from_doorbell", blocking=True)
    get_image.assert_awaited_once_with(hass, "camera.doorbell")
    assert fake_service.people["carol"]["face_count"] == 1
    assert notified[0].data["message"] == "Carol enrolled (new person)."


async def test_frigate_clip_link_with_the_name(hass: HomeAssistant, configured: None) -> None:
    """One notification per Frigate event with a known person: the name and the clip's link."""
    notify = async_mock_service(hass, "notify", "mobile_app_phone")
    async_mock_service(hass, "light", "turn_on")
    answer = {
        "type": "new",
        "frigate_event_id": "1700000000.1-abc",
        "camera": "front_door",
        "verdict": "known",
        "person": "alice",
        "name": "Alice",
        "score": 0.87,
    }
    async_fire_mqtt_message(hass, "known_faces/event/frigate", json.dumps(answer))
    for other in ({**answer, "type": "end"}, {**answer, "verdict": "unknown", "name": None}):
        async_fire_mqtt_message(hass, "known_faces/event/frigate", json.dumps(other))
    await hass.async_block_till_done()
    assert len(notify) == 1
    assert notify[0].data["message"] == "Alice at the front door"
    assert notify[0].data["data"]["url"] == ("/api/frigate/notifications/1700000000.1-abc/clip.mp4")
    assert notify[0].data["data"]["tag"] == "1700000000.1-abc"


async def test_notify_on_a_visitor_s_third_time_in_a_day(
    hass: HomeAssistant, configured: None
) -> None:
    """The third sighting in 24 hours of one stranger notifies with the camera's face crop;
    the second does not, nor does an ignored visitor's third."""
    notify = async_mock_service(hass, "notify", "mobile_app_phone")
    stranger = {
        "camera": "garden",
        "known": False,
        "person": None,
        "name": None,
        "visitor": "v_0042",
        "status": "unknown",
    }
    for event_id, count, status in (("e-1", 2, "unknown"), ("e-2", 3, "ignored")):
        async_fire_mqtt_message(
            hass,
            "known_faces/event/person_detected",
            detected(
                **{
                    **stranger,
                    "event_id": event_id,
                    "visitor_sightings_24h": count,
                    "status": status,
                }
            ),
        )
        await hass.async_block_till_done()
    assert notify == []
    async_fire_mqtt_message(
        hass,
        "known_faces/event/person_detected",
        detected(**stranger, event_id="e-3", visitor_sightings=7, visitor_sightings_24h=3),
    )
    await hass.async_block_till_done()
    assert len(notify) == 1
    assert notify[0].data["message"] == "Visitor v_0042 is at garden for the third time today"
    assert notify[0].data["data"]["image"] == "/api/image_proxy/image.garden_last_face"
