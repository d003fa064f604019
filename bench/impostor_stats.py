"""Measure each embedder's impostor distribution on the shared photos: the μ and σ that fusion
standardises cosines by (DESIGN §3; the constants live in models/catalogue.py).

Protocol: the largest gated face of every photo under people/ is embedded by every model; every
pair of photos of two different people is an impostor pair, every pair of photos of the same
person a genuine one. The table shows, per model, the impostor mean and SD (what the catalogue
pins) and, for orientation, the genuine median and the z-score of the lowest genuine pair and
of the highest impostor pair.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/impostor_stats.py [--photos DIR] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

import numpy as np

from known_faces.folders import people_photos
from known_faces.models.catalogue import MODELS
from known_faces.pipeline.engine import Engine


def embeddings(engine: Engine, folder: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(person, vectors by model) of the main face of every photo that has a gated one."""
    found = []
    for person, photos in sorted(people_photos(folder).items()):
        for photo in photos:
            faces = [f for f in engine.analyse(photo.read_bytes()) if f.passed_gates]
            if faces:
                found.append((person, max(faces, key=lambda f: f.quality.face_px).embeddings))
    return found


def measure(found: list[tuple[str, dict[str, np.ndarray]]], model: str) -> dict[str, float]:
    """Impostor mean/SD and the genuine figures of one model."""
    genuine, impostor = [], []
    for (a, va), (b, vb) in itertools.combinations(found, 2):
        (genuine if a == b else impostor).append(float(va[model] @ vb[model]))
    imp, gen = np.asarray(impostor), np.asarray(genuine)
    mean, sd = float(imp.mean()), float(imp.std(ddof=1))
    return {"impostor_pairs": len(imp), "impostor_mean": mean, "impostor_sd": sd,
            "impostor_max_z": (float(imp.max()) - mean) / sd,
            "genuine_pairs": len(gen), "genuine_median": float(np.median(gen)),
            "genuine_min_z": (float(gen.min()) - mean) / sd}


def main() -> int:
    """Print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path(
        os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces")))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine = Engine.load(mode="accurate")
    found = embeddings(engine, args.photos / "people")
    catalogue = {m.id: m for m in MODELS}
    rows = {model: measure(found, model) for model in engine.model_ids}
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{len(found)} photos of {len({p for p, _ in found})} people ({args.photos})")
    print(f"{'model':20} {'pairs':>6} {'μ imp':>8} {'σ imp':>8} {'catalogue μ/σ':>16} "
          f"{'max imp z':>10} {'gen median':>11} {'min gen z':>10}")
    for model, row in rows.items():
        spec = catalogue[model]
        pinned = f"{spec.impostor_mean:.4f}/{spec.impostor_sd:.4f}"
        print(f"{model:20} {row['impostor_pairs']:6d} {row['impostor_mean']:8.4f} "
              f"{row['impostor_sd']:8.4f} {pinned:>16} {row['impostor_max_z']:10.2f} "
              f"{row['genuine_median']:11.4f} {row['genuine_min_z']:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
