"""The gallery: enrolled people, their aligned face crops and embeddings, in SQLite (DESIGN §4).

Every change is one transaction, so a crash never leaves a face without its embedding or a
half-renamed person. Each change also bumps a version counter stored in the database: the
service notices changes made by another process (``known-faces enroll`` while it runs) by
re-reading that counter, and embeddings are tagged by model so a model change is handled by
re-embedding the stored crops instead of asking anybody to enroll again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DuplicateName, StorageError, UnknownFace, UnknownPerson
from ..pipeline.match import Matcher, PersonRef
from .names import clean_name, slugify

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    crop BLOB NOT NULL,
    source TEXT NOT NULL,
    quality TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
CREATE TABLE IF NOT EXISTS embeddings (
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (face_id, model)
);
CREATE TABLE IF NOT EXISTS unknown_sightings (
    id INTEGER PRIMARY KEY,
    crop BLOB NOT NULL,
    vector BLOB NOT NULL,
    model TEXT NOT NULL,
    camera TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    camera TEXT NOT NULL,
    time TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""

LOG = logging.getLogger(__name__)
KEEP_EVENTS = 500
KEEP_UNKNOWN_SIGHTINGS = 1000


def now_iso() -> str:
    """Current UTC time, ISO-8601."""
    return datetime.now(UTC).isoformat()


def name_key(name: str) -> str:
    """What makes two names the same name: case and spacing do not count."""
    return name.casefold()


@dataclass(frozen=True, slots=True)
class Person:
    """An enrolled person."""

    slug: str
    name: str
    face_count: int
    created: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form with the contract's field names (``person`` is the slug)."""
        return {"person": self.slug, "name": self.name, "face_count": self.face_count,
                "created": self.created}


@dataclass(frozen=True, slots=True)
class Face:
    """One enrolled face (its crop and vectors are fetched separately)."""

    id: int
    person: str
    source: str
    quality: dict[str, float]
    created: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "person": self.person, "source": self.source,
                "quality": self.quality, "created": self.created}


@dataclass(frozen=True, slots=True)
class StoredFace:
    """A face with everything needed to copy it: crop bytes and vectors by model."""

    face: Face
    crop: bytes
    vectors: dict[str, np.ndarray]


