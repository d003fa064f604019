"""Visitors: unknown faces grouped into probable people, their sightings, and what a user does
with them (DESIGN §9).

The visitor store is part of the gallery: it writes through the gallery's one writer
connection and transaction helper, so every action (a sighting joining or starting a visitor,
assign, ignore, merge, forget, a retention purge) is one ``BEGIN IMMEDIATE`` transaction and a
process killed in the middle leaves the store as it was before the action. Assign writes people
and faces too, in the same transaction.

A visitor keeps at most ``KEEP_SIGHTINGS`` sightings (time, camera, score, quality, crop,
vector): the newest one, so "last seen" always has its crop, and otherwise the best by
``crop_rank``; ``seen`` counts every sighting ever made, kept or not. The kept vectors are the
visitor's slots in the in-memory ``VisitorIndex``, which is rebuilt from SQLite whenever the
``visitors`` counter in ``meta`` moved under it (another process acted, or a transaction of ours
was rolled back); every write of this store moves that counter.

A face is compared with visitors by the score the matcher names people with (DESIGN §3): every
sighting keeps one vector per embedder the engine runs (``sighting_vectors``), and per model
the best cosine is standardised by that model's impostor statistics, averaged and put on the
reference model's scale (``score.fuse``, the ``FusedMatcher``'s stats and reference). In
``fast`` mode, with one model, that score is its cosine. A sighting without a vector of some
model (recorded in ``fast`` mode, or before sightings kept every model's vector) is scored on
the models it has: fuse leaves a NaN cosine out of the mean.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ..errors import (
    DuplicateName,
    EnrollmentRejected,
    KnownFacesError,
    StorageError,
    UnknownVisitor,
)
from ..pipeline.quality import QualityGates, enrollment_problem
from ..pipeline.results import Candidate, DetectedFace, Quality, VisitorSighting
from ..pipeline.score import ImpostorStats, fuse
from ..pipeline.visitor_index import SLOTS, VisitorIndex
from .gallery import Gallery, name_key, vector_blob
from .names import clean_name, slugify
from .validate import Unusable, check_crop, parse_vector

LOG = logging.getLogger(__name__)

KEEP_SIGHTINGS = SLOTS
#: Sighting times remembered per visitor (kept sightings or not): "seen N times in the last
#: 24 hours" is exact up to this many.
KEEP_RECENT = 64
#: With one model the "fused" score is its cosine: standardising by (0, 1) and mapping back by
#: (0, 1) is the identity.
IDENTITY = ImpostorStats(0.0, 1.0)
#: Measured by bench/visitor_threshold.py --step 0.01 on the shared photos (README,
#: *Visitors*): every threshold from 0.38 to 0.59 groups the 31 faces of 16 people perfectly
#: (pairwise precision and recall 1.0 in 20 arrival orders) with the fused score, from 0.40 to
#: 0.58 with MobileFaceNet alone (``fast``). 0.55 lies inside both, far above where purity
#: breaks (0.37) and clear of where one person starts to split (0.59-0.60); the top of the
#: range is not taken because a lookalike stranger reached 0.57 against a known person on the
#: held-out set. Re-measure with the script when the score changes.
DEFAULT_THRESHOLD = 0.55
VISITOR_PATTERN = r"^v_[0-9]{4,19}$"
LABEL_RE = re.compile(r"v_([0-9]{4,19})")
MAX_ID = 2**63 - 1

#: An enrollment gate over stored quality measures: (code, reason) when refused, else None.
Gate = Callable[[dict[str, float]], tuple[str, str] | None]


def label(visitor_id: int) -> str:
    """The public id of a visitor: ``v_0042``."""
    return f"v_{visitor_id:04d}"


def visitor_id(text: str) -> int:
    """The row id a public id names; UnknownVisitor for anything that names no visitor."""
    match = LABEL_RE.fullmatch(text)
    value = int(match.group(1)) if match else 0
    if not 0 < value <= MAX_ID:
        raise UnknownVisitor(f"no visitor '{text[:32]}'")
    return value


def crop_rank(quality: dict[str, float]) -> float:
    """How good a sighting's crop is, to keep the best ones: larger, sharper, surer and more
    frontal is better (each factor saturates where the enrollment gates stop caring)."""
    size = min(quality.get("face_px", 0.0), 160.0) / 160.0
    sharp = min(quality.get("blur", 0.0), 100.0) / 100.0
    frontal = max(math.cos(math.radians(quality.get("yaw", 90.0))), 0.0)
    return float(size * sharp * frontal * quality.get("detection_score", 0.0))


def enrollment_gate(gates: QualityGates) -> Gate:
    """The enrollment gates over a stored sighting's quality measures: assigning a visitor
    enrolls only the crops a photo of that quality would have been enrolled with."""
    def gate(quality: dict[str, float]) -> tuple[str, str] | None:
        try:
            measures = Quality(int(quality["face_px"]), float(quality["detection_score"]),
                               float(quality["blur"]), float(quality["yaw"]))
        except (KeyError, TypeError, ValueError):
            return "low_quality", "its quality measures are unreadable"
        return enrollment_problem(measures, gates)

    return gate


def _times(text: object) -> list[str]:
    """A visitor's ``recent`` sighting times; unreadable ones read as none."""
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def _recent(times: list[str]) -> list[str]:
    """The ``KEEP_RECENT`` latest of some sighting times, oldest first."""
    return sorted(times)[-KEEP_RECENT:]


