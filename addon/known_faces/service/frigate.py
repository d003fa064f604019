"""Following Frigate's events (DESIGN §10): frames from its API, a vote, one answer per event.

For each followed ``new``/``update`` (``sources.frigate_events``) a task fetches the camera's
current frame and the event's full-resolution snapshot from Frigate's API, up to ``attempts``
times ``interval_s`` apart, until the event ends or (``stop_on_match``) somebody is named. Each
new picture goes through the normal intake and recognizer as a waited-for snapshot of its
camera (per-camera thresholds apply, its ``person_detected`` events carry
``frigate_event_id``); one picture per camera waits at a time, so two events of one camera
take turns instead of refusing each other. An ``update`` of an event whose attempts were spent
without naming anybody starts another round (``MAX_ROUNDS`` in all): Frigate sends one when it
has a better snapshot. The event's ``EventVote`` reads the answer after
every frame; the publisher says it once confident (or when the attempts are spent), again
only if a later frame changes who it is, and a last time at ``end``. Named answers are
written back as Frigate sub labels.

The visitors' hook (DESIGN §9): ``Verdict.unknown_face`` (``unknown_face`` in the answer) is
the one face per event that stands for a stranger, the face a visitor should get once per
event; the frames' own unknown faces are handled by the recognizer as for any snapshot.

Bounded: at most ``MAX_ACTIVE`` events fetch at once (more are dropped and counted, and may
start with a later ``update`` when there is room), at most ``MAX_OPEN`` followed events are
remembered until their ``end`` (the oldest forgotten first), and a picture is held only while
it is recognised. A Frigate that is down or slow costs the one event its attempts (backing off
between them), never another camera's turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..errors import KnownFacesError
from ..pipeline.results import SnapshotResult
from ..pipeline.vote import EventVote, Verdict
from ..publish import payloads
from ..publish.frigate import FrigatePublisher
from ..publish.sub_label import SubLabel, SubLabelWriter
from ..sources.frigate_api import FrigateApi, FrigateError
from ..sources.frigate_events import EventFilter, FrigateEvent, parse_event
from ..sources.snapshot import Snapshot
from .frigate_config import FrigateSettings
from .metrics import Metrics
from .recognition import RecognitionLoop

LOG = logging.getLogger(__name__)

MAX_ACTIVE = 32
MAX_OPEN = 1024
MAX_ROUNDS = 3
BACKOFF_MAX_S = 30.0
FRAMES = ("latest", "snapshot")
SOURCE = "frigate"


@dataclass(slots=True)
class Followed:
    """One followed event: what Frigate last said, the vote, and what was published."""

    event: FrigateEvent
    received: float
    vote: EventVote = field(default_factory=EventVote)
    attempts: int = 0
    rounds: int = 0
    published: Verdict | None = None
    task: asyncio.Task[None] | None = None
    digests: dict[str, bytes] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)


class CameraTurns:
    """One waiting picture per camera: a lock per camera in use, forgotten when unused.

    A waiter cancelled (its event ended) keeps the camera's turn until its picture is done:
    the intake still holds it, and a second waited-for picture of that camera would be
    refused as busy.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def recognise(self, camera: str, recognition: RecognitionLoop,
                        snapshot: Snapshot) -> SnapshotResult:
        """Submit ``snapshot`` when the camera's previous Frigate picture is done."""
        lock, users = self._locks.get(camera, (asyncio.Lock(), 0))
        self._locks[camera] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release(camera, locked=False)
            raise
        reply: asyncio.Future[SnapshotResult] = asyncio.get_running_loop().create_future()
        try:
            snapshot.reply = reply
            snapshot.received = time.monotonic()
            recognition.submit(snapshot)
        except BaseException:
            self._release(camera)
            raise
        try:
            return await asyncio.shield(reply)
        finally:
            if reply.done():
                self._release(camera)
            else:
                reply.add_done_callback(lambda done: self._finished(camera, done))

    def _finished(self, camera: str, reply: asyncio.Future[SnapshotResult]) -> None:
        """A cancelled waiter's picture is done: its outcome is nobody's now; free the turn."""
        if not reply.cancelled():
            reply.exception()
        self._release(camera)

    def _release(self, camera: str, *, locked: bool = True) -> None:
        lock, users = self._locks[camera]
        if locked:
            lock.release()
        if users <= 1:
            del self._locks[camera]
        else:
            self._locks[camera] = (lock, users - 1)


