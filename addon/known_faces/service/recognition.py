"""The recognition loop: intake → recognizer (worker threads) → publisher.

Every source hands its snapshots to ``submit``; workers take the next camera's newest one, run
the recognizer in a thread (so the event loop never blocks on the engine or SQLite) and hand
the result to the publisher. Waited-for snapshots (HTTP) get their result back through their
``reply`` future instead of being dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import ImageTooLarge, KnownFacesError
from ..pipeline.decode import MAX_IMAGE_BYTES
from ..pipeline.engine import encode_crop
from ..pipeline.match import MatchSettings
from ..pipeline.results import SnapshotResult
from ..publish import payloads
from ..publish.mqtt_results import ResultPublisher
from ..recognizer import Recognizer
from ..sources.cameras import valid_camera
from ..sources.snapshot import Snapshot
from ..tracking import TrackedCamera
from .intake import LatestPerCamera
from .metrics import CameraLabels, Metrics

LOG = logging.getLogger(__name__)


#: ``Snapshot.extra`` fields that name one visit of one stranger: its frames count as one
#: sighting of the visitor (DESIGN §9).
VISIT_KEYS = ("frigate_event_id", "track_id")


def visit_of(snapshot: Snapshot) -> str | None:
    """The source's key of the visit a snapshot belongs to, if it has one."""
    for key in VISIT_KEYS:
        if snapshot.extra.get(key) is not None:
            return f"{key}:{snapshot.extra[key]}"
    return None


@dataclass(slots=True)
class Outcome:
    """What a worker thread hands back: the result and what to publish of it."""

    result: SnapshotResult
    events: list[payloads.Payload]
    face_jpeg: bytes | None


