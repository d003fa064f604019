"""The Frigate options: defaults, config file, environment, refusals, and the Frigate add-on's
URL found through a FAKE Supervisor.

The real Supervisor cannot run here (it manages Docker containers on a Home Assistant OS host),
so the last tests serve a small aiohttp fake of the one call used, ``GET /addons/<slug>/info``,
in the Supervisor's envelope (``{"result": "ok", "data": ...}``) with its bearer-token check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from known_faces.service.config import ConfigError, load_settings
from known_faces.service.frigate_config import frigate_url
from known_faces.service.supervisor import Supervisor

TOKEN = "fake-supervisor-token"


def test_defaults_follow_people_on_every_camera() -> None:
    frigate = load_settings(environ={}).frigate
    assert frigate.events
    assert frigate.url is None
    assert frigate.topic_prefix == "frigate"
    assert frigate.labels == {"person"}
    assert not frigate.cameras
    assert not frigate.zones
    assert (frigate.attempts, frigate.interval_s, frigate.stop_on_match) == (5, 1.0, True)
    assert frigate.sub_label
    assert not frigate.sub_label_unknown
    assert not frigate.double_take


def test_file_and_environment(tmp_path: Path) -> None:
    file = tmp_path / "options.yaml"
    file.write_text("frigate_url: http://frigate.lan:8971/\nfrigate_user: admin\n"
                    "frigate_cameras: [front_door, garage]\nfrigate_attempts: 3\n")
    environ = {"KNOWN_FACES_FRIGATE_PASSWORD": "s3cret", "KNOWN_FACES_FRIGATE_ZONES": "porch,yard",
               "KNOWN_FACES_FRIGATE_TOPIC_PREFIX": "frigate2", "KNOWN_FACES_DOUBLE_TAKE": "true",
               "KNOWN_FACES_FRIGATE_INTERVAL_S": "0.5"}
    frigate = load_settings(file, environ=environ).frigate
    assert frigate.url == "http://frigate.lan:8971"
    assert (frigate.user, frigate.password) == ("admin", "s3cret")
    assert frigate.cameras == {"front_door", "garage"}
    assert frigate.zones == {"porch", "yard"}
    assert (frigate.attempts, frigate.interval_s, frigate.topic_prefix) == (3, 0.5, "frigate2")
    assert frigate.double_take


@pytest.mark.parametrize(("environ", "option"), [
    ({"KNOWN_FACES_FRIGATE_URL": "frigate:5000"}, "frigate_url"),
    ({"KNOWN_FACES_FRIGATE_ATTEMPTS": "0"}, "frigate_attempts"),
    ({"KNOWN_FACES_FRIGATE_INTERVAL_S": "-1"}, "frigate_interval_s"),
    ({"KNOWN_FACES_FRIGATE_CAMERAS": "front door"}, "frigate_cameras.0"),
    ({"KNOWN_FACES_FRIGATE_TOPIC_PREFIX": "a/#"}, "frigate_topic_prefix"),
])
def test_bad_values_name_the_option(environ: dict[str, str], option: str) -> None:
    with pytest.raises(ConfigError, match=f"'{option}'"):
        load_settings(environ=environ)


@pytest.fixture
async def fake_supervisor() -> AsyncIterator[Any]:
    """A fake Supervisor answering ``/addons/<slug>/info`` from ``addons`` (slug → info)."""
    addons: dict[str, dict[str, Any]] = {}
    asked: list[str] = []

    async def info(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"result": "error", "message": "unauthorized"}, status=401)
        slug = request.match_info["slug"]
        asked.append(slug)
        if slug not in addons:
            return web.json_response({"result": "error", "message": "Addon does not exist"},
                                     status=400)
        return web.json_response({"result": "ok", "data": addons[slug]})

    app = web.Application()
    app.router.add_get("/addons/{slug}/info", info)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield Supervisor(TOKEN, f"http://127.0.0.1:{port}"), addons, asked
    await runner.cleanup()


async def test_the_frigate_add_on_is_found_through_the_supervisor(fake_supervisor: Any) -> None:
    supervisor, addons, asked = fake_supervisor
    settings = load_settings(environ={}).frigate
    assert await frigate_url(settings, supervisor) is None
    addons["ccab4aaf_frigate"] = {"hostname": "ccab4aaf-frigate", "state": "stopped"}
    addons["ccab4aaf_frigate-fa"] = {"hostname": "ccab4aaf-frigate-fa", "state": "started"}
    assert await frigate_url(settings, supervisor) == "http://ccab4aaf-frigate-fa:5000"
    assert asked[-2:] == ["ccab4aaf_frigate", "ccab4aaf_frigate-fa"]


async def test_a_configured_url_or_events_off_win_over_the_supervisor(
        fake_supervisor: Any) -> None:
    supervisor, addons, asked = fake_supervisor
    addons["ccab4aaf_frigate"] = {"hostname": "ccab4aaf-frigate", "state": "started"}
    configured = load_settings(environ={"KNOWN_FACES_FRIGATE_URL": "http://nvr:5000"}).frigate
    assert await frigate_url(configured, supervisor) == "http://nvr:5000"
    off = load_settings(environ={"KNOWN_FACES_FRIGATE_EVENTS": "false"}).frigate
    assert await frigate_url(off, supervisor) is None
    assert asked == []
    assert await frigate_url(load_settings(environ={}).frigate, None) is None
