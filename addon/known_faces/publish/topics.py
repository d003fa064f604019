"""The MQTT topics the service writes (DESIGN §5), under one prefix.

Kept apart from the client so the contract in DOCS.md can be read and tested in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    """Every output topic."""

    prefix: str

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

    def camera_state(self, camera: str) -> str:
        """Retained summary of a camera's last snapshot."""
        return f"{self.prefix}/camera/{camera}/state"

    def camera_face(self, camera: str) -> str:
        """Retained JPEG of a camera's latest face crop."""
        return f"{self.prefix}/camera/{camera}/face"

    def person_state(self, slug: str) -> str:
        """Retained last sighting of a person."""
        return f"{self.prefix}/person/{slug}/state"

    @property
    def visitors(self) -> str:
        """Retained summary of the visitors awaiting review (DESIGN §9)."""
        return f"{self.prefix}/visitors"