class RecognitionLoop:
    """Workers between the intake and the publisher, with the per-camera thresholds."""

    def __init__(self, recognizer: Recognizer, publisher: ResultPublisher, metrics: Metrics,
                 *, workers: int, camera_match: dict[str, MatchSettings]) -> None:
        self.recognizer = recognizer
        self.publisher = publisher
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="recognize")
        self._workers = workers
        self._camera_match = camera_match
        self.labels = CameraLabels(camera_match)
        self.intake = LatestPerCamera(
            on_drop=lambda camera: metrics.dropped.inc(camera=self.labels(camera)))
        self._warned: set[tuple[str, str]] = set()
        # Told of every published result after the publisher (the web UI's recent events).
        self.observers: list[Callable[[Snapshot, SnapshotResult, list[payloads.Payload]],
                                      None]] = []
        # Stream cameras' trackers (service/streams.py): their frames make one event per track.
        self.trackers: dict[str, TrackedCamera] = {}
        #: Called on the loop after a recognition recorded a visitor's sighting (§9).
        self.on_visitors: Callable[[], None] = lambda: None

    def tasks(self) -> list[asyncio.Task[None]]:
        """One dispatch task per worker thread."""
        return [asyncio.create_task(self._dispatch()) for _ in range(self._workers)]

    def shutdown(self) -> None:
        """Wait for running recognitions, then stop the threads."""
        self.executor.shutdown(wait=True)

    # -- intake ---------------------------------------------------------------------------------
    def submit(self, snapshot: Snapshot) -> None:
        """Count and queue a snapshot from any source; refusals are counted and logged once.

        A snapshot someone waits for gets the refusal raised instead: IntakeFull when there is
        no room, or the reason it cannot be used.
        """
        camera = snapshot.camera
        if not valid_camera(camera):
            self.metrics.failed.inc(camera=CameraLabels.INVALID, reason="invalid_camera")
            if snapshot.reply is not None:
                raise KnownFacesError("camera names are 1–64 letters, digits, '_' or '-'",
                                      code="invalid_camera")
            return
        self.metrics.received.inc(camera=self.labels(camera), source=snapshot.source)
        if len(snapshot.payload) > MAX_IMAGE_BYTES:
            err = ImageTooLarge(f"larger than the {MAX_IMAGE_BYTES}-byte limit")
            self._refused(snapshot, err)
            if snapshot.reply is not None:
                raise err
            return
        self.intake.put(snapshot)

    async def recognize(self, image: bytes, *, camera: str, source: str,
                        publish: bool) -> SnapshotResult:
        """A snapshot someone waits for (HTTP): same intake, same bounds, result returned."""
        reply: asyncio.Future[SnapshotResult] = asyncio.get_running_loop().create_future()
        self.submit(Snapshot(camera, image, time.monotonic(), source, publish, reply))
        return await reply

    # -- workers --------------------------------------------------------------------------------
    async def _dispatch(self) -> None:
        """One worker's loop: take the next camera's newest snapshot and recognise it."""
        while True:
            snapshot = await self.intake.get()
            try:
                result = await self._process(snapshot)
            except Exception as err:  # counted and logged in _process
                if snapshot.reply is not None and not snapshot.reply.done():
                    snapshot.reply.set_exception(err)
            else:
                if snapshot.reply is not None and not snapshot.reply.done():
                    snapshot.reply.set_result(result)
            finally:
                self.intake.release(snapshot.camera)

    async def _process(self, snapshot: Snapshot) -> SnapshotResult:
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self.executor, self._infer, snapshot)
        except KnownFacesError as err:
            self._refused(snapshot, err)
            raise
        except Exception:
            self.metrics.failed.inc(camera=self.labels(snapshot.camera), reason="error")
            LOG.exception("snapshot from %s (%s) failed", snapshot.camera, snapshot.source)
            raise
        self._account(outcome.result, snapshot)
        if (any(face.visitor is not None for face in outcome.result.faces)
                or any(event.get("visitor") for event in outcome.events)):  # a stream's track
            self.on_visitors()
        if snapshot.publish:
            self.metrics.events.inc(len(outcome.events))
            self.publisher.publish(outcome.result, outcome.events, outcome.face_jpeg)
            for observe in self.observers:
                observe(snapshot, outcome.result, outcome.events)
        return outcome.result

    def _infer(self, snapshot: Snapshot) -> Outcome:
        """Worker thread: recognise, then prepare (and record) what gets published; a stream
        frame's faces go through the camera's tracker instead of one event each."""
        tracked = self.trackers.get(snapshot.camera) if snapshot.source == "stream" else None
        result = self.recognizer.recognize(
            snapshot.payload, camera=snapshot.camera, source=snapshot.source,
            match=self._camera_match.get(snapshot.camera), received=snapshot.received,
            visit=visit_of(snapshot), keep_unknown=False if tracked is not None else None)
        if not snapshot.publish:
            return Outcome(result, [], None)
        events = (tracked.add(result, snapshot.received) if tracked is not None
                  else payloads.person_detected_events(result, snapshot.extra))
        for event in events:
            self.recognizer.gallery.record_event(event)
        best = max(result.faces, key=lambda f: (f.passed_gates, f.quality.face_px), default=None)
        return Outcome(result, events, encode_crop(best.crop) if best is not None else None)

    def _refused(self, snapshot: Snapshot, err: KnownFacesError) -> None:
        """Count a snapshot that is not an image we can use; warn once per camera label and
        reason (a camera sending garbage would fill the log), the metric keeps counting."""
        label = self.labels(snapshot.camera)
        self.metrics.failed.inc(camera=label, reason=err.code)
        level = logging.DEBUG if (label, err.code) in self._warned else logging.WARNING
        self._warned.add((label, err.code))
        LOG.log(level, "snapshot from %s (%s) not recognised: %s", snapshot.camera,
                snapshot.source, err)

    def _account(self, result: SnapshotResult, snapshot: Snapshot) -> None:
        metrics, label = self.metrics, self.labels(result.camera)
        metrics.processed.inc(camera=label)
        for face in result.faces:
            metrics.faces.inc(camera=label, status=face.status.value)
        for stage, ms in result.stage_ms.items():
            metrics.stage_seconds.observe(ms / 1000, stage=stage)
        metrics.latency_seconds.observe(time.monotonic() - snapshot.received,
                                        source=snapshot.source)
