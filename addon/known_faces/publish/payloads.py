"""Every MQTT and HTTP payload shape the service sends (DESIGN §5, §6), in one module.

Results are typed objects everywhere else; this is the one place that decides field names,
rounding and which fields each message carries, so DOCS.md, the integration and the tests have
one contract to agree with.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..pipeline.results import Candidate, FaceResult, FaceStatus, Quality, SnapshotResult
from ..pipeline.vote import Evidence, Verdict

if TYPE_CHECKING:
    from ..sources.streams import FrameBudget, StreamStatus
    from ..store.visitors import Assigned, FaceSearch, Sighting, Visitor

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
        # The Frigate event the snapshot was fetched for (DESIGN §10), else None.
        "frigate_event_id": next((e["frigate_event_id"] for e in events
                                  if e.get("frigate_event_id")), None),
    }


def face_time_of(camera_state_payload: bytes) -> str | None:
    """The ``face_time`` of a retained camera state this service published, or None when the
    payload is empty, not JSON, not that shape, or not a time."""
    try:
        state = json.loads(camera_state_payload)
        face_time = state.get("face_time") if isinstance(state, dict) else None
        if isinstance(face_time, str):
            datetime.fromisoformat(face_time)
            return face_time
    except (ValueError, RecursionError):  # json.JSONDecodeError and bad times are ValueErrors
        pass
    return None


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


def _evidence(value: Evidence) -> Payload:
    """One person's (or the representative unknown face's) best frame."""
    return {"person": value.person, "name": value.name, "score": round(value.score, 4),
            "snapshot_id": value.snapshot_id, "box": list(value.box), "face_px": value.face_px,
            "frame": value.frame}


def frigate_event(kind: str, *, event_id: str, camera: str, label: str, zones: Iterable[str],
                  verdict: Verdict, attempts: int, time: datetime,
                  latency_ms: float) -> Payload:
    """``<prefix>/event/frigate``: the consolidated answer about one Frigate event (DESIGN §10).

    ``type`` is ``new`` (first answer: confident, or the attempts are spent), ``update`` (a
    later frame changed who it is) or ``end`` (Frigate ended the event; the final answer).
    ``score`` is the best named person's similarity, in (0, 1]; ``unknown_face`` is the face
    that stands for the event's stranger, when somebody seen stayed unnamed.
    """
    best = verdict.best
    return {
        "type": kind,
        "frigate_event_id": event_id,
        "camera": camera,
        "label": label,
        "zones": sorted(zones),
        "verdict": verdict.kind,
        "person": best.person if best else None,
        "name": best.name if best else None,
        "score": round(max(best.score, 1e-4), 4) if best else None,
        "people": [_evidence(p) for p in verdict.people],
        "unknown_face": _evidence(verdict.unknown_face) if verdict.unknown_face else None,
        "attempts": attempts,
        "frames": verdict.frames,
        "frames_with_face": verdict.frames_with_face,
        "time": time.isoformat(),
        "latency_ms": round(latency_ms, 1),
    }


DOUBLE_TAKE_DETECTOR = "known_faces"


def double_take_face(value: Evidence, *, matched: bool, duration_s: float) -> Payload:
    """One face as a Double Take 1.13 detector result: ``confidence`` in percent, the box as
    ``top/left/width/height``, ``type`` the frame it came from (``latest``/``snapshot``)."""
    x1, y1, x2, y2 = value.box
    return {
        "name": (value.name or "unknown").lower() if matched else "unknown",
        "confidence": round(value.score * 100, 2),
        "match": matched,
        "box": {"top": y1, "left": x1, "width": x2 - x1, "height": y2 - y1},
        "type": value.frame,
        "duration": round(duration_s, 2),
        "detector": DOUBLE_TAKE_DETECTOR,
        "filename": f"{value.snapshot_id}.jpg",
        "base64": None,
    }


def double_take_messages(*, event_id: str, camera: str, zones: Iterable[str], verdict: Verdict,
                         attempts: int, duration_s: float, time: datetime
                         ) -> tuple[list[tuple[str | None, Payload]], Payload]:
    """What Double Take 1.13 publishes after recognising a Frigate event (its
    ``mqtt.util.js``): one ``matches/<name>`` payload per match (name, payload), one
    ``matches/unknown`` (name None), and the ``cameras/<camera>`` payload.

    Known Faces names a face or calls it unknown, so ``misses`` is always empty.
    """
    base: Payload = {"id": event_id, "duration": round(duration_s, 2),
                     "timestamp": time.isoformat(timespec="milliseconds"),
                     "attempts": attempts, "camera": camera, "zones": sorted(zones)}
    matches = [double_take_face(p, matched=True, duration_s=duration_s) for p in verdict.people]
    unknowns = ([double_take_face(verdict.unknown_face, matched=False, duration_s=duration_s)]
                if verdict.unknown_face else [])
    person = verdict.faces
    counts = {"person": person, "match": len(matches), "miss": 0,
              "unknown": person - len(matches)}
    per_face: list[tuple[str | None, Payload]] = [
        (m["name"], {**base, "match": m}) for m in matches]
    if unknowns:
        per_face.append((None, {**base, "unknown": unknowns[0], "unknowns": unknowns}))
    camera_payload = {**base, "matches": matches, "misses": [], "unknowns": unknowns,
                      "personCount": person, "counts": counts}
    return per_face, camera_payload
def track_detected(result: SnapshotResult, face: FaceResult, track_id: str,
                   frames: int) -> Payload:
    """``person_detected`` for a stream's track (DESIGN §11): the face of the frame that
    confirmed the track or changed its identity, with ``track_id`` and the ``frames`` seen."""
    return {**face_fields(result, face, str(uuid.uuid4())), "track_id": track_id,
            "frames": frames}


def track_summary(track_id: str, start_s: float, end_s: float, frames: int,
                  identity: Candidate | None, best_similarity: float) -> Payload:
    """One track of a video (``recognize VIDEO --json``): when, who, how sure."""
    return {"track_id": track_id, "start_s": round(start_s, 2), "end_s": round(end_s, 2),
            "frames": frames, "known": identity is not None,
            "person": identity.person if identity else None,
            "name": identity.name if identity else None,
            "best_similarity": round(best_similarity, 4)}


def stream_state(status: StreamStatus, budget: FrameBudget) -> Payload:
    """Retained ``<prefix>/camera/<camera>/stream``: whether the stream is read, at what rate
    (asked and got: the frame budget may scale it down), and when its last frame came."""
    return {"camera": status.camera, "state": "online" if status.online else "offline",
            "fps": status.fps, "effective_fps": round(status.effective_fps, 3),
            "budget_fps": budget.max_total, "budget_binding": budget.binding,
            "frames": status.frames, "reconnects": status.reconnects,
            "last_frame_time": status.last_frame, "error": status.error}


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
