"""What the integration knows about one Known Faces service, built from its MQTT topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Person:
    """An enrolled person, as listed on the gallery topic; the slug never changes."""

    slug: str
    name: str
    face_count: int = 0


@dataclass
class Sighting:
    """Where and when a person was last recognised."""

    camera: str
    time: datetime | None
    similarity: float | None


@dataclass
class CameraState:
    """The latest report of one camera."""

    face_count: int | None = None
    unknown: int | None = None
    time: datetime | None = None
    last_person: str | None = None
    last_person_slug: str | None = None
    last_similarity: float | None = None
    # The state topic has been heard from since setup; until then a crop's time is not known.
    reported: bool = False
    # `face_time` of the last state message: when the service took its retained crop.
    reported_face_time: datetime | None = None
    face: bytes | None = None
    # The time the image entity shows for `face`; it changes only with the crop's bytes.
    face_time: datetime | None = None
    # The Frigate event the last snapshot was fetched for, when it came from Frigate's API.
    frigate_event_id: str | None = None


@dataclass
class Visitors:
    """The retained visitors summary: how many await review and the newest few (DESIGN §9)."""

    pending: int | None = None
    newest: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class KnownFacesState:
    """Everything the entities show; replaced piecemeal as messages arrive."""

    status: str | None = None
    gallery_version: int | None = None
    people: dict[str, Person] = field(default_factory=dict)
    sightings: dict[str, Sighting] = field(default_factory=dict)
    cameras: dict[str, CameraState] = field(default_factory=dict)
    visitors: Visitors = field(default_factory=Visitors)
