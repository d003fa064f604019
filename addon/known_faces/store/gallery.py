"""The gallery: enrolled people, their aligned face crops and embeddings, in SQLite (DESIGN §4).

Every change is one transaction, so a crash never leaves a face without its embedding or a
half-renamed person. Writes go through one writer connection, one at a time (a Python lock in
this process, ``BEGIN IMMEDIATE`` against other processes); reads use one connection per thread,
so a recognition never waits behind an import, and WAL mode lets those readers see the last
commit while a write is under way.

Changes are noticed with ``PRAGMA data_version``, which moves when another connection commits;
the writer is another connection to every reader, so a reader sees this process's changes as
well as other processes'. Only then is the persistent ``meta`` version read: it moves only when
the gallery itself changed (not when an event is recorded), means the same in every process and
after a restart, and is what ``Gallery.version`` reports.

Rows that cannot be used (a vector of the wrong length, not finite or not unit length, an
undecodable crop, unreadable JSON), whoever wrote them, are skipped and listed by ``problems()``
instead of stopping the service; a face whose vector is unusable but whose crop is good is
re-embedded like a face of a new model. Embeddings are tagged by model, so a model change
re-embeds the stored crops instead of asking anybody to enroll again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import stat
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DuplicateName, StorageError, UnknownFace, UnknownPerson
from ..pipeline.match import Matcher, PersonRef
from .migrations import migrate
from .names import clean_name, slugify
from .transaction import immediate
from .validate import CATALOGUE_DIMS, Unusable, check_crop, crop_digest, parse_vector

LOG = logging.getLogger(__name__)
KEEP_EVENTS = 500
BUSY_TIMEOUT_S = 10.0
#: Largest id SQLite stores; a bigger face id names no face (rather than overflowing).
MAX_ROW_ID = 2**63 - 1
#: Problems named in one log line; the rest are counted (``problems()`` has them all).
LOGGED_PROBLEMS = 5


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


def make_private(path: Path) -> None:
    """Take group and other access away from ``path`` (crops and vectors are biometric data).

    Files made by releases that did not do this, or copied in with a lax umask, are fixed at
    open. A path we do not own (a data dir mounted by someone else) is left alone with a warning
    rather than stopping the service, and so is a shared directory such as ``/tmp`` (sticky
    bit) given as the data dir: closing it would break every other user of it.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_ISVTX:
        LOG.warning("%s is a shared directory; only the gallery's own files are made private",
                    path)
    elif mode & 0o077:
        try:
            path.chmod(mode & ~0o077)
        except PermissionError:
            LOG.warning("%s is readable by other users and cannot be made private", path)


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file if missing, so SQLite never creates it with the
    umask's permissions (its ``-wal`` and ``-shm`` files copy the database's)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    make_private(path)


class _Problems:
    """Unusable rows, by the read that found them, so each read's report replaces its last one
    and a repaired row drops out; a problem is logged when it is first seen, not at every read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_read: dict[str, dict[str, str]] = {}

    def report(self, read: str, found: dict[str, str]) -> None:
        """``found`` maps a row (``face 12``) to what is wrong with it."""
        with self._lock:
            previous = self._by_read.pop(read, {})
            if found:
                self._by_read[read] = found
        new = [f"{row}: {why}" for row, why in found.items() if previous.get(row) != why]
        if new:
            more = f" (and {len(new) - LOGGED_PROBLEMS} more)" if len(new) > LOGGED_PROBLEMS else ""
            LOG.warning("gallery: skipping unusable rows: %s%s",
                        "; ".join(new[:LOGGED_PROBLEMS]), more)

    def all(self) -> list[str]:
        """One line per unusable row (what every read found wrong with it), sorted."""
        by_row: dict[str, list[str]] = {}
        with self._lock:
            for found in self._by_read.values():
                for row, why in found.items():
                    if why not in by_row.setdefault(row, []):
                        by_row[row].append(why)
        return sorted(f"{row}: {'; '.join(whys)}" for row, whys in by_row.items())


@dataclass(slots=True)
class _Reader:
    """One thread's read-only connection and the change counters it last saw."""

    db: sqlite3.Connection
    thread: weakref.ref[threading.Thread]
    data_version: int = -1
    version: int = 0

    @property
    def alive(self) -> bool:
        """Whether the thread that owns the connection still runs."""
        thread = self.thread()
        return thread is not None and thread.is_alive()


@dataclass(slots=True)
class _Vectors:
    """One model's vectors as read: the usable ones by face, and why the others are not."""

    usable: dict[int, np.ndarray] = field(default_factory=dict)
    unusable: dict[int, str] = field(default_factory=dict)


