"""The service: snapshots in (MQTT, HTTP), recognition in worker threads, results out.

One asyncio loop owns the state (pending snapshots, metrics, the last gallery payload); the
MQTT network thread only hands snapshots over, and every CPU-heavy or SQLite call runs in a
thread, so neither a slow recognition nor a busy broker ever stalls the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from .. import __version__
from ..errors import ImageTooLarge, KnownFacesError
from ..pipeline.engine import Engine, encode_crop
from ..pipeline.match import MatchSettings
from ..pipeline.results import SnapshotResult
from ..recognizer import Recognizer
from ..store.archive import export_archive, import_archive
from ..store.gallery import Face, Gallery, Person
from .config import Settings
from .http_api import MAX_IMAGE_BYTES, build_app
from .identity import ensure_instance_id, ensure_token
from .intake import LatestPerCamera, Snapshot
from .metrics import Metrics
from .mqtt_link import BrokerSettings, MqttLink
from .supervisor import Supervisor, SupervisorError
from .topics import Topics, valid_camera

LOG = logging.getLogger(__name__)

T = TypeVar("T")

INGRESS_PROXY = "172.30.32.2"
GALLERY_POLL_S = 0.5
DISCOVERY_RETRIES = 6


@dataclass(slots=True)
class Outcome:
    """What a worker thread hands back: the result and what to publish of it."""

    result: SnapshotResult
    events: list[dict[str, Any]]
    face_jpeg: bytes | None


def advertised_url(settings: Settings) -> str:
    """The URL other machines reach the API at, for the ``announce`` topic.

    The configured one wins; otherwise the address of the interface that routes outwards (a UDP
    ``connect`` sends nothing), since ``0.0.0.0`` is no address to give anybody.
    """
    if settings.advertise_url:
        return settings.advertise_url
    host = settings.http_host
    if host in ("0.0.0.0", "::", ""):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))
                host = probe.getsockname()[0]
        except OSError:
            host = "127.0.0.1"
    return f"http://{host}:{settings.http_port}"


async def choose_broker(settings: Settings, supervisor: Supervisor | None) -> BrokerSettings:
    """The configured broker, else the Supervisor's (Mosquitto add-on), else 127.0.0.1."""
    if settings.mqtt_host is None and supervisor is not None:
        try:
            return await supervisor.mqtt_broker()
        except SupervisorError as err:
            LOG.warning("no MQTT service from the Supervisor (%s); trying 127.0.0.1", err)
    return BrokerSettings(
        settings.mqtt_host or "127.0.0.1",
        settings.mqtt_port or (8883 if settings.mqtt_tls else 1883),
        settings.mqtt_username,
        settings.mqtt_password,
        settings.mqtt_tls,
    )


