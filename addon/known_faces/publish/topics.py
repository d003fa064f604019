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

    @property
    def camera_states(self) -> str:
        """Every camera's retained state: read back at connect to learn what the service
        published before it restarted."""
        return f"{self.prefix}/camera/+/state"

    def camera_of_state(self, topic: str) -> str | None:
        """The camera of a ``camera/<camera>/state`` topic, else None."""
        head, sep, rest = topic.partition(f"{self.prefix}/camera/")
        if head or not sep or not rest.endswith("/state"):
            return None
        camera = rest[: -len("/state")]
        return camera if camera and "/" not in camera else None

    def camera_face(self, camera: str) -> str:
        """Retained JPEG of a camera's latest face crop."""
        return f"{self.prefix}/camera/{camera}/face"

    def person_state(self, slug: str) -> str:
        """Retained last sighting of a person."""
        return f"{self.prefix}/person/{slug}/state"

    @property
    def frigate_event(self) -> str:
        """The consolidated answer about each followed Frigate event (DESIGN §10)."""
        return f"{self.prefix}/event/frigate"
    def camera_stream(self, camera: str) -> str:
        """Retained state of a camera's stream: online or offline, rates, last frame."""
        return f"{self.prefix}/camera/{camera}/stream"

    @property
    def visitors(self) -> str:
        """Retained summary of the visitors awaiting review (DESIGN §9)."""
        return f"{self.prefix}/visitors"
