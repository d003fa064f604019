"""Visitors are grouped by the fused score the matcher names people with (DESIGN §3, §9): in
``accurate`` mode every sighting keeps both models' vectors, a face's score against a visitor is
the fusion of the two cosines, and a gallery written before that (schema 2, one vector per
sighting) opens with its visitors, which are then scored on the model they have.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np

from known_faces.pipeline.engine import Engine, encode_crop
from known_faces.pipeline.score import ImpostorStats, fuse
from known_faces.publish.payloads import quality
from known_faces.recognizer import Recognizer, impostor_stats
from known_faces.store import migrations
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import Visitors

GOOD = {"face_px": 120.0, "detection_score": 0.99, "blur": 90.0, "yaw": 3.0}
#: Two synthetic models on very different cosine scales, like MobileFaceNet and dlib's ResNet.
STATS = {"a": ImpostorStats(0.0, 0.1), "b": ImpostorStats(0.8, 0.05)}
DIM = 8


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def at_cosine(base: np.ndarray, other: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector whose cosine with unit ``base`` is ``cosine`` (``other`` sets the side)."""
    side = unit(other - (other @ base) * base)
    return unit(cosine * base + np.sqrt(1 - cosine**2) * side)


def stored_models(gallery: Gallery) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(gallery.path)) as db:
        return db.execute("SELECT sighting_id, model FROM sighting_vectors "
                          "ORDER BY sighting_id, model").fetchall()


