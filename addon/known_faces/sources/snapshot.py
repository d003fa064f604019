"""The unit every source hands to the intake: one image of one camera, and who waits for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Snapshot:
    """One received image waiting for the engine.

    ``received`` is a ``time.monotonic()`` value, so latencies include the wait in the intake.
    ``reply`` is set when a caller waits for the result (HTTP ``/recognize``); such a snapshot
    is never replaced by a newer one, it is answered. ``publish`` says whether the result goes
    out on MQTT.
    """

    camera: str
    payload: bytes
    received: float
    source: str = "mqtt"
    publish: bool = True
    reply: asyncio.Future[Any] | None = None