def _quality(text: object) -> dict[str, float] | None:
    """A face's stored quality measures; None when they are not a JSON object of numbers."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in value.values()
    ):
        return None
    return value


def vector_blob(vector: np.ndarray) -> bytes:
    """A vector as stored; Unusable (a ValueError) for one the gallery's reads would skip, so
    nothing is written that a later read would have to throw away."""
    values = np.asarray(vector, dtype=np.float32)
    if values.ndim != 1:
        raise Unusable(f"it has shape {values.shape}, not one dimension")
    blob = values.tobytes()
    parse_vector(blob, len(values))
    return blob


def _blobs(model: str, vector: np.ndarray,
           extra: dict[str, np.ndarray] | None) -> dict[str, bytes]:
    """A new face's vectors as stored, by model: the primary one and any others."""
    return {model: vector_blob(vector), **{m: vector_blob(v) for m, v in (extra or {}).items()}}


class Gallery:
    """The SQLite gallery of one data directory. Thread-safe; safe beside other processes.

    ``_db`` is the one writer connection (tests limit its size to simulate a full disk).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._readers_lock = threading.Lock()
        self._readers: list[_Reader] = []
        self._local = threading.local()
        self._problems = _Problems()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            make_private(path.parent)
            _create_private(path)
            self._db = self._connect()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"the gallery {path} could not be opened: {exc}") from exc
        try:
            migrate(self._db)  # first: a newer gallery is refused before anything is changed
            self._db.execute("PRAGMA journal_mode=WAL")
            for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if side.exists():
                    make_private(side)
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"the gallery {path} could not be opened: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, data_dir: Path) -> Gallery:
        """The gallery in ``<data_dir>/gallery.db``, created if missing."""
        return cls(data_dir / "gallery.db")

    def close(self) -> None:
        """Close the writer and every thread's reader."""
        with self._write_lock, self._readers_lock:
            self._db.close()
            for reader in self._readers:
                reader.db.close()
            self._readers.clear()

    def _connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit), usable from the thread
        that closes it."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=BUSY_TIMEOUT_S)
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _reader(self) -> _Reader:
        """This thread's read-only connection, opened on first use. Readers of threads that have
        ended are closed here, so a pool that replaces its threads does not leak connections."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is not None:
            return reader
        db = self._connect()
        db.execute("PRAGMA query_only=ON")
        reader = _Reader(db, weakref.ref(threading.current_thread()))
        with self._readers_lock:
            for ended in [r for r in self._readers if not r.alive]:
                ended.db.close()
                self._readers.remove(ended)
            self._readers.append(reader)
        self._local.reader = reader
        return reader

    @contextmanager
    def _write(self, *, change: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection, rolled back on any error; SQLite's own
        failures (disk full, I/O, locked too long) are reported as StorageError. With ``change``
        the gallery version moves if any row did (a history record is not a gallery change)."""
        with self._write_lock, immediate(self._db, "the gallery could not be written") as db:
            before = db.total_changes
            yield db
            if change and db.total_changes != before:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('version', '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )

    def _append_history(self, insert: str, params: Sequence[Any], table: str,
                        keep: int) -> bool:
        """Best effort: append to a history table (events, unknown sightings) and trim it.

        History is not the gallery: when it cannot be written (disk full) the recognition it
        records must still be published, so a failure is logged and reported as False.
        """
        try:
            with self._write(change=False) as db:
                db.execute(insert, params)
                db.execute(
                    f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?", (keep,))
        except StorageError as exc:
            LOG.warning("could not record %s: %s", table, exc)
            return False
        return True

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of one read on this thread's connection (one consistent snapshot)."""
        try:
            return self._reader().db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"the gallery could not be read: {exc}") from exc

    # -- version and health -----------------------------------------------------------------
    @property
    def version(self) -> int:
        """Moves with every change of the gallery, from any process; cheap when nothing changed
        (one ``PRAGMA data_version``, no lock)."""
        reader = self._reader()
        try:
            data_version = int(reader.db.execute("PRAGMA data_version").fetchone()[0])
            if data_version != reader.data_version:
                row = reader.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                reader.version = _stored_version(row[0] if row else 0)
                reader.data_version = data_version
        except sqlite3.Error as exc:
            raise StorageError(f"the gallery could not be read: {exc}") from exc
        return reader.version

    def problems(self) -> list[str]:
        """The rows that the latest reads skipped as unusable, one line each (for ``/health``);
        empty when the gallery is sound. From memory: it runs no query."""
        return self._problems.all()

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

    def _insert_person(self, db: sqlite3.Connection, name: str, slug: str) -> str:
        slug = self._free_slug(db, slug)
        db.execute("INSERT INTO people(slug, name, name_key, created) VALUES (?, ?, ?, ?)",
                   (slug, name, name_key(name), now_iso()))
        return slug

    def create_person(self, name: str, slug: str | None = None) -> Person:
        """Add a person; InvalidName / DuplicateName on a bad or taken name."""
        name = clean_name(name)
        with self._write() as db:
            self._check_name_free(db, name)
            slug = self._insert_person(db, name, slug or slugify(name))
        return self.person(slug)

    def rename_person(self, slug: str, name: str) -> Person:
        """Change the display name; the slug stays, so topics and entities keep working."""
        name = clean_name(name)
        with self._write() as db:
            self._person_id(db, slug)
            self._check_name_free(db, name, except_slug=slug)
            db.execute("UPDATE people SET name = ?, name_key = ? WHERE slug = ?",
                       (name, name_key(name), slug))
        return self.person(slug)

    def delete_person(self, slug: str) -> None:
        """Forget a person with all their crops and vectors."""
        with self._write() as db:
            person_id = self._person_id(db, slug)
            db.execute("DELETE FROM people WHERE id = ?", (person_id,))

    # -- faces ------------------------------------------------------------------------------
    def _insert_face(self, db: sqlite3.Connection, person_id: int, crop: bytes, source: str,
                     quality: dict[str, float], created: str, vectors: dict[str, bytes]) -> int:
        """A face row with its vectors (blobs by model), in the caller's transaction."""
        cursor = db.execute(
            "INSERT INTO faces(person_id, crop, crop_sha256, source, quality, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (person_id, crop, crop_digest(crop), source, json.dumps(quality), created),
        )
        face_id = int(cursor.lastrowid or 0)
        db.executemany("INSERT INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)",
                       [(face_id, model, blob) for model, blob in vectors.items()])
        return face_id

    def add_face(
        self,
        slug: str,
        crop_jpeg: bytes,
        vector: np.ndarray,
        model: str,
        source: str,
        quality: dict[str, float],
        extra: dict[str, np.ndarray] | None = None,
    ) -> Face:
        """Store a face's crop and its embedding together (and ``extra`` vectors of other
        models, by model id), in one transaction."""
        vectors = _blobs(model, vector, extra)
        with self._write() as db:
            face_id = self._insert_face(db, self._person_id(db, slug), crop_jpeg, source,
                                        quality, now_iso(), vectors)
        return self.face(slug, face_id)

    def add_face_by_name(
        self,
        name: str,
        crop_jpeg: bytes,
        vector: np.ndarray,
        model: str,
        source: str,
        quality: dict[str, float],
        extra: dict[str, np.ndarray] | None = None,
    ) -> tuple[Face, bool]:
        """Add a face to the person called ``name``, creating them in the same transaction.

        Returns the face and whether the person was created. Because the person and the face
        are written together, a refused or failed enrollment never leaves an empty person
        behind (nor a device that appears and vanishes in Home Assistant).
        """
        name = clean_name(name)
        vectors = _blobs(model, vector, extra)
        with self._write() as db:
            row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                             (name_key(name),)).fetchone()
            created = row is None
            slug = self._insert_person(db, name, slugify(name)) if created else row[0]
            face_id = self._insert_face(db, self._person_id(db, slug), crop_jpeg, source,
                                        quality, now_iso(), vectors)
        return self.face(slug, face_id), created

    def faces(self, slug: str) -> list[Face]:
        """A person's faces, oldest first (a face whose stored quality is unreadable is listed
        with none, and reported)."""
        self.person(slug)
        rows = self._query(
            "SELECT f.id, p.slug, f.source, f.quality, f.created FROM faces f "
            "JOIN people p ON p.id = f.person_id WHERE p.slug = ? ORDER BY f.id",
            (slug,),
        )
        faces, unreadable = [], {}
        for face_id, person, source, text, created in rows:
            quality = _quality(text)
            if quality is None:
                unreadable[f"face {face_id}"] = "its quality is not a JSON object of numbers"
            faces.append(Face(face_id, person, source, quality or {}, created))
        self._problems.report(f"quality of {slug}", unreadable)
        return faces

    def face(self, slug: str, face_id: int) -> Face:
        """One face of a person; UnknownFace when the person has no such face."""
        for face in self.faces(slug):
            if face.id == face_id:
                return face
        raise UnknownFace(f"'{slug}' has no face {face_id}")

    def face_crop(self, slug: str, face_id: int) -> bytes:
        """The aligned crop, JPEG."""
        rows = self._query(
            "SELECT f.crop FROM faces f JOIN people p ON p.id = f.person_id "
            "WHERE p.slug = ? AND f.id = ?",
            (slug, face_id if 0 < face_id <= MAX_ROW_ID else 0),
        )
        if not rows:
            self.person(slug)
            raise UnknownFace(f"'{slug}' has no face {face_id}")
        return bytes(rows[0][0])

    def delete_face(self, slug: str, face_id: int) -> None:
        """Delete one face with its vectors."""
        with self._write() as db:
            person_id = self._person_id(db, slug)
            cursor = db.execute("DELETE FROM faces WHERE id = ? AND person_id = ?",
                                (face_id if 0 < face_id <= MAX_ROW_ID else 0, person_id))
            if cursor.rowcount == 0:
                raise UnknownFace(f"'{slug}' has no face {face_id}")

    def _crop(self, face_id: int) -> bytes | str:
        """A face's crop, or why it cannot be re-embedded."""
        rows = self._query("SELECT crop FROM faces WHERE id = ?", (face_id,))
        crop = rows[0][0] if rows else None
        if not isinstance(crop, bytes):
            return "its crop is not binary data"
        try:
            check_crop(crop)
        except Unusable as exc:
            return f"its crop is unusable ({exc})"
        return crop

    def stored_faces(self) -> Iterator[StoredFace]:
        """Every usable face with its crop and usable vectors (for export); a face whose crop is
        unusable is left out and reported, as an import would refuse it."""
        vectors = {model: self._vectors(model) for model in self._models()}
        unusable: dict[str, str] = {}
        for person in self.people():
            for face in self.faces(person.slug):
                crop = self._crop(face.id)
                if isinstance(crop, str):
                    unusable[f"face {face.id}"] = f"not exported: {crop}"
                    continue
                yield StoredFace(face, crop, {
                    model: read.usable[face.id]
                    for model, read in vectors.items() if face.id in read.usable
                })
        self._problems.report("export", unusable)

    # -- embeddings by model ----------------------------------------------------------------
    def _models(self) -> list[str]:
        return [row[0] for row in self._query("SELECT DISTINCT model FROM embeddings")]

    def _vectors(self, model: str, dim: int | None = None) -> _Vectors:
        """Every face's ``model`` vector, checked: ``dim`` long (by default the catalogue's
        dimension, else the most common one of this model), finite and unit length."""
        if dim is None:
            dim = CATALOGUE_DIMS.get(model)
        if dim is None:
            common = self._query(
                "SELECT length(vector) FROM embeddings WHERE model = ? GROUP BY 1 "
                "ORDER BY COUNT(*) DESC, 1 LIMIT 1", (model,))
            dim = int(common[0][0]) // 4 if common else 0
        read = _Vectors()
        for face_id, blob in self._query(
            "SELECT face_id, vector FROM embeddings WHERE model = ? ORDER BY face_id", (model,)
        ):
            try:
                if not isinstance(blob, bytes):
                    raise Unusable("it is not a binary blob")
                read.usable[face_id] = parse_vector(blob, dim)
            except Unusable as exc:
                read.unusable[face_id] = f"its {model} vector is unusable ({exc})"
        return read

    def faces_missing_embeddings(self, model: str,
                                 dim: int | None = None) -> list[tuple[int, bytes]]:
        """(face id, crop) of every face with no usable vector from ``model``: to (re-)embed.

        A face whose crop cannot be embedded either is left out and reported, so a bad row is
        neither fed to the embedder nor retried at every refresh.
        """
        usable = self._vectors(model, dim).usable
        missing, unusable = [], {}
        for (face_id,) in self._query("SELECT id FROM faces ORDER BY id"):
            if face_id in usable:
                continue
            crop = self._crop(face_id)
            if isinstance(crop, str):
                unusable[f"face {face_id}"] = f"it has no usable {model} vector and {crop}"
            else:
                missing.append((int(face_id), crop))
        self._problems.report(f"{model} embedding", unusable)
        return missing

    def store_embeddings(self, model: str, vectors: Sequence[tuple[int, np.ndarray]]) -> None:
        """Add (or replace unusable) vectors from ``model`` for existing faces, all in one
        transaction. A vector the embedder got wrong (NaN from a broken custom model) is
        reported and not stored, rather than failing the re-embedding at start-up."""
        blobs, unusable = [], {}
        for face_id, vector in vectors:
            try:
                blobs.append((face_id, model, vector_blob(vector)))
            except Unusable as exc:
                unusable[f"face {face_id}"] = f"{model} gave it an unusable vector ({exc})"
        self._problems.report(f"{model} re-embedding", unusable)
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings(face_id, model, vector) VALUES (?, ?, ?)", blobs)

    def matcher(self, model: str, dim: int | None = None) -> Matcher:
        """An immutable matcher over every usable vector from ``model`` (``dim`` long: by
        default the catalogue's dimension for the model, else its most common one); unusable
        vectors are left out and reported."""
        read = self._vectors(model, dim)
        rows = self._query(
            "SELECT p.slug, p.name, f.id FROM people p JOIN faces f ON f.person_id = p.id "
            "ORDER BY p.id, f.id")
        people: list[PersonRef] = []
        grouped: list[list[np.ndarray]] = []
        for slug, name, face_id in rows:
            if face_id not in read.usable:
                continue
            if not people or people[-1].slug != slug:
                people.append(PersonRef(slug, name))
                grouped.append([])
            grouped[-1].append(read.usable[face_id])
        self._problems.report(f"{model} vectors",
                              {f"face {fid}": why for fid, why in read.unusable.items()})
        return Matcher(people, [np.vstack(g) for g in grouped])

    # -- unknown sightings and events -------------------------------------------------------
    def unknown_sighting_count(self) -> int:
        """How many unknown faces are kept (as visitors' sightings, ``store.visitors``)."""
        return int(self._query(
            "SELECT COUNT(*) FROM sightings WHERE visitor_id IS NOT NULL")[0][0])

    def record_event(self, event: dict[str, Any]) -> bool:
        """Keep a ``person_detected`` event for ``/events``; only the newest are kept."""
        return self._append_history(
            "INSERT INTO events(event_id, camera, time, payload) VALUES (?, ?, ?, ?)",
            (event["event_id"], event["camera"], event["time"], json.dumps(event)),
            "events", KEEP_EVENTS,
        )

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first; an event that is not a readable JSON object is skipped and reported."""
        events, unreadable = [], {}
        for event_id, payload in self._query(
            "SELECT id, payload FROM events ORDER BY id DESC LIMIT ?", (limit,)
        ):
            try:
                event = json.loads(payload)
            except (TypeError, ValueError):
                event = None
            if isinstance(event, dict):
                events.append(event)
            else:
                unreadable[f"event {event_id}"] = "it is not a JSON object"
        self._problems.report("events", unreadable)
        return events

    # -- bulk -------------------------------------------------------------------------------
    def replace_all(self, people: Sequence[tuple[str, str]],
                    faces: Sequence[tuple[str, StoredFace]], *, merge: bool) -> tuple[int, int]:
        """Import people ``(slug, name)`` and their faces in one transaction.

        ``merge`` adds to what is there: a person with the same name receives the faces, and a
        face whose crop that person already has is not added again, so merging the same
        archive twice changes nothing. Otherwise the gallery is emptied first. The caller has
        checked names, crops and vectors (``archive.read_archive``). Returns (people added,
        faces added).
        """
        with self._write() as db:
            if not merge:
                db.execute("DELETE FROM people")
            ids: dict[str, int] = {}
            added_people = added_faces = 0
            for slug, raw_name in people:
                name = clean_name(raw_name)
                row = db.execute("SELECT slug FROM people WHERE name_key = ?",
                                 (name_key(name),)).fetchone()
                if row is None:
                    row = (self._insert_person(db, name, slugify(slug) if slug else slugify(name)),)
                    added_people += 1
                ids[slug] = self._person_id(db, row[0])
            for slug, stored in faces:
                if db.execute("SELECT 1 FROM faces WHERE person_id = ? AND crop_sha256 = ?",
                              (ids[slug], crop_digest(stored.crop))).fetchone():
                    continue
                self._insert_face(db, ids[slug], stored.crop, stored.face.source,
                                  stored.face.quality, stored.face.created,
                                  {model: vector_blob(v) for model, v in stored.vectors.items()})
                added_faces += 1
        return added_people, added_faces


def _stored_version(value: object) -> int:
    """The ``meta`` version as an int; a value some other writer mangled reads as 0 (the next
    change repairs it) rather than stopping every reader."""
    try:
        return int(str(value))
    except ValueError:
        return 0
