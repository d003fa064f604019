"""The gallery as storage: bad rows from any writer never stop it, schema migrations, ids, file
permissions, per-thread readers beside one writer, and change detection across processes."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from known_faces.errors import DuplicateName, StorageError
from known_faces.models.catalogue import EMBEDDER
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer
from known_faces.store import migrations
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import Visitors
from tests.service.helpers import ServiceRunner, free_port

MODEL = EMBEDDER.id


def sql(gallery: Gallery | Path, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement through a connection of our own, as another program would."""
    path = gallery.path if isinstance(gallery, Gallery) else gallery
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement, params).fetchall()


def face_ids(gallery: Gallery, slug: str) -> list[int]:
    """A person's face ids, oldest first."""
    return [face.id for face in gallery.faces(slug)]



@pytest.fixture(scope="module")
def engine(engine: Engine) -> Engine:
    """These tests damage and count the rows of one model: MobileFaceNet alone (fast mode)."""
    return Engine(engine.detector, engine.embedder, engine.gates)

@pytest.fixture
def enrolled(engine: Engine, gallery: Gallery, photo: Callable[[str], bytes],
             faces_manifest: dict[str, Any]) -> dict[str, list[int]]:
    """Obama (two photos), Biden and Einstein enrolled; their face ids by slug."""
    recognizer = Recognizer(engine, gallery, keep_unknown=False)
    people = faces_manifest["people"]
    for slug, photos in (("barack_obama", people["barack_obama"][:2]),
                         ("joe_biden", people["joe_biden"][:1]),
                         ("albert_einstein", people["albert_einstein"][:1])):
        person = gallery.create_person(slug.replace("_", " ").title())
        for path in photos:
            recognizer.enroll(person.slug, photo(path))
    return {slug: face_ids(gallery, slug) for slug in ("barack_obama", "joe_biden",
                                                        "albert_einstein")}


@pytest.fixture
def damaged(gallery: Gallery, enrolled: dict[str, list[int]]) -> dict[str, int]:
    """The enrolled gallery after another writer damaged rows of every kind; which face got
    which damage."""
    obama_good, obama_scaled = enrolled["barack_obama"]
    biden, einstein = enrolled["joe_biden"][0], enrolled["albert_einstein"][0]
    vector = lambda face: np.frombuffer(  # noqa: E731
        sql(gallery, "SELECT vector FROM embeddings WHERE face_id = ?", (face,))[0][0], np.float32)
    sql(gallery, "UPDATE embeddings SET vector = ? WHERE face_id = ?", (b"\0" * 10, obama_good))
    sql(gallery, "UPDATE embeddings SET vector = ? WHERE face_id = ?",
        ((vector(obama_scaled) * 3).tobytes(), obama_scaled))
    sql(gallery, "UPDATE faces SET crop = x'ffd8ffe000' WHERE id = ?", (obama_scaled,))
    sql(gallery, "UPDATE embeddings SET vector = ? WHERE face_id = ?",
        (np.full(192, np.nan, np.float32).tobytes(), biden))
    sql(gallery, "UPDATE faces SET crop = 'not an image' WHERE id = ?", (biden,))
    sql(gallery, "UPDATE faces SET quality = '{not json' WHERE id = ?", (einstein,))
    sql(gallery, "INSERT INTO events(event_id, camera, time, payload) VALUES ('e', 'c', 't', '[')")
    return {"short vector, good crop": obama_good, "scaled vector, bad crop": obama_scaled,
            "NaN vector, text crop": biden, "bad quality": einstein}