class Gallery:
    """The SQLite gallery of one data directory. Thread-safe; safe beside other processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path) -> Gallery:
        """The gallery in ``<data_dir>/gallery.db``, created if missing."""
        return cls(data_dir / "gallery.db")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that also bumps the version; rolled back on any error, and
        SQLite's own failures (disk full, I/O) reported as StorageError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute(
                        "INSERT INTO meta(key, value) VALUES ('version', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"the gallery could not be written: {exc}") from exc

    def _append_history(self, insert: str, params: Sequence[Any], table: str,
                        keep: int) -> bool:
        """Best effort: append to a history table (events, unknown sightings) and trim it.

        History is not the gallery: when it cannot be written (disk full) the recognition it
        records must still be published, so a failure is logged and reported as False.
        """
        with self._lock:
            try:
                self._db.execute(insert, params)
                self._db.execute(
                    f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?", (keep,))
            except sqlite3.Error as exc:
                LOG.warning("could not record %s: %s", table, exc)
                return False
        return True

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            return cursor.fetchall()

    # -- version ----------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Bumped by every change, from any process."""
        rows = self._query("SELECT value FROM meta WHERE key = 'version'")
        return int(rows[0][0]) if rows else 0

    # -- people -----------------------------------------------------------------------------
    def people(self) -> list[Person]:
        """Everybody, by name."""
        rows = self._query(
            "SELECT p.slug, p.name, COUNT(f.id), p.created FROM people p "
            "LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name_key"
        )
        return [Person(*row) for row in rows]

    def person(self, slug: str) -> Person:
        """One person; UnknownPerson when nobody has this slug."""
        rows = self._query(
            "SELECT p.slug, p.name, COUNT(f.id), p.created FROM people p "
            "LEFT JOIN faces f ON f.person_id = p.id WHERE p.slug = ? GROUP BY p.id",
            (slug,),
        )
        if not rows:
            raise UnknownPerson(f"nobody is enrolled as '{slug}'")
        return Person(*rows[0])

    def find_by_name(self, name: str) -> Person | None:
        """The person with this name (case-insensitive), if any."""
        rows = self._query("SELECT slug FROM people WHERE name_key = ?",
                           (name_key(clean_name(name)),))
        return self.person(rows[0][0]) if rows else None

    def _person_id(self, db: sqlite3.Connection, slug: str) -> int:
        row = db.execute("SELECT id FROM people WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            raise UnknownPerson(f"nobody is enrolled as '{slug}'")
        return int(row[0])

    def _free_slug(self, db: sqlite3.Connection, base: str) -> str:
        slug, n = base, 1
        while db.execute("SELECT 1 FROM people WHERE slug = ?", (slug,)).fetchone():
            n += 1
            slug = f"{base}_{n}"
        return slug

    def _check_name_free(self, db: sqlite3.Connection, name: str, except_slug: str = "") -> None:
        row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                         (name_key(name),)).fetchone()
        if row is not None and row[0] != except_slug:
            raise DuplicateName(f"'{name}' is already enrolled (as '{row[0]}')")

    def create_person(self, name: str, slug: str | None = None) -> Person:
        """Add a person; InvalidName / DuplicateName on a bad or taken name."""
        name = clean_name(name)
        with self._transaction() as db:
            self._check_name_free(db, name)
            slug = self._free_slug(db, slug or slugify(name))
            db.execute("INSERT INTO people(slug, name, name_key, created) VALUES (?, ?, ?, ?)",
                       (slug, name, name_key(name), now_iso()))
        return self.person(slug)

    def rename_person(self, slug: str, name: str) -> Person:
        """Change the display name; the slug stays, so topics and entities keep working."""
        name = clean_name(name)
        with self._transaction() as db:
            self._person_id(db, slug)
            self._check_name_free(db, name, except_slug=slug)
            db.execute("UPDATE people SET name = ?, name_key = ? WHERE slug = ?",
                       (name, name_key(name), slug))
        return self.person(slug)

    def delete_person(self, slug: str) -> None:
        """Forget a person with all their crops and vectors."""
        with self._transaction() as db:
            person_id = self._person_id(db, slug)
            db.execute("DELETE FROM people WHERE id = ?", (person_id,))

    # -- faces ------------------------------------------------------------------------------
    def add_face(
        self,
        slug: str,
        crop_jpeg: bytes,
        vector: np.ndarray,
        model: str,
        source: str,
        quality: dict[str, float],
    ) -> Face:
        """Store a face's crop and its embedding together, in one transaction."""
        with self._transaction() as db:
            person_id = self._person_id(db, slug)
            cursor = db.execute(
                "INSERT INTO faces(person_id, crop, source, quality, created) VALUES (?,?,?,?,?)",
                (person_id, crop_jpeg, source, json.dumps(quality), now_iso()),
            )
            face_id = int(cursor.lastrowid or 0)
            db.execute("INSERT INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)",
                       (face_id, model, np.asarray(vector, dtype=np.float32).tobytes()))
        return self.face(slug, face_id)

    def add_face_by_name(
        self,
        name: str,
        crop_jpeg: bytes,
        vector: np.ndarray,
        model: str,
        source: str,
        quality: dict[str, float],
    ) -> tuple[Face, bool]:
        """Add a face to the person called ``name``, creating them in the same transaction.

        Returns the face and whether the person was created. Because the person and the face
        are written together, a refused or failed enrollment never leaves an empty person
        behind (nor a device that appears and vanishes in Home Assistant).
        """
        name = clean_name(name)
        with self._transaction() as db:
            row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                             (name_key(name),)).fetchone()
            created = row is None
            if created:
                slug = self._free_slug(db, slugify(name))
                db.execute(
                    "INSERT INTO people(slug, name, name_key, created) VALUES (?, ?, ?, ?)",
                    (slug, name, name_key(name), now_iso()))
            else:
                slug = row[0]
            person_id = self._person_id(db, slug)
            cursor = db.execute(
                "INSERT INTO faces(person_id, crop, source, quality, created) VALUES (?,?,?,?,?)",
                (person_id, crop_jpeg, source, json.dumps(quality), now_iso()),
            )
            face_id = int(cursor.lastrowid or 0)
            db.execute("INSERT INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)",
                       (face_id, model, np.asarray(vector, dtype=np.float32).tobytes()))
        return self.face(slug, face_id), created

    def faces(self, slug: str) -> list[Face]:
        """A person's faces, oldest first."""
        self.person(slug)
        rows = self._query(
            "SELECT f.id, p.slug, f.source, f.quality, f.created FROM faces f "
            "JOIN people p ON p.id = f.person_id WHERE p.slug = ? ORDER BY f.id",
            (slug,),
        )
        return [Face(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def face(self, slug: str, face_id: int) -> Face:
        """One face of a person; UnknownFace when the person has no such face."""
        for face in self.faces(slug):
            if face.id == face_id:
                return face
        raise UnknownFace(f"'{slug}' has no face {face_id}")

    def face_crop(self, slug: str, face_id: int) -> bytes:
        """The aligned 112×112 crop, JPEG."""
        rows = self._query(
            "SELECT f.crop FROM faces f JOIN people p ON p.id = f.person_id "
            "WHERE p.slug = ? AND f.id = ?",
            (slug, face_id),
        )
        if not rows:
            self.person(slug)
            raise UnknownFace(f"'{slug}' has no face {face_id}")
        return bytes(rows[0][0])

    def delete_face(self, slug: str, face_id: int) -> None:
        """Delete one face with its vectors."""
        with self._transaction() as db:
            person_id = self._person_id(db, slug)
            cursor = db.execute("DELETE FROM faces WHERE id = ? AND person_id = ?",
                                (face_id, person_id))
            if cursor.rowcount == 0:
                raise UnknownFace(f"'{slug}' has no face {face_id}")

    def stored_faces(self) -> Iterator[StoredFace]:
        """Every face with its crop and vectors (for export)."""
        for person in self.people():
            for face in self.faces(person.slug):
                vectors = {
                    model: np.frombuffer(blob, dtype=np.float32)
                    for model, blob in self._query(
                        "SELECT model, vector FROM embeddings WHERE face_id = ?", (face.id,))
                }
                yield StoredFace(face, self.face_crop(person.slug, face.id), vectors)

    # -- embeddings by model ----------------------------------------------------------------
    def faces_missing_embeddings(self, model: str) -> list[tuple[int, bytes]]:
        """(face id, crop) of every face with no vector from ``model``: to re-embed."""
        rows = self._query(
            "SELECT f.id, f.crop FROM faces f WHERE NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model = ?) ORDER BY f.id",
            (model,),
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def store_embeddings(self, model: str, vectors: Sequence[tuple[int, np.ndarray]]) -> None:
        """Add vectors from ``model`` for existing faces, all in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)",
                [(fid, model, np.asarray(v, dtype=np.float32).tobytes()) for fid, v in vectors],
            )

    def matcher(self, model: str) -> Matcher:
        """An immutable matcher over every vector from ``model``."""
        rows = self._query(
            "SELECT p.slug, p.name, e.vector FROM people p JOIN faces f ON f.person_id = p.id "
            "JOIN embeddings e ON e.face_id = f.id AND e.model = ? ORDER BY p.id, f.id",
            (model,),
        )
        people: list[PersonRef] = []
        grouped: list[list[np.ndarray]] = []
        for slug, name, blob in rows:
            if not people or people[-1].slug != slug:
                people.append(PersonRef(slug, name))
                grouped.append([])
            grouped[-1].append(np.frombuffer(blob, dtype=np.float32))
        return Matcher(people, [np.vstack(g) for g in grouped])

    # -- unknown sightings and events -------------------------------------------------------
    def add_unknown_sighting(self, crop_jpeg: bytes, vector: np.ndarray, model: str,
                             camera: str, time: str) -> bool:
        """Keep an unknown face for later clustering; only the newest ones are kept."""
        return self._append_history(
            "INSERT INTO unknown_sightings(crop, vector, model, camera, time) "
            "VALUES (?, ?, ?, ?, ?)",
            (crop_jpeg, np.asarray(vector, dtype=np.float32).tobytes(), model, camera, time),
            "unknown_sightings", KEEP_UNKNOWN_SIGHTINGS,
        )

    def unknown_sighting_count(self) -> int:
        """How many unknown faces are kept."""
        return int(self._query("SELECT COUNT(*) FROM unknown_sightings")[0][0])

    def record_event(self, event: dict[str, Any]) -> bool:
        """Keep a ``person_detected`` event for ``/events``; only the newest are kept."""
        return self._append_history(
            "INSERT INTO events(event_id, camera, time, payload) VALUES (?, ?, ?, ?)",
            (event["event_id"], event["camera"], event["time"], json.dumps(event)),
            "events", KEEP_EVENTS,
        )

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self._query("SELECT payload FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    # -- bulk -------------------------------------------------------------------------------
    def replace_all(self, people: Sequence[tuple[str, str]],
                    faces: Sequence[tuple[str, StoredFace]], *, merge: bool) -> tuple[int, int]:
        """Import people ``(slug, name)`` and their faces in one transaction.

        ``merge`` adds to what is there (a person with the same name receives the faces);
        otherwise the gallery is emptied first. Returns (people added, faces added).
        """
        with self._transaction() as db:
            if not merge:
                db.execute("DELETE FROM people")
            slugs: dict[str, str] = {}
            added_people = 0
            for slug, raw_name in people:
                name = clean_name(raw_name)
                row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                                 (name_key(name),)).fetchone()
                if row:
                    slugs[slug] = row[0]
                    continue
                new_slug = self._free_slug(db, slugify(slug) if slug else slugify(name))
                db.execute(
                    "INSERT INTO people(slug, name, name_key, created) VALUES (?, ?, ?, ?)",
                    (new_slug, name, name_key(name), now_iso()))
                slugs[slug] = new_slug
                added_people += 1
            for slug, stored in faces:
                person_id = self._person_id(db, slugs[slug])
                cursor = db.execute(
                    "INSERT INTO faces(person_id, crop, source, quality, created) "
                    "VALUES (?,?,?,?,?)",
                    (person_id, stored.crop, stored.face.source, json.dumps(stored.face.quality),
                     stored.face.created),
                )
                db.executemany(
                    "INSERT INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)",
                    [(cursor.lastrowid, model, v.astype(np.float32).tobytes())
                     for model, v in stored.vectors.items()],
                )
        return added_people, len(faces)
