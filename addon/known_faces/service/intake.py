"""Pending snapshots, bounded: at most one per camera, the newest, served round-robin.

A camera that sends faster than the engine recognises only ever needs its latest picture: an
older one describes a moment already past. Replacing it (and counting the drop) bounds memory
by the number of cameras and a byte budget, and cameras take turns so a busy one cannot starve
the others. A camera is busy from ``get`` to ``release``, so two of its snapshots never run at
once and its retained state is never overwritten by an older picture, whichever source sent it.

A snapshot someone waits for (HTTP ``/recognize``) is answered, never replaced: a newer MQTT
snapshot of that camera is dropped instead, and a second waiting request for the same camera,
or any request past the bounds, is refused with ``IntakeFull`` (HTTP 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from ..errors import KnownFacesError
from ..sources.snapshot import Snapshot

MAX_CAMERAS = 256
MAX_PENDING_BYTES = 256 * 1024 * 1024


class IntakeFull(KnownFacesError):
    """No room for a snapshot someone waits for: the camera already has one waiting, or the
    intake is at its camera or byte bound. Retry shortly."""

    code = "busy"


class LatestPerCamera:
    """A queue that keeps only the newest snapshot of each camera, served round-robin.

    Not thread-safe: use it from the event loop only (the MQTT thread hands over with
    ``call_soon_threadsafe``).
    """

    def __init__(self, max_cameras: int = MAX_CAMERAS, max_bytes: int = MAX_PENDING_BYTES,
                 on_drop: Callable[[str], None] | None = None) -> None:
        self._pending: OrderedDict[str, Snapshot] = OrderedDict()
        self._max_cameras = max_cameras
        self._max_bytes = max_bytes
        self._bytes = 0
        self._on_drop = on_drop or (lambda _camera: None)
        self._busy: set[str] = set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def in_progress(self) -> int:
        """Cameras whose snapshot is being recognised right now."""
        return len(self._busy)

    @property
    def pending_bytes(self) -> int:
        """Bytes of the snapshots waiting."""
        return self._bytes

    def put(self, snapshot: Snapshot) -> None:
        """Queue ``snapshot``, replacing the camera's older pending one if nobody waits for it.

        Raises IntakeFull for a waited-for snapshot that finds no room; any other snapshot
        that finds none is dropped and counted.
        """
        camera = snapshot.camera
        waiting = snapshot.reply is not None
        previous = self._pending.get(camera)
        if previous is not None and previous.reply is not None:
            if waiting:
                raise IntakeFull(f"camera '{camera}' already has a recognition waiting")
            self._on_drop(camera)
            return
        freed = len(previous.payload) if previous is not None else 0
        full = (previous is None and len(self._pending) >= self._max_cameras) or (
            self._bytes - freed + len(snapshot.payload) > self._max_bytes)
        if full:
            if waiting:
                raise IntakeFull("too many snapshots are waiting; retry shortly")
            self._on_drop(camera)
            return
        if previous is not None:
            self._on_drop(camera)
        self._bytes += len(snapshot.payload) - freed
        self._pending[camera] = snapshot
        if camera not in self._busy:
            self._ready.set()

    async def get(self) -> Snapshot:
        """The newest snapshot of the longest-waiting camera that is not being recognised."""
        while True:
            for camera in self._pending:
                if camera not in self._busy:
                    self._busy.add(camera)
                    snapshot = self._pending.pop(camera)
                    self._bytes -= len(snapshot.payload)
                    return snapshot
            self._ready.clear()
            await self._ready.wait()

    def release(self, camera: str) -> None:
        """The camera's snapshot is done; its next one may be served."""
        self._busy.discard(camera)
        if camera in self._pending:
            self._ready.set()
