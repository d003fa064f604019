"""Keeps the recognizer and the retained ``gallery`` topic in step with the gallery.

Changes made through our API are noticed at once (``changed``); changes by another process
(``known-faces enroll`` while the service runs) within ``POLL_S``, by the gallery's version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from ..publish import payloads
from ..publish.mqtt_results import ResultPublisher
from ..publish.outbox import Outbox
from ..recognizer import Recognizer

LOG = logging.getLogger(__name__)

POLL_S = 0.5


class GallerySync:
    """Reload the matcher and republish ``gallery`` whenever the gallery's version moves."""

    def __init__(self, recognizer: Recognizer, outbox: Outbox, publisher: ResultPublisher,
                 model: str) -> None:
        self.recognizer = recognizer
        self._outbox = outbox
        self._publisher = publisher
        self._model = model
        self._changed = asyncio.Event()
        self._version = -1
        self.payload: payloads.Payload | None = None

    @property
    def people(self) -> list[payloads.Payload]:
        """Everybody in the last published gallery payload."""
        return self.payload["people"] if self.payload else []

    def changed(self) -> None:
        """Our API changed the gallery: refresh now rather than at the next poll."""
        self._changed.set()

    async def watch(self) -> None:
        """Refresh on every change, and at least every ``POLL_S``."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), POLL_S)
            self._changed.clear()
            try:
                await self.refresh()
            except Exception:
                LOG.exception("reading the gallery failed; retrying")

    async def refresh(self) -> None:
        """Reload the matcher and republish ``gallery`` when the version moved."""
        gallery = self.recognizer.gallery
        version = await asyncio.to_thread(lambda: gallery.version)
        if version == self._version:
            return
        await asyncio.to_thread(self.recognizer.refresh)
        people = await asyncio.to_thread(gallery.people)
        previous = {p["person"] for p in self.people}
        self._version = version
        self.payload = payloads.gallery(version, self._model,
                                        ((p.slug, p.name, p.face_count) for p in people))
        for slug in previous - {p.slug for p in people}:
            self._publisher.clear_person(slug)
        self.publish()

    def publish(self) -> None:
        """(Re)publish the retained gallery payload, e.g. after the broker restarted."""
        if self.payload is not None:
            self._outbox.state(self._publisher.topics.gallery, json.dumps(self.payload))
