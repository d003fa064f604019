"""The visitor store (DESIGN §9): stable ids, bounded sightings, the actions, retention, and
consistency after a writer is killed mid-action.

These are the store's mechanics, so the vectors are synthetic unit vectors (what a grouping of
real photos gives is measured in tests/service/test_visitors.py and bench/visitor_threshold.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from known_faces.errors import (
    DuplicateName,
    EnrollmentRejected,
    KnownFacesError,
    UnknownPerson,
    UnknownVisitor,
)
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import KEEP_SIGHTINGS, Visitors, crop_rank, visitor_id

DIM = 16
GOOD = {"face_px": 120.0, "detection_score": 0.99, "blur": 90.0, "yaw": 3.0}
POOR = {"face_px": 45.0, "detection_score": 0.8, "blur": 20.0, "yaw": 30.0}


def unit(rng: np.random.Generator, centre: np.ndarray | None = None,
         noise: float = 0.05) -> np.ndarray:
    """A random unit vector, or one near ``centre``."""
    vector = rng.normal(size=DIM) if centre is None else centre + noise * rng.normal(size=DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def accept_good(quality: dict[str, float]) -> tuple[str, str] | None:
    """An enrollment gate: faces under 64 px are refused."""
    return None if quality["face_px"] >= 64 else ("too_small", "the face is too small")


@pytest.fixture
def visitors(gallery: Gallery) -> Visitors:
    """Visitors of the temporary gallery; a face joins a visitor from a cosine of 0.8."""
    return Visitors(gallery, {"m": DIM}, 0.8)


def jpeg(n: int) -> bytes:
    """A distinct real 112×112 JPEG crop (assign enrolls only crops that decode)."""
    image = np.full((112, 112, 3), n % 256, np.uint8)
    image[n // 256 % 112] = 255
    return bytes(cv2.imencode(".jpg", image)[1])


def stamp(minutes: int = 0) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def see(visitors: Visitors, vector: np.ndarray, quality: dict[str, float] | None = None,
        camera: str = "door", minutes: int = 0) -> str:
    seen = visitors.observe({"m": vector}, jpeg(minutes), quality or GOOD, camera, stamp(minutes))
    assert seen is not None
    return seen.visitor


def test_faces_join_the_nearest_visitor_or_start_one_with_ids_never_reused(
        visitors: Visitors) -> None:
    rng = np.random.default_rng(1)
    alice, bob = unit(rng), unit(rng)
    assert see(visitors, alice) == "v_0001"
    assert see(visitors, unit(rng, alice), minutes=1) == "v_0001"
    assert see(visitors, bob, camera="garden", minutes=2) == "v_0002"
    first = visitors.get("v_0001")
    assert (first.seen, first.first_seen, first.last_seen) == (2, stamp(0), stamp(1))
    assert visitors.get("v_0002").cameras == ("garden",)
    visitors.forget("v_0002")
    with pytest.raises(UnknownVisitor):
        visitors.get("v_0002")
    assert see(visitors, bob, minutes=3) == "v_0003"
    assert [v.label for v in visitors.listing()] == ["v_0003", "v_0001"]


def test_a_visitor_keeps_its_newest_and_best_sightings_and_counts_all(
        visitors: Visitors) -> None:
    rng = np.random.default_rng(2)
    centre = unit(rng)
    for minute in range(3 * KEEP_SIGHTINGS):
        quality = GOOD if minute % 3 == 0 else POOR
        see(visitors, unit(rng, centre), {**quality, "face_px": quality["face_px"] + minute},
            minutes=minute)
    kept = visitors.sightings("v_0001")
    assert len(kept) == KEEP_SIGHTINGS
    assert kept[0].time == stamp(3 * KEEP_SIGHTINGS - 1)  # the newest stays
    assert all(s.quality["blur"] == GOOD["blur"] for s in kept[1:])  # then the best ones
    assert visitors.get("v_0001").seen == 3 * KEEP_SIGHTINGS
    assert visitors.crop("v_0001") == jpeg(3 * KEEP_SIGHTINGS - 3)
    assert crop_rank(GOOD) > crop_rank(POOR)


def test_ignored_visitors_are_reported_and_unignore_restores_them(visitors: Visitors) -> None:
    rng = np.random.default_rng(3)
    postman = unit(rng)
    see(visitors, postman)
    assert visitors.set_ignored("v_0001", True).ignored
    seen = visitors.observe({"m": unit(rng, postman)}, b"c", GOOD, "door", stamp(1))
    assert seen is not None
    assert (seen.visitor, seen.ignored, seen.sightings) == ("v_0001", True, 2)
    assert [v.label for v in visitors.listing("ignored")] == ["v_0001"]
    assert visitors.listing("pending") == []
    assert visitors.count("pending") == 0
    visitors.set_ignored("v_0001", False)
    again = visitors.observe({"m": unit(rng, postman)}, b"c", GOOD, "door", stamp(2))
    assert again is not None
    assert not again.ignored


def test_merge_moves_sightings_and_counts_into_the_target(visitors: Visitors) -> None:
    rng = np.random.default_rng(4)
    a, b = unit(rng), unit(rng)
    see(visitors, a, minutes=5)
    see(visitors, b, camera="garden", minutes=1)
    see(visitors, unit(rng, b), camera="garden", minutes=9)
    merged = visitors.merge("v_0001", "v_0002")
    assert (merged.label, merged.seen, merged.first_seen, merged.last_seen) == (
        "v_0002", 3, stamp(1), stamp(9))
    assert merged.cameras == ("door", "garden")
    with pytest.raises(UnknownVisitor):
        visitors.get("v_0001")
    assert see(visitors, unit(rng, a), minutes=10) == "v_0002"  # a's slots moved with it
    with pytest.raises(KnownFacesError) as same:
        visitors.merge("v_0002", "v_0002")
    assert same.value.code == "same_visitor"
    with pytest.raises(UnknownVisitor):
        visitors.merge("v_0002", "v_0099")


def test_assign_enrolls_the_crops_that_pass_the_gates_and_moves_the_history(
        gallery: Gallery, visitors: Visitors) -> None:
    rng = np.random.default_rng(5)
    centre = unit(rng)
    for minute, quality in enumerate((GOOD, POOR, GOOD)):
        see(visitors, unit(rng, centre), quality, minutes=minute)
    version = gallery.version
    assigned = visitors.assign("v_0001", accept_good, name="Alice Example")
    assert (assigned.person, assigned.created, assigned.moved) == ("alice_example", True, 3)
    assert len(assigned.faces) == 2
    assert [(r.code, r.reason) for r in assigned.refused] == [("too_small",
                                                              "the face is too small")]
    assert gallery.version > version
    assert gallery.person("alice_example").face_count == 2
    assert {f.source for f in gallery.faces("alice_example")} == {"visitor v_0001"}
    assert len(gallery.matcher("m")) == 2
    with pytest.raises(UnknownVisitor):
        visitors.get("v_0001")
    # The history searches as the person's now.
    hits = visitors.search({"m": centre}, 0.8, people=["alice_example"])
    assert hits.visitors == []
    assert {s.person for s, _ in hits.sightings} == {"alice_example"}
    assert {s.label for s, _ in hits.sightings} == {"v_0001"}


def test_assign_refusals_change_nothing(gallery: Gallery, visitors: Visitors) -> None:
    rng = np.random.default_rng(6)
    see(visitors, unit(rng), POOR)
    gallery.create_person("Bob")
    with pytest.raises(DuplicateName) as taken:
        visitors.assign("v_0001", accept_good, name="bob")
    assert "assign it to the person 'bob'" in taken.value.message
    with pytest.raises(EnrollmentRejected) as refused:
        visitors.assign("v_0001", accept_good, name="Carol")
    assert refused.value.code == "too_small"
    with pytest.raises(UnknownPerson):
        visitors.assign("v_0001", accept_good, person="nobody")
    with pytest.raises(UnknownVisitor):
        visitors.assign("v_0042", accept_good, person="bob")
    assert [p.slug for p in gallery.people()] == ["bob"]
    assert visitors.get("v_0001").seen == 1
    # An existing person takes the history even when no crop can be enrolled.
    assigned = visitors.assign("v_0001", accept_good, person="bob")
    assert (assigned.faces, assigned.moved, gallery.person("bob").face_count) == ((), 1, 0)


def test_retention_purges_old_sightings_and_empty_visitors(visitors: Visitors) -> None:
    rng = np.random.default_rng(7)
    old, recent = unit(rng), unit(rng)
    see(visitors, old, minutes=0)
    see(visitors, recent, minutes=0)
    see(visitors, unit(rng, recent), minutes=60 * 24 * 40)
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=45)
    assert visitors.purge(30, now) == (2, 1)
    assert [v.label for v in visitors.listing()] == ["v_0002"]
    assert len(visitors.sightings("v_0002")) == 1
    assert see(visitors, unit(rng, old), minutes=60 * 24 * 41) == "v_0003"  # old is gone
    assert visitors.purge(30, now) == (0, 0)


def test_bad_ids_name_no_visitor(visitors: Visitors) -> None:
    for text in ("", "v_1", "v_0000", "x_0001", "v_00001 ", "v_٠٠٠١", "v_" + "9" * 20):
        with pytest.raises(UnknownVisitor):
            visitors.get(text)
    assert visitor_id("v_12345") == 12345


def test_another_process_s_actions_are_seen(gallery: Gallery, visitors: Visitors) -> None:
    rng = np.random.default_rng(8)
    face = unit(rng)
    see(visitors, face)
    other = Gallery(gallery.path)
    try:
        Visitors(other, {"m": DIM}, 0.8).set_ignored("v_0001", True)
    finally:
        other.close()
    assert visitors.nearest({"m": face}) is not None
    assert visitors.nearest({"m": face})[2] is True


def test_a_full_disk_loses_the_sighting_not_the_recognition(gallery: Gallery,
                                                             visitors: Visitors) -> None:
    rng = np.random.default_rng(9)
    db = gallery._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    big = np.zeros(DIM, np.float32)
    big[0] = 1.0
    assert visitors.observe({"m": big}, b"x" * 200_000, GOOD, "door", stamp()) is None
    db.execute("PRAGMA max_page_count = 1073741823")
    assert visitors.count() == 0
    assert see(visitors, unit(rng)) == "v_0001"  # the index was not left half-updated


WRITER = """
import sys
import numpy as np
from pathlib import Path
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import Visitors

