"""The integration against the real service, on real photos.

The service runs as a subprocess from the project's virtual environment (`scripts/setup` makes
`.venv`), so Home Assistant's test environment never imports numpy or onnxruntime. One test runs
Home Assistant's own MQTT integration against a real Mosquitto with the service publishing; the
others call the integration's services against the service's real HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from homeassistant.components import mqtt
from homeassistant.const import CONF_TOKEN, CONF_URL, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.known_faces.const import CONF_TOPIC_PREFIX, DOMAIN, EVENT_PERSON_DETECTED

from ..photos import REPO, faces_dir

REQUIRED = os.environ.get("KNOWN_FACES_REQUIRE_TEST_DATA") == "1"


def _skip_or_fail(reason: str) -> None:
    """CI (KNOWN_FACES_REQUIRE_TEST_DATA=1) must run these tests; elsewhere they may be skipped."""
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until something accepts connections on the port, failing if the process died."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listens on {port} after 60 s:\n{log.read_text()}")


@dataclass
class RealService:
    """Where the running service is and how to talk to it."""

    url: str
    token: str
    mqtt_port: int
    data_dir: Path


def _start(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a subprocess with its output in a log file."""
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a subprocess we started, politely first."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture
def photos() -> Path:
    """The shared real photos (skipped, or failed in CI, when absent).

    Resolved: Home Assistant's path allowlist compares resolved paths, and shared/ may be a link.
    """
    return faces_dir().resolve()


@pytest.fixture
def topic_prefix() -> str:
    """The service's `topic_prefix` option; a test may override it."""
    return "known_faces"


@pytest.fixture
def real_service(socket_enabled: None, tmp_path: Path, topic_prefix: str) -> Iterator[RealService]:
    """Mosquitto on a free port and `known-faces serve` on another, both in a temp dir."""
    binary = Path(os.environ.get("KNOWN_FACES_SERVICE_BIN", REPO / ".venv" / "bin" / "known-faces"))
    if not os.access(binary, os.X_OK):
        _skip_or_fail(f"the service is not installed at {binary} (run scripts/setup)")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(mosquitto, os.X_OK):
        _skip_or_fail("mosquitto is not installed (scripts/test installs it)")

    mqtt_port, http_port = _free_port(), _free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker_log, service_log = tmp_path / "mosquitto.log", tmp_path / "service.log"
    broker = _start([mosquitto, "-c", str(config)], broker_log)
    service = None
    try:
        _wait_for_port(mqtt_port, broker, broker_log)
        data_dir = tmp_path / "data"
        service = _start(
            [
                str(binary),
                "serve",
                "--data-dir",
                str(data_dir),
                "--http-host",
                "127.0.0.1",
                "--http-port",
                str(http_port),
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                str(mqtt_port),
            ],
            service_log,
            env={**os.environ, "KNOWN_FACES_TOPIC_PREFIX": topic_prefix},
        )
        _wait_for_port(http_port, service, service_log)
        yield RealService(
            url=f"http://127.0.0.1:{http_port}",
            token=(data_dir / "token").read_text().strip(),
            mqtt_port=mqtt_port,
            data_dir=data_dir,
        )
    finally:
        if service is not None:
            _stop(service)
        _stop(broker)


async def _wait_for(
    hass: HomeAssistant, predicate: Callable[[], Any], what: str, limit: float = 30
) -> Any:
    """Let the event loop run until the predicate holds (real sockets: time must pass)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await hass.async_block_till_done()
        if value := predicate():
            return value
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def _setup_known_faces(hass: HomeAssistant, service: RealService) -> MockConfigEntry:
    """Add and set up the integration for the real service."""
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_URL: service.url, CONF_TOKEN: service.token})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _call(hass: HomeAssistant, service: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Call one of the integration's services, blocking."""
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, **kwargs)


async def _setup_mqtt(hass: HomeAssistant, service: RealService) -> MockConfigEntry:
    """Home Assistant's own MQTT integration on the test's Mosquitto."""
    mqtt_entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": service.mqtt_port},
        version=1,
        minor_version=2,
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    return mqtt_entry


async def _wait_online(hass: HomeAssistant) -> None:
    """Until the service's retained `online` has reached the status sensor."""
    await _wait_for(
        hass,
        lambda: (s := hass.states.get("binary_sensor.known_faces_status")) and s.state == STATE_ON,
        "the retained online status",
    )


