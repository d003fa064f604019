"""The answers about Frigate events as MQTT messages: ``<prefix>/event/frigate`` and, opted in,
Double Take 1.13's topics, so automations and blueprints written for it keep working.

Double Take (``api/src/util/mqtt.util.js``) publishes, per recognised event,
``double-take/matches/<name>`` for each match and ``double-take/matches/unknown`` (not
retained), ``double-take/cameras/<camera>`` (not retained) and the retained person count
``double-take/cameras/<camera>/person``, reset to ``0`` 30 s later; and ``double-take/available``
(retained ``online``). The same topics and shapes come from here; payloads in ``payloads``.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime

from ..pipeline.vote import Verdict
from . import payloads
from .outbox import Outbox
from .topics import Topics

DOUBLE_TAKE = "double-take"
PERSON_RESET_S = 30.0
MAX_CAMERAS_RESET = 256


def double_take_topic_name(name: str) -> str:
    """Double Take's topic level for a name: blanks to ``-``, then only letters, digits, ``-``."""
    return re.sub(r"[^a-z0-9-]", "", re.sub(r"\s+", "-", name), flags=re.IGNORECASE)


class FrigatePublisher:
    """Publishes the consolidated answers, and Double Take's topics when ``double_take``."""

    def __init__(self, topics: Topics, outbox: Outbox, *, double_take: bool) -> None:
        self._topics = topics
        self._outbox = outbox
        self.double_take = double_take
        self._resets: dict[str, asyncio.TimerHandle] = {}

    def answer(self, message: payloads.Payload) -> None:
        """One consolidated ``event/frigate`` message (QoS 1, not retained)."""
        self._outbox.event(self._topics.frigate_event, json.dumps(message))

    def available(self, up: bool) -> None:
        """``double-take/available``, retained, as Double Take says it on connect."""
        if self.double_take:
            self._outbox.state(f"{DOUBLE_TAKE}/available", "online" if up else "offline")

    def double_take_result(self, *, event_id: str, camera: str, zones: frozenset[str],
                           verdict: Verdict, attempts: int, duration_s: float,
                           time: datetime) -> None:
        """Double Take's messages about one event, when somebody was seen."""
        if not self.double_take or verdict.kind == "no_face":
            return
        per_face, camera_payload = payloads.double_take_messages(
            event_id=event_id, camera=camera, zones=zones, verdict=verdict, attempts=attempts,
            duration_s=duration_s, time=time)
        outbox = self._outbox
        outbox.state(f"{DOUBLE_TAKE}/cameras/{camera}/person", str(verdict.faces))
        for name, message in per_face:
            level = "unknown" if name is None else double_take_topic_name(name)
            outbox.event(f"{DOUBLE_TAKE}/matches/{level}", json.dumps(message))
        outbox.event(f"{DOUBLE_TAKE}/cameras/{camera}", json.dumps(camera_payload))
        self._reset_later(camera)

    def _reset_later(self, camera: str) -> None:
        """The person count goes back to 0 after 30 s without a newer result, as in
        Double Take (one timer per camera, the oldest forgotten past the bound)."""
        loop = asyncio.get_running_loop()
        previous = self._resets.pop(camera, None)
        if previous is not None:
            previous.cancel()
        while len(self._resets) >= MAX_CAMERAS_RESET:
            self._resets.pop(next(iter(self._resets))).cancel()
        self._resets[camera] = loop.call_later(PERSON_RESET_S, self._reset, camera)

    def _reset(self, camera: str) -> None:
        self._resets.pop(camera, None)
        self._outbox.state(f"{DOUBLE_TAKE}/cameras/{camera}/person", "0")
