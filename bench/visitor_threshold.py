"""Choosing ``visitor_threshold``: how pure and how complete the visitors are when every photo of
the shared people arrives as an unknown face (DESIGN §9).

Each gated face of every photo under ``people/`` is recorded, in a random order, by the real
visitor store (``store.visitors``) at each candidate threshold; the grouping is scored pairwise
against the photos' identities: precision = pairs put in one visitor that are one person,
recall = pairs of one person put in one visitor. Purity comes first (two people in one visitor
is worse than one person in two, and merging is one click), so the threshold chosen is the
lowest one whose worst precision over the orders is 1.0.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/visitor_threshold.py [--orders N] [--photos DIR]
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
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import Visitors

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.25, 0.76, 0.05))


def faces_of(engine: Engine, photos: Path) -> list[tuple[str, np.ndarray, bytes, dict[str, float]]]:
    """(identity, embedding, crop, quality) of every gated face under ``photos/people``."""
    faces = []
    for path in sorted((photos / "people").glob("*/*")):
        for face in engine.analyse(path.read_bytes()):
            if face.embedding is not None:
                faces.append((path.parent.name, face.embedding, encode_crop(face.crop),
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


def group(faces: list[tuple[str, np.ndarray, bytes, dict[str, float]]], order: list[int],
          threshold: float, dim: int, model: str) -> tuple[list[str], list[str]]:
    """Record the faces in ``order`` in a fresh store; (identities, visitors) in that order."""
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery.open(Path(tmp))
        visitors = Visitors(gallery, model, dim, threshold)
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
    args = parser.parse_args()
    engine = Engine.load(threads=2)
    faces = faces_of(engine, args.photos)
    people = len({f[0] for f in faces})
    print(f"{len(faces)} gated faces of {people} people from {args.photos / 'people'}, "
          f"{args.orders} random arrival orders, model {engine.model_id}")
    print(f"{'threshold':>9} {'precision min':>13} {'precision mean':>14} "
          f"{'recall mean':>11} {'visitors mean':>13}")
    rng = np.random.default_rng(0)
    orders = [list(rng.permutation(len(faces))) for _ in range(args.orders)]
    chosen = None
    for threshold in THRESHOLDS:
        scores = []
        for order in orders:
            truth, groups = group(faces, order, threshold, engine.embedder.dim, engine.model_id)
            scores.append((*pairwise(truth, groups), len(set(groups))))
        precision = np.array([s[0] for s in scores])
        recall = np.array([s[1] for s in scores])
        count = np.array([s[2] for s in scores])
        print(f"{threshold:>9.2f} {precision.min():>13.3f} {precision.mean():>14.3f} "
              f"{recall.mean():>11.3f} {count.mean():>13.1f}")
        if chosen is None and precision.min() == 1.0:
            chosen = threshold
    print(f"lowest threshold with precision 1.0 in every order: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
