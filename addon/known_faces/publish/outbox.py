"""The bounded outbox between the service and the broker link: nothing is lost silently.

paho's own queue refuses messages once full and says so only in a return code; under overload
or a broker outage that used to lose results unnoticed. Here every outgoing message waits in
our own bounded structures until the link can take it, and whatever cannot be kept is counted
(``known_faces_publish_dropped_total{kind, reason}``) and logged once per episode:

* events (``person_detected``) keep their order; past ``max_events`` waiting, the oldest is
  dropped (an automation cares most about what happens now);
* retained states are newest-wins per topic: a newer state of the same camera or person
  supersedes the waiting one, which is not a loss of information;
* at most ``max_inflight`` messages are handed to the link and not yet acknowledged (QoS 1
  PUBACK), so the client library's queue never fills.

Used from the event loop only; the link reports acknowledgements with ``acked`` through
``call_soon_threadsafe``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

LOG = logging.getLogger(__name__)

MAX_EVENTS = 5000
MAX_STATES = 10_000
MAX_INFLIGHT = 200


class Kind(StrEnum):
    """What a message is, for counting."""

    EVENT = "event"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publish (always QoS 1)."""

    topic: str
    payload: bytes | str
    retain: bool
    kind: Kind


Send = Callable[[Message], bool]
OnDrop = Callable[[Kind, str], None]


class Outbox:
    """Events in order and retained states newest-wins, drained while the link is up."""

    def __init__(self, send: Send, on_drop: OnDrop, *, max_events: int = MAX_EVENTS,
                 max_states: int = MAX_STATES, max_inflight: int = MAX_INFLIGHT) -> None:
        self._send = send
        self._on_drop = on_drop
        self._events: deque[Message] = deque()
        self._states: OrderedDict[str, Message] = OrderedDict()
        self._max_events = max_events
        self._max_states = max_states
        self._max_inflight = max_inflight
        self._inflight = 0
        self._connected = False
        self._dropping = False

    @property
    def waiting(self) -> int:
        """Messages not yet handed to the link."""
        return len(self._events) + len(self._states)

    @property
    def inflight(self) -> int:
        """Messages handed to the link and not yet acknowledged."""
        return self._inflight

    def event(self, topic: str, payload: bytes | str) -> None:
        """Queue a non-retained event; the oldest waiting one makes room if needed."""
        if len(self._events) >= self._max_events:
            self._events.popleft()
            self._drop(Kind.EVENT, "queue_full")
        self._events.append(Message(topic, payload, False, Kind.EVENT))
        self._drain()

    def state(self, topic: str, payload: bytes | str) -> None:
        """Queue a retained state, superseding a waiting one of the same topic."""
        if topic in self._states:
            del self._states[topic]
        elif len(self._states) >= self._max_states:
            self._states.popitem(last=False)
            self._drop(Kind.STATE, "queue_full")
        self._states[topic] = Message(topic, payload, True, Kind.STATE)
        self._drain()

    def connected(self, up: bool) -> None:
        """The link came up (drain now) or went down (hold everything)."""
        self._connected = up
        if up:
            self._drain()

    def acked(self) -> None:
        """The broker acknowledged one message: room for the next."""
        self._inflight = max(0, self._inflight - 1)
        self._drain()

    def _drain(self) -> None:
        while self._connected and self._inflight < self._max_inflight:
            if self._events:
                message = self._events.popleft()
            elif self._states:
                _, message = self._states.popitem(last=False)
            else:
                break
            if self._send(message):
                self._inflight += 1
            else:
                self._drop(message.kind, "publish_error")
        if self._dropping and not self._events:
            self._dropping = False
            LOG.info("MQTT: the outbox has drained; publishing normally again")

    def _drop(self, kind: Kind, reason: str) -> None:
        self._on_drop(kind, reason)
        if not self._dropping:
            self._dropping = True
            LOG.warning("MQTT: dropping %s messages (%s); counted in "
                        "known_faces_publish_dropped_total, logged once until it drains",
                        kind.value, reason)
