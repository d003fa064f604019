"""Video files and camera streams (RTSP, HTTP MJPEG, files) through OpenCV's FFmpeg backend.

What the CLI and the stream readers share: opening with timeouts (a dead camera must not hang a
thread forever), RTSP over TCP (UDP loses packets on Wi-Fi and through NAT, and smears frames),
one clear error instead of FFmpeg's own log lines, and URLs with their password hidden wherever
they are shown: a camera URL often carries its credentials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from ..errors import KnownFacesError

# Read by OpenCV's FFmpeg backend at each open: RTSP over TCP; FFmpeg's own log silenced (its
# lines can name the URL, and the reader reports each failure once, in its own words).
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# OpenCV's own warnings about a failed open or a read timeout say the same, less clearly.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".ts", ".mjpeg",
                            ".mjpg", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"})
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0


class StreamError(KnownFacesError):
    """A stream or video cannot be opened or read: wrong URL, unreachable, not video."""

    code = "stream_error"


def redact(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def is_video(path: Path) -> bool:
    """Whether a CLI argument names a video rather than a still image."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def is_url(source: str) -> bool:
    """Whether ``source`` is a network URL rather than a file path."""
    return "://" in source and not source.lower().startswith("file://")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its index in the stream and its position in seconds (a file's
    timestamp, or index / fps where it gives none; a live stream's arrival since the open)."""

    image: np.ndarray
    index: int
    position_s: float


class VideoSource:
    """One opened video or stream; ``frames`` reads it to the end (or until it fails)."""

    def __init__(self, source: str, *, open_timeout_s: float = OPEN_TIMEOUT_S,
                 read_timeout_s: float = READ_TIMEOUT_S, decode_threads: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``decode_threads`` 0 lets FFmpeg choose (fast for one video); a service reading
        many streams at a few frames per second decodes each on one thread instead.

        A live stream (a URL) is timed by ``clock`` as its frames arrive, not by its own
        timestamps, which can be made up: FFmpeg stamps MJPEG over HTTP at 25 frames/s whatever
        the camera sends, so a camera sending 2 frames/s sampled at 2 by them gave one frame in
        twelve (one each 6 s, too far apart for a track to collect its votes).
        """
        self.source = source
        self.shown = redact(source)
        self.live = is_url(source)
        self._clock = clock
        if not self.live and not Path(source).is_file():
            raise StreamError(f"cannot open {self.shown}: no such file")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000),
                  cv2.CAP_PROP_N_THREADS, decode_threads]
        self._capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
        if not self._capture.isOpened():
            self._capture.release()
            raise StreamError(f"cannot open {self.shown}: unreachable, refused or not a video")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if 0 < fps < 1000 else 25.0
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._index = 0
        self._opened = clock()

    def frames(self, every_s: float = 0.0) -> Iterator[Frame]:
        """The frames in order until the end or a read failure; with ``every_s``, only one
        per that many seconds of the stream (the others are grabbed, not converted)."""
        due = previous = 0.0
        while self._capture.grab():
            index = self._index
            self._index += 1
            position = self._position(index)
            if position < previous:  # the video's clock started over: so does the sampling
                due = position
            previous = position
            if position + 1e-6 < due:
                continue
            ok, image = self._capture.retrieve()
            if not ok or image is None:
                return
            due = position + every_s
            yield Frame(np.asarray(image), index, position)

    def _position(self, index: int) -> float:
        """Where the frame just grabbed sits, in seconds: for a live stream, when it arrived."""
        if self.live:
            return self._clock() - self._opened
        position = float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000
        return position if position > 0 or not index else index / self.fps

    def close(self) -> None:
        """Release the capture (and its connection)."""
        self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