def test_bad_rows_are_skipped_and_reported_and_the_rest_recognises(
    engine: Engine, gallery: Gallery, damaged: dict[str, int], photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    """A reopened damaged gallery (a restart) opens, a Recognizer starts on it, the face with a
    short vector but a good crop is re-embedded, the faces with nothing usable are skipped and
    reported once each, and the people left are recognised; nobody else is named."""
    gallery.close()
    reopened = Gallery(gallery.path)
    with caplog.at_level("WARNING", logger="known_faces.store.gallery"):
        recognizer = Recognizer(engine, reopened, keep_unknown=False)
        logged = caplog.text
        reopened.matcher(MODEL)
        assert reopened.faces_missing_embeddings(MODEL) == []
        assert caplog.text == logged, "each problem is logged once, not at every read"
    assert len(recognizer.matcher) == 2  # Obama's re-embedded face and Einstein's
    problems = {p.split(":")[0]: p for p in reopened.problems()}
    healed, scaled, nan = (damaged[k] for k in ("short vector, good crop",
                                                "scaled vector, bad crop", "NaN vector, text crop"))
    assert f"face {healed}" not in problems
    assert "its length is 3, not 1" in problems[f"face {scaled}"]
    assert "its crop is unusable (damaged or truncated JPEG data)" in problems[f"face {scaled}"]
    assert "NaN" in problems[f"face {nan}"]
    assert "its crop is not binary data" in problems[f"face {nan}"]
    assert all(f"face {fid}:" in logged for fid in (scaled, nan))

    people = faces_manifest["people"]
    for slug, expected in (("barack_obama", FaceStatus.KNOWN),
                           ("albert_einstein", FaceStatus.KNOWN),
                           ("joe_biden", FaceStatus.UNKNOWN)):
        faces = recognizer.recognize(photo(people[slug][-1])).faces
        assert [f.status for f in faces] == [expected], slug
    assert reopened.faces("albert_einstein")[0].quality == {}
    assert reopened.recent_events() == []
    problems = {p.split(":")[0]: p for p in reopened.problems()}
    assert "quality is not a JSON object" in problems[f"face {damaged['bad quality']}"]
    assert any(row.startswith("event ") for row in problems)
    reopened.close()


def test_a_repaired_row_drops_out_of_the_problems(engine: Engine, gallery: Gallery,
                                                  damaged: dict[str, int]) -> None:
    """Deleting the unusable faces (what a user would do) and re-embedding the face whose crop
    is good (what a recognizer does) clears the report."""
    deleted = (damaged["scaled vector, bad crop"], damaged["NaN vector, text crop"])
    gallery.matcher(MODEL)
    gallery.faces_missing_embeddings(MODEL)
    gallery.faces("albert_einstein")
    assert len([p for p in gallery.problems() if p.startswith("face ")]) == 4
    for fid in deleted:
        slug = sql(gallery, "SELECT p.slug FROM people p JOIN faces f ON f.person_id = p.id "
                   "WHERE f.id = ?", (fid,))[0][0]
        gallery.delete_face(slug, fid)
    gallery.faces_missing_embeddings(MODEL)
    gallery.matcher(MODEL)
    assert [p.split(":")[0] for p in gallery.problems() if p.startswith("face ")] == [
        f"face {damaged['short vector, good crop']}", f"face {damaged['bad quality']}"]
    Recognizer(engine, gallery, keep_unknown=False)
    gallery.faces("albert_einstein")
    assert [p.split(":")[0] for p in gallery.problems() if p.startswith("face ")] == [
        f"face {damaged['bad quality']}"]


def test_the_service_starts_on_a_damaged_gallery(
    engine: Engine, gallery: Gallery, damaged: dict[str, int], photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any], tmp_path: Path,
) -> None:
    """``known-faces serve``'s start-up (the real Service, no broker reachable) comes up on the
    damaged gallery, answers /health and names Obama from the usable rows."""
    from known_faces.service.config import Settings

    gallery.close()
    settings = Settings.from_mapping({"data_dir": tmp_path, "http_host": "127.0.0.1",
                                      "http_port": 0, "mqtt_host": "127.0.0.1",
                                      "mqtt_port": free_port()})
    runner = ServiceRunner(settings, engine).start(wait_mqtt=False)
    try:
        health = runner.http("GET", "/health", token=None)
        assert health.status == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["gallery_problems"]  # the skipped rows are reported
        answer = runner.http("POST", "/recognize?camera=door&publish=false",
                             photo(faces_manifest["people"]["barack_obama"][2]))
        assert answer.status == 200
        assert [f["person"] for f in answer.json()["faces"]] == ["barack_obama"]
    finally:
        runner.stop()


# -- schema and migrations -----------------------------------------------------------------
@pytest.fixture
def old_gallery(tmp_path: Path, enrolled: dict[str, list[int]], gallery: Gallery) -> Path:
    """A gallery.db as releases before schema versioning wrote it (no user_version), holding
    Obama's real crops and vectors under face ids 3 and 7 (a gap: face 4-6 were deleted)."""
    rows = sql(gallery, "SELECT f.crop, f.quality, e.vector FROM faces f JOIN embeddings e "
               "ON e.face_id = f.id WHERE f.id IN (?, ?) ORDER BY f.id",
               tuple(enrolled["barack_obama"]))
    path = tmp_path / "old" / "gallery.db"
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(migrations.SCHEMA_0)
        db.execute("INSERT INTO meta VALUES ('version', '41')")
        db.execute("INSERT INTO people VALUES (2, 'barack_obama', 'Barack Obama', "
                   "'barack obama', '2024-01-01T00:00:00+00:00')")
        for face_id, (crop, quality, vector) in zip((3, 7), rows, strict=True):
            db.execute("INSERT INTO faces VALUES (?, 2, ?, 'cli', ?, '2024-01-02')",
                       (face_id, crop, quality))
            db.execute("INSERT INTO embeddings VALUES (?, ?, ?)", (face_id, MODEL, vector))
        db.execute("INSERT INTO events(event_id, camera, time, payload) VALUES "
                   "('e1', 'door', 't', '{\"event_id\": \"e1\"}')")
    return path


