"""Typed results, each built once by the stage that knows it.

The engine makes a ``DetectedFace`` (where, how good, its embedding if it passed the quality
gates); the recognizer turns it into a ``FaceResult`` with the matcher's verdict and a final
``FaceStatus``; a ``SnapshotResult`` gathers them with the snapshot's timing. None of them is
rewritten by a later layer; the JSON shapes they are published in live in
``known_faces.publish.payloads``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np


class FaceStatus(StrEnum):
    """Why a face was or was not named."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    TOO_SMALL = "too_small"
    LOW_QUALITY = "low_quality"
    IGNORED = "ignored"  # unknown, and matches a visitor the user chose to ignore (DESIGN §9)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person and their best similarity to a face; ``scores`` has each model's best cosine
    when the similarity is a fusion of several (DESIGN §3), and is empty otherwise."""

    person: str
    name: str
    similarity: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """The matcher's verdict for one face.

    ``best`` is the most similar person (named only when ``known``), ``second`` always the
    runner-up, so each field has one meaning whatever the verdict.
    """

    known: bool
    best: Candidate | None
    second: Candidate | None
    threshold: float
    margin: float

    @property
    def similarity(self) -> float:
        """Best similarity, reported even when the face stays unknown (0 with nobody enrolled)."""
        return self.best.similarity if self.best else 0.0


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality measures of one detected face (DESIGN §3)."""

    face_px: int
    detection_score: float
    blur: float
    yaw: float


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face as the engine found it: where, how good, and its embedding when it passed the
    quality gates (``rejection`` is None then; otherwise the gate that refused it).

    ``crop`` is what the gallery stores (``align.STORED_CHIP``, loose enough for every
    embedder's chip); ``chips`` holds each embedder's chip by name (``align.CHIPS``), all cut
    from the original image; ``embedding`` is the primary embedder's vector and ``embeddings``
    every embedder's, by model id (the primary's included).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    quality: Quality
    crop: np.ndarray
    rejection: FaceStatus | None
    embedding: np.ndarray | None = None
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    chips: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def passed_gates(self) -> bool:
        """True when the face is good enough to be matched (and was embedded)."""
        return self.rejection is None


@dataclass(frozen=True, slots=True)
class VisitorSighting:
    """The visitor an unknown face was recorded under (DESIGN §9): its id, how often it has
    been seen (this time included; ever, and in the last 24 hours), the face's score to it
    (None when the face started it) and whether the user ignores it."""

    visitor: str
    sightings: int
    score: float | None
    ignored: bool
    sightings_24h: int = 1


@dataclass(frozen=True, slots=True)
class FaceResult:
    """One face of a snapshot with its final status and, if it was matched, the verdict."""

    face: DetectedFace
    status: FaceStatus
    match: Match | None = None
    visitor: VisitorSighting | None = None

    @property
    def passed_gates(self) -> bool:
        """True when the face passed the quality gates and was matched."""
        return self.face.passed_gates

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Where the face is, in snapshot pixels."""
        return self.face.box

    @property
    def quality(self) -> Quality:
        """The face's quality measures."""
        return self.face.quality

    @property
    def crop(self) -> np.ndarray:
        """The aligned crop."""
        return self.face.crop

    @property
    def embedding(self) -> np.ndarray | None:
        """The embedding (None below the quality gates)."""
        return self.face.embedding


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """All faces of one snapshot, plus what the event fields need.

    ``latency_ms`` runs from the snapshot's receipt (waiting in the intake included) to the
    end of matching: what an automation feels, not only the engine's share.
    """

    snapshot_id: str
    camera: str
    source: str
    model: str
    faces: tuple[FaceResult, ...]
    time: datetime
    latency_ms: float
    stage_ms: dict[str, float]

    @property
    def face_count(self) -> int:
        """Faces detected, gated or not."""
        return len(self.faces)

    @property
    def matched(self) -> tuple[FaceResult, ...]:
        """The faces that passed the quality gates: one ``person_detected`` event each."""
        return tuple(f for f in self.faces if f.passed_gates)
