"""MQTT topic names (DESIGN §5) and the mapping from an input topic to its camera.

Kept apart from the client so the contract in DOCS.md can be read and tested in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import CAMERA_RE

_CAMERA = re.compile(CAMERA_RE)


def valid_camera(name: str) -> bool:
    """Camera names become topic levels and metric labels, so they are kept plain."""
    return bool(_CAMERA.match(name))


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic the service reads or writes, under one prefix."""

    prefix: str
    snapshot_patterns: tuple[str, ...] = ()

    @property
    def snapshot_filter(self) -> str:
        """Subscription filter of the service's own snapshot topic."""
        return f"{self.prefix}/snapshot/+"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Every filter to (re)subscribe after a connect, without duplicates."""
        return tuple(dict.fromkeys((self.snapshot_filter, *self.snapshot_patterns)))

    @property
    def person_detected(self) -> str:
        """The event topic."""
        return f"{self.prefix}/event/person_detected"

    @property
    def gallery(self) -> str:
        """Retained list of enrolled people."""
        return f"{self.prefix}/gallery"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline``, also the last will."""
        return f"{self.prefix}/status"

    @property
    def announce(self) -> str:
        """Retained discovery message for installs without a Supervisor."""
        return f"{self.prefix}/announce"

    def snapshot(self, camera: str) -> str:
        """Where a camera's snapshots go."""
        return f"{self.prefix}/snapshot/{camera}"

    def camera_state(self, camera: str) -> str:
        """Retained summary of a camera's last snapshot."""
        return f"{self.prefix}/camera/{camera}/state"

    def camera_face(self, camera: str) -> str:
        """Retained JPEG of a camera's latest face crop."""
        return f"{self.prefix}/camera/{camera}/face"

    def person_state(self, slug: str) -> str:
        """Retained last sighting of a person."""
        return f"{self.prefix}/person/{slug}/state"

    def camera_of(self, topic: str) -> str | None:
        """The camera named by the ``+`` level of the first filter that matches ``topic``."""
        levels = topic.split("/")
        for pattern in self.subscriptions:
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