def within_a_day(times: list[str], now: str) -> int:
    """How many of ``times`` lie in the 24 hours up to ``now`` (all ISO-8601 UTC)."""
    try:
        since = (datetime.fromisoformat(now) - timedelta(days=1)).isoformat()
    except ValueError:
        return len(times)
    return sum(since < t <= now for t in times)


def now_utc() -> datetime:
    """The current time (retention's default ``now``)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A visitor as listed."""

    id: int
    first_seen: str
    last_seen: str
    seen: int
    ignored: bool
    cameras: tuple[str, ...]

    @property
    def label(self) -> str:
        """The public id."""
        return label(self.id)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``sightings`` counts every sighting ever made)."""
        return {"visitor": self.label, "status": "ignored" if self.ignored else "pending",
                "first_seen": self.first_seen, "last_seen": self.last_seen,
                "sightings": self.seen, "cameras": list(self.cameras)}


@dataclass(frozen=True, slots=True)
class Sighting:
    """One kept sighting: of a visitor, or of a person once their visitor was assigned."""

    id: int
    label: str
    visitor: str | None
    person: str | None
    time: str
    camera: str
    score: float | None
    quality: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON form; ``seen_as`` is the visitor id it was recorded under."""
        return {"id": self.id, "visitor": self.visitor, "person": self.person,
                "seen_as": self.label, "time": self.time, "camera": self.camera,
                "score": None if self.score is None else round(self.score, 4),
                "quality": self.quality}


@dataclass(frozen=True, slots=True)
class Refused:
    """A sighting's crop that assign did not enroll, and why."""

    sighting: int
    code: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form, in the error shape's field names."""
        return {"sighting": self.sighting, "error": self.code, "message": self.reason}


@dataclass(frozen=True, slots=True)
class Assigned:
    """The outcome of assigning a visitor to a person."""

    person: str
    created: bool
    faces: tuple[int, ...]
    refused: tuple[Refused, ...]
    moved: int


@dataclass(frozen=True, slots=True)
class Hits:
    """What a search found for one face: visitors and sightings with their scores."""

    visitors: list[tuple[Visitor, float]]
    sightings: list[tuple[Sighting, float]]


@dataclass(frozen=True, slots=True)
class FaceSearch:
    """One face of a searched photo: the people and the visitors' hits it scores against."""

    face: DetectedFace
    people: list[Candidate]
    hits: Hits


_VISITOR_SQL = (
    "SELECT v.id, v.first_seen, v.last_seen, v.seen, v.ignored, "
    "(SELECT group_concat(DISTINCT s.camera) FROM sightings s WHERE s.visitor_id = v.id) "
    "FROM visitors v")
