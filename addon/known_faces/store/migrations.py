"""The gallery's schema and its forward migrations, versioned with ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``. Version 0 is an empty file or
the unversioned schema that releases before schema versioning created (it never set
``user_version``), so a fresh gallery and an old one run the same code. All pending migrations
run in one transaction at open: a crash half-way leaves the old schema, and two processes
opening at once migrate once (the second waits on ``BEGIN IMMEDIATE`` and then finds nothing to
do). A database from a newer release is refused rather than guessed at.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from ..errors import StorageError
from .transaction import immediate
from .validate import crop_digest

#: What releases before schema versioning created (user_version 0); kept verbatim because
#: migration 1 starts from it.
SCHEMA_0 = """
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

#: Version 1: people and faces get AUTOINCREMENT ids, so the id of a deleted face (which the
#: API, the archive and events expose) never comes back for another face; faces carry the
#: sha256 of their crop, the content identity that makes importing the same archive twice a
#: no-op.
_SCHEMA_1_REBUILD = """
CREATE TABLE people_v1 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
INSERT INTO people_v1(id, slug, name, name_key, created)
    SELECT id, slug, name, name_key, created FROM people;
CREATE TABLE faces_v1 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    crop BLOB NOT NULL,
    crop_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    quality TEXT NOT NULL,
    created TEXT NOT NULL
);
INSERT INTO faces_v1(id, person_id, crop, crop_sha256, source, quality, created)
    SELECT id, person_id, crop, crop_sha256(crop), source, quality, created FROM faces
    WHERE person_id IN (SELECT id FROM people);
DROP TABLE faces;
DROP TABLE people;
ALTER TABLE people_v1 RENAME TO people;
ALTER TABLE faces_v1 RENAME TO faces;
CREATE INDEX faces_person ON faces(person_id, crop_sha256);
DELETE FROM embeddings WHERE face_id NOT IN (SELECT id FROM faces);
"""


def _digest(crop: object) -> str:
    """``crop_sha256()`` in SQL: a crop stored as TEXT by some other writer still gets one."""
    return crop_digest(crop if isinstance(crop, bytes) else str(crop).encode())


def _to_1(db: sqlite3.Connection) -> None:
    """Rebuild people and faces (SQLite cannot add AUTOINCREMENT to a table in place).

    Rows that were already unreachable (a face of a deleted person, a vector of a deleted face:
    possible only if some writer ran without foreign keys) are not carried over.
    """
    db.create_function("crop_sha256", 1, _digest, deterministic=True)
    for statement in (SCHEMA_0 + _SCHEMA_1_REBUILD).split(";"):
        if statement.strip():
            db.execute(statement)


#: Version 2: unknown faces grouped into visitors (DESIGN §9). A sighting belongs to a visitor
#: until the visitor is assigned, then to the person (its history moves with it); ``label`` is
#: the visitor id it was seen under, kept after the move. Visitor ids are AUTOINCREMENT, so
#: ``v_0042`` never names another stranger once forgotten; ``recent`` holds the times of a
#: visitor's latest sightings (JSON), kept or not, for "how often in the last day";
#: ``last_visit`` the source's key of its latest visit (a Frigate event, a stream track), so the
#: frames of one visit count as one sighting. The
#: ungrouped ``unknown_sightings`` of earlier releases were never shown anywhere and are dropped.
_SCHEMA_2 = """
CREATE TABLE visitors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    seen INTEGER NOT NULL,
    ignored INTEGER NOT NULL DEFAULT 0,
    recent TEXT NOT NULL DEFAULT '[]',
    last_visit TEXT
);
CREATE TABLE sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id INTEGER REFERENCES visitors(id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    time TEXT NOT NULL,
    camera TEXT NOT NULL,
    score REAL,
    quality TEXT NOT NULL,
    rank REAL NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    crop BLOB NOT NULL,
    CHECK ((visitor_id IS NULL) <> (person_id IS NULL))
);
CREATE INDEX sightings_visitor ON sightings(visitor_id);
CREATE INDEX sightings_person ON sightings(person_id);
CREATE INDEX sightings_time ON sightings(time);
DROP TABLE IF EXISTS unknown_sightings;
"""


def _to_2(db: sqlite3.Connection) -> None:
    """Visitors and their sightings."""
    for statement in _SCHEMA_2.split(";"):
        if statement.strip():
            db.execute(statement)


#: Version 3: a sighting keeps one vector per embedder (DESIGN §3, §9), so visitors are grouped
#: and searched by the fused score. Each version-2 sighting's single vector moves, with its
#: model, into ``sighting_vectors`` (none is lost); sightings recorded in ``fast`` mode or before
#: this version simply have no vector of the second model.
_SCHEMA_3 = """
CREATE TABLE sighting_vectors (
    sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (sighting_id, model)
);
INSERT INTO sighting_vectors(sighting_id, model, vector) SELECT id, model, vector FROM sightings;
ALTER TABLE sightings DROP COLUMN model;
ALTER TABLE sightings DROP COLUMN vector
"""


def _to_3(db: sqlite3.Connection) -> None:
    """Per-model sighting vectors."""
    for statement in _SCHEMA_3.split(";"):
        if statement.strip():
            db.execute(statement)


LOG = logging.getLogger(__name__)
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_to_1, _to_2, _to_3)
LATEST = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The database's ``user_version``."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> int:
    """Bring the database to ``LATEST`` in one transaction; returns the version it had.

    StorageError when the database is newer than this release knows. ``db`` must be in
    autocommit mode (``isolation_level=None``). Foreign keys are off while tables are rebuilt
    (dropping the old ``faces`` must not cascade into ``embeddings``) and checked before commit.
    A migration that ran is followed by VACUUM, which gives the rebuilt tables' old pages back:
    the file does not keep twice the gallery's size, and a database whose size is capped (a
    full disk) is full again instead of quietly reusing freed pages.
    """
    if schema_version(db) == LATEST:
        return LATEST
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        with immediate(db, "the gallery's schema could not be migrated"):
            found = schema_version(db)
            if found > LATEST:
                raise StorageError(
                    f"the gallery's schema is version {found}, written by a newer Known Faces; "
                    f"this release knows versions up to {LATEST}. Upgrade Known Faces, or "
                    "restore a backup of gallery.db made by this release."
                )
            pending = MIGRATIONS[found:]
            for step in pending:
                step(db)
            if db.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise StorageError("migrating the gallery left rows without their owner")
            db.execute(f"PRAGMA user_version = {LATEST}")
    finally:
        db.execute("PRAGMA foreign_keys=ON")
    if pending:
        try:
            db.execute("VACUUM")
        except sqlite3.Error as exc:  # another process reading; the space is reused anyway
            LOG.info("gallery not vacuumed after migration: %s", exc)
    return found
