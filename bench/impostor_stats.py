"""Measure each embedder's impostor distribution on the shared photos: the μ and σ that fusion
standardises cosines by (DESIGN §3; the constants live in models/catalogue.py).

Protocol: the largest gated face of every photo under people/ is embedded by every model; every
pair of photos of two different people is an impostor pair, every pair of photos of the same
person a genuine one. The table shows, per model, the impostor mean and SD (what the catalogue
pins) and, for orientation, the genuine median and the z-score of the lowest genuine pair and
of the highest impostor pair. A last row does the same for the fused score (the catalogue's μ/σ),
and a second table shows, per mode, how many genuine and impostor pairs reach the level at which
one frame names a track (threshold + ``CONFIDENT_MARGIN``, README *Streams*).

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
from known_faces.pipeline.match import MatchSettings
from known_faces.pipeline.score import fuse
from known_faces.pipeline.tracker import CONFIDENT_MARGIN
from known_faces.recognizer import impostor_stats

DEFAULT_THRESHOLD = MatchSettings().threshold


def embeddings(engine: Engine, folder: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(person, vectors by model) of the main face of every photo that has a gated one."""
    found = []
    for person, photos in sorted(people_photos(folder).items()):
        for photo in photos:
            faces = [f for f in engine.analyse(photo.read_bytes()) if f.passed_gates]
            if faces:
                found.append((person, max(faces, key=lambda f: f.quality.face_px).embeddings))
    return found


Pairs = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def pair_cosines(found: list[tuple[str, dict[str, np.ndarray]]]) -> Pairs:
    """Per model, the cosines of every genuine pair and of every impostor pair."""
    genuine: dict[str, list[float]] = {}
    impostor: dict[str, list[float]] = {}
    for (a, va), (b, vb) in itertools.combinations(found, 2):
        for model in va:
            (genuine if a == b else impostor).setdefault(model, []).append(
                float(va[model] @ vb[model]))
    return ({m: np.asarray(v) for m, v in genuine.items()},
            {m: np.asarray(v) for m, v in impostor.items()})


def fused_pairs(pairs: Pairs, models: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The genuine and impostor pairs' fused scores, as the service fuses (``score.fuse``)."""
    stats = impostor_stats(models)
    genuine, impostor = ({m: side[m] for m in models} for side in pairs)
    return fuse(genuine, stats, stats[models[0]]), fuse(impostor, stats, stats[models[0]])


def measure(gen: np.ndarray, imp: np.ndarray) -> dict[str, float]:
    """Impostor mean/SD and the genuine figures of one score."""
    mean, sd = float(imp.mean()), float(imp.std(ddof=1))
    return {"impostor_pairs": len(imp), "impostor_mean": mean, "impostor_sd": sd,
            "impostor_max_z": (float(imp.max()) - mean) / sd,
            "genuine_pairs": len(gen), "genuine_median": float(np.median(gen)),
            "genuine_min_z": (float(gen.min()) - mean) / sd}


def confident_frames(gen: np.ndarray, imp: np.ndarray, mode: str) -> dict[str, float]:
    """How many genuine and impostor pairs one confident frame of ``mode`` would name, and how
    many impostor SDs above the impostor mean that level is."""
    margin = CONFIDENT_MARGIN[mode]
    level = DEFAULT_THRESHOLD + margin
    return {"margin": margin, "level": level,
            "impostor_sds": (level - float(imp.mean())) / float(imp.std(ddof=1)),
            "genuine_share": float((gen >= level).mean()),
            "impostors": int((imp >= level).sum()), "impostor_pairs": len(imp)}


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
    genuine, impostor = pair_cosines(found)
    scores = {model: (genuine[model], impostor[model]) for model in engine.model_ids}
    scores["fused"] = fused_pairs((genuine, impostor), engine.model_ids)
    rows = {name: measure(*pair) for name, pair in scores.items()}
    confident = {mode: confident_frames(*scores["fused" if mode == "accurate" else
                                                engine.model_ids[0]], mode)
                 for mode in CONFIDENT_MARGIN}
    if args.json:
        print(json.dumps({"scores": rows, "confident_frame": confident}, indent=2))
        return 0
    print(f"{len(found)} photos of {len({p for p, _ in found})} people ({args.photos})")
    print(f"{'model':20} {'pairs':>6} {'μ imp':>8} {'σ imp':>8} {'catalogue μ/σ':>16} "
          f"{'max imp z':>10} {'gen median':>11} {'min gen z':>10}")
    for model, row in rows.items():
        spec = catalogue.get(model)
        pinned = f"{spec.impostor_mean:.4f}/{spec.impostor_sd:.4f}" if spec else "-"
        print(f"{model:20} {row['impostor_pairs']:6d} {row['impostor_mean']:8.4f} "
              f"{row['impostor_sd']:8.4f} {pinned:>16} {row['impostor_max_z']:10.2f} "
              f"{row['genuine_median']:11.4f} {row['genuine_min_z']:10.2f}")
    print(f"\none frame names a track at threshold {DEFAULT_THRESHOLD} + confident margin")
    print(f"{'mode':10} {'margin':>7} {'level':>6} {'imp SDs':>8} {'genuine ≥':>10} "
          f"{'impostor ≥':>11}")
    for mode, row in confident.items():
        print(f"{mode:10} {row['margin']:7.2f} {row['level']:6.2f} {row['impostor_sds']:8.2f} "
              f"{row['genuine_share']:9.0%} {row['impostors']:6d} of {row['impostor_pairs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