def test_the_unversioned_schema_is_migrated_without_losing_data(
    engine: Engine, old_gallery: Path, photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any],
) -> None:
    """Opening an old gallery migrates it to the latest schema at once: people, faces (same
    ids), vectors, events and the version survive, faces get their crop digest, and the
    gallery recognises as before."""
    gallery = Gallery(old_gallery)
    assert sql(old_gallery, "PRAGMA user_version") == [(migrations.LATEST,)]
    assert [(p.slug, p.name, p.face_count) for p in gallery.people()] == [
        ("barack_obama", "Barack Obama", 2)]
    assert face_ids(gallery, "barack_obama") == [3, 7]
    assert gallery.version == 41
    assert gallery.recent_events() == [{"event_id": "e1"}]
    assert all(len(d) == 64 for (d,) in sql(old_gallery, "SELECT crop_sha256 FROM faces"))
    assert sql(old_gallery, "PRAGMA foreign_key_check") == []
    recognizer = Recognizer(engine, gallery, keep_unknown=False)
    assert gallery.faces_missing_embeddings(MODEL) == []
    faces = recognizer.recognize(photo(faces_manifest["people"]["barack_obama"][2])).faces
    assert [f.status for f in faces] == [FaceStatus.KNOWN]
    gallery.close()
    assert Gallery(old_gallery).version == 41, "a second open migrates nothing"


def test_face_ids_are_never_reused(old_gallery: Path) -> None:
    """After the newest face is deleted, the next face gets a new id, not the deleted one's."""
    gallery = Gallery(old_gallery)
    crop = gallery.face_crop("barack_obama", 7)
    gallery.delete_face("barack_obama", 7)
    unit = np.zeros(192, np.float32)
    unit[0] = 1
    added = gallery.add_face("barack_obama", crop, unit, MODEL, "test", {})
    assert added.id == 8
    gallery.close()


def test_a_newer_schema_is_refused_and_left_alone(gallery: Gallery,
                                                  enrolled: dict[str, list[int]]) -> None:
    """A gallery.db from a newer release is not opened (StorageError saying why and what to
    do), and not touched: not even switched to WAL mode."""
    gallery.close()
    sql(gallery, "PRAGMA journal_mode = DELETE")
    sql(gallery, f"PRAGMA user_version = {migrations.LATEST + 1}")
    before = gallery.path.read_bytes()
    with pytest.raises(StorageError) as raised:
        Gallery(gallery.path)
    assert "newer Known Faces" in raised.value.message
    assert f"version {migrations.LATEST + 1}" in raised.value.message
    assert gallery.path.read_bytes() == before


