"""Every MQTT and HTTP payload shape the service sends (DESIGN §5, §6), in one module.

Results are typed objects everywhere else; this is the one place that decides field names,
rounding and which fields each message carries, so DOCS.md, the integration and the tests have
one contract to agree with.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from typing import Any

from ..pipeline.results import Candidate, FaceResult, FaceStatus, Quality, SnapshotResult

Payload = dict[str, Any]


def candidate(value: Candidate | None) -> Payload | None:
    """A person and their similarity, or None."""
    if value is None:
        return None
    return {"person": value.person, "name": value.name,
            "similarity": round(value.similarity, 4)}


def scores(value: Candidate | None) -> dict[str, float | None] | None:
    """Each model's cosine behind a fused similarity (None where a model has no vector of
    that person), for diagnosis; None when the face was not matched."""
    if value is None:
        return None
    return {model: round(score, 4) if math.isfinite(score) else None
            for model, score in value.scores.items()}


def quality(value: Quality) -> Payload:
    """A face's quality measures (kept with enrolled faces, answered by ``/recognize``)."""
    return {"face_px": value.face_px, "detection_score": round(value.detection_score, 4),
            "blur": round(value.blur, 1), "yaw": round(value.yaw, 1)}


def face_fields(result: SnapshotResult, face: FaceResult, event_id: str) -> Payload:
    """One face in the ``person_detected`` shape.

    ``second`` is always the runner-up; an unknown face's nearest person is ``best_guess``
    (never ``person``/``name``, which only a known face has).
    """
    match = face.match
    known = face.status is FaceStatus.KNOWN and match is not None and match.best is not None
    best = match.best if match else None
    return {
        "event_id": event_id,
        "snapshot_id": result.snapshot_id,
        "camera": result.camera,
        "time": result.time.isoformat(),
        "known": known,
        "person": best.person if known and best else None,
        "name": best.name if known and best else None,
        "similarity": round(match.similarity, 4) if match else None,
        "scores": scores(best),
        "threshold": match.threshold if match else None,
        "margin": match.margin if match else None,
        "second": candidate(match.second) if match else None,
        "best_guess": None if known else candidate(best),
        "box": list(face.box),
        "face_px": face.quality.face_px,
        "detection_score": round(face.quality.detection_score, 4),
        "face_count": result.face_count,
        "source": result.source,
        "model": result.model,
        "latency_ms": round(result.latency_ms, 1),
    }


def person_detected_events(result: SnapshotResult,
                           extra: dict[str, Any] | None = None) -> list[Payload]:
    """``<prefix>/event/person_detected``: one per face that passed the quality gates, with
    the source's own fields (``extra``: ``frigate_event_id``, ``track_id``, …) added."""
    return [{**face_fields(result, face, str(uuid.uuid4())), **(extra or {})}
            for face in result.matched]


def recognize_answer(result: SnapshotResult) -> Payload:
    """``POST /recognize`` and ``recognize --json``: every face, gated or not, with its
    ``status`` (known, unknown, too_small, low_quality)."""
    return {
        "snapshot_id": result.snapshot_id,
        "camera": result.camera,
        "time": result.time.isoformat(),
        "face_count": result.face_count,
        "latency_ms": round(result.latency_ms, 1),
        "faces": [{**face_fields(result, face, str(uuid.uuid4())), "status": face.status.value}
                  for face in result.faces],
    }


def camera_state(result: SnapshotResult, events: list[Payload],
                 face_time: str | None) -> Payload:
    """Retained ``<prefix>/camera/<camera>/state``: who the last snapshot showed.

    ``face_time`` is when the crop retained on ``camera/<camera>/face`` was taken, so a
    consumer can tell a new crop from the same one delivered again after a reconnect.
    """
    known = [e for e in events if e["known"]]
    return {
        "camera": result.camera,
        "time": result.time.isoformat(),
        "snapshot_id": result.snapshot_id,
        "face_count": result.face_count,
        "unknown": len(events) - len(known),
        "people": [{k: e[k] for k in ("person", "name", "similarity")} for e in known],
        "face_time": face_time,
    }


def person_state(event: Payload) -> Payload:
    """Retained ``<prefix>/person/<slug>/state``: where and when a person was last seen."""
    return {k: event[k] for k in ("person", "name", "camera", "time", "similarity", "event_id")}


def gallery(version: int, model: str, people: Iterable[tuple[str, str, int]]) -> Payload:
    """Retained ``<prefix>/gallery``: everybody enrolled, so entities exist before anyone is
    seen."""
    return {"version": version, "model": model,
            "people": [{"person": slug, "name": name, "face_count": count}
                       for slug, name, count in people]}


def announce(instance_id: str, url: str, version: str, topic_prefix: str) -> Payload:
    """Retained ``<prefix>/announce``: MQTT discovery without a Supervisor (never the token)."""
    return {"instance_id": instance_id, "url": url, "version": version,
            "topic_prefix": topic_prefix}
