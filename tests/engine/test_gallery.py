"""The SQLite gallery: names, persistence, transactions, re-embedding, export and import."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from known_faces.errors import (
    DuplicateName,
    InvalidArchive,
    InvalidName,
    StorageError,
    UnknownPerson,
)
from known_faces.models.catalogue import EMBEDDER
from known_faces.paths import default_models_dir
from known_faces.pipeline.embed import Embedder
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer
from known_faces.store.archive import export_archive, import_archive
from known_faces.store.gallery import Gallery


def rows(gallery: Gallery, table: str) -> int:
    """Row count of a table, read through a separate connection."""
    with sqlite3.connect(gallery.path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.fixture
def obama(faces_manifest: dict[str, Any]) -> list[str]:
    """Obama's photos."""
    return faces_manifest["people"]["barack_obama"]


def test_names_are_kept_as_typed_with_a_safe_unique_slug(gallery: Gallery) -> None:
    """Unicode names keep their spelling; slugs are ASCII, unique and stable."""
    zoe = gallery.create_person("  Zoë   O'Neil ")
    assert (zoe.name, zoe.slug) == ("Zoë O'Neil", "zoe_o_neil")
    other = gallery.create_person("Zoe O Neil!")
    assert other.slug == "zoe_o_neil_2"
    han = gallery.create_person("李小龙")
    assert han.name == "李小龙"
    assert han.slug == "person"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", InvalidName),
        ("   ", InvalidName),
        ("x" * 65, InvalidName),
        ("../etc/passwd", InvalidName),
        ("a/b", InvalidName),
        ("a\\b", InvalidName),
        (".hidden", InvalidName),
        ("bad\x00name", InvalidName),
        ("ALICE", DuplicateName),
        (" alice ", DuplicateName),
    ],
)
def test_bad_names_are_refused_and_change_nothing(gallery: Gallery, name: str,
                                                  error: type[Exception]) -> None:
    """Empty, over-long, path-like and duplicate names get clear errors; nothing is written."""
    gallery.create_person("Alice")
    version = gallery.version
    with pytest.raises(error) as raised:
        gallery.create_person(name)
    assert raised.value.message
    assert [p.name for p in gallery.people()] == ["Alice"]
    assert gallery.version == version


def test_rename_keeps_the_slug_and_refuses_a_taken_name(gallery: Gallery) -> None:
    """Renaming changes the display name only; another person's name is refused."""
    alice = gallery.create_person("Alice")
    gallery.create_person("Bob")
    renamed = gallery.rename_person(alice.slug, "Alice Smith")
    assert (renamed.slug, renamed.name) == ("alice", "Alice Smith")
    with pytest.raises(DuplicateName):
        gallery.rename_person(alice.slug, "bob")
    assert gallery.rename_person(alice.slug, "ALICE SMITH").name == "ALICE SMITH"
    with pytest.raises(UnknownPerson):
        gallery.rename_person("nobody", "X")


def test_gallery_survives_close_and_reopen(
    engine: Engine, tmp_path: Path, photo: Callable[[str], bytes], obama: list[str],
) -> None:
    """People, faces and vectors are on disk; a reopened gallery recognises as before."""
    gallery = Gallery.open(tmp_path)
    recognizer = Recognizer(engine, gallery)
    person = gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(obama[0]))
    gallery.close()

    reopened = Gallery.open(tmp_path)
    assert [(p.slug, p.face_count) for p in reopened.people()] == [("barack_obama", 1)]
    face = Recognizer(engine, reopened).recognize(photo(obama[1])).faces[0]
    assert face.status is FaceStatus.KNOWN
    reopened.close()


def test_forget_deletes_crops_and_vectors(recognizer: Recognizer, photo: Callable[[str], bytes],
                                          obama: list[str]) -> None:
    """Deleting a person leaves no face row and no embedding behind."""
    gallery = recognizer.gallery
    person = gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(obama[0]))
    recognizer.enroll(person.slug, photo(obama[1]))
    assert rows(gallery, "faces") == 2
    assert rows(gallery, "embeddings") == 2 * len(recognizer.engine.model_ids)
    gallery.delete_person(person.slug)
    assert [rows(gallery, t) for t in ("people", "faces", "embeddings")] == [0, 0, 0]
    recognizer.refresh()
    assert recognizer.recognize(photo(obama[2])).faces[0].status is FaceStatus.UNKNOWN


def test_model_change_reembeds_from_stored_crops(
    engine: Engine, gallery: Gallery, photo: Callable[[str], bytes], obama: list[str],
) -> None:
    """A recognizer whose model id differs computes its own vectors from the stored crops at
    start-up, so nobody has to enroll again, and recognises with them."""
    person = gallery.create_person("Barack Obama")
    Recognizer(engine, gallery).enroll(person.slug, photo(obama[0]))
    other = Embedder(default_models_dir() / EMBEDDER.file, engine.embedder.prep,
                     "mobilefacenet-192-reconverted")
    other_engine = Engine(engine.detector, other, engine.gates)
    assert gallery.faces_missing_embeddings(other.model_id) != []
    recognizer = Recognizer(other_engine, gallery)
    assert gallery.faces_missing_embeddings(other.model_id) == []
    assert rows(gallery, "embeddings") == len(engine.model_ids) + 1
    face = recognizer.recognize(photo(obama[1])).faces[0]
    assert face.status is FaceStatus.KNOWN
    assert face.match.best.person == person.slug