class FrigateFollower:
    """Turns ``<prefix>/events`` messages into recognitions, answers and sub labels."""

    def __init__(self, settings: FrigateSettings, api: FrigateApi,
                 recognition: RecognitionLoop, publisher: FrigatePublisher,
                 writer: SubLabelWriter | None, metrics: Metrics) -> None:
        self.settings = settings
        self.api = api
        self._recognition = recognition
        self._publisher = publisher
        self._writer = writer
        self._filter = EventFilter(settings.labels, settings.cameras, settings.zones)
        self._open: OrderedDict[str, Followed] = OrderedDict()
        self._active: set[str] = set()
        self._turns = CameraTurns()
        self._warned_full = False
        self.events = metrics.counter(
            "known_faces_frigate_events_total",
            "Frigate events seen, by outcome (followed, dropped: too many at once, malformed).")
        self.frames = metrics.counter(
            "known_faces_frigate_frames_total",
            "Pictures fetched from Frigate, by frame (latest, snapshot) and outcome "
            "(recognised, unchanged, failed).")
        metrics.gauge("known_faces_frigate_active_events",
                      "Frigate events whose frames are being fetched.", lambda: self.active)

    @property
    def topic(self) -> str:
        """Where Frigate publishes its events."""
        return f"{self.settings.topic_prefix}/events"

    @property
    def active(self) -> int:
        """Events fetching frames right now."""
        return len(self._active)

    @property
    def remembered(self) -> int:
        """Followed events not ended yet (fetching or waiting for ``end``)."""
        return len(self._open)

    # -- messages ---------------------------------------------------------------------------
    def on_message(self, payload: bytes, received: float) -> None:
        """On the loop: one ``events`` message."""
        event = parse_event(payload)
        if event is None:
            self.events.inc(outcome="malformed")
            return
        followed = self._open.get(event.id)
        if event.ended:
            if followed is not None:
                followed.event = event
                self._close(followed)
            return
        if followed is not None:
            followed.event = event
            self._another_round(followed)
            return
        if not self._filter.admits(event):
            return
        if len(self._active) >= MAX_ACTIVE:
            self.events.inc(outcome="dropped")
            if not self._warned_full:
                self._warned_full = True
                LOG.warning("Frigate: %d events already followed; event %s of %s dropped "
                            "(counted in known_faces_frigate_events_total)", MAX_ACTIVE,
                            event.id, event.camera)
            return
        self._warned_full = False
        self.events.inc(outcome="followed")
        followed = Followed(event, received)
        self._open[event.id] = followed
        while len(self._open) > MAX_OPEN:
            _, oldest = self._open.popitem(last=False)
            if oldest.task is not None:
                oldest.task.cancel()
        self._start(followed)

    def _start(self, followed: Followed) -> None:
        followed.rounds += 1
        self._active.add(followed.event.id)
        followed.task = asyncio.create_task(self._follow(followed))

    def _another_round(self, followed: Followed) -> None:
        """An ``update`` (Frigate found a better snapshot, or the object moved) of an event
        whose attempts are spent without naming anybody: try again, a few rounds at most."""
        if (followed.event.id not in self._active and followed.rounds < MAX_ROUNDS
                and len(self._active) < MAX_ACTIVE
                and followed.vote.verdict().kind != "known"):
            self._start(followed)

    async def close(self) -> None:
        """Stop every event's task and the writer (at shutdown)."""
        tasks = [f.task for f in self._open.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._writer is not None:
            await self._writer.close()
        await self.api.close()

    # -- one event --------------------------------------------------------------------------
    async def _follow(self, followed: Followed) -> None:
        """Fetch and recognise frames until the attempts are spent or somebody is named."""
        settings, failures = self.settings, 0
        try:
            for attempt in range(settings.attempts):
                if attempt:
                    await asyncio.sleep(min(BACKOFF_MAX_S, settings.interval_s * 2 ** failures))
                followed.attempts += 1
                pictures = await asyncio.gather(
                    *(self._fetch(followed, frame) for frame in FRAMES))
                failures = failures + 1 if all(p is False for p in pictures) else 0
                for frame, picture in zip(FRAMES, pictures, strict=True):
                    if isinstance(picture, bytes):
                        await self._recognise(followed, frame, picture)
                if settings.stop_on_match and followed.vote.verdict().kind == "known":
                    break
            if followed.published is None:
                self._answer(followed, "new", followed.vote.verdict())
        finally:
            self._active.discard(followed.event.id)

    async def _fetch(self, followed: Followed, frame: str) -> bytes | bool | None:
        """A new picture, None when unchanged or unavailable, False when Frigate failed."""
        if frame in followed.unavailable:
            return None
        event = followed.event
        try:
            if frame == "latest":
                picture = await self.api.latest_frame(event.camera)
            else:
                picture = await self.api.event_snapshot(event.id)
        except FrigateError as err:
            self.frames.inc(frame=frame, outcome="failed")
            if err.reason == "not_found":
                followed.unavailable.add(frame)  # snapshots off, or the event is gone
            return False
        digest = hashlib.blake2b(picture, digest_size=16).digest()
        if followed.digests.get(frame) == digest:
            self.frames.inc(frame=frame, outcome="unchanged")
            return None
        followed.digests[frame] = digest
        return picture

    async def _recognise(self, followed: Followed, frame: str, picture: bytes) -> None:
        event = followed.event
        snapshot = Snapshot(event.camera, picture, time.monotonic(), SOURCE,
                            extra={"frigate_event_id": event.id, "frigate_frame": frame})
        try:
            result = await self._turns.recognise(event.camera, self._recognition, snapshot)
        except KnownFacesError:  # not an image, too large, intake busy: counted there
            self.frames.inc(frame=frame, outcome="failed")
            followed.digests.pop(frame, None)  # the next attempt tries the picture again
            return
        self.frames.inc(frame=frame, outcome="recognised")
        followed.vote.add(result, frame)
        verdict = followed.vote.verdict()
        if followed.published is None:
            if verdict.kind == "known":
                self._answer(followed, "new", verdict)
        elif verdict.names != followed.published.names:
            self._answer(followed, "update", verdict)
        elif verdict.kind == "known":
            self._write_back(event, verdict)  # the same people, perhaps a better score

    def _close(self, followed: Followed) -> None:
        """Frigate ended the event: stop fetching, publish the final answer, forget it."""
        self._open.pop(followed.event.id, None)
        if followed.task is not None:
            followed.task.cancel()
        self._active.discard(followed.event.id)
        self._answer(followed, "end", followed.vote.verdict())

    def _answer(self, followed: Followed, kind: str, verdict: Verdict) -> None:
        """Publish one consolidated message; on news, Double Take's topics and the sub label."""
        event, now = followed.event, datetime.now(UTC)
        elapsed = time.monotonic() - followed.received
        news = followed.published is None or verdict.names != followed.published.names
        self._publisher.answer(payloads.frigate_event(
            kind, event_id=event.id, camera=event.camera, label=event.label, zones=event.zones,
            verdict=verdict, attempts=followed.attempts, time=now, latency_ms=elapsed * 1000))
        followed.published = verdict
        if news:
            self._publisher.double_take_result(
                event_id=event.id, camera=event.camera, zones=event.zones, verdict=verdict,
                attempts=followed.attempts, duration_s=elapsed, time=now)
        self._write_back(event, verdict)

    def _write_back(self, event: FrigateEvent, verdict: Verdict) -> None:
        """The names (Double Take joins several with ``, ``) and the best score, or
        ``unknown`` when so configured."""
        if self._writer is None:
            return
        if verdict.kind == "known":
            names = sorted(p.name or p.person or "" for p in verdict.people)
            best = verdict.best
            score = min(1.0, max(best.score, 1e-4)) if best else None
            self._writer.want(event.id, SubLabel(", ".join(names), round(score or 0, 4)))
        elif verdict.kind == "unknown" and self.settings.sub_label_unknown:
            self._writer.want(event.id, SubLabel("unknown", None))


def build_follower(settings: FrigateSettings, url: str, recognition: RecognitionLoop,
                   publisher: FrigatePublisher, metrics: Metrics) -> FrigateFollower:
    """The follower with its API client and (when ``sub_label`` is on) its writer, each
    counting into ``/metrics``."""
    errors = metrics.counter(
        "known_faces_frigate_errors_total",
        "Requests to Frigate's API that failed, by request (latest, snapshot, sub_label) and "
        "reason (down, timeout, unauthorized, not_found, server_error, bad_response).")
    api = FrigateApi(url, user=settings.user, password=settings.password,
                     on_failure=lambda request, reason: errors.inc(request=request,
                                                                   reason=reason))
    writer = None
    if settings.sub_label:
        sub_labels = metrics.counter(
            "known_faces_frigate_sub_labels_total",
            "Sub labels written back to Frigate, by outcome (written, given_up, dropped).")
        writer = SubLabelWriter(api, lambda outcome: sub_labels.inc(outcome=outcome))
    LOG.info("Frigate: following %s/events, API at %s", settings.topic_prefix, url)
    return FrigateFollower(settings, api, recognition, publisher, writer, metrics)
