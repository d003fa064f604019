"""What the web UI shows of the last minutes: recent events with their face crops, and each
camera's last snapshot with its result (DESIGN §12).

Seeded at start with the events the gallery kept (without crops), then fed by the
recognition loop with every published result, from the event loop only. Bounded
twice: a ring of the newest ``size`` events, and the last snapshot of at most ``max_cameras``
cameras (the oldest camera is forgotten first). A snapshot is kept as the bytes that arrived,
already in memory, and is annotated only when somebody looks at it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from ..pipeline.engine import encode_crop
from ..pipeline.results import SnapshotResult
from ..publish.payloads import Payload

RECENT_EVENTS = 200
MAX_CAMERAS = 64


@dataclass(frozen=True, slots=True)
class RecentEvent:
    """One published ``person_detected`` event, numbered in arrival order, with its crop."""

    seq: int
    event: Payload
    crop: bytes | None

    @property
    def status(self) -> str:
        """``known``, ``unknown`` or ``ignored`` (a face matching an ignored visitor)."""
        if self.event.get("known"):
            return "known"
        return "ignored" if self.event.get("status") == "ignored" else "unknown"


@dataclass(frozen=True, slots=True)
class CameraView:
    """A camera's last recognised snapshot."""

    image: bytes
    result: SnapshotResult
    events: tuple[Payload, ...]


class RecentEvents:
    """The ring of recent events and the last snapshot per camera."""

    def __init__(self, size: int = RECENT_EVENTS, max_cameras: int = MAX_CAMERAS) -> None:
        self._events: deque[RecentEvent] = deque(maxlen=size)
        self._cameras: OrderedDict[str, CameraView] = OrderedDict()
        self._max_cameras = max_cameras
        self._seq = itertools.count(1)

    def record(self, image: bytes, result: SnapshotResult, events: Iterable[Payload]) -> None:
        """Keep a published result: its events (each with the crop of its face, found by the
        face's box) and the snapshot as the camera's latest."""
        crops = {tuple(face.box): face.crop for face in result.faces}
        kept = tuple(events)
        for event in kept:
            crop = crops.get(tuple(event.get("box") or ()))
            self._events.append(RecentEvent(next(self._seq), event,
                                            encode_crop(crop) if crop is not None else None))
        self._cameras.pop(result.camera, None)
        self._cameras[result.camera] = CameraView(image, result, kept)
        while len(self._cameras) > self._max_cameras:
            self._cameras.popitem(last=False)

    def seed(self, stored: Iterable[Payload]) -> None:
        """Start from the events the gallery kept (oldest first), so the Events page is not
        empty after a restart; their crops were not kept, so they have none."""
        for event in stored:
            if isinstance(event.get("camera"), str) and isinstance(event.get("time"), str):
                self._events.append(RecentEvent(next(self._seq), event, None))

    def events(self, after: int = 0) -> list[RecentEvent]:
        """Events numbered above ``after``, newest first."""
        return [e for e in reversed(self._events) if e.seq > after]

    def event(self, seq: int) -> RecentEvent | None:
        """One kept event by number."""
        return next((e for e in self._events if e.seq == seq), None)

    def camera(self, name: str) -> CameraView | None:
        """A camera's last snapshot, if it sent one recently."""
        return self._cameras.get(name)

    def cameras(self) -> list[str]:
        """Cameras with a kept snapshot, by name."""
        return sorted(self._cameras)
