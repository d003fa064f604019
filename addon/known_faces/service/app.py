"""The service's wiring: sources → intake → recognizer → publishers, plus the HTTP API.

One asyncio loop owns the state (pending snapshots, the outbox, metrics, the last gallery
payload); the MQTT network thread only hands messages over, and every CPU-heavy or SQLite call
runs in a thread, so neither a slow recognition nor a busy broker ever stalls the HTTP API.
Each part lives in its own module; this one builds them, starts them and stops them in order.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from .. import __version__
from ..errors import UnknownCamera
from ..pipeline.engine import Engine
from ..pipeline.match import MatchSettings
from ..publish import payloads
from ..publish.frigate import FrigatePublisher
from ..publish.mqtt_results import ResultPublisher
from ..publish.outbox import Message, Outbox
from ..publish.topics import Topics
from ..recognizer import Enrollment, Recognizer
from ..sources.mqtt_snapshots import SnapshotTopics
from ..sources.snapshot import Snapshot
from ..store.archive import export_archive, import_archive
from ..store.gallery import Gallery
from ..store.visitors import Visitors
from ..ui.pages import mount as mount_ui
from .config import Settings
from .frigate import FrigateFollower, build_follower
from .frigate_config import frigate_url
from .gallery_sync import GallerySync
from .http_api import build_app
from .identity import ensure_instance_id, ensure_token
from .metrics import Metrics
from .mqtt_link import BrokerSettings, LinkCallbacks, MqttLink
from .recent import RECENT_EVENTS, RecentEvents
from .recognition import RecognitionLoop
from .routes import API_BASE
from .streams import StreamCameras
from .supervisor import Supervisor, SupervisorError
from .visitor_sync import VisitorSync

LOG = logging.getLogger(__name__)

T = TypeVar("T")

INGRESS_PROXY = "172.30.32.2"
DISCOVERY_RETRIES = 6


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
        self.topics = Topics(settings.topic_prefix)
        self.snapshot_topics = SnapshotTopics(settings.topic_prefix, settings.snapshot_topics)
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
                                     MatchSettings(settings.match_threshold, settings.margin),
                                     keep_unknown=settings.keep_unknown,
                                     visitor_threshold=settings.visitor_threshold)
        self.outbox = Outbox(self._send, lambda kind, reason: self.metrics.publish_dropped.inc(
            kind=kind.value, reason=reason), max_events=settings.publish_queue)
        self.publisher = ResultPublisher(self.topics, self.outbox)
        camera_match = {
            name: MatchSettings(
                settings.match_threshold if o.match_threshold is None else o.match_threshold,
                settings.margin if o.margin is None else o.margin,
            )
            for name, o in settings.cameras.items()
        }
        self.recognition = RecognitionLoop(self.recognizer, self.publisher, self.metrics,
                                           workers=settings.workers, camera_match=camera_match)
        self.recent = RecentEvents()
        self.recent.seed(reversed(self.gallery.recent_events(RECENT_EVENTS)))
        self.recognition.observers.append(
            lambda snapshot, result, events: self.recent.record(snapshot.payload, result, events))
        self.gallery_sync = GallerySync(self.recognizer, self.outbox, self.publisher,
                                        engine.model_id)
        self.frigate_publisher = FrigatePublisher(self.topics, self.outbox,
                                                  double_take=settings.frigate.double_take)
        self.frigate: FrigateFollower | None = None
        self.streams = StreamCameras(settings, self.recognition, self.recognizer, self.outbox,
                                     self.topics, self.metrics)
        self.visitor_sync = VisitorSync(self.recognizer.visitors, self.outbox, self.topics,
                                        retention_days=settings.visitor_retention_days)
        self.recognition.on_visitors = self.visitor_sync.changed
        self._mqtt: MqttLink | None = None
        self.http_port = settings.http_port
        self.http_app: web.Application | None = None
        self.ready = threading.Event()
        self._register_gauges()

    def _register_gauges(self) -> None:
        gauge = self.metrics.gauge
        gauge("known_faces_pending_snapshots", "Snapshots waiting (at most one per camera).",
              lambda: self.pending_snapshots)
        gauge("known_faces_gallery_people", "Enrolled people.",
              lambda: len(self.gallery_sync.people))
        gauge("known_faces_gallery_faces", "Enrolled faces.",
              lambda: sum(p["face_count"] for p in self.gallery_sync.people))
        gauge("known_faces_mqtt_connected", "1 while connected to the broker.",
              lambda: int(self.mqtt_connected))
        gauge("known_faces_publish_waiting", "Outgoing MQTT messages waiting in the outbox.",
              lambda: self.outbox.waiting)

    @property
    def pending_snapshots(self) -> int:
        """Snapshots received but not yet taken by a worker."""
        return len(self.recognition.intake)

    @property
    def mqtt_connected(self) -> bool:
        """Whether the broker link is up right now."""
        return bool(self._mqtt and self._mqtt.connected)

    def health(self) -> dict[str, Any]:
        """The ``/health`` answer, from memory only; ``degraded`` with the gallery rows that
        were skipped because they could not be read."""
        problems = self.gallery.problems()
        return {
            "status": "degraded" if problems else "ok",
            "service": "known_faces",
            "version": self.version,
            "instance_id": self.instance_id,
            "model": self.engine.model_id,
            "mode": self.engine.mode,
            "models": list(self.engine.model_ids),
            "people": len(self.gallery_sync.people),
            "mqtt": "connected" if self.mqtt_connected else "disconnected",
            "topic_prefix": self.settings.topic_prefix,
            "gallery_problems": problems,
        }

    # -- life cycle ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down in order (offline status last)."""
        loop = asyncio.get_running_loop()
        await self.gallery_sync.refresh()
        broker = await choose_broker(self.settings, self.supervisor)
        url = await frigate_url(self.settings.frigate, self.supervisor)
        if url is not None:
            self.frigate = build_follower(self.settings.frigate, url, self.recognition,
                                          self.frigate_publisher, self.metrics)
        follow = (self.frigate.topic,) if self.frigate is not None else ()
        self._mqtt = MqttLink(
            broker, client_id=f"known-faces-{self.instance_id[:12]}",
            status_topic=self.topics.status,
            subscriptions=(*self.snapshot_topics.filters, self.topics.camera_states, *follow),
            loop=loop, callbacks=LinkCallbacks(
                on_message=self._on_message, on_connected=self._on_connected,
                on_disconnected=lambda: self.outbox.connected(False),
                on_acked=self.outbox.acked),
        )
        self._mqtt.start()
        self.http_app = build_app(self)
        mount_ui(self.http_app, self)
        runner = web.AppRunner(self.http_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.http_port = runner.addresses[0][1]
        LOG.info("HTTP API on %s:%s%s", self.settings.http_host, self.http_port, "/api/v1")
        tasks = self.recognition.tasks()
        tasks.append(asyncio.create_task(self.gallery_sync.watch()))
        tasks.append(asyncio.create_task(self.visitor_sync.watch()))
        if self.supervisor is not None:
            tasks.append(asyncio.create_task(self._discover(self.supervisor)))
        self.streams.start(loop)
        self.ready.set()
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.frigate is not None:
                await self.frigate.close()
            self.frigate_publisher.available(False)
            await runner.cleanup()
            await asyncio.to_thread(self.streams.stop)
            await asyncio.to_thread(self._mqtt.stop)
            await asyncio.to_thread(self.recognition.shutdown)
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

    # -- MQTT ------------------------------------------------------------------------------
    def _send(self, message: Message) -> bool:
        """The outbox's way out: the broker link."""
        return self._mqtt is not None and self._mqtt.publish(message.topic, message.payload,
                                                             retain=message.retain)

    def _on_connected(self) -> None:
        """Retained messages may be gone with a restarted broker: publish them again."""
        self.gallery_sync.publish()
        self.visitor_sync.publish()
        announce = payloads.announce(self.instance_id, advertised_url(self.settings),
                                     self.version, self.settings.topic_prefix)
        self.outbox.state(self.topics.announce, json.dumps(announce))
        self.frigate_publisher.available(True)
        self.streams.republish()
        self.outbox.connected(True)

    def _on_message(self, topic: str, payload: bytes, received: float, retained: bool) -> None:
        """On the loop, from the MQTT thread: a snapshot topic's image into the intake; our
        own retained camera states, replayed at connect, restore what the last run knew;
        Frigate's events to the follower.

        A retained snapshot was sent because we (re)subscribed, not because a camera saw
        someone now (Frigate retains its snapshots): replaying it would announce an old
        sighting as new, so it is skipped, and so is a retained Frigate event.
        """
        if self.frigate is not None and topic == self.frigate.topic:
            if not retained:
                self.frigate.on_message(payload, received)
            return
        camera = self.snapshot_topics.camera_of(topic)
        if camera is not None:
            if not retained:
                self.recognition.submit(Snapshot(camera, payload, received))
            return
        camera = self.topics.camera_of_state(topic)
        if camera is not None and retained:
            self.publisher.restore_face_time(camera, payload)

    def forget_camera(self, camera: str) -> None:
        """Clear a camera's retained topics (Home Assistant removes its device)."""
        self.publisher.forget_camera(camera)

    # -- what the HTTP API calls (http_api.ApiBackend) ---------------------------------------
    async def recognize(self, image: bytes, *, camera: str, source: str,
                        publish: bool) -> dict[str, Any]:
        """The HTTP path: the same intake and pipeline, publishing only when asked."""
        result = await self.recognition.recognize(image, camera=camera, source=source,
                                                  publish=publish)
        return payloads.recognize_answer(result)

    async def gallery_call(self, call: Callable[[Gallery], T], *, changes: bool = False) -> T:
        """Run a gallery call in a thread; a change republishes the gallery topic at once."""
        result = await asyncio.to_thread(call, self.gallery)
        if changes:
            self.gallery_sync.changed()
        return result

    async def _on_worker(self, call: Callable[[], T]) -> T:
        """Run an engine call on a recognition thread; the gallery changed afterwards."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.recognition.executor, call)
        finally:
            self.gallery_sync.changed()

    async def enroll(self, slug: str, image: bytes, *, source: str,
                     force: bool = False) -> Enrollment:
        """Quality-gated enrollment on a worker thread; a photo unlike the person's others is
        refused unless forced."""
        return await self._on_worker(
            lambda: self.recognizer.enroll_checked(slug, image, source=source, force=force))

    async def enroll_by_name(self, name: str, image: bytes, *, source: str,
                             force: bool = False) -> Enrollment:
        """Atomic enroll-by-name on a worker thread (the person exists only if a face does)."""
        return await self._on_worker(
            lambda: self.recognizer.enroll_by_name_checked(name, image, source=source,
                                                           force=force))

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
            counts = import_archive(self.gallery, path, mode=mode,
                                    models={e.model_id: e.dim for e, _ in self.engine.embedders})
            self.recognizer.refresh()
            return counts

        return await self._on_worker(work)

    def is_stream_camera(self, camera: str) -> bool:
        """Whether ``camera`` is configured with a stream."""
        return camera in self.streams.readers

    def stream_frame(self, camera: str, *, annotated: bool) -> bytes | None:
        """A stream camera's newest frame as JPEG (annotated: its tracks drawn), None before
        the first one."""
        if camera not in self.streams.readers:
            raise UnknownCamera("no stream camera of this name")
        return self.streams.live_jpeg(camera) if annotated else self.streams.current_jpeg(camera)

    # -- visitors (DESIGN §9) ----------------------------------------------------------------
    async def visitor_call(self, call: Callable[[Visitors], T], *, changes: bool = False) -> T:
        """Run a visitor store call in a thread; a change republishes the summary."""
        result = await asyncio.to_thread(call, self.recognizer.visitors)
        if changes:
            self.visitor_sync.changed()
        return result

    async def assign_visitor(self, visitor: str, *, person: str | None,
                             name: str | None) -> dict[str, Any]:
        """Assign in one transaction, then reload the matcher so the person is named at once."""
        def work() -> dict[str, Any]:
            done = self.recognizer.visitors.assign(visitor, self.recognizer.enrollment_gate,
                                                   person=person, name=name)
            self.recognizer.refresh()
            return payloads.assigned(done, self.gallery.person(done.person).as_dict())

        try:
            return await asyncio.to_thread(work)
        finally:
            self.gallery_sync.changed()
            self.visitor_sync.changed()

    async def search(self, image: bytes, threshold: float | None) -> dict[str, Any]:
        """Search by face on a recognition thread (the engine's); records nothing."""
        limit = self.settings.visitor_threshold if threshold is None else threshold
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self.recognition.executor,
                                           lambda: self.recognizer.search(image, limit))
        return payloads.search_answer(found, API_BASE)
