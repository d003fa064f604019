"""Running as an add-on, against a FAKE Supervisor.

The real Supervisor cannot run here (it manages Docker containers on a Home Assistant OS host),
so these tests serve a small fake of its API with aiohttp: the three calls the service makes,
answered in the Supervisor's envelope (``{"result": "ok", "data": ...}``), with its bearer-token
check. Everything else is real: the service, its Mosquitto and its HTTP server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from known_faces.service.app import choose_broker
from known_faces.service.config import Settings
from known_faces.service.supervisor import Supervisor, SupervisorError

from .helpers import Broker, ServiceRunner, free_port, wait_until

SUPERVISOR_TOKEN = "fake-supervisor-token"


@dataclass
class FakeSupervisor:
    """The fake's state: what it answers and what it was sent."""

    mqtt: dict[str, Any] | None
    discoveries: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        """Base URL, as ``http://supervisor`` is in an add-on."""
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        """The fake API."""
        def envelope(data: Any, status: int = 200) -> web.Response:
            if status >= 400:
                return web.json_response({"result": "error", "message": data}, status=status)
            return web.json_response({"result": "ok", "data": data})

        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.headers.get("Authorization") != f"Bearer {SUPERVISOR_TOKEN}":
                return envelope("unauthorized", 401)
            return await handler(request)

        async def services_mqtt(_request: web.Request) -> web.Response:
            if self.mqtt is None:
                return envelope("No mqtt service provided", 400)
            return envelope(self.mqtt)

        async def addon_info(_request: web.Request) -> web.Response:
            return envelope({"hostname": "local-known-faces", "slug": "local_known_faces"})

        async def discovery(request: web.Request) -> web.Response:
            self.discoveries.append(await request.json())
            return envelope({"uuid": "0123456789abcdef"})

        app = web.Application(middlewares=[auth])
        app.router.add_get("/services/mqtt", services_mqtt)
        app.router.add_get("/addons/self/info", addon_info)
        app.router.add_post("/discovery", discovery)
        return app


@pytest.fixture
def fake_supervisor() -> Iterator[Callable[[dict[str, Any] | None], FakeSupervisor]]:
    """Start fakes on a background loop; stop them after the test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    def start(mqtt: dict[str, Any] | None) -> FakeSupervisor:
        fake = FakeSupervisor(mqtt)

        async def serve() -> None:
            runner = web.AppRunner(fake.app())
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", fake.port).start()
            runners.append(runner)

        asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
        return fake

    yield start
    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_broker_credentials_and_discovery_come_from_the_supervisor(
        fake_supervisor: Callable[..., FakeSupervisor], broker: Broker,
        engine: Any, tmp_path: Any) -> None:
    fake = fake_supervisor({"host": "127.0.0.1", "port": broker.port, "ssl": False,
                            "username": "addons", "password": "secret", "protocol": "3.1.1"})
    # No mqtt_host: the broker must come from the (fake) Supervisor.
    settings = Settings.from_mapping({"http_host": "127.0.0.1", "http_port": 0,
                                      "data_dir": tmp_path, "topic_prefix": "kf_supervised"})
    runner = ServiceRunner(settings, engine,
                           supervisor=Supervisor(SUPERVISOR_TOKEN, base_url=fake.url))
    try:
        runner.start()
        assert runner.service.mqtt_connected
        wait_until(lambda: fake.discoveries, 10)
        assert fake.discoveries == [{"service": "known_faces", "config": {
            "host": "local-known-faces", "port": runner.service.http_port,
            "token": runner.service.token, "topic_prefix": "kf_supervised"}}]
        # The ingress proxy is trusted as an add-on, and only then.
        assert runner.service.trusted_peers == frozenset({"172.30.32.2"})
    finally:
        runner.stop()


def test_supervisor_without_mqtt_service_falls_back_to_the_local_broker(
        fake_supervisor: Callable[..., FakeSupervisor]) -> None:
    fake = fake_supervisor(None)
    supervisor = Supervisor(SUPERVISOR_TOKEN, base_url=fake.url)
    with pytest.raises(SupervisorError, match="No mqtt service"):
        asyncio.run(supervisor.mqtt_broker())
    settings = Settings.from_mapping({})
    broker = asyncio.run(choose_broker(settings, supervisor))
    assert (broker.host, broker.port) == ("127.0.0.1", 1883)


def test_configured_broker_wins_over_the_supervisor(
        fake_supervisor: Callable[..., FakeSupervisor]) -> None:
    fake = fake_supervisor({"host": "core-mosquitto", "port": 1883})
    supervisor = Supervisor(SUPERVISOR_TOKEN, base_url=fake.url)
    assert asyncio.run(supervisor.mqtt_broker()).host == "core-mosquitto"
    settings = Settings.from_mapping({"mqtt_host": "10.0.0.2", "mqtt_username": "me"})
    broker = asyncio.run(choose_broker(settings, supervisor))
    assert (broker.host, broker.port, broker.username) == ("10.0.0.2", 1883, "me")


def test_wrong_supervisor_token_and_unreachable_supervisor_are_errors(
        fake_supervisor: Callable[..., FakeSupervisor]) -> None:
    fake = fake_supervisor({"host": "x", "port": 1})
    with pytest.raises(SupervisorError, match="401"):
        asyncio.run(Supervisor("wrong", base_url=fake.url).mqtt_broker())
    with pytest.raises(SupervisorError):
        asyncio.run(Supervisor("t", base_url=f"http://127.0.0.1:{free_port()}").mqtt_broker())