gallery = Gallery(Path(sys.argv[1]))
visitors = Visitors(gallery, {"m": 16}, 2.0)
slug = gallery.person("target").slug
ids = [v.label for v in sorted(visitors.listing(), key=lambda v: v.id)]
print("ready", flush=True)
for a, b in zip(ids[0::2], ids[1::2]):
    visitors.merge(a, b)
    visitors.assign(b, lambda q: None, person=slug)
    print(b, flush=True)
"""


def consistent(path: Path) -> tuple[int, int]:
    """Check the invariants that only whole transactions keep; (visitors, assigned) left."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        faces = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        history = db.execute("SELECT COUNT(*) FROM sightings WHERE person_id IS NOT NULL"
                             ).fetchone()[0]
        assert faces == history  # assign enrolled exactly the sightings it moved
        seen = db.execute("SELECT COALESCE(SUM(seen), 0) FROM visitors").fetchone()[0]
        kept = db.execute("SELECT COUNT(*) FROM sightings WHERE visitor_id IS NOT NULL"
                          ).fetchone()[0]
        assert seen == kept  # a merge moved sightings and counts together
        assert kept + history == 200
        assert db.execute("SELECT COUNT(*) FROM visitors v WHERE NOT EXISTS "
                          "(SELECT 1 FROM sightings s WHERE s.visitor_id = v.id)"
                          ).fetchone()[0] == 0
        return db.execute("SELECT COUNT(*) FROM visitors").fetchone()[0], faces
    finally:
        db.close()


