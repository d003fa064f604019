"""Fixtures: one real Mosquitto per test session, the real engine, real photos, running services.

The photo fixtures (``faces_dir``, ``photo``, ``faces_manifest``) come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from known_faces.pipeline.engine import Engine
from known_faces.service.config import Settings

from .helpers import Broker, MqttProbe, ServiceRunner, mosquitto_binary


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A Mosquitto started for this test session and killed at its end."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (scripts/test installs it)")
    broker = Broker(binary, tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The real engine on the installed models, shared by every service of the session."""
    return Engine.load(threads=Settings.from_mapping({}).threads)


def service_settings(broker: Broker, data_dir: Path, **options: Any) -> Settings:
    """Settings for a test service: the session broker, an ephemeral HTTP port."""
    raw = {"mqtt_host": "127.0.0.1", "mqtt_port": broker.port, "http_host": "127.0.0.1",
           "http_port": 0, "data_dir": data_dir, **options}
    return Settings.from_mapping(raw)


@pytest.fixture
def start_service(broker: Broker, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> Iterator[Callable[..., ServiceRunner]]:
    """Start services with option overrides; all are stopped after the test.

    Each test gets its own topic prefix, so retained messages of earlier tests on the shared
    broker never reach it.
    """
    runners: list[ServiceRunner] = []
    prefix = "kf_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]

    def start(data_dir: Path | None = None, *, supervisor: Any = None,
              trusted_peers: frozenset[str] | None = None, wait_mqtt: bool = True,
              **options: Any) -> ServiceRunner:
        options.setdefault("topic_prefix", prefix)
        settings = service_settings(broker, data_dir or tmp_path / f"data{len(runners)}",
                                    **options)
        runner = ServiceRunner(settings, engine, supervisor=supervisor,
                               trusted_peers=trusted_peers)
        runners.append(runner)
        return runner.start(wait_mqtt=wait_mqtt)

    yield start
    for runner in runners:
        runner.stop()


@pytest.fixture
def listen(broker: Broker) -> Iterator[Callable[[ServiceRunner], MqttProbe]]:
    """Clients listening to everything a service publishes (under its prefix)."""
    probes: list[MqttProbe] = []

    def make(runner: ServiceRunner) -> MqttProbe:
        probes.append(MqttProbe(broker.port, runner.service.topics.prefix + "/#"))
        return probes[-1]

    yield make
    for client in probes:
        client.close()
