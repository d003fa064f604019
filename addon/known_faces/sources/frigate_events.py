"""Frigate's ``<prefix>/events`` messages: what one says, and whether it is worth following.

Frigate publishes ``{"type": "new"|"update"|"end", "before": {...}, "after": {...}}`` for every
change of a tracked object (docs/integrations/mqtt.md); ``after`` is the object now. Only the
fields the follower needs are read, each checked, so a malformed or hostile message is one
``None``, never an exception in the loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .cameras import valid_camera

EVENT_TYPES = ("new", "update", "end")
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class FrigateEvent:
    """One ``events`` message about one tracked object."""

    type: str
    id: str
    camera: str
    label: str
    false_positive: bool
    zones: frozenset[str]

    @property
    def ended(self) -> bool:
        """Frigate stopped tracking the object."""
        return self.type == "end"


def parse_event(payload: bytes) -> FrigateEvent | None:
    """The event in a message, or None when it is not one Frigate would send."""
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or message.get("type") not in EVENT_TYPES:
        return None
    after = message.get("after") or message.get("before")
    if not isinstance(after, dict):
        return None
    event_id, camera, label = after.get("id"), after.get("camera"), after.get("label")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH
            and event_id.isascii() and all(c.isalnum() or c in ".-_" for c in event_id)):
        return None
    if not (isinstance(camera, str) and valid_camera(camera) and isinstance(label, str)):
        return None
    zones = {z for key in ("current_zones", "entered_zones")
             for z in _strings(after.get(key))}
    return FrigateEvent(
        type=message["type"], id=event_id, camera=camera, label=label,
        false_positive=after.get("false_positive") is True, zones=frozenset(zones))


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events are followed: labels, cameras (empty: all) and zones (empty: anywhere)."""

    labels: frozenset[str]
    cameras: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()

    def admits(self, event: FrigateEvent) -> bool:
        """True for a real (not false-positive) object of a followed label, camera and zone."""
        return (not event.false_positive and event.label in self.labels
                and (not self.cameras or event.camera in self.cameras)
                and (not self.zones or bool(self.zones & event.zones)))
