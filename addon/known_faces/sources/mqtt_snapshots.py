"""MQTT snapshot topics: which subscriptions carry images, and which camera a topic names.

``<prefix>/snapshot/<camera>`` and any configured pattern whose ``+`` level names the camera
(``frigate/+/person/snapshot``). Only the filters are known here; the broker link delivers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SnapshotTopics:
    """The subscription filters of snapshot topics and the topic → camera mapping."""

    prefix: str
    patterns: tuple[str, ...] = ()

    @property
    def own_filter(self) -> str:
        """Subscription filter of the service's own snapshot topic."""
        return f"{self.prefix}/snapshot/+"

    @property
    def filters(self) -> tuple[str, ...]:
        """Every filter to (re)subscribe after a connect, without duplicates."""
        return tuple(dict.fromkeys((self.own_filter, *self.patterns)))

    def topic(self, camera: str) -> str:
        """Where a camera's snapshots go."""
        return f"{self.prefix}/snapshot/{camera}"

    def camera_of(self, topic: str) -> str | None:
        """The camera named by the ``+`` level of the first filter that matches ``topic``."""
        levels = topic.split("/")
        for pattern in self.filters:
            parts = pattern.split("/")
            if len(parts) != len(levels):
                continue
            camera = None
            for part, level in zip(parts, levels, strict=True):
                if part == "+":
                    camera = level
                elif part != level:
                    break
            else:
                return camera
        return None
