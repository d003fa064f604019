"""Camera streams (RTSP, HTTP MJPEG, video files) read by one thread each, sampled at a rate.

A reader opens its stream, hands every ``1/fps`` seconds' frame to ``on_frame`` and, when the
stream fails or ends, reports it offline and reopens it with exponential backoff, for as long
as the service runs; a wrong URL costs one log line per distinct error, not one per retry. A
local file is read at its own pace (as a camera would send it) and starts over at its end.

The ``FrameBudget`` caps the frames per second of all streams together, since each frame costs
a recognition: when the cameras ask for more, every camera's rate is scaled down by the same
factor, and the budget says that it binds so the service can report it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from .video import StreamError, VideoSource, is_url, redact

LOG = logging.getLogger(__name__)

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
STATE_INTERVAL_S = 10.0


class FrameBudget:
    """Frames per second per camera, scaled so that their sum stays within ``max_total``."""

    def __init__(self, max_total: float, requested: Mapping[str, float]) -> None:
        self.max_total = max_total
        self.requested = dict(requested)
        total = sum(self.requested.values())
        self.factor = min(1.0, max_total / total) if total > 0 else 1.0

    @property
    def binding(self) -> bool:
        """True when the cameras ask for more than the budget and get less."""
        return self.factor < 1.0

    def fps(self, camera: str) -> float:
        """The rate ``camera`` is read at."""
        return self.requested[camera] * self.factor


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """What a reader reports: whether its stream is up, its rates, its counts."""

    camera: str
    online: bool
    fps: float
    effective_fps: float
    frames: int = 0
    reconnects: int = 0
    last_frame: str | None = None
    error: str | None = None


FrameHandler = Callable[[str, np.ndarray, float], None]
StatusHandler = Callable[[StreamStatus], None]


class StreamReader:
    """One stream's reading thread."""

    def __init__(self, camera: str, url: str, fps: float, effective_fps: float, *,
                 on_frame: FrameHandler, on_status: StatusHandler,
                 backoff: tuple[float, float] = (BACKOFF_MIN_S, BACKOFF_MAX_S),
                 open_timeout_s: float = 10.0) -> None:
        self.camera = camera
        self.url = url
        self.shown = redact(url)
        self.status = StreamStatus(camera, False, fps, effective_fps)
        self._on_frame = on_frame
        self._on_status = on_status
        self._backoff = backoff
        self._open_timeout_s = open_timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{camera}", daemon=True)
        self._last_error: str | None = None
        self._file_end = 0.0

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def signal(self) -> None:
        """Ask the thread to stop (the current read ends within its timeout)."""
        self._stop.set()

    def join(self, timeout: float = 15.0) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    def _report(self, status: StreamStatus) -> None:
        self.status = status
        self._on_status(status)

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            try:
                source = VideoSource(self.url, open_timeout_s=self._open_timeout_s,
                                     read_timeout_s=self._open_timeout_s, decode_threads=1)
            except StreamError as err:
                self._failed(str(err))
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            try:
                got = self._read(source)
            finally:
                source.close()
            if self._stop.is_set():
                break
            if got:
                delay = self._backoff[0]
                if not is_url(self.url):
                    continue  # a file starts over, at its pace, like a camera that goes on
            self._failed(f"{self.shown}: the stream ended or stopped sending frames")
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff[1])

    def _failed(self, error: str) -> None:
        """Offline, logged once per distinct error (a dead camera retries for hours)."""
        if error != self._last_error:
            LOG.warning("stream %s: %s", self.camera, error)
            self._last_error = error
        if self.status.online or self.status.error != error:
            self._report(replace(self.status, online=False, error=error,
                                 reconnects=self.status.reconnects + int(self.status.online)))

    def _read(self, source: VideoSource) -> bool:
        """Hand frames over until the stream fails; True when at least one frame came."""
        paced = not is_url(self.url)  # a file: as fast as a camera would send it
        # Where this pass of a file starts in wall time: where the last pass ended, so a
        # file that starts over keeps the camera's rate across the seam.
        started = max(self._file_end, time.monotonic())
        last_state = 0.0
        got = False
        for frame in source.frames(1 / self.status.effective_fps):
            if self._stop.is_set():
                break
            if paced:
                self._file_end = started + frame.position_s + 1 / self.status.effective_fps
                wait = started + frame.position_s - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
            now = time.monotonic()
            self._on_frame(self.camera, frame.image, now)
            stamp = datetime.now(UTC).isoformat()
            if not got or now - last_state >= STATE_INTERVAL_S:
                if not got and self._last_error is not None:
                    LOG.info("stream %s: online", self.camera)
                self._last_error = None
                self._report(replace(self.status, online=True, error=None,
                                     frames=self.status.frames + 1, last_frame=stamp))
                last_state = now
            else:
                self.status = replace(self.status, frames=self.status.frames + 1,
                                      last_frame=stamp)
            got = True
        return got
