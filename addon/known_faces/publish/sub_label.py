"""Writing names back to Frigate: ``POST /api/events/<id>/sub_label``, once per event.

Each event's wish (label and score) is kept; a writer task per event sends the newest wish and
retries with backoff while Frigate is down, slow, refuses the login or answers 5xx, so a later
frame's better score or a correction replaces what is waiting instead of queueing behind it.
A 404 means the event is gone from Frigate: given up at once. A wish no better than what
Frigate already holds (same label, no higher score) is not sent again. Both tables are bounded;
whatever is dropped or given up is counted (``known_faces_frigate_sub_labels_total``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..sources.frigate_api import FrigateApi, FrigateError

LOG = logging.getLogger(__name__)

RETRIES = 6
BACKOFF_S = 1.0
BACKOFF_MAX_S = 30.0
MAX_WRITING = 256
MAX_WRITTEN = 1024

Count = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SubLabel:
    """What an event's sub label should be."""

    label: str
    score: float | None

    def improves_on(self, held: SubLabel | None) -> bool:
        """Worth sending when Frigate holds another label, or this one with a lower score."""
        if held is None or held.label != self.label:
            return True
        return (self.score or 0) > (held.score or 0)


class SubLabelWriter:
    """One writer task per event with a wish; ``count(outcome)`` for the metrics."""

    def __init__(self, api: FrigateApi, count: Count, *, backoff_s: float = BACKOFF_S) -> None:
        self._api = api
        self._count = count
        self._backoff_s = backoff_s
        self._wanted: dict[str, SubLabel] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._written: OrderedDict[str, SubLabel] = OrderedDict()

    def want(self, event_id: str, wish: SubLabel) -> None:
        """Ask for the event's sub label to become ``wish`` (if it improves on what is held)."""
        if not wish.improves_on(self._written.get(event_id)):
            return
        current = self._wanted.get(event_id)
        if current is not None and not wish.improves_on(current):
            return
        if event_id not in self._tasks and len(self._tasks) >= MAX_WRITING:
            self._count("dropped")
            return
        self._wanted[event_id] = wish
        if event_id not in self._tasks:
            self._tasks[event_id] = asyncio.create_task(self._write(event_id))

    async def close(self) -> None:
        """Stop writing (at shutdown)."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def _write(self, event_id: str) -> None:
        try:
            failures = 0
            while event_id in self._wanted:
                wish = self._wanted[event_id]
                try:
                    await self._api.set_sub_label(event_id, wish.label, wish.score)
                except FrigateError as err:
                    failures += 1
                    if not err.retryable or failures >= RETRIES:
                        self._wanted.pop(event_id, None)
                        self._count("given_up")
                        LOG.debug("sub label of %s given up (%s)", event_id, err.reason)
                        return
                    await asyncio.sleep(min(BACKOFF_MAX_S,
                                            self._backoff_s * 2 ** (failures - 1)))
                    continue
                failures = 0
                self._count("written")
                self._remember(event_id, wish)
                if self._wanted.get(event_id) == wish:
                    del self._wanted[event_id]
        finally:
            self._tasks.pop(event_id, None)

    def _remember(self, event_id: str, wish: SubLabel) -> None:
        self._written[event_id] = wish
        self._written.move_to_end(event_id)
        while len(self._written) > MAX_WRITTEN:
            self._written.popitem(last=False)