def test_a_failed_migration_leaves_the_old_schema(old_gallery: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that fails half-way (here: after its first step) rolls back entirely."""
    first = migrations.MIGRATIONS[0]

    def half_then_fail(db: sqlite3.Connection) -> None:
        first(db)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", (half_then_fail,))
    with pytest.raises(StorageError):
        Gallery(old_gallery)
    assert sql(old_gallery, "PRAGMA user_version") == [(0,)]
    assert sql(old_gallery, "SELECT id FROM faces ORDER BY id") == [(3,), (7,)]
    assert sql(old_gallery, "SELECT COUNT(*) FROM embeddings") == [(2,)]


def test_a_file_that_is_no_database_is_a_storage_error(tmp_path: Path) -> None:
    """A damaged gallery.db is reported as StorageError with the path, not a traceback."""
    (tmp_path / "gallery.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StorageError) as raised:
        Gallery.open(tmp_path)
    assert "gallery.db" in raised.value.message


# -- permissions ---------------------------------------------------------------------------
def mode(path: Path) -> int:
    """Permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_to_the_service_user(tmp_path: Path) -> None:
    """A new data dir is 0700 and gallery.db with its WAL files 0600; lax ones (from earlier
    releases, or a umask of 022) are fixed at open."""
    data = tmp_path / "data"
    gallery = Gallery.open(data)
    gallery.create_person("Alice")
    files = [data / name for name in ("gallery.db", "gallery.db-wal", "gallery.db-shm")]
    assert mode(data) == 0o700
    assert [mode(f) for f in files] == [0o600] * 3
    gallery.close()
    data.chmod(0o755)
    for f in files:
        if f.exists():
            f.chmod(0o644)
    reopened = Gallery.open(data)
    assert mode(data) == 0o700
    assert [mode(f) for f in files if f.exists()] == [0o600] * sum(f.exists() for f in files)
    reopened.close()


def test_a_shared_directory_is_not_closed(tmp_path: Path) -> None:
    """A data dir like /tmp (sticky, world-writable) keeps its mode; the gallery file is 0600."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    Gallery.open(shared).close()
    assert mode(shared) == 0o1777
    assert mode(shared / "gallery.db") == 0o600


# -- connections, writer and change detection ----------------------------------------------
@pytest.fixture
def writer_held(gallery: Gallery) -> Iterator[threading.Event]:
    """A write transaction held open in another thread until the test sets the event."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        with gallery._write() as db:
            db.execute("INSERT INTO people(slug, name, name_key, created) "
                       "VALUES ('w', 'W', 'w', 't')")
            started.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert started.wait(5)
    yield release
    release.set()
    thread.join(5)


def test_readers_do_not_wait_behind_the_writer(gallery: Gallery,
                                               writer_held: threading.Event) -> None:
    """While a write transaction is open, every kind of read answers at once (from this thread
    and from a pool), seeing the last commit."""
    gallery_reads: list[Callable[[], object]] = [
        gallery.people, lambda: gallery.version, lambda: gallery.matcher(MODEL),
        lambda: gallery.faces_missing_embeddings(MODEL), gallery.recent_events,
    ]
    with ThreadPoolExecutor(3) as pool:
        results = [pool.submit(read).result(timeout=2) for read in gallery_reads]
    assert results[0] == []
    assert gallery.people() == []
    writer_held.set()


def test_writers_take_turns_and_every_change_is_seen(gallery: Gallery) -> None:
    """Writers in several threads each get their turn (none fails as locked); readers in the
    same threads see every person, and the version moved with each change."""
    version = gallery.version

    def work(n: int) -> int:
        for i in range(10):
            gallery.create_person(f"Person {n}-{i}")
            gallery.people()
        return gallery.version

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert len(gallery.people()) == 40
    assert gallery.version == version + 40


def test_version_moves_for_gallery_changes_only(gallery: Gallery, tmp_path: Path) -> None:
    """Own writes and another process's writes move the version (seen in every thread); recorded
    events, unknown sightings and writes that change no row do not."""
    start = gallery.version
    gallery.create_person("Alice")
    assert gallery.version == start + 1
    gallery.record_event({"event_id": "e", "camera": "door", "time": "t"})
    Visitors(gallery, {"m": 4}, 0.5).observe({"m": np.ones(4, np.float32) / 2}, b"crop", {},
                                        "door", "t")
    with pytest.raises(DuplicateName):
        gallery.create_person("ALICE")
    assert gallery.version == start + 1
    code = ("import sys; from pathlib import Path; from known_faces.store.gallery import Gallery;"
            "Gallery(Path(sys.argv[1])).create_person('Bob')")
    subprocess.run([sys.executable, "-c", code, str(gallery.path)], check=True, timeout=60)
    with ThreadPoolExecutor(2) as pool:
        assert {pool.submit(lambda: gallery.version).result() for _ in range(4)} == {start + 2}
    assert gallery.version == start + 2
    assert [p.slug for p in gallery.people()] == ["alice", "bob"]


def test_connections_of_ended_threads_are_closed(gallery: Gallery) -> None:
    """Each thread reads on its own connection; when threads come and go (a pool replacing its
    workers), their connections do not pile up, and close() closes what is left."""
    for _ in range(8):
        thread = threading.Thread(target=gallery.people)
        thread.start()
        thread.join()
    gallery.people()
    assert len(gallery._readers) <= 2
    gallery.close()
    with pytest.raises(sqlite3.ProgrammingError):
        gallery._local.reader.db.execute("SELECT 1")



def test_unusable_vectors_are_never_written(gallery: Gallery, enrolled: dict[str, list[int]]
                                            ) -> None:
    """What a read would skip is not stored: add_face refuses a NaN vector (ValueError, nothing
    written); a re-embedding batch stores its good vectors and reports the broken one instead of
    failing, so a broken custom embedder cannot stop the start-up re-embedding."""
    crop = gallery.face_crop("joe_biden", enrolled["joe_biden"][0])
    nan, scaled = np.full(192, np.nan, np.float32), np.full(192, 1.0, np.float32)
    version = gallery.version
    for bad in (nan, scaled, np.ones((2, 96), np.float32) / 192 ** 0.5):
        with pytest.raises(ValueError, match=r"NaN|length|shape"):
            gallery.add_face("joe_biden", crop, bad, MODEL, "test", {})
    assert gallery.version == version
    good = np.zeros(192, np.float32)
    good[1] = 1
    biden, einstein = enrolled["joe_biden"][0], enrolled["albert_einstein"][0]
    gallery.store_embeddings("other", [(biden, nan), (einstein, good)])
    assert [fid for fid, _ in gallery.faces_missing_embeddings("other")] == [
        *enrolled["barack_obama"], biden]
    assert any(p.startswith(f"face {biden}:") and "NaN" in p for p in gallery.problems())