class Service:
    """One running instance: gallery, recognizer, MQTT link and HTTP server."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        supervisor: Supervisor | None = None,
        trusted_peers: frozenset[str] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.supervisor = supervisor
        self.version = __version__
        self.metrics = Metrics()
        self.topics = Topics(settings.topic_prefix, settings.snapshot_topics)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.token, created = ensure_token(settings.data_dir)
        if created:
            LOG.warning("API token (shown once; `known-faces token` shows it again): %s",
                        self.token)
        self.instance_id = ensure_instance_id(settings.data_dir)
        if trusted_peers is None:
            trusted_peers = frozenset({INGRESS_PROXY}) if supervisor else frozenset()
        self.trusted_peers = trusted_peers
        self.gallery = Gallery.open(settings.data_dir)
        self.recognizer = Recognizer(engine, self.gallery,
                                     MatchSettings(settings.match_threshold, settings.margin))
        self._camera_match = {
            name: MatchSettings(
                settings.match_threshold if o.match_threshold is None else o.match_threshold,
                settings.margin if o.margin is None else o.margin,
            )
            for name, o in settings.cameras.items()
        }
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="recognize")
        self._intake = LatestPerCamera(on_drop=lambda c: self.metrics.dropped.inc(camera=c))
        self._mqtt: MqttLink | None = None
        self._warned: set[tuple[str, str]] = set()
        self._gallery_changed = asyncio.Event()
        self._gallery_version = -1
        self._gallery_payload: dict[str, Any] | None = None
        self.http_port = settings.http_port
        self.http_app: web.Application | None = None
        self.ready = threading.Event()
        self._register_gauges()

    def _register_gauges(self) -> None:
        gauge = self.metrics.gauge
        gauge("known_faces_pending_snapshots", "Snapshots waiting (at most one per camera).",
              lambda: self.pending_snapshots)
        gauge("known_faces_gallery_people", "Enrolled people.", lambda: len(self._people()))
        gauge("known_faces_gallery_faces", "Enrolled faces.",
              lambda: sum(p["face_count"] for p in self._people()))
        gauge("known_faces_mqtt_connected", "1 while connected to the broker.",
              lambda: int(self.mqtt_connected))

    def _people(self) -> list[dict[str, Any]]:
        return self._gallery_payload["people"] if self._gallery_payload else []

    @property
    def pending_snapshots(self) -> int:
        """Snapshots received but not yet taken by a worker."""
        return len(self._intake)

    @property
    def mqtt_connected(self) -> bool:
        """Whether the broker link is up right now."""
        return bool(self._mqtt and self._mqtt.connected)

    def health(self) -> dict[str, Any]:
        """The ``/health`` answer, from memory only."""
        return {
            "status": "ok",
            "service": "known_faces",
            "version": self.version,
            "instance_id": self.instance_id,
            "model": self.engine.model_id,
            "people": len(self._people()),
            "mqtt": "connected" if self.mqtt_connected else "disconnected",
            "topic_prefix": self.settings.topic_prefix,
        }

    # -- life cycle ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down in order (offline status last)."""
        loop = asyncio.get_running_loop()
        await self._refresh_gallery()
        broker = await choose_broker(self.settings, self.supervisor)
        self._mqtt = MqttLink(
            broker, self.topics, client_id=f"known-faces-{self.instance_id[:12]}", loop=loop,
            on_snapshot=self._on_snapshot, on_connected=self._on_connected,
        )
        self._mqtt.start()
        self.http_app = build_app(self)
        runner = web.AppRunner(self.http_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.http_port = runner.addresses[0][1]
        LOG.info("HTTP API on %s:%s%s", self.settings.http_host, self.http_port, "/api/v1")
        tasks = [asyncio.create_task(self._dispatch()) for _ in range(self.settings.workers)]
        tasks.append(asyncio.create_task(self._watch_gallery()))
        if self.supervisor is not None:
            tasks.append(asyncio.create_task(self._discover(self.supervisor)))
        self.ready.set()
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()
            await asyncio.to_thread(self._mqtt.stop)
            await asyncio.to_thread(self._executor.shutdown, wait=True)
            self.gallery.close()
            LOG.info("stopped")

    async def _discover(self, supervisor: Supervisor) -> None:
        """Tell Home Assistant where we are, retrying while the Supervisor is busy."""
        host = await supervisor.hostname()
        for attempt in range(DISCOVERY_RETRIES):
            try:
                uuid = await supervisor.discover(host, self.http_port, self.token,
                                                  self.settings.topic_prefix)
            except SupervisorError as err:
                LOG.warning("discovery failed (%s), attempt %d", err, attempt + 1)
                await asyncio.sleep(2**attempt)
                continue
            LOG.info("discovery sent to Home Assistant (%s, %s:%s)", uuid, host, self.http_port)
            return

    def _on_connected(self) -> None:
        """Retained messages may be gone with a restarted broker: publish them again."""
        self._publish_gallery()
        announce = {"instance_id": self.instance_id, "url": advertised_url(self.settings),
                    "version": self.version, "topic_prefix": self.settings.topic_prefix}
        self._publish(self.topics.announce, json.dumps(announce), retain=True)

    def _publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        if self._mqtt is not None:
            self._mqtt.publish(topic, payload, retain=retain)

    # -- snapshots ---------------------------------------------------------------------------
    def _on_snapshot(self, camera: str, payload: bytes, received: float) -> None:
        """On the loop, from the MQTT thread: count and queue (replacing an older one)."""
        if not valid_camera(camera):
            self.metrics.failed.inc(camera="_invalid", reason="invalid_camera")
            return
        self.metrics.received.inc(camera=camera, source="mqtt")
        if len(payload) > MAX_IMAGE_BYTES:
            self.metrics.failed.inc(camera=camera, reason=ImageTooLarge.code)
            LOG.warning("snapshot from %s refused: larger than %d bytes", camera, MAX_IMAGE_BYTES)
            return
        self._intake.put(Snapshot(camera, payload, received))

    async def _dispatch(self) -> None:
        """One worker's loop: take the next camera's newest snapshot and recognise it."""
        while True:
            snapshot = await self._intake.get()
            try:
                await self._process(snapshot, publish=True)
            except Exception:
                LOG.debug("snapshot from %s dropped after its error was counted", snapshot.camera)
            finally:
                self._intake.release(snapshot.camera)

    async def recognize(self, image: bytes, *, camera: str, source: str,
                        publish: bool) -> dict[str, Any]:
        """The HTTP path: same pipeline, publishing only when asked."""
        self.metrics.received.inc(camera=camera, source=source)
        snapshot = Snapshot(camera, image, time.monotonic(), source)
        result = await self._process(snapshot, publish=publish)
        return result.as_dict()

    async def _process(self, snapshot: Snapshot, *, publish: bool) -> SnapshotResult:
        camera = snapshot.camera
        match = self._camera_match.get(camera)
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._executor, self._infer, snapshot, match,
                                                 publish)
        except KnownFacesError as err:
            self.metrics.failed.inc(camera=camera, reason=err.code)
            # A camera sending garbage would otherwise fill the log: warn once per camera and
            # reason; the metric keeps counting.
            level = logging.DEBUG if (camera, err.code) in self._warned else logging.WARNING
            self._warned.add((camera, err.code))
            LOG.log(level, "snapshot from %s (%s) not recognised: %s", camera, snapshot.source,
                    err)
            raise
        except Exception:
            self.metrics.failed.inc(camera=camera, reason="error")
            LOG.exception("snapshot from %s (%s) failed", camera, snapshot.source)
            raise
        self._account(outcome.result, snapshot)
        if publish:
            self._publish_outcome(outcome)
        return outcome.result

    def _infer(self, snapshot: Snapshot, match: MatchSettings | None, publish: bool) -> Outcome:
        """Worker thread: recognise, then prepare (and record) what gets published."""
        result = self.recognizer.recognize(snapshot.payload, camera=snapshot.camera,
                                           source=snapshot.source, match=match)
        # Events report the service's latency (receipt to publish, waiting included), which
        # is what an automation feels, not only the engine's share of it.
        result.latency_ms = (time.monotonic() - snapshot.received) * 1000
        events = result.events()
        for event in events:
            event.pop("status", None)  # the contract's event has no status; /recognize's has
            if publish:
                self.gallery.record_event(event)
        best = max(result.faces, key=lambda f: (f.gated, f.quality.face_px), default=None)
        face_jpeg = encode_crop(best.crop) if publish and best is not None else None
        return Outcome(result, events, face_jpeg)

    def _account(self, result: SnapshotResult, snapshot: Snapshot) -> None:
        metrics = self.metrics
        metrics.processed.inc(camera=result.camera)
        for face in result.faces:
            metrics.faces.inc(camera=result.camera, status=face.status.value)
        for stage, ms in result.stage_ms.items():
            metrics.stage_seconds.observe(ms / 1000, stage=stage)
        metrics.latency_seconds.observe(time.monotonic() - snapshot.received,
                                        source=snapshot.source)

    def _publish_outcome(self, outcome: Outcome) -> None:
        """Events (QoS 1), then the retained person, camera and face-crop states."""
        result, topics = outcome.result, self.topics
        for event in outcome.events:
            self._publish(topics.person_detected, json.dumps(event))
        known = [e for e in outcome.events if e["known"]]
        for event in known:
            state = {k: event[k] for k in ("person", "name", "camera", "time", "similarity",
                                           "event_id")}
            self._publish(topics.person_state(event["person"]), json.dumps(state), retain=True)
        camera_state = {
            "camera": result.camera,
            "time": result.time.isoformat(),
            "snapshot_id": result.snapshot_id,
            "face_count": result.face_count,
            "unknown": len(outcome.events) - len(known),
            "people": [{k: e[k] for k in ("person", "name", "similarity")} for e in known],
        }
        self._publish(topics.camera_state(result.camera), json.dumps(camera_state), retain=True)
        if outcome.face_jpeg is not None:
            self._publish(topics.camera_face(result.camera), outcome.face_jpeg, retain=True)

    # -- gallery -----------------------------------------------------------------------------
    async def gallery_call(self, call: Callable[[Gallery], T], *, changes: bool = False) -> T:
        """Run a gallery call in a thread; a change republishes the gallery topic at once."""
        result = await asyncio.to_thread(call, self.gallery)
        if changes:
            self._gallery_changed.set()
        return result

    async def enroll(self, slug: str, image: bytes, *, source: str) -> tuple[Face, Person]:
        """Quality-gated enrollment on a worker thread."""
        def work() -> tuple[Face, Person]:
            face = self.recognizer.enroll(slug, image, source=source)
            return face, self.gallery.person(slug)

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, work)
        finally:
            self._gallery_changed.set()

    async def enroll_by_name(self, name: str, image: bytes, *,
                             source: str) -> tuple[Face, Person, bool]:
        """Atomic enroll-by-name on a worker thread (the person exists only if a face does)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor,
                lambda: self.recognizer.enroll_by_name(name, image, source=source))
        finally:
            self._gallery_changed.set()

    async def export_archive(self) -> bytes:
        """The gallery as zip bytes."""
        def work() -> bytes:
            buffer = io.BytesIO()
            export_archive(self.gallery, buffer)
            return buffer.getvalue()

        return await asyncio.to_thread(work)

    async def import_archive(self, path: Path, mode: str) -> tuple[int, int]:
        """Import, then embed what the archive lacks for this model, off the loop."""
        def work() -> tuple[int, int]:
            counts = import_archive(self.gallery, path, mode=mode)
            self.recognizer.refresh()
            return counts

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, work)
        finally:
            self._gallery_changed.set()

    async def _watch_gallery(self) -> None:
        """Notice changes from our API at once and from other processes within a second."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gallery_changed.wait(), GALLERY_POLL_S)
            self._gallery_changed.clear()
            try:
                await self._refresh_gallery()
            except Exception:
                LOG.exception("reading the gallery failed; retrying")

    async def _refresh_gallery(self) -> None:
        """Reload the matcher and republish ``gallery`` when the version moved."""
        version = await asyncio.to_thread(lambda: self.gallery.version)
        if version == self._gallery_version:
            return
        await asyncio.to_thread(self.recognizer.refresh)
        people = await asyncio.to_thread(self.gallery.people)
        previous = {p["person"] for p in self._people()}
        self._gallery_version = version
        self._gallery_payload = {
            "version": version,
            "model": self.engine.model_id,
            "people": [{"person": p.slug, "name": p.name, "face_count": p.face_count}
                       for p in people],
        }
        for slug in previous - {p.slug for p in people}:
            self._publish(self.topics.person_state(slug), b"", retain=True)
        self._publish_gallery()

    def _publish_gallery(self) -> None:
        if self._gallery_payload is not None:
            self._publish(self.topics.gallery, json.dumps(self._gallery_payload), retain=True)
