"""Pending snapshots: at most one per camera, the newest, so overload never grows memory.

A camera that sends faster than the engine recognises only ever needs its latest picture: an
older one describes a moment already past. Replacing it (and counting the drop) bounds memory
by the number of cameras, and cameras take turns so a busy one cannot starve the others.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Snapshot:
    """One received image waiting for the engine."""

    camera: str
    payload: bytes
    received: float
    source: str = "mqtt"


class LatestPerCamera:
    """A queue that keeps only the newest snapshot of each camera, served round-robin.

    Not thread-safe: use it from the event loop only (the MQTT thread hands over with
    ``call_soon_threadsafe``).
    """

    def __init__(self, max_cameras: int = 256, on_drop: Callable[[str], None] | None = None):
        self._pending: OrderedDict[str, Snapshot] = OrderedDict()
        self._max_cameras = max_cameras
        self._on_drop = on_drop or (lambda _camera: None)
        self._busy: set[str] = set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, snapshot: Snapshot) -> None:
        """Queue ``snapshot``, dropping the camera's older pending one if any."""
        camera = snapshot.camera
        if camera in self._pending:
            self._pending[camera] = snapshot
            self._on_drop(camera)
            return
        if len(self._pending) >= self._max_cameras:
            # A flood of made-up camera names must not grow memory either.
            self._on_drop(camera)
            return
        self._pending[camera] = snapshot
        if camera not in self._busy:
            self._ready.set()

    async def get(self) -> Snapshot:
        """The newest snapshot of the longest-waiting camera that is not being recognised.

        A camera is busy from ``get`` until ``release``: two of its snapshots never run at once,
        so its retained state is never overwritten by an older picture.
        """
        while True:
            for camera in self._pending:
                if camera not in self._busy:
                    self._busy.add(camera)
                    return self._pending.pop(camera)
            self._ready.clear()
            await self._ready.wait()

    def release(self, camera: str) -> None:
        """The camera's snapshot is done; its next one may be served."""
        self._busy.discard(camera)
        if camera in self._pending:
            self._ready.set()