_SIGHTING_SQL = (
    "SELECT s.id, s.label, s.visitor_id, p.slug, s.time, s.camera, s.score, s.quality "
    "FROM sightings s LEFT JOIN people p ON p.id = s.person_id")


def _visitor(row: Any) -> Visitor:
    cameras = tuple(sorted(str(row[5]).split(","))) if row[5] else ()
    return Visitor(int(row[0]), row[1], row[2], int(row[3]), bool(row[4]), cameras)


def _measures(text: object) -> dict[str, float]:
    """A sighting's stored quality measures; unreadable ones read as none (and then fail every
    enrollment gate) rather than failing the action."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _sighting(row: Any) -> Sighting:
    return Sighting(int(row[0]), row[1], None if row[2] is None else label(int(row[2])),
                    row[3], row[4], row[5], row[6], _measures(row[7]))


def _marks(values: Sequence[object]) -> str:
    """SQL placeholders for an IN list."""
    return ",".join("?" * len(values))


#: Per model a visitor's kept vectors (``n × D``), and its ignored flag.
Slot = tuple[dict[str, np.ndarray], bool]
Slots = dict[int, Slot | None]
#: A face's (or a sighting's) vectors, per model.
Vectors = Mapping[str, np.ndarray]


class Visitors:
    """The visitors of one gallery, for the embedders one engine runs. Thread-safe; safe
    beside other processes.

    ``dims`` is ``{model: dimension}``, the primary (reference) model first, like
    ``Engine.model_ids``; ``stats`` each model's impostor statistics (``recognizer.
    impostor_stats``; by default the identity, right for one model alone); the fused score is
    put on the first model's scale, as the ``FusedMatcher`` puts it. ``threshold`` is the
    score at which a face joins a visitor instead of starting one.
    """

    def __init__(self, gallery: Gallery, dims: Mapping[str, int], threshold: float,
                 stats: Mapping[str, ImpostorStats] | None = None) -> None:
        if not dims:
            raise ValueError("visitors need at least one model")
        self.gallery = gallery
        self.dims = dict(dims)
        self.models = tuple(self.dims)
        self.model = self.models[0]
        self.stats = {model: (stats or {}).get(model, IDENTITY) for model in self.models}
        self.reference = self.stats[self.model]
        self.threshold = threshold
        self._lock = threading.Lock()
        self._index = self._new_index()
        self._counter = -1

    # -- how faces are compared -------------------------------------------------------------
    def _new_index(self) -> VisitorIndex:
        return VisitorIndex(self.dims, self.stats, self.reference)

    def query(self, embeddings: Vectors) -> dict[str, np.ndarray]:
        """A face as the index compares it: per model (of ours that it has) its unit vector."""
        return {model: np.asarray(embeddings[model], np.float32)
                for model in self.models if model in embeddings}

    def _score(self, embeddings: Vectors, sightings: Sequence[Vectors]) -> np.ndarray:
        """A face's fused score against single sightings' vectors, on the index's scale; a
        model a sighting has no vector of is left out of its score."""
        query = self.query(embeddings)
        cosines = {model: np.asarray([float(v[model] @ vector) if model in v else np.nan
                                      for v in sightings], np.float32)
                   for model, vector in query.items()}
        return fuse(cosines, self.stats, self.reference)

    def _vectors(self, db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str,
                                                                                    np.ndarray]]:
        """The readable vectors of our models of some sightings, per sighting and model."""
        found: dict[int, dict[str, np.ndarray]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for sid, model, blob in db.execute(
                    f"SELECT sighting_id, model, vector FROM sighting_vectors WHERE "
                    f"sighting_id IN ({_marks(chunk)})", chunk):
                vector = self._parse(model, blob)
                if vector is not None:
                    found.setdefault(int(sid), {})[model] = vector
        return found

    def _parse(self, model: object, blob: object) -> np.ndarray | None:
        """A stored vector of one of our models, or None (another model's, or unreadable)."""
        dim = self.dims.get(str(model))
        if dim is None or not isinstance(blob, bytes):
            return None
        try:
            return parse_vector(blob, dim)
        except Unusable:
            return None

    # -- keeping the index in step ---------------------------------------------------------
    @staticmethod
    def _stored_counter(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'visitors'").fetchone()
        try:
            return int(str(row[0])) if row else 0
        except ValueError:
            return 0

    def _sync(self, db: sqlite3.Connection) -> None:
        """Rebuild the index from ``db`` if anything changed it since we last looked
        (caller holds ``_lock``)."""
        counter = self._stored_counter(db)
        if counter == self._counter:
            return
        index = self._new_index()
        slots: dict[int, dict[str, list[np.ndarray]]] = {}
        ignored: dict[int, bool] = {}
        for vid, flag, model, blob in db.execute(
            "SELECT s.visitor_id, v.ignored, sv.model, sv.vector FROM sighting_vectors sv "
            "JOIN sightings s ON s.id = sv.sighting_id "
            "JOIN visitors v ON v.id = s.visitor_id ORDER BY s.id"):
            vector = self._parse(model, blob)
            if vector is not None:
                slots.setdefault(int(vid), {}).setdefault(str(model), []).append(vector)
                ignored[int(vid)] = bool(flag)
        for vid, vectors in slots.items():
            index.put(vid, {model: np.vstack(v[-SLOTS:]) for model, v in vectors.items()},
                      ignored=ignored[vid])
        self._index, self._counter = index, counter

    def _synced_read(self) -> None:
        """Bring the index up to date from this thread's reader."""
        try:
            db = self.gallery._reader().db
            with self._lock:
                self._sync(db)
        except sqlite3.Error as exc:
            raise StorageError(f"the visitors could not be read: {exc}") from exc

    def _slots(self, db: sqlite3.Connection, vid: int) -> Slot | None:
        """A visitor's current vectors per model and ignored flag as ``db`` has them (None:
        gone, or no readable vector)."""
        row = db.execute("SELECT ignored FROM visitors WHERE id = ?", (vid,)).fetchone()
        if row is None:
            return None
        ids = [int(r[0]) for r in db.execute(
            "SELECT id FROM sightings WHERE visitor_id = ? ORDER BY id", (vid,))]
        found = self._vectors(db, ids)
        vectors = {model: [found[i][model] for i in ids if model in found.get(i, {})]
                   for model in self.models}
        slots = {model: np.vstack(v) for model, v in vectors.items() if v}
        return (slots, bool(row[0])) if slots else None

    def _action(self, work: Callable[[sqlite3.Connection], tuple[Any, list[int]]], *,
                change: bool = False) -> Any:
        """Run ``work`` in one write transaction; it returns its result and the visitors it
        touched, whose slots are put into the index once the transaction committed."""
        with self._lock:
            with self.gallery._write(change=change) as db:
                self._sync(db)
                result, touched = work(db)
                slots: Slots = {vid: self._slots(db, vid) for vid in touched}
                db.execute("INSERT INTO meta(key, value) VALUES ('visitors', '1') "
                           "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
                counter = self._stored_counter(db)
            for vid, slot in slots.items():
                if slot is None:
                    self._index.remove(vid)
                else:
                    self._index.put(vid, slot[0], ignored=slot[1])
            self._counter = counter
        return result

    @staticmethod
    def _existing(db: sqlite3.Connection, text: str) -> int:
        vid = visitor_id(text)
        if db.execute("SELECT 1 FROM visitors WHERE id = ?", (vid,)).fetchone() is None:
            raise UnknownVisitor(f"no visitor '{text[:32]}'")
        return vid

    @staticmethod
    def _trim(db: sqlite3.Connection, vid: int) -> None:
        """Keep the newest sighting and the best-ranked others, ``KEEP_SIGHTINGS`` in all."""
        rows = db.execute("SELECT id, rank FROM sightings WHERE visitor_id = ? ORDER BY id DESC",
                          (vid,)).fetchall()
        if len(rows) <= KEEP_SIGHTINGS:
            return
        newest, others = rows[0], sorted(rows[1:], key=lambda r: (-r[1], -r[0]))
        db.executemany("DELETE FROM sightings WHERE id = ?",
                       [(r[0],) for r in others[KEEP_SIGHTINGS - 1:] if r[0] != newest[0]])

    # -- sightings ----------------------------------------------------------------------------
    def observe(self, embeddings: Vectors, crop: bytes, quality: dict[str, float],
                camera: str, time: str, visit: str | None = None) -> VisitorSighting | None:
        """Record an unknown face (``embeddings``: its vector per model, ``DetectedFace.
        embeddings``; every one of our models' is kept): it joins the nearest visitor whose
        fused score reaches ``threshold``, else starts a new one. ``visit`` is the source's
        key of one visit (a Frigate event id): further frames of the visit a visitor was last
        seen in are kept as sightings (better crops) but not counted again. Best effort, like
        every history record: when it cannot be written (disk full) it is logged and None is
        returned, and the face is published without a visitor."""
        query = self.query(embeddings)
        if not query:
            raise ValueError(f"a face to record needs a vector of one of {', '.join(self.models)}")

        def work(db: sqlite3.Connection) -> tuple[VisitorSighting, list[int]]:
            found = self._index.nearest(query)
            if found is not None and found[1] >= self.threshold:
                vid, score, ignored = found[0], found[1], found[2]
                row = db.execute("SELECT recent, last_visit FROM visitors WHERE id = ?",
                                 (vid,)).fetchone()
                again = visit is not None and row[1] == visit
                recent = _times(row[0]) if again else _recent([*_times(row[0]), time])
                db.execute("UPDATE visitors SET seen = seen + ?, last_seen = max(last_seen, ?), "
                           "recent = ?, last_visit = ? WHERE id = ?",
                           (0 if again else 1, time, json.dumps(recent), visit, vid))
            else:
                score, ignored, recent = None, False, [time]
                vid = int(db.execute(
                    "INSERT INTO visitors(first_seen, last_seen, seen, recent, last_visit) "
                    "VALUES (?, ?, 1, ?, ?)", (time, time, json.dumps(recent), visit)).lastrowid
                    or 0)
            sid = db.execute(
                "INSERT INTO sightings(visitor_id, label, time, camera, score, quality, rank, "
                "crop) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (vid, label(vid), time, camera, score, json.dumps(quality), crop_rank(quality),
                 crop)).lastrowid
            db.executemany("INSERT INTO sighting_vectors(sighting_id, model, vector) "
                           "VALUES (?, ?, ?)",
                           [(sid, model, vector_blob(v)) for model, v in query.items()])
            self._trim(db, vid)
            seen = int(db.execute("SELECT seen FROM visitors WHERE id = ?", (vid,)).fetchone()[0])
            return VisitorSighting(label(vid), seen, score, ignored,
                                   within_a_day(recent, time)), [vid]

        try:
            observation: VisitorSighting = self._action(work)
        except StorageError as exc:
            LOG.warning("could not record an unknown face: %s", exc)
            return None
        return observation

    def nearest(self, embeddings: Vectors) -> tuple[str, float, bool] | None:
        """(visitor, fused score, ignored) of the visitor nearest to a face, or None."""
        self._synced_read()
        with self._lock:
            found = self._index.nearest(self.query(embeddings))
        return None if found is None else (label(found[0]), found[1], found[2])

    # -- reading ------------------------------------------------------------------------------
    def listing(self, status: str | None = None, limit: int | None = None,
                offset: int = 0) -> list[Visitor]:
        """Visitors, last seen first (ties: newest id first, so pages never overlap);
        ``status`` ``pending`` or ``ignored`` filters; ``limit`` and ``offset`` page."""
        where = {"pending": " WHERE v.ignored = 0", "ignored": " WHERE v.ignored = 1"}
        sql = (_VISITOR_SQL + where.get(status or "", "") +
               " ORDER BY v.last_seen DESC, v.id DESC LIMIT ? OFFSET ?")
        rows = self.gallery._query(sql, (-1 if limit is None else limit, offset))
        return [_visitor(row) for row in rows]

    def page(self, status: str | None, limit: int, offset: int
             ) -> tuple[list[Visitor], int | None]:
        """One page of ``listing`` and the offset of the next one (None: this is the last),
        told by reading one visitor more than the page holds, so the answer is consistent
        whatever changes between two requests."""
        found = self.listing(status, limit + 1, offset)
        return found[:limit], offset + limit if len(found) > limit else None

    def count(self, status: str | None = None) -> int:
        """How many visitors (``pending``: awaiting review)."""
        where = {"pending": " WHERE ignored = 0", "ignored": " WHERE ignored = 1"}
        return int(self.gallery._query("SELECT COUNT(*) FROM visitors" +
                                       where.get(status or "", ""))[0][0])

    def get(self, text: str) -> Visitor:
        """One visitor; UnknownVisitor when there is none of that id."""
        rows = self.gallery._query(_VISITOR_SQL + " WHERE v.id = ?", (visitor_id(text),))
        if not rows:
            raise UnknownVisitor(f"no visitor '{text[:32]}'")
        return _visitor(rows[0])

    def sightings(self, text: str) -> list[Sighting]:
        """A visitor's kept sightings, newest first."""
        vid = self.get(text).id
        return [_sighting(row) for row in self.gallery._query(
            _SIGHTING_SQL + " WHERE s.visitor_id = ? ORDER BY s.time DESC, s.id DESC", (vid,))]

    def crop(self, text: str, sighting: int | None = None) -> bytes:
        """The crop of one of the visitor's sightings; by default its best-ranked one."""
        vid = self.get(text).id
        sql = "SELECT crop FROM sightings WHERE visitor_id = ?"
        params: tuple[Any, ...] = (vid,)
        if sighting is not None:
            sql += " AND id = ?"
            params = (vid, sighting if 0 < sighting <= MAX_ID else 0)
        rows = self.gallery._query(sql + " ORDER BY rank DESC, id DESC LIMIT 1", params)
        if not rows:
            raise UnknownVisitor(f"visitor '{text[:32]}' has no sighting {sighting}")
        return bytes(rows[0][0])

    def sighting_count(self) -> int:
        """How many sightings of visitors are kept."""
        return int(self.gallery._query(
            "SELECT COUNT(*) FROM sightings WHERE visitor_id IS NOT NULL")[0][0])

    def search(self, embeddings: Vectors, threshold: float, people: Sequence[str] = ()
               ) -> Hits:
        """Visitors whose fused score against a face reaches ``threshold`` (best first), and
        the kept sightings of those visitors and of ``people`` (slugs) that reach it
        themselves, newest first."""
        self._synced_read()
        with self._lock:
            scores, ids = self._index.scores(self.query(embeddings)), self._index.ids()
        order = [i for i in np.argsort(-scores) if scores[i] >= threshold]
        visitors = []
        for i in order:
            try:
                visitors.append((self.get(label(int(ids[i]))), float(scores[i])))
            except UnknownVisitor:  # forgotten since the index was read
                continue
        wanted = [v.id for v, _ in visitors]
        rows = self.gallery._query(
            _SIGHTING_SQL + f" WHERE s.visitor_id IN ({_marks(wanted)}) "
            f"OR p.slug IN ({_marks(people)}) ORDER BY s.time DESC, s.id DESC",
            (*wanted, *people))
        try:
            found = self._vectors(self.gallery._reader().db, [int(row[0]) for row in rows])
        except sqlite3.Error as exc:
            raise StorageError(f"the sightings could not be read: {exc}") from exc
        rows = [row for row in rows if set(found.get(int(row[0]), {})) & set(embeddings)]
        scores = self._score(embeddings, [found[int(row[0])] for row in rows])
        sightings = [(_sighting(row), float(score)) for row, score in zip(rows, scores,
                                                                            strict=True)
                     if score >= threshold]
        return Hits(visitors, sightings)

    def pending_vectors(self, limit: int = 500) -> list[list[dict[str, np.ndarray]]]:
        """Per visitor awaiting review (last seen first, at most ``limit``), the vectors of its
        kept sightings by model: what the calibration page scores against the gallery."""
        rows = self.gallery._query(
            "SELECT s.visitor_id, s.id FROM sightings s JOIN visitors v ON v.id = s.visitor_id "
            "WHERE v.ignored = 0 AND v.id IN (SELECT id FROM visitors WHERE ignored = 0 "
            "ORDER BY last_seen DESC, id DESC LIMIT ?) ORDER BY v.last_seen DESC, s.id",
            (limit,))
        try:
            found = self._vectors(self.gallery._reader().db, [int(row[1]) for row in rows])
        except sqlite3.Error as exc:
            raise StorageError(f"the sightings could not be read: {exc}") from exc
        grouped: dict[int, list[dict[str, np.ndarray]]] = {}
        for visitor_id, sighting_id in rows:
            if int(sighting_id) in found:
                grouped.setdefault(int(visitor_id), []).append(found[int(sighting_id)])
        return list(grouped.values())

    # -- actions ------------------------------------------------------------------------------
    def set_ignored(self, text: str, ignored: bool) -> Visitor:
        """Ignore (later faces that match it are ``ignored``) or stop ignoring a visitor."""
        def work(db: sqlite3.Connection) -> tuple[None, list[int]]:
            vid = self._existing(db, text)
            db.execute("UPDATE visitors SET ignored = ? WHERE id = ?", (int(ignored), vid))
            return None, [vid]

        self._action(work)
        return self.get(text)

    def merge(self, text: str, into: str) -> Visitor:
        """Move ``text``'s sightings into ``into`` and delete ``text``; ``into`` keeps its
        status and its best sightings."""
        def work(db: sqlite3.Connection) -> tuple[None, list[int]]:
            source, target = self._existing(db, text), self._existing(db, into)
            if source == target:
                raise KnownFacesError(f"'{text[:32]}' cannot be merged into itself",
                                      code="same_visitor")
            recent = _recent([*_times(db.execute(
                "SELECT recent FROM visitors WHERE id = ?", (source,)).fetchone()[0]),
                *_times(db.execute(
                    "SELECT recent FROM visitors WHERE id = ?", (target,)).fetchone()[0])])
            db.execute("UPDATE visitors SET recent = ? WHERE id = ?", (json.dumps(recent), target))
            db.execute(
                "UPDATE visitors SET seen = seen + (SELECT seen FROM visitors WHERE id = :s), "
                "first_seen = min(first_seen, (SELECT first_seen FROM visitors WHERE id = :s)), "
                "last_seen = max(last_seen, (SELECT last_seen FROM visitors WHERE id = :s)) "
                "WHERE id = :t", {"s": source, "t": target})
            db.execute("UPDATE sightings SET visitor_id = ? WHERE visitor_id = ?",
                       (target, source))
            db.execute("DELETE FROM visitors WHERE id = ?", (source,))
            self._trim(db, target)
            return None, [source, target]

        self._action(work)
        return self.get(into)

    def forget(self, text: str) -> None:
        """Delete a visitor with its sightings' crops and vectors."""
        def work(db: sqlite3.Connection) -> tuple[None, list[int]]:
            vid = self._existing(db, text)
            db.execute("DELETE FROM visitors WHERE id = ?", (vid,))
            return None, [vid]

        self._action(work)

    def assign(self, text: str, gate: Gate, *, person: str | None = None,
               name: str | None = None) -> Assigned:
        """Make a visitor a person: its crops that pass ``gate`` are enrolled (best first),
        its sightings become the person's history and the visitor is gone, in one
        transaction. ``person`` is an existing slug; ``name`` creates a person, and a name
        that is taken is refused (DuplicateName naming the slug) rather than merging two
        people by accident. A new person needs at least one enrollable crop."""
        gallery = self.gallery
        clean = clean_name(name) if person is None else None

        def work(db: sqlite3.Connection) -> tuple[Assigned, list[int]]:
            vid = self._existing(db, text)
            if clean is not None:
                row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                                 (name_key(clean),)).fetchone()
                if row is not None:
                    raise DuplicateName(
                        f"'{clean}' is already enrolled as '{row[0]}'; to add this visitor to "
                        f"them, assign it to the person '{row[0]}' (by slug) instead")
            else:
                gallery._person_id(db, str(person))
            accepted, refused = [], []
            rows = db.execute("SELECT id, quality, crop, time FROM sightings WHERE "
                              "visitor_id = ? ORDER BY rank DESC, id", (vid,)).fetchall()
            stored = self._vectors(db, [int(row[0]) for row in rows])
            for sid, quality, crop, time in rows:
                measures = _measures(quality)
                vectors = {model: vector_blob(v) for model, v in stored.get(int(sid), {}).items()}
                problem = gate(measures) or self._unusable(vectors, crop)
                if problem is None:
                    accepted.append((measures, vectors, crop, time))
                else:
                    refused.append(Refused(int(sid), *problem))
            if clean is not None and not accepted:
                first = refused[0] if refused else Refused(0, "low_quality", "no crop is kept")
                raise EnrollmentRejected(
                    f"none of the visitor's crops passes the enrollment gates (best: "
                    f"{first.reason}); assign it to an existing person instead",
                    code=first.code)
            slug = (gallery._insert_person(db, clean, slugify(clean)) if clean is not None
                    else str(person))
            person_id = gallery._person_id(db, slug)
            faces = tuple(gallery._insert_face(db, person_id, crop, f"visitor {label(vid)}",
                                               measures, time, vectors)
                          for measures, vectors, crop, time in accepted)
            moved = db.execute("UPDATE sightings SET visitor_id = NULL, person_id = ? "
                               "WHERE visitor_id = ?", (person_id, vid)).rowcount
            db.execute("DELETE FROM visitors WHERE id = ?", (vid,))
            return Assigned(slug, clean is not None, faces, tuple(refused), moved), [vid]

        assigned: Assigned = self._action(work, change=True)
        return assigned

    def _unusable(self, vectors: Mapping[str, bytes], crop: object) -> tuple[str, str] | None:
        """Why a sighting cannot become an enrolled face (a row some other writer mangled, no
        readable vector of the primary model): the gallery would skip it at every read. A
        missing vector of another model is not a reason: the gallery re-embeds the crop."""
        try:
            if self.model not in vectors:
                raise Unusable(f"it has no readable {self.model} vector")
            if not isinstance(crop, bytes):
                raise Unusable("it is not binary data")
            check_crop(crop)
        except Unusable as exc:
            return "low_quality", f"the stored sighting is unusable ({exc})"
        return None

    def purge(self, days: int, now: datetime | None = None) -> tuple[int, int]:
        """Delete sightings older than ``days`` (visitors' and people's history) and the
        visitors left without any; (sightings, visitors) deleted."""
        cutoff = ((now or now_utc()) - timedelta(days=days)).isoformat()

        def work(db: sqlite3.Connection) -> tuple[tuple[int, int], list[int]]:
            touched = [int(r[0]) for r in db.execute(
                "SELECT DISTINCT visitor_id FROM sightings WHERE time < ? AND "
                "visitor_id IS NOT NULL", (cutoff,))]
            sightings = db.execute("DELETE FROM sightings WHERE time < ?", (cutoff,)).rowcount
            empty = [int(r[0]) for r in db.execute(
                "SELECT id FROM visitors WHERE id NOT IN "
                "(SELECT visitor_id FROM sightings WHERE visitor_id IS NOT NULL)")]
            db.executemany("DELETE FROM visitors WHERE id = ?", [(v,) for v in empty])
            return (sightings, len(empty)), sorted({*touched, *empty})

        result: tuple[int, int] = self._action(work)
        return result
