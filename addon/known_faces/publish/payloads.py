"""Every MQTT and HTTP payload shape the service sends (DESIGN §5, §6), in one module.

Results are typed objects everywhere else; this is the one place that decides field names,
rounding and which fields each message carries, so DOCS.md, the integration and the tests have
one contract to agree with.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..pipeline.results import Candidate, FaceResult, FaceStatus, Quality, SnapshotResult

if TYPE_CHECKING:
    from ..store.visitors import Assigned, FaceSearch, Sighting, Visitor

Payload = dict[str, Any]


def candidate(value: Candidate | None) -> Payload | None:
    """A person and their similarity, or None."""
    if value is None:
        return None
    return {"person": value.person, "name": value.name,
            "similarity": round(value.similarity, 4)}


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
        **visitor_fields(face),
    }


def visitor_fields(face: FaceResult) -> Payload:
    """What an event says about strangers (DESIGN §9): ``status`` (``known``, ``unknown`` or
    ``ignored``: a face matching a visitor the user ignores is never ``unknown``), the visitor
    an unknown or ignored face was recorded under and how often that visitor has been seen,
    ever and in the last 24 hours (null for known faces and when ``keep_unknown`` is off)."""
    seen = face.visitor
    return {"status": face.status.value,
            "visitor": seen.visitor if seen else None,
            "visitor_sightings": seen.sightings if seen else None,
            "visitor_sightings_24h": seen.sightings_24h if seen else None}


def visitors_summary(pending: int, newest: Iterable[dict[str, Any]]) -> Payload:
    """Retained ``<prefix>/visitors``: how many visitors await review and the newest few
    (``store.visitors.Visitor.as_dict``: id, first and last seen, sightings, cameras)."""
    return {"pending": pending, "newest": list(newest)}


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
    ignored = sum(e["status"] == "ignored" for e in events)
    return {
        "camera": result.camera,
        "time": result.time.isoformat(),
        "snapshot_id": result.snapshot_id,
        "face_count": result.face_count,
        "unknown": len(events) - len(known) - ignored,
        "ignored": ignored,
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


def visitor_crop_url(base: str, visitor: str, sighting: int | None = None) -> str:
    """Where a visitor's best crop (or one sighting's) is served."""
    return f"{base}/visitors/{visitor}/crop" + ("" if sighting is None else
                                                f"?sighting={sighting}")


def sighting(value: Sighting, base: str, score: float | None = None) -> Payload:
    """A kept sighting with its crop URL (null once it is a person's history: the person's
    enrolled faces are served instead); ``score`` replaces the recorded one in a search."""
    shown = value.as_dict()
    if score is not None:
        shown["score"] = round(score, 4)
    shown["crop_url"] = (visitor_crop_url(base, value.visitor, value.id)
                         if value.visitor is not None else None)
    return shown


def visitor(value: Visitor, base: str, score: float | None = None) -> Payload:
    """A visitor with its best crop's URL (and its score, in a search)."""
    shown = {**value.as_dict(), "crop_url": visitor_crop_url(base, value.label)}
    if score is not None:
        shown["score"] = round(score, 4)
    return shown


def visitor_detail(value: Visitor, sightings: Iterable[Sighting], base: str) -> Payload:
    """``GET /visitors/{id}``: the visitor (``sightings`` counts them all) and the sightings
    it keeps, newest first."""
    return {**visitor(value, base), "kept_sightings": [sighting(s, base) for s in sightings]}


def assigned(value: Assigned, person: Payload) -> Payload:
    """``POST /visitors/{id}/assign``: who it became, what was enrolled and what refused."""
    return {"person": person, "created": value.created, "faces": list(value.faces),
            "refused": [r.as_dict() for r in value.refused], "sightings_moved": value.moved}


def search_answer(faces: Iterable[FaceSearch], base: str) -> Payload:
    """``POST /search``: per gated face, the people, visitors and past sightings (newest
    first) scoring at least the threshold."""
    return {"faces": [{
        "box": list(found.face.box),
        "face_px": found.face.quality.face_px,
        "people": [candidate(c) for c in found.people],
        "visitors": [visitor(v, base, score) for v, score in found.hits.visitors],
        "sightings": [sighting(s, base, score) for s, score in found.hits.sightings],
    } for found in faces]}
