"""Keeps the retained ``<prefix>/visitors`` summary current and purges old sightings (§9).

A recognition that recorded a visitor and every visitor action call ``changed``; the summary
is then read (off the loop) and republished, once for a burst of changes. The retention purge
runs at start and every ``PURGE_EVERY_S``, so sightings older than ``visitor_retention_days``
are gone within the hour even when nobody looks at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from ..publish import payloads
from ..publish.outbox import Outbox
from ..publish.topics import Topics
from ..store.visitors import Visitors

LOG = logging.getLogger(__name__)

NEWEST = 5
PURGE_EVERY_S = 3600.0


class VisitorSync:
    """Republish the visitors summary on change; purge on a schedule."""

    def __init__(self, visitors: Visitors, outbox: Outbox, topics: Topics, *,
                 retention_days: int) -> None:
        self.visitors = visitors
        self._outbox = outbox
        self._topics = topics
        self._retention_days = retention_days
        self._changed = asyncio.Event()
        self._changed.set()  # the first summary is published at start
        self.payload: payloads.Payload | None = None

    def changed(self) -> None:
        """Visitors changed: republish the summary soon."""
        self._changed.set()

    async def watch(self) -> None:
        """Purge now and then every ``PURGE_EVERY_S``; republish on every change."""
        next_purge = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(),
                                       max(next_purge - time.monotonic(), 0.0))
            try:
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY_S
                    await self.purge()
                if self._changed.is_set():
                    self._changed.clear()
                    await self.refresh()
            except Exception:
                LOG.exception("visitors: summary or purge failed; retrying")
                await asyncio.sleep(1)

    async def purge(self) -> tuple[int, int]:
        """Delete what retention says is too old; (sightings, visitors) deleted."""
        purged = await asyncio.to_thread(self.visitors.purge, self._retention_days)
        if any(purged):
            LOG.info("visitors: purged %d sightings and %d visitors older than %d days",
                     *purged, self._retention_days)
            self._changed.set()
        return purged

    async def refresh(self) -> None:
        """Read and republish the summary."""
        def read() -> payloads.Payload:
            newest = self.visitors.listing("pending", NEWEST)
            return payloads.visitors_summary(self.visitors.count("pending"),
                                             (v.as_dict() for v in newest))

        self.payload = await asyncio.to_thread(read)
        self.publish()

    def publish(self) -> None:
        """(Re)publish the retained summary, e.g. after the broker restarted."""
        if self.payload is not None:
            self._outbox.state(self._topics.visitors, json.dumps(self.payload))
