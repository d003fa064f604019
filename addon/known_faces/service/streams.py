"""The service's stream cameras: one reader each, frames into the intake, trackers, live view.

A camera configured with a ``stream`` gets a ``StreamReader`` (sources/streams.py) at its share
of the frame budget. Each sampled frame is encoded once as JPEG and submitted to the same
newest-wins intake as MQTT snapshots (source ``stream``); the recognition loop sends its
result through the camera's ``TrackedCamera``, so a person standing in view is one event per
track. The last frame of each stream is kept for the live view (annotated with the last
recognised frame's tracks) and for enrolling the face in view.

Readers run in threads; everything they report reaches the outbox and metrics through the
event loop (``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np

from ..pipeline.annotate import draw
from ..pipeline.tracker import TrackerSettings
from ..publish import payloads
from ..publish.outbox import Outbox
from ..publish.topics import Topics
from ..recognizer import Recognizer
from ..sources.snapshot import Snapshot
from ..sources.streams import FrameBudget, StreamReader, StreamStatus
from ..tracking import TrackedCamera, frame_jpeg, join_visitor, track_labels
from .config import Settings
from .metrics import Metrics, Sampled
from .recognition import RecognitionLoop

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# The live view draws the last recognised frame's faces only while they are this recent.
LIVE_BOXES_S = 3.0
# A track survives this many frame intervals unseen (one missed detection at a slow rate).
UNSEEN_FRAMES = 3


def tracker_settings(fps: float, mode: str) -> TrackerSettings:
    """The tracker of a stream read at ``fps`` by an engine in ``mode``: its timeout never
    shorter than a few frames, or a budget-slowed camera would start a new track (and event)
    at every missed face."""
    default = TrackerSettings()
    return TrackerSettings.for_mode(mode,
                                    max_unseen_s=max(default.max_unseen_s, UNSEEN_FRAMES / fps))


@dataclass(frozen=True, slots=True)
class LatestFrame:
    """A stream's newest frame, decoded and as JPEG."""

    image: np.ndarray
    jpeg: bytes
    received: float


class StreamCameras:
    """Every stream camera of one service."""

    def __init__(self, settings: Settings, recognition: RecognitionLoop, recognizer: Recognizer,
                 outbox: Outbox, topics: Topics, metrics: Metrics) -> None:
        streams = {name: o for name, o in settings.cameras.items() if o.stream}
        self.budget = FrameBudget(settings.stream_max_fps, {n: o.fps for n, o in streams.items()})
        self._recognition = recognition
        self._outbox = outbox
        self._topics = topics
        self._loop: asyncio.AbstractEventLoop | None = None
        self.latest: dict[str, LatestFrame] = {}
        self.tracked: dict[str, TrackedCamera] = {}
        self.readers: dict[str, StreamReader] = {}
        self._live: dict[str, tuple[tuple[float, str | None], bytes]] = {}
        mode = recognizer.engine.mode
        for name, options in streams.items():
            assert options.stream is not None
            self.tracked[name] = TrackedCamera(name, tracker_settings(self.budget.fps(name), mode),
                                               join_visitor(recognizer), keep_finished=False)
            recognition.trackers[name] = self.tracked[name]
            self.readers[name] = StreamReader(
                name, options.stream, options.fps, self.budget.fps(name),
                on_frame=self._on_frame, on_status=self._on_status)
        self._register(metrics)

    def _register(self, metrics: Metrics) -> None:
        def per_camera(read: str) -> dict[str, float]:
            return {n: float(getattr(r.status, read)) for n, r in self.readers.items()}

        metrics.sampled(Sampled("known_faces_stream_online", "1 while a stream camera is read.",
                                "camera", lambda: per_camera("online")))
        metrics.sampled(Sampled("known_faces_stream_frames_total",
                                "Frames taken from each stream.", "camera",
                                lambda: per_camera("frames"), kind="counter"))
        metrics.sampled(Sampled("known_faces_stream_reconnects_total",
                                "Times a stream dropped and was reopened.", "camera",
                                lambda: per_camera("reconnects"), kind="counter"))
        metrics.sampled(Sampled("known_faces_stream_fps",
                                "Frames per second each stream is read at (after the budget).",
                                "camera", lambda: per_camera("effective_fps")))
        metrics.gauge("known_faces_stream_budget_fps",
                      "The cap on frames per second of all streams together.",
                      lambda: self.budget.max_total)
        metrics.gauge("known_faces_stream_budget_binding",
                      "1 when the streams ask for more than the budget and are scaled down.",
                      lambda: int(self.budget.binding))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start every reader; frames go to the intake on ``loop``."""
        self._loop = loop
        if self.budget.binding:
            LOG.warning("stream frame budget binds: %g frames/s asked, %g allowed; each stream "
                        "is read at %.0f%% of its fps", sum(self.budget.requested.values()),
                        self.budget.max_total, self.budget.factor * 100)
        for reader in self.readers.values():
            self._publish(reader.status)
            reader.start()

    def stop(self) -> None:
        """Stop every reader (blocking: call it in a thread)."""
        for reader in self.readers.values():
            reader.signal()
        for reader in self.readers.values():
            reader.join()

    def republish(self) -> None:
        """Every stream's retained state again (after a broker reconnect)."""
        for reader in self.readers.values():
            self._publish(reader.status)

    # -- from the reader threads -----------------------------------------------------------------
    def _on_frame(self, camera: str, image: np.ndarray, received: float) -> None:
        jpeg = frame_jpeg(image)
        self.latest[camera] = LatestFrame(image, jpeg, received)
        self._to_loop(self._recognition.submit, Snapshot(camera, jpeg, received, "stream"))

    def _on_status(self, status: StreamStatus) -> None:
        self._to_loop(self._publish, status)

    def _to_loop(self, call: Callable[[T], None], arg: T) -> None:
        """Run ``call(arg)`` on the loop; nothing once the loop is gone (shutting down)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(call, arg)

    def _publish(self, status: StreamStatus) -> None:
        self._outbox.state(self._topics.camera_stream(status.camera),
                           json.dumps(payloads.stream_state(status, self.budget)))

    # -- what the HTTP API asks ------------------------------------------------------------------
    def current_jpeg(self, camera: str) -> bytes | None:
        """The stream's newest frame as JPEG (to enroll the face in view), None before any."""
        latest = self.latest.get(camera)
        return latest.jpeg if latest is not None else None

    def live_jpeg(self, camera: str) -> bytes | None:
        """The newest frame with the last recognised frame's faces and track names drawn; the
        same bytes object again while neither changed (a viewer sends each frame once)."""
        latest = self.latest.get(camera)
        if latest is None:
            return None
        tracked = self.tracked[camera].last
        if tracked is not None and (datetime.now(UTC) - tracked[0].time).total_seconds() \
                >= LIVE_BOXES_S:
            tracked = None  # those faces are gone by now
        key = (latest.received, tracked[0].snapshot_id if tracked is not None else None)
        cached = self._live.get(camera)
        if cached is not None and cached[0] == key:
            return cached[1]
        image = latest.image.copy()
        if tracked is not None:
            draw(image, tracked[0], track_labels(tracked[1]))
        jpeg = frame_jpeg(image)
        self._live[camera] = (key, jpeg)
        return jpeg