@pytest.mark.parametrize("after", [1, 7, 25])
def test_kill_9_during_merge_and_assign_leaves_the_store_consistent(
        tmp_path: Path, after: int) -> None:
    """A writer process merging and assigning is SIGKILLed after ``after`` actions plus a few
    milliseconds (mid-transaction, most likely); every invariant that spans the rows of one
    action still holds, and the store keeps working."""
    gallery = Gallery.open(tmp_path)
    visitors = Visitors(gallery, {"m": DIM}, 2.0)  # never joins: one visitor per face
    gallery.create_person("Target")
    rng = np.random.default_rng(after)
    for minute in range(200):
        see(visitors, unit(rng), minutes=minute)
    gallery.close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "gallery.db")],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline() == "ready\n"
    for _ in range(after):
        writer.stdout.readline()
    time.sleep(0.003 * after)
    writer.kill()
    writer.wait(10)
    left, assigned = consistent(tmp_path / "gallery.db")
    assert left < 200
    assert assigned >= after
    reopened = Gallery.open(tmp_path)
    try:
        again = Visitors(reopened, {"m": DIM}, 2.0)
        assert again.count() == left
        assert see(again, unit(rng), minutes=999) == "v_0201"
    finally:
        reopened.close()


def test_sightings_in_the_last_day_are_counted_across_merges(visitors: Visitors) -> None:
    """``sightings_24h`` counts a visitor's sightings of the 24 hours up to the new one, kept
    crops or not ("the third time today")."""
    rng = np.random.default_rng(10)
    face = unit(rng)
    day = 60 * 24
    counts = []
    for minute in (0, 2 * day, 2 * day + 60, 2 * day + 120, 3 * day + 121):
        seen = visitors.observe({"m": unit(rng, face)}, b"c", GOOD, "door", stamp(minute))
        assert seen is not None
        counts.append((seen.sightings, seen.sightings_24h))
    assert counts == [(1, 1), (2, 1), (3, 2), (4, 3), (5, 1)]
    other = unit(rng)
    see(visitors, other, minutes=3 * day + 130)
    visitors.merge("v_0002", "v_0001")
    seen = visitors.observe({"m": unit(rng, face)}, b"c", GOOD, "door", stamp(3 * day + 140))
    assert seen is not None
    assert (seen.sightings, seen.sightings_24h) == (7, 3)


