"""Choosing ``visitor_threshold``: how pure and how complete the visitors are when every photo of
the shared people arrives as an unknown face (DESIGN §9).

Each gated face of every photo under ``people/`` is recorded, in a random order, by the real
visitor store (``store.visitors``) at each candidate threshold; the grouping is scored pairwise
against the photos' identities: precision = pairs put in one visitor that are one person,
recall = pairs of one person put in one visitor. Purity comes first (two people in one visitor
is worse than one person in two, and merging is one click), so the threshold chosen is the
lowest one whose worst precision over the orders is 1.0. Both modes are measured: ``accurate``
groups by the fused score of MobileFaceNet and dlib's ResNet (the score the matcher names people
by, DESIGN §3), ``fast`` by MobileFaceNet's cosine; the range of thresholds that group
perfectly (precision and recall 1.0 in every order) is printed for each.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/visitor_threshold.py [--orders N] [--photos DIR] [--modes accurate,fast]
        [--step 0.05]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from known_faces.pipeline.engine import Engine, encode_crop
from known_faces.publish.payloads import quality
from known_faces.recognizer import impostor_stats
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import Visitors

LOWEST, HIGHEST = 0.25, 0.75
#: A gated face: identity, its vector per model, crop, quality measures.
Face = tuple[str, dict[str, np.ndarray], bytes, dict[str, float]]


def faces_of(engine: Engine, photos: Path) -> list[Face]:
    """(identity, embeddings, crop, quality) of every gated face under ``photos/people``."""
    faces = []
    for path in sorted((photos / "people").glob("*/*")):
        for face in engine.analyse(path.read_bytes()):
            if face.embedding is not None:
                faces.append((path.parent.name, face.embeddings, encode_crop(face.crop),
                              quality(face.quality)))
    return faces


def pairwise(truth: list[str], groups: list[str]) -> tuple[float, float]:
    """Pairwise precision and recall of ``groups`` against ``truth`` (1.0 when undefined)."""
    same_group = same_person = both = 0
    for (t1, g1), (t2, g2) in itertools.combinations(zip(truth, groups, strict=True), 2):
        same_group += g1 == g2
        same_person += t1 == t2
        both += g1 == g2 and t1 == t2
    return (both / same_group if same_group else 1.0,
            both / same_person if same_person else 1.0)


def group(faces: list[Face], order: list[int], threshold: float, engine: Engine
          ) -> tuple[list[str], list[str]]:
    """Record the faces in ``order`` in a fresh store scoring like ``engine``'s matcher;
    (identities, visitors) in that order."""
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery.open(Path(tmp))
        visitors = Visitors(gallery, engine.dims, threshold, impostor_stats(engine.model_ids))
        truth, groups = [], []
        for i in order:
            identity, vector, crop, measures = faces[i]
            seen = visitors.observe(vector, crop, measures, "bench", f"2026-01-01T00:{i:02d}")
            assert seen is not None
            truth.append(identity)
            groups.append(seen.visitor)
        gallery.close()
    return truth, groups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path(
        os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces")))
    parser.add_argument("--orders", type=int, default=20, help="random arrival orders")
    parser.add_argument("--modes", default="accurate,fast")
    parser.add_argument("--step", type=float, default=0.05,
                        help=f"between thresholds from {LOWEST} to {HIGHEST}")
    args = parser.parse_args()
    thresholds = [round(float(t), 3) for t in np.arange(LOWEST, HIGHEST + 1e-9, args.step)]
    for mode in args.modes.split(","):
        measure(Engine.load(threads=2, mode=mode), args.photos, args.orders, thresholds)
    return 0


def measure(engine: Engine, photos: Path, orders_count: int, thresholds: list[float]) -> None:
    """Print one mode's table: the grouping at each threshold over random arrival orders."""
    faces = faces_of(engine, photos)
    people = len({f[0] for f in faces})
    print(f"\n{engine.mode} mode ({' + '.join(engine.model_ids)}): {len(faces)} gated faces "
          f"of {people} people from {photos / 'people'}, {orders_count} random arrival orders")
    print(f"{'threshold':>9} {'precision min':>13} {'precision mean':>14} "
          f"{'recall min':>10} {'recall mean':>11} {'visitors mean':>13}")
    rng = np.random.default_rng(0)
    orders = [list(rng.permutation(len(faces))) for _ in range(orders_count)]
    chosen, perfect = None, []
    for threshold in thresholds:
        scores = []
        for order in orders:
            truth, groups = group(faces, order, threshold, engine)
            scores.append((*pairwise(truth, groups), len(set(groups))))
        precision = np.array([s[0] for s in scores])
        recall = np.array([s[1] for s in scores])
        count = np.array([s[2] for s in scores])
        print(f"{threshold:>9.2f} {precision.min():>13.3f} {precision.mean():>14.3f} "
              f"{recall.min():>10.3f} {recall.mean():>11.3f} {count.mean():>13.1f}")
        if chosen is None and precision.min() == 1.0:
            chosen = threshold
        if precision.min() == 1.0 and recall.min() == 1.0:
            perfect.append(threshold)
    print(f"lowest threshold with precision 1.0 in every order: {chosen}")
    print("thresholds grouping perfectly in every order: "
          + (f"{perfect[0]:.2f} to {perfect[-1]:.2f}" if perfect else "none"))


if __name__ == "__main__":
    sys.exit(main())
