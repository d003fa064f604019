"""``known-faces bench``: where the time goes, against a floor measured in the same run.

Shared machines are noisy, so absolute milliseconds mean little; the floor (decode plus the raw
``session.run`` of both models on the very same inputs) is measured interleaved with the
pipeline, and the ratio between them is what says whether the code around the models is lean.
``face_recognition`` (dlib), when installed, runs on the same photos for a side-by-side.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import KnownFacesError
from .evaluate import collect
from .pipeline.align import align_face
from .pipeline.detect import letterbox
from .pipeline.embed import preprocess_crops
from .pipeline.engine import Engine
from .pipeline.match import Matcher, MatchSettings, PersonRef

CASES = (
    ("1080p, 1 face", "resolution/obama-1080p.jpg"),
    ("720p, 1 face", "resolution/obama-720p.jpg"),
    ("group, 6 faces", "groups/compreface_015_6.jpg"),
)
STAGES = ("decode", "detect", "align", "embed", "match")
MATCH_SIZES = (1_000, 10_000, 100_000)


def default_photos() -> Path:
    """``$KNOWN_FACES_TEST_DATA`` or ``../shared/data/faces`` (the layout the bench expects)."""
    return Path(os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces"))


def median_ms(function: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``function`` in ms, after one warm-up call."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def rss_mb() -> float:
    """Resident set size now, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_matcher(faces: int, dim: int, per_person: int = 5) -> Matcher:
    """A gallery of ``faces`` random unit vectors, ``per_person`` per person."""
    rng = np.random.default_rng(faces)
    vectors = rng.standard_normal((faces, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    people = [PersonRef(f"p{i}", f"P{i}") for i in range(faces // per_person)]
    return Matcher(people, list(vectors.reshape(len(people), per_person, dim)))


def bench_case(engine: Engine, data: bytes, matcher: Matcher, repeat: int) -> dict[str, Any]:
    """Pipeline stages and the floor on one photo, interleaved run by run."""
    settings = MatchSettings()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    faces = engine.faces(image)
    gated = [f.crop for f in faces if f.passed_gates]
    tensor = letterbox(image, engine.detector.long_side).tensor
    crops = preprocess_crops(np.stack(gated), engine.embedder.prep) if gated else None

    def floor() -> None:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        engine.detector.run_raw(tensor)
        if crops is not None:
            engine.embedder.run_raw(crops)

    def pipeline() -> dict[str, float]:
        stages: dict[str, float] = {}
        found = engine.analyse(data, stages)
        vectors = [f.embedding for f in found if f.embedding is not None]
        start = time.perf_counter()
        if vectors:
            matcher.match(np.stack(vectors), settings)
        stages["match"] = (time.perf_counter() - start) * 1000
        return stages

    floor()
    pipeline()
    floors, totals, per_stage = [], [], {s: [] for s in STAGES}
    for _ in range(repeat):
        start = time.perf_counter()
        floor()
        floors.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        stages = pipeline()
        totals.append((time.perf_counter() - start) * 1000)
        for stage in STAGES:
            per_stage[stage].append(stages.get(stage, 0.0))
    return {
        "faces": len(faces),
        "embedded": len(gated),
        "stages_ms": {s: statistics.median(v) for s, v in per_stage.items()},
        "pipeline_ms": statistics.median(totals),
        "floor_ms": statistics.median(floors),
        "ratio_to_floor": statistics.median(totals) / statistics.median(floors),
    }


def bench_batching(engine: Engine, data: bytes, repeat: int) -> dict[str, float]:
    """Eight crops embedded in one batch versus one by one."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    crops = [align_face(image, d.landmarks) for d in engine.detector.detect(image)]
    crops = np.stack((crops * 8)[:8])
    batched = median_ms(lambda: engine.embedder.embed(crops), repeat)
    single = median_ms(lambda: [engine.embedder.embed(c[None]) for c in crops], repeat)
    return {"crops": 8, "batched_ms": batched, "one_by_one_ms": single,
            "speedup": single / batched}


def top1_protocol(photos: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """Enroll the first photo of every person with ≥ 2, probe the others."""
    people = {n: p for n, p in collect(photos / "people").items() if len(p) >= 2}
    enrolled = [(name, paths[0]) for name, paths in people.items()]
    probes = [(name, path) for name, paths in people.items() for path in paths[1:]]
    return enrolled, probes


def known_faces_top1(engine: Engine, photos: Path) -> float:
    """Our top-1 on the shared people (nearest enrolled person, no threshold)."""
    enrolled, probes = top1_protocol(photos)

    def embedding(path: Path) -> np.ndarray:
        faces = [f for f in engine.analyse(path.read_bytes()) if f.embedding is not None]
        return max(faces, key=lambda f: f.quality.face_px).embedding

    names = [name for name, _ in enrolled]
    gallery = np.stack([embedding(path) for _, path in enrolled])
    hits = [names[int(np.argmax(gallery @ embedding(path)))] == name for name, path in probes]
    return sum(hits) / len(hits)


def face_recognition_side(photos: Path, one_face: Path, repeat: int) -> dict[str, Any] | None:
    """dlib's face_recognition on the same photo and the same top-1 protocol, if installed."""
    try:
        import face_recognition  # type: ignore[import-not-found]
    except ImportError:
        return None

    def describe(path: Path) -> list[np.ndarray]:
        image = face_recognition.load_image_file(str(path))
        return face_recognition.face_encodings(image, face_recognition.face_locations(image))

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


def run_bench(engine: Engine, photos: Path | None = None, repeat: int = 15) -> dict[str, Any]:
    """Every measurement, as one JSON-safe dict."""
    photos = photos or default_photos()
    if not (photos / "manifest.json").is_file():
        raise KnownFacesError(f"{photos} is not laid out like ../shared/data/faces "
                              "(manifest.json, people/, groups/, resolution/)",
                              code="invalid_request")
    dim = engine.embedder.dim
    gallery = random_matcher(1_000, dim)
    cases = {label: bench_case(engine, (photos / rel).read_bytes(), gallery, repeat)
             for label, rel in CASES}
    steady_rss, pipeline_peak_rss = rss_mb(), peak_rss_mb()
    batching = bench_batching(engine, (photos / "groups/compreface_016_8.jpg").read_bytes(),
                              repeat)
    query = random_matcher(5, dim).matrix[:1]
    settings = MatchSettings()
    matching = {}
    for size in MATCH_SIZES:
        matcher = random_matcher(size, dim)
        matching[size] = median_ms(lambda m=matcher: m.match(query, settings), repeat)
        del matcher
    one_face = photos / CASES[0][1]
    ours_top1 = known_faces_top1(engine, photos)
    theirs = face_recognition_side(photos, one_face, repeat)
    main = cases[CASES[0][0]]
    return {
        "cases": cases,
        "floor_ms": main["floor_ms"],
        "pipeline_ms": main["pipeline_ms"],
        "ratio_to_floor": main["ratio_to_floor"],
        "batching": batching,
        "match_ms": {str(k): v for k, v in matching.items()},
        "match_100k_ms": matching[100_000],
        "rss_mb": steady_rss,
        "peak_rss_mb": pipeline_peak_rss,
        "top1": ours_top1,
        "face_recognition_ms": theirs["ms"] if theirs else None,
        "face_recognition_top1": theirs["top1"] if theirs else None,
        "speedup_vs_face_recognition": theirs["ms"] / main["pipeline_ms"] if theirs else None,
        "threads": engine.detector.session.get_session_options().intra_op_num_threads,
    }


def format_table(report: dict[str, Any]) -> str:
    """The table the README quotes."""
    header = f"{'case':16} {'faces':>5} " + " ".join(f"{s:>7}" for s in STAGES)
    header += f" {'total':>7} {'floor':>7} {'ratio':>6}"
    lines = ["per-stage median ms (ONNX Runtime, "
             f"{report['threads']} threads)", header, "-" * len(header)]
    for label, case in report["cases"].items():
        stages = " ".join(f"{case['stages_ms'][s]:7.1f}" for s in STAGES)
        lines.append(f"{label:16} {case['faces']:5d} {stages} {case['pipeline_ms']:7.1f} "
                     f"{case['floor_ms']:7.1f} {case['ratio_to_floor']:5.2f}x")
    batching = report["batching"]
    lines += [
        "",
        f"embedding 8 crops: batched {batching['batched_ms']:.1f} ms, one by one "
        f"{batching['one_by_one_ms']:.1f} ms ({batching['speedup']:.2f}x)",
        "match 1 face against " + ", ".join(
            f"{int(k):,} faces {v:.2f} ms" for k, v in report["match_ms"].items()),
        f"RSS after the three cases {report['rss_mb']:.0f} MB, peak so far "
        f"{report['peak_rss_mb']:.0f} MB",
        f"top-1 on the shared people: {report['top1']:.1%}",
    ]
    if report["face_recognition_ms"] is None:
        lines.append("face_recognition not installed: no side-by-side (see README)")
    else:
        lines.append(
            f"face_recognition (dlib): {report['face_recognition_ms']:.0f} ms per 1080p "
            f"snapshot, top-1 {report['face_recognition_top1']:.1%}; Known Faces is "
            f"{report['speedup_vs_face_recognition']:.1f}x faster")
    return "\n".join(lines)