def test_both_models_decide_the_grouping(gallery: Gallery) -> None:
    """A face whose first model alone would join the visitor but whose second model disagrees
    starts a visitor of its own: the decision is the fused score, not the first cosine."""
    rng = np.random.default_rng(1)
    a0, b0 = unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))
    visitors = Visitors(gallery, {"a": DIM, "b": DIM}, 0.4, STATS)
    first = visitors.observe({"a": a0, "b": b0}, b"c", GOOD, "door", "2026-01-01T00:00:00")
    assert first is not None
    # "a" alone: cosine 0.6 ≥ 0.4 would join. "b" at 0.75 is below its impostor mean:
    # z = (6 + (-1)) / 2 = 2.5, fused 0.25 < 0.4.
    stranger = {"a": at_cosine(a0, rng.normal(size=DIM), 0.6),
                "b": at_cosine(b0, rng.normal(size=DIM), 0.75)}
    second = visitors.observe(stranger, b"c", GOOD, "door", "2026-01-01T00:01:00")
    assert second is not None
    assert second.visitor != first.visitor
    # Both agree: a 0.6, b 0.95 → z = (6 + 3) / 2 = 4.5, fused 0.45 joins, and the recorded score
    # is that fusion.
    same = {"a": at_cosine(a0, rng.normal(size=DIM), 0.6),
            "b": at_cosine(b0, rng.normal(size=DIM), 0.95)}
    third = visitors.observe(same, b"c", GOOD, "door", "2026-01-01T00:02:00")
    assert third is not None
    assert third.visitor == first.visitor
    expected = fuse({"a": np.float32(same["a"] @ a0), "b": np.float32(same["b"] @ b0)},
                    STATS, STATS["a"])
    assert third.score is not None
    assert abs(third.score - float(expected)) < 1e-4
    assert stored_models(gallery) == [(1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a"),
                                      (3, "b")]
    visitors.forget(first.visitor)  # forgetting deletes every model's vectors of its sightings
    assert stored_models(gallery) == [(2, "a"), (2, "b")]


def test_real_photos_are_grouped_on_the_fused_score_of_both_models(
        engine: Engine, gallery: Gallery, photo: Callable[[str], bytes]) -> None:
    """Two real photos of one person, recognised as unknown in accurate mode: each
    sighting stores both models' vectors, and the second joins the first with the score that
    fusing its two cosines (with the matcher's own stats and reference) gives."""
    assert engine.mode == "accurate"
    assert len(engine.model_ids) == 2
    recognizer = Recognizer(engine, gallery)
    assert recognizer.visitors.stats == {m: recognizer.fused.stats[m] for m in engine.model_ids}
    assert recognizer.visitors.reference == recognizer.fused.reference
    faces = []  # recognize records each unknown face as a visitor's sighting
    for name in ("barack_obama_1.jpg", "barack_obama_2.jpg"):
        result = recognizer.recognize(photo(f"people/barack_obama/{name}"))
        faces.append(next(f for f in result.faces if f.embedding is not None))
    first, second = (f.visitor for f in faces)
    assert first is not None
    assert second is not None
    assert second.visitor == first.visitor
    one, two = (f.face.embeddings for f in faces)
    cosines = {m: np.float32(one[m] @ two[m]) for m in engine.model_ids}
    expected = float(fuse(cosines, recognizer.fused.stats, recognizer.fused.reference))
    assert second.score is not None
    assert abs(second.score - expected) < 1e-4
    primary = float(cosines[engine.model_id])
    assert abs(expected - primary) > 1e-3, "the fused score is not the primary cosine"
    assert stored_models(gallery) == sorted((s, m) for s in (1, 2) for m in engine.model_ids)


def test_fast_mode_scores_by_the_primary_cosine(
        fast_engine: Engine, gallery: Gallery, photo: Callable[[str], bytes]) -> None:
    """In fast mode a sighting keeps the one model's vector and its score is the cosine."""
    visitors = Visitors(gallery, fast_engine.dims, 0.3, impostor_stats(fast_engine.model_ids))
    vectors = []
    for i, name in enumerate(("people/barack_obama/barack_obama_1.jpg",
                              "people/barack_obama/barack_obama_2.jpg")):
        face = next(f for f in fast_engine.analyse(photo(name)) if f.embedding is not None)
        seen = visitors.observe(face.embeddings, encode_crop(face.crop), quality(face.quality),
                                "door", f"2026-01-01T00:0{i}:00")
        vectors.append(face.embeddings[fast_engine.model_id])
    assert seen is not None
    assert seen.score is not None
    assert abs(seen.score - float(vectors[0] @ vectors[1])) < 1e-4
    assert stored_models(gallery) == [(1, fast_engine.model_id), (2, fast_engine.model_id)]


def version_2_gallery(path: Path, vectors: dict[int, np.ndarray]) -> None:
    """A gallery.db as schema 2 wrote it: one visitor per entry of ``vectors`` with one
    single-model ("a") sighting each, in the ``sightings`` table's own ``vector`` column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executescript(migrations.SCHEMA_0)
        for step in migrations.MIGRATIONS[:2]:
            step(db)
        db.execute("PRAGMA user_version = 2")
        for vid, vector in vectors.items():
            stamp = f"2026-01-01T00:0{vid}:00"
            db.execute("INSERT INTO visitors(id, first_seen, last_seen, seen, recent) "
                       "VALUES (?, ?, ?, 3, ?)", (vid, stamp, stamp, f'["{stamp}"]'))
            db.execute("INSERT INTO sightings(visitor_id, label, time, camera, score, quality, "
                       "rank, model, vector, crop) VALUES (?, ?, ?, 'door', NULL, '{}', 0.5, "
                       "'a', ?, x'ffd8')", (vid, f"v_{vid:04d}", stamp, vector.tobytes()))


def test_a_version_2_gallery_keeps_its_visitors_and_scores_them_on_what_they_have(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    old = {1: unit(rng.normal(size=DIM)), 2: unit(rng.normal(size=DIM))}
    version_2_gallery(tmp_path / "gallery.db", old)
    gallery = Gallery.open(tmp_path)
    try:
        with closing(sqlite3.connect(gallery.path)) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (migrations.LATEST,)
            moved = db.execute("SELECT sighting_id, model, vector FROM sighting_vectors "
                               "ORDER BY sighting_id").fetchall()
        assert [(s, m) for s, m, _ in moved] == [(1, "a"), (2, "a")]
        assert [np.frombuffer(v, np.float32).tolist() for *_, v in moved] == \
            [old[1].tolist(), old[2].tolist()]
        visitors = Visitors(gallery, {"a": DIM, "b": DIM}, 0.4, STATS)
        assert [(v.label, v.seen) for v in visitors.listing()] == [("v_0002", 3), ("v_0001", 3)]
        # A face with both models against visitors that have only "a": scored on "a" alone,
        # which on the reference scale is "a"'s cosine.
        face = {"a": at_cosine(old[1], rng.normal(size=DIM), 0.7), "b": unit(rng.normal(size=DIM))}
        found = visitors.nearest(face)
        assert found is not None
        assert found[0] == "v_0001"
        assert abs(found[1] - 0.7) < 1e-4
        seen = visitors.observe(face, b"c", GOOD, "door", "2026-01-02T00:00:00")
        assert seen is not None
        assert seen.visitor == "v_0001"
        assert seen.sightings == 4
        assert stored_models(gallery)[-2:] == [(3, "a"), (3, "b")]
        hits = visitors.search(face, 0.5)
        assert [v.label for v, _ in hits.visitors] == ["v_0001"]
        assert sorted(s.id for s, _ in hits.sightings) == [1, 3]
    finally:
        gallery.close()