async def test_real_broker_and_service(
    hass: HomeAssistant,
    mock_hass_config: None,
    real_service: RealService,
    photos: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Discovery, enrollment, a snapshot over MQTT and forgetting, end to end on real MQTT."""
    mqtt_entry = await _setup_mqtt(hass, real_service)
    try:
        # The retained announce starts MQTT discovery of the service.
        flow = await _wait_for(
            hass,
            lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN),
            "the MQTT discovery flow",
        )
        assert flow[0]["context"]["source"] == "mqtt"
        instance_id = (real_service.data_dir / "instance_id").read_text().strip()
        assert flow[0]["context"]["unique_id"] == instance_id

        # Adding the service by hand while that discovery waits replaces it (bug 1).
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: real_service.url, CONF_TOKEN: real_service.token}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
        await hass.async_block_till_done()
        entry = hass.config_entries.async_get_entry(result["result"].entry_id)
        assert entry.data[CONF_TOPIC_PREFIX] == "known_faces"  # reported by /health
        await _wait_online(hass)

        # A refused enrollment creates nobody, not even for a moment (issue 9, bug 5): no
        # person device appears, although the service republishes its gallery within a second.
        created = async_capture_events(hass, dr.EVENT_DEVICE_REGISTRY_UPDATED)
        blank = tmp_path / "wall.jpg"
        Image.new("RGB", (320, 240), (200, 190, 180)).save(blank)
        hass.config.allowlist_external_dirs = {str(photos), str(tmp_path)}
        with pytest.raises(ServiceValidationError):
            await _call(
                hass,
                "enroll",
                {"config_entry": entry.entry_id, "name": "Wall", "file_path": str(blank)},
            )
        await asyncio.sleep(2)
        await hass.async_block_till_done()
        assert [e.data for e in created if e.data["action"] == "create"] == []

        await _call(
            hass,
            "enroll",
            {
                "config_entry": entry.entry_id,
                "name": "Barack Obama",
                "file_path": str(photos / "people/barack_obama/barack_obama_1.jpg"),
            },
        )
        # The service republishes the gallery; the person's entities appear from it.
        await _wait_for(
            hass,
            lambda: hass.states.get("sensor.barack_obama_last_seen_camera"),
            "the person's entities",
        )

        detected = async_capture_events(hass, EVENT_PERSON_DETECTED)
        snapshot = (photos / "people/barack_obama/barack_obama_2.jpg").read_bytes()
        await mqtt.async_publish(hass, "known_faces/snapshot/front_door", snapshot)
        state = await _wait_for(
            hass,
            lambda: (
                (s := hass.states.get("sensor.barack_obama_last_seen_camera"))
                and s.state == "front_door"
                and s
            ),
            "the person to be seen on front_door",
        )
        assert state.attributes["friendly_name"] == "Barack Obama Last seen camera"
        assert detected[0].data["person"] == "barack_obama"
        assert detected[0].data["known"] is True
        event = hass.states.get("event.front_door_face")
        assert event.attributes["event_type"] == "known"
        assert event.attributes["name"] == "Barack Obama"
        assert hass.states.get("sensor.front_door_last_recognised_person").state == "Barack Obama"
        # The camera's state follows its events on another topic.
        await _wait_for(
            hass,
            lambda: hass.states.get("sensor.front_door_face_count").state == "1",
            "the camera's face count",
        )
        await _wait_for(
            hass,
            lambda: entry.runtime_data.coordinator.data.cameras["front_door"].face,
            "the face crop",
        )
        # The image's state is the time the service took the crop (its camera state says), and
        # a reload, which hands the retained crop over again, leaves it alone (bug 3).
        camera = entry.runtime_data.coordinator.data.cameras["front_door"]
        assert camera.reported_face_time is not None
        image = await _wait_for(
            hass,
            lambda: (
                (s := hass.states.get("image.front_door_last_face")) and s.state != "unknown" and s
            ),
            "the face image",
        )
        assert image.state == camera.reported_face_time.isoformat()
        assert await hass.config_entries.async_reload(entry.entry_id)
        await _wait_for(
            hass,
            lambda: hass.states.get("image.front_door_last_face").state == image.state,
            "the same image time after a reload",
        )

        await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "Barack Obama"})
        await _wait_for(
            hass,
            lambda: hass.states.get("sensor.barack_obama_last_seen_camera") is None,
            "the person's entities to go",
        )
        # The service clears the person's retained state: no warning about it (bug 4).
        await asyncio.sleep(1)
        await hass.async_block_till_done()
        assert "malformed" not in caplog.text
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()


@pytest.mark.parametrize("topic_prefix", ["home/faces"])
async def test_follows_the_services_prefix(
    hass: HomeAssistant, mock_hass_config: None, real_service: RealService
) -> None:
    """A service on another prefix is followed from what it reports; no option is set."""
    mqtt_entry = await _setup_mqtt(hass, real_service)
    try:
        entry = await _setup_known_faces(hass, real_service)
        assert entry.data[CONF_TOPIC_PREFIX] == "home/faces"
        assert entry.options == {}
        await _wait_online(hass)
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
async def http_entry(
    hass: HomeAssistant, mqtt_mock: Any, real_service: RealService, photos: Path
) -> MockConfigEntry:
    """The integration on mocked MQTT, talking HTTP to the real service."""
    hass.config.allowlist_external_dirs = {str(photos)}
    return await _setup_known_faces(hass, real_service)


async def test_enroll_then_recognize(
    hass: HomeAssistant, http_entry: MockConfigEntry, photos: Path
) -> None:
    """Enroll one real photo through HA, then recognise another photo of the same person."""
    response = await _call(
        hass,
        "enroll",
        {
            "config_entry": http_entry.entry_id,
            "name": "Kit Harington",
            "file_path": str(photos / "people/kit_harington/kit_harington_1.jpg"),
        },
        return_response=True,
    )
    assert response["person"] == "kit_harington"
    assert response["created"] is True

    result = await _call(
        hass,
        "recognize",
        {
            "config_entry": http_entry.entry_id,
            "file_path": str(photos / "people/kit_harington/kit_harington_2.jpg"),
        },
        return_response=True,
    )
    assert result["face_count"] == 1
    face = result["faces"][0]
    assert face["known"] is True
    assert face["name"] == "Kit Harington"
    assert face["similarity"] >= face["threshold"]
    json.dumps(result)  # service response data must be JSON-safe

    await _call(
        hass,
        "rename",
        {"config_entry": http_entry.entry_id, "person": "kit_harington", "name": "Jon Snow"},
    )
    result = await _call(
        hass,
        "recognize",
        {
            "config_entry": http_entry.entry_id,
            "file_path": str(photos / "people/kit_harington/kit_harington_3.jpg"),
        },
        return_response=True,
    )
    assert [f["name"] for f in result["faces"]] == ["Jon Snow"]


async def test_enroll_rejections_reach_the_user(
    hass: HomeAssistant, http_entry: MockConfigEntry, photos: Path, tmp_path: Path
) -> None:
    """The service's quality gates come back as translated validation errors."""
    group = next(
        g["file"]
        for g in json.loads((photos / "manifest.json").read_text())["groups"].values()
        if g["faces"] >= 2
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "enroll",
            {
                "config_entry": http_entry.entry_id,
                "name": "Crowd",
                "file_path": str(photos / group),
            },
        )
    assert err.value.translation_key == "several_faces"

    blank = tmp_path / "wall.jpg"
    Image.new("RGB", (320, 240), (200, 190, 180)).save(blank)
    hass.config.allowlist_external_dirs = {str(photos), str(tmp_path)}
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "enroll",
            {"config_entry": http_entry.entry_id, "name": "Wall", "file_path": str(blank)},
        )
    assert err.value.translation_key == "no_face"

    # Neither failed enrollment left a person behind.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget", {"config_entry": http_entry.entry_id, "person": "Crowd"})
    assert err.value.translation_key == "unknown_person"


async def test_enroll_from_url_of_a_large_photo(
    hass: HomeAssistant, http_entry: MockConfigEntry, photos: Path
) -> None:
    """A real photo of several hundred KB, served in pieces by a real aiohttp server (bug 2).

    Before the fix only what was buffered was read and the service called the image damaged.
    """
    photo = (photos / "people/barack_obama/barack_obama_1.jpg").read_bytes()
    assert len(photo) > 200_000

    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        for start in range(0, len(photo), 16 * 1024):
            await response.write(photo[start : start + 16 * 1024])
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/photo.jpg", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        response = await _call(
            hass,
            "enroll",
            {
                "config_entry": http_entry.entry_id,
                "name": "Barack Obama",
                "url": f"http://127.0.0.1:{port}/photo.jpg",
            },
            return_response=True,
        )
    finally:
        await runner.cleanup()
    assert (response["person"], response["created"]) == ("barack_obama", True)
