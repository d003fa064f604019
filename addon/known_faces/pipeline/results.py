"""Typed results of one snapshot, serialised with the DESIGN §5 field names.

The same objects feed the CLI's ``--json``, the HTTP ``/recognize`` answer and the MQTT
``person_detected`` events, so the field names are defined once, here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np


class FaceStatus(StrEnum):
    """Why a face was or was not named."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    TOO_SMALL = "too_small"
    LOW_QUALITY = "low_quality"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person and their best cosine similarity to a face."""

    person: str
    name: str
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"person": self.person, "name": self.name, "similarity": round(self.similarity, 4)}


@dataclass(frozen=True, slots=True)
class Match:
    """The matcher's verdict for one face."""

    known: bool
    best: Candidate | None
    second: Candidate | None
    threshold: float
    margin: float

    @property
    def similarity(self) -> float:
        """Best cosine similarity, reported even when the face stays unknown."""
        return self.best.similarity if self.best else 0.0


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality measures of one detected face (DESIGN §3)."""

    face_px: int
    detection_score: float
    blur: float
    yaw: float

    def as_dict(self) -> dict[str, float]:
        """JSON-safe form."""
        return {
            "face_px": self.face_px,
            "detection_score": round(self.detection_score, 4),
            "blur": round(self.blur, 1),
            "yaw": round(self.yaw, 1),
        }


@dataclass(slots=True)
class FaceResult:
    """One face of a snapshot: where, how good, and who."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    quality: Quality
    status: FaceStatus
    crop: np.ndarray
    embedding: np.ndarray | None = None
    match: Match | None = None

    @property
    def gated(self) -> bool:
        """True when the face passed the quality gates and was matched."""
        return self.status in (FaceStatus.KNOWN, FaceStatus.UNKNOWN)


@dataclass(slots=True)
class SnapshotResult:
    """All faces of one snapshot, plus what the event fields need."""

    snapshot_id: str
    camera: str
    source: str
    model: str
    faces: list[FaceResult]
    latency_ms: float
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    stage_ms: dict[str, float] = field(default_factory=dict)

    @property
    def face_count(self) -> int:
        """Faces detected, gated or not."""
        return len(self.faces)

    def face_dict(self, face: FaceResult, event_id: str) -> dict[str, Any]:
        """One face in the DESIGN §5 ``person_detected`` shape (plus ``status``)."""
        match = face.match
        known = bool(match and match.known)
        best = match.best if match else None
        second = (match.second if known else best) if match else None
        return {
            "event_id": event_id,
            "snapshot_id": self.snapshot_id,
            "camera": self.camera,
            "time": self.time.isoformat(),
            "known": known,
            "person": best.person if known and best else None,
            "name": best.name if known and best else None,
            "similarity": round(match.similarity, 4) if match else None,
            "threshold": match.threshold if match else None,
            "margin": match.margin if match else None,
            "second": second.as_dict() if second else None,
            "box": list(face.box),
            "face_px": face.quality.face_px,
            "detection_score": round(face.quality.detection_score, 4),
            "face_count": self.face_count,
            "source": self.source,
            "model": self.model,
            "latency_ms": round(self.latency_ms, 1),
            "status": face.status.value,
        }

    def events(self) -> list[dict[str, Any]]:
        """``person_detected`` payloads: one per face that passed the quality gates."""
        return [self.face_dict(f, str(uuid.uuid4())) for f in self.faces if f.gated]

    def as_dict(self) -> dict[str, Any]:
        """Every face (gated or not) for ``/recognize`` and ``recognize --json``."""
        return {
            "snapshot_id": self.snapshot_id,
            "camera": self.camera,
            "time": self.time.isoformat(),
            "face_count": self.face_count,
            "latency_ms": round(self.latency_ms, 1),
            "faces": [self.face_dict(f, str(uuid.uuid4())) for f in self.faces],
        }