def test_another_process_sees_changes(engine: Engine, tmp_path: Path,
                                      photo: Callable[[str], bytes], obama: list[str]) -> None:
    """A second connection (as ``known-faces enroll`` beside the service) bumps the version the
    service's recognizer polls, and refresh() picks the new person up."""
    service = Recognizer(engine, Gallery.open(tmp_path))
    cli_gallery = Gallery.open(tmp_path)
    person = cli_gallery.create_person("Barack Obama")
    Recognizer(engine, cli_gallery).enroll(person.slug, photo(obama[0]))
    assert service.recognize(photo(obama[1])).faces[0].status is FaceStatus.UNKNOWN
    assert service.refresh() is True
    assert service.recognize(photo(obama[1])).faces[0].status is FaceStatus.KNOWN
    assert service.refresh() is False


def test_export_import_round_trip(
    engine: Engine, recognizer: Recognizer, tmp_path: Path, photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any],
) -> None:
    """Export, import into an empty gallery (replace), then merge the same archive again: the
    faces are already there, so nothing is added (faces are identified by their crop)."""
    people = faces_manifest["people"]
    for name in ("barack_obama", "joe_biden"):
        person = recognizer.gallery.create_person(name.replace("_", " ").title())
        recognizer.enroll(person.slug, photo(people[name][0]))
    archive = io.BytesIO()
    assert export_archive(recognizer.gallery, archive) == (2, 2)

    fresh = Gallery.open(tmp_path / "fresh")
    archive.seek(0)
    assert import_archive(fresh, archive, mode="replace") == (2, 2)
    assert [(p.slug, p.name, p.face_count) for p in fresh.people()] == [
        (p.slug, p.name, p.face_count) for p in recognizer.gallery.people()
    ]
    assert fresh.face_crop("barack_obama", fresh.faces("barack_obama")[0].id)[:3] == b"\xff\xd8\xff"
    face = Recognizer(engine, fresh).recognize(photo(people["joe_biden"][1])).faces[0]
    assert face.match.best.person == "joe_biden"
    assert face.status is FaceStatus.KNOWN

    archive.seek(0)
    version = fresh.version
    assert import_archive(fresh, archive, mode="merge") == (0, 0)
    assert [p.face_count for p in fresh.people()] == [1, 1]
    assert fresh.version == version


def test_damaged_archives_change_nothing(recognizer: Recognizer, photo: Callable[[str], bytes],
                                         obama: list[str]) -> None:
    """Not-a-zip, a foreign zip and a zip with a missing crop are refused before any write."""
    gallery = recognizer.gallery
    person = gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(obama[0]))
    good = io.BytesIO()
    export_archive(gallery, good)
    broken = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if not item.filename.startswith("crops/"):
                target.writestr(item, source.read(item))
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as target:
        target.writestr("manifest.json", '{"format": "something-else"}')
    version = gallery.version
    for bad in (io.BytesIO(b"not a zip"), foreign, broken):
        with pytest.raises(InvalidArchive):
            import_archive(gallery, bad, mode="replace")
    assert gallery.version == version
    assert [p.face_count for p in gallery.people()] == [1]


def test_matcher_reflects_the_gallery(gallery: Gallery) -> None:
    """Vectors of each person are grouped; an empty gallery matches nobody."""
    assert len(gallery.matcher("m")) == 0
    alice, bob = gallery.create_person("Alice"), gallery.create_person("Bob")
    unit = np.eye(4, dtype=np.float32)
    for slug, vector in ((alice.slug, unit[0]), (bob.slug, unit[1]), (alice.slug, unit[2])):
        gallery.add_face(slug, b"\xff\xd8\xff", vector, "m", "test", {})
    matcher = gallery.matcher("m")
    assert [p.slug for p in matcher.people] == ["alice", "bob"]
    sims = matcher.person_similarities(unit[[2]])
    assert sims.tolist() == [[1.0, 0.0]]


def test_disk_full_rolls_back_and_recognition_goes_on(
    recognizer: Recognizer, photo: Callable[[str], bytes], obama: list[str],
    faces_manifest: dict[str, Any],
) -> None:
    """With the database unable to grow (SQLite's 'database or disk is full'), an enrollment
    fails with StorageError and leaves the gallery as it was; recognition still answers, only
    the unknown-sighting history is not written."""
    gallery = recognizer.gallery
    person = gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(obama[0]))
    version = gallery.version
    db = gallery._db  # the gallery's own connection: the limit is per connection
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError) as raised:
        recognizer.enroll(person.slug, photo(obama[1]))
    assert "full" in raised.value.message
    assert gallery.version == version
    assert gallery.person(person.slug).face_count == 1
    assert rows(gallery, "embeddings") == len(recognizer.engine.model_ids)
    stranger = faces_manifest["people"]["albert_einstein"][0]
    for _ in range(3):
        faces = recognizer.recognize(photo(stranger)).faces
        assert [f.status for f in faces] == [FaceStatus.UNKNOWN]
    assert gallery.unknown_sighting_count() == 0
    assert recognizer.recognize(photo(obama[2])).faces[0].status is FaceStatus.KNOWN
