"""Real parts for the service tests and the latency benchmark: a Mosquitto broker on a free port,
the service running in a background thread, an MQTT probe and a small HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from known_faces.pipeline.engine import Engine
from known_faces.service.app import Service
from known_faces.service.config import Settings

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, step: float = 0.02) -> Any:
    """Poll ``predicate`` until it is truthy; its value, or AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def mosquitto_binary() -> str | None:
    """The broker executable, if installed (scripts/test installs it)."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)),
        None,
    )


class Broker:
    """A real Mosquitto bound to 127.0.0.1 on a fixed free port, so it can be killed and
    restarted where clients expect it. No persistence: a restart loses retained messages,
    like a fresh broker would."""

    def __init__(self, binary: str, workdir: Path, settings: str = "allow_anonymous true\n"
                 ) -> None:
        self.binary = binary
        self.port = free_port()
        self.config = workdir / "mosquitto.conf"
        # As root, Mosquitto would switch to its own user, who cannot read our temp files.
        user = pwd.getpwuid(os.getuid()).pw_name
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\nuser {user}\n{settings}")
        self.log = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                          stdout=log, stderr=subprocess.STDOUT)

        def accepting() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(accepting, 10)

    def kill(self) -> None:
        """SIGKILL: the service sees the connection drop without a goodbye."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


class ServiceRunner:
    """The real service (real engine, broker and HTTP server) on a background event loop."""

    def __init__(self, settings: Settings, engine: Engine, **kwargs: Any) -> None:
        self.service = Service(settings, engine, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="service", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.service.run(self._stop)

        try:
            asyncio.run(run())
        except BaseException as err:  # surfaced by start()
            self._error = err

    def start(self, timeout: float = 30, *, wait_mqtt: bool = True) -> ServiceRunner:
        """Start and wait until HTTP listens (and the broker link is up, unless told not to)."""
        self._thread.start()
        wait_until(lambda: self.service.ready.is_set() or self._error or
                   not self._thread.is_alive(), timeout)
        if not self.service.ready.is_set():
            raise RuntimeError("the service did not start") from self._error
        if wait_mqtt:
            wait_until(lambda: self.service.mqtt_connected, timeout)
        return self

    def stop(self) -> None:
        """Ask the loop to stop and wait for a clean shutdown."""
        if not self._thread.is_alive():
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    def url(self, path: str) -> str:
        """Absolute URL of an API path."""
        return f"http://127.0.0.1:{self.service.http_port}/api/v1{path}"

    def http(self, method: str, path: str, body: bytes | None = None, *,
             token: str | None = "", headers: dict[str, str] | None = None) -> Response:
        """Call the API; ``token=""`` means the service's own token, None means no header."""
        token = self.service.token if token == "" else token
        return request(method, self.url(path), body, token=token, headers=headers)


@dataclass
class Response:
    """Status, headers and body of one HTTP exchange."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None, *, token: str | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30) -> Response:
    """One HTTP request; 4xx/5xx are returned, not raised."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers), err.read())


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with one file field."""
    boundary = "known-faces-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
        f"filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@dataclass
class Message:
    """One received MQTT message."""

    topic: str
    payload: bytes
    retain: bool
    received: float

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


class MqttProbe:
    """A real MQTT client that records everything under some filters and can publish."""

    def __init__(self, port: int, *filters: str) -> None:
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe([(f, 1) for f in filters])
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client
        if not self._subscribed.wait(10):
            raise RuntimeError("MQTT probe could not subscribe")

    def _on_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Message(msg.topic, msg.payload, bool(msg.retain),
                                         time.perf_counter()))
            self._cond.notify_all()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """QoS 1 publish, waiting until the broker has it."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 10,
                 count: int = 1) -> list[Message]:
        """The first ``count`` messages matching ``predicate`` (already received ones count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"expected {count} message(s); got topics {topics}")
                self._cond.wait(left)

    def on(self, topic: str, timeout: float = 10) -> Message:
        """The first message on ``topic``."""
        return self.wait_for(lambda m: m.topic == topic, timeout)[0]

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._cond:
            self.messages.clear()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def enroll(runner: ServiceRunner, name: str, *images: bytes) -> str:
    """Enroll a person through the HTTP API; their slug."""
    created = runner.http("POST", "/people", json.dumps({"name": name}).encode(),
                          headers={"Content-Type": "application/json"})
    assert created.status == 201, created.body
    slug = created.json()["person"]
    for image in images:
        added = runner.http("POST", f"/people/{slug}/faces", image)
        assert added.status == 201, added.body
    return slug


class ServiceProcess:
    """``known-faces serve`` in a subprocess, so its memory is measured alone."""

    def __init__(self, broker: Broker, prefix: str, data_dir: Path, workers: int = 2,
                 threads: int = 1, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        env = {**os.environ, "KNOWN_FACES_TOPIC_PREFIX": prefix, "KNOWN_FACES_LOG_LEVEL": "warning",
               "KNOWN_FACES_WORKERS": str(workers), "KNOWN_FACES_THREADS": str(threads),
               "KNOWN_FACES_SNAPSHOT_TOPICS": "[]", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "known_faces.cli", "serve", "--mqtt-host", "127.0.0.1",
             "--mqtt-port", str(broker.port), "--http-host", "127.0.0.1",
             "--http-port", str(self.port), "--data-dir", str(data_dir)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._healthy, 120, step=0.2)
        self.token = (data_dir / "token").read_text().strip()

    def _healthy(self) -> bool:
        try:
            answer = request("GET", self.url("/health"), timeout=1)
        except OSError:
            return False
        return answer.status == 200 and answer.json()["mqtt"] == "connected"

    def url(self, path: str) -> str:
        """Absolute API URL."""
        return f"http://127.0.0.1:{self.port}/api/v1{path}"

    def call(self, method: str, path: str, body: bytes | None = None) -> Any:
        """An authorised API call's JSON answer."""
        answer = request(method, self.url(path), body, token=self.token,
                         headers={"Content-Type": "application/json"} if method == "POST"
                         and path == "/people" else None)
        assert answer.status < 300, answer.body
        return answer.json() if answer.body and path != "/metrics" else answer.body.decode()

    def counter(self, name: str, camera: str) -> float:
        """One per-camera counter from /metrics."""
        prefix = f'known_faces_snapshots_{name}_total{{camera="{camera}"'
        return sum(float(line.rsplit(" ", 1)[1]) for line in self.call("GET", "/metrics")
                   .splitlines() if line.startswith(prefix))

    def status_kb(self, field: str) -> int:
        """A ``/proc/<pid>/status`` memory field in kB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.proc.terminate()
        self.proc.wait(30)
