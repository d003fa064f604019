"""Engine benchmark: the README's table on the shared photos — per-stage times against the
floor for three cases in both modes (fast: MobileFaceNet alone; accurate: MobileFaceNet and dlib
fused, the default), batching, matching at 1k–100k faces, RSS, top-1, and face_recognition
(dlib) side by side when it is installed. The floor is decode plus the raw ONNX Runtime runs of
the detector and of every embedder the mode runs, on the same inputs, in the same run.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/engine.py [--repeat N] [--photos DIR] [--json]
Photos come from --photos, $KNOWN_FACES_TEST_DATA or ../shared/data/faces (manifest.json,
people/, groups/, resolution/). The measuring itself is the package's (``known_faces.bench``,
what ``known-faces bench --photos DIR`` runs on a user's folder); this file only knows the
shared photos and the comparisons the README makes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from known_faces.bench import (
    bench_case,
    bench_matching,
    matching_line,
    median_ms,
    peak_rss_mb,
    random_gallery,
    rss_mb,
    stage_header,
    stage_row,
)
from known_faces.folders import people_photos
from known_faces.pipeline.align import align_face
from known_faces.pipeline.decode import decode_image
from known_faces.pipeline.engine import Engine

CASES = (
    ("1080p, 1 face", "resolution/obama-1080p.jpg"),
    ("720p, 1 face", "resolution/obama-720p.jpg"),
    ("group, 6 faces", "groups/compreface_015_6.jpg"),
)
BATCH_PHOTO = "groups/compreface_016_8.jpg"


def default_photos() -> Path:
    """``$KNOWN_FACES_TEST_DATA`` or ``../shared/data/faces``."""
    return Path(os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces"))


def bench_batching(engine: Engine, data: bytes, repeat: int) -> dict[str, float]:
    """Eight crops embedded in one batch versus one by one."""
    image = decode_image(data)
    found = [align_face(image, d.landmarks) for d in engine.detector.detect(image)]
    crops = np.stack((found * 8)[:8])
    batched = median_ms(lambda: engine.embedder.embed(crops), repeat)
    single = median_ms(lambda: [engine.embedder.embed(c[None]) for c in crops], repeat)
    return {"crops": 8, "batched_ms": batched, "one_by_one_ms": single,
            "speedup": single / batched}


def top1_protocol(photos: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """Enroll the first photo of every person with ≥ 2, probe the others."""
    people = {n: p for n, p in people_photos(photos / "people").items() if len(p) >= 2}
    enrolled = [(name, paths[0]) for name, paths in people.items()]
    probes = [(name, path) for name, paths in people.items() for path in paths[1:]]
    return enrolled, probes


def known_faces_top1(engine: Engine, photos: Path) -> float:
    """Our top-1 on the shared people (nearest enrolled person, no threshold)."""
    enrolled, probes = top1_protocol(photos)

    def embedding(path: Path) -> np.ndarray:
        faces = [f for f in engine.analyse(path.read_bytes()) if f.embedding is not None]
        vector = max(faces, key=lambda f: f.quality.face_px).embedding
        assert vector is not None  # only embedded faces were kept
        return vector

    names = [name for name, _ in enrolled]
    gallery = np.stack([embedding(path) for _, path in enrolled])
    hits = [names[int(np.argmax(gallery @ embedding(path)))] == name for name, path in probes]
    return sum(hits) / len(hits)


def face_recognition_side(photos: Path, one_face: Path, repeat: int) -> dict[str, Any] | None:
    """dlib's face_recognition on the same photo and the same top-1 protocol, if installed."""
    try:
        import face_recognition
    except ImportError:
        return None

    def describe(path: Path) -> list[np.ndarray]:
        image = face_recognition.load_image_file(str(path))
        found: list[np.ndarray] = face_recognition.face_encodings(
            image, face_recognition.face_locations(image))
        return found

    per_snapshot = median_ms(lambda: describe(one_face), max(3, repeat // 5))
    enrolled, probes = top1_protocol(photos)
    names = [name for name, _ in enrolled]
    gallery = np.stack([describe(path)[0] for _, path in enrolled])
    hits = 0
    for name, path in probes:
        found = describe(path)
        if found:
            hits += names[int(np.argmin(np.linalg.norm(gallery - found[0], axis=1)))] == name
    return {"ms": per_snapshot, "top1": hits / len(probes)}


def run(engine: Engine, photos: Path, repeat: int) -> dict[str, Any]:
    """Every measurement, as one JSON-safe dict; ``engine`` is the accurate one, its fast
    twin shares the detector's and MobileFaceNet's sessions."""
    fast = Engine(engine.detector, engine.embedder, engine.gates)
    cases = {}
    for label, rel in CASES:
        for mode in (fast, engine):
            cases[f"{label} {mode.mode}"] = bench_case(
                mode, (photos / rel).read_bytes(), random_gallery(mode, 1_000), repeat)
    steady_rss, pipeline_peak_rss = rss_mb(), peak_rss_mb()
    batching = bench_batching(engine, (photos / BATCH_PHOTO).read_bytes(), repeat)
    matching = bench_matching(engine.embedder.dim, repeat)
    ours_top1 = known_faces_top1(engine, photos)
    theirs = face_recognition_side(photos, photos / CASES[0][1], repeat)
    main_case = cases[f"{CASES[0][0]} {engine.mode}"]
    return {
        "cases": cases,
        "floor_ms": main_case["floor_ms"],
        "pipeline_ms": main_case["pipeline_ms"],
        "ratio_to_floor": main_case["ratio_to_floor"],
        "batching": batching,
        "match_ms": matching,
        "match_100k_ms": matching["100000"],
        "rss_mb": steady_rss,
        "peak_rss_mb": pipeline_peak_rss,
        "top1": ours_top1,
        "face_recognition_ms": theirs["ms"] if theirs else None,
        "face_recognition_top1": theirs["top1"] if theirs else None,
        "speedup_vs_face_recognition": theirs["ms"] / main_case["pipeline_ms"] if theirs else None,
        "threads": engine.detector.session.get_session_options().intra_op_num_threads,
        "mode": engine.mode,
    }


def format_table(report: dict[str, Any]) -> str:
    """The table the README quotes."""
    header = stage_header()
    lines = [f"per-stage median ms (ONNX Runtime, {report['threads']} threads); fast = "
             "MobileFaceNet alone, accurate = MobileFaceNet + dlib fused (the default)", header,
             "-" * len(header)]
    lines += [stage_row(label, case) for label, case in report["cases"].items()]
    batching = report["batching"]
    lines += [
        "",
        f"embedding 8 crops: batched {batching['batched_ms']:.1f} ms, one by one "
        f"{batching['one_by_one_ms']:.1f} ms ({batching['speedup']:.2f}x)",
        matching_line(report["match_ms"]),
        f"RSS after the three cases {report['rss_mb']:.0f} MB, peak so far "
        f"{report['peak_rss_mb']:.0f} MB",
        f"top-1 on the shared people: {report['top1']:.1%}",
    ]
    if report["face_recognition_ms"] is None:
        lines.append("face_recognition not installed: no side-by-side (see README)")
    else:
        lines.append(
            f"face_recognition (dlib): {report['face_recognition_ms']:.0f} ms per 1080p "
            f"snapshot, top-1 {report['face_recognition_top1']:.1%}; Known Faces "
            f"({report['mode']}) is {report['speedup_vs_face_recognition']:.1f}x faster")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (or ``--json``); one line and status 2 when the photos are missing."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--photos", type=Path, default=None, metavar="DIR",
                        help="the shared photos (default: $KNOWN_FACES_TEST_DATA or "
                             "../shared/data/faces)")
    parser.add_argument("--repeat", type=int, default=15, help="runs per measurement")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    photos = args.photos or default_photos()
    if not (photos / "manifest.json").is_file():
        print(f"bench/engine.py: {photos} is not the shared photos (manifest.json, people/, "
              "groups/, resolution/); for your own photos run 'known-faces bench --photos DIR'",
              file=sys.stderr)
        return 2
    report = run(Engine.load(threads=args.threads), photos, args.repeat)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