def test_rows_another_writer_mangled_are_refused_not_fatal(gallery: Gallery,
                                                          visitors: Visitors) -> None:
    """A sighting whose quality is not JSON, or whose vector is not a vector, is shown without
    measures, skipped by the index and refused by assign, and nothing fails."""
    from known_faces.pipeline.quality import QualityGates
    from known_faces.store.visitors import enrollment_gate

    rng = np.random.default_rng(11)
    face = unit(rng)
    see(visitors, face)
    see(visitors, unit(rng, face), minutes=1)
    db = sqlite3.connect(gallery.path)
    with db:
        db.execute("UPDATE sightings SET quality = 'not json' WHERE id = 1")
        db.execute("UPDATE sighting_vectors SET vector = x'00' WHERE sighting_id = 2")
    db.close()
    assert {s.id: s.quality for s in visitors.sightings("v_0001")}[1] == {}
    assert visitors.nearest({"m": face}) is not None  # the good slot still finds it
    gallery.create_person("Bob")
    assigned = visitors.assign("v_0001", enrollment_gate(QualityGates()), person="bob")
    assert [(r.sighting, r.code) for r in assigned.refused] == [(1, "low_quality"),
                                                                (2, "low_quality")]
    assert "unusable" in assigned.refused[1].reason
    assert (assigned.faces, assigned.moved) == ((), 2)


def test_the_frames_of_one_visit_count_once(visitors: Visitors) -> None:
    """Frames of one Frigate event (``visit``) are kept as sightings but counted once."""
    rng = np.random.default_rng(12)
    face = unit(rng)
    counts = []
    for minute, visit in ((0, "e1"), (1, "e1"), (2, "e1"), (30, "e2"), (31, None), (32, None)):
        seen = visitors.observe({"m": unit(rng, face)}, jpeg(minute), GOOD, "door", stamp(minute),
                                visit)
        assert seen is not None
        counts.append((seen.sightings, seen.sightings_24h))
    assert counts == [(1, 1), (1, 1), (1, 1), (2, 2), (3, 3), (4, 4)]
    assert len(visitors.sightings("v_0001")) == 6
    assert visitors.get("v_0001").last_seen == stamp(32)


def test_pages_of_visitors_cover_the_listing_once(visitors: Visitors) -> None:
    """Pages follow the listing's order (last seen first, ties newest id first), never overlap
    or skip, and say where the next one starts until the last."""
    rng = np.random.default_rng(7)
    for minutes in (0, 0, 1, 2, 2, 2, 3):  # ties on last seen must still page cleanly
        see(visitors, unit(rng), minutes=minutes)
    pages, offset = [], 0
    while offset is not None:
        found, offset = visitors.page(None, 3, offset)
        pages.append([v.label for v in found])
    assert [len(p) for p in pages] == [3, 3, 1]
    paged = [label for p in pages for label in p]
    assert paged == [v.label for v in visitors.listing()]
    assert len(set(paged)) == 7
    assert visitors.page(None, 7, 0)[1] is None  # exactly one page: no next
    visitors.set_ignored("v_0002", True)
    assert visitors.page("ignored", 3, 0) == ([visitors.get("v_0002")], None)
