"""``known-faces bench --photos DIR``: where the time goes on your own photos, against a floor
measured in the same run.

Shared machines are noisy, so absolute milliseconds mean little; the floor (decode plus the raw
``session.run`` of the detector and of every embedder the engine runs, on the very same inputs)
is measured interleaved with the pipeline, and the ratio between them is what says whether the
code around the models is lean.
The measuring pieces here are also what the repository's ``bench/engine.py`` builds the
README's table from (cases of the shared photos, batching, face_recognition side by side).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import KnownFacesError
from .folders import people_photos
from .pipeline.align import CHIPS
from .pipeline.decode import decode_image
from .pipeline.detect import letterbox
from .pipeline.embed import preprocess_crops
from .pipeline.engine import Engine
from .pipeline.fused_match import FusedMatcher
from .pipeline.match import Matcher, MatchSettings, PersonRef
from .recognizer import impostor_stats

STAGES = ("decode", "detect", "align", "embed", "match")
MATCH_SIZES = (1_000, 10_000, 100_000)
GALLERY_FACES = 1_000


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


def random_gallery(engine: Engine, faces: int) -> FusedMatcher:
    """A random gallery of ``faces`` faces for every embedder the engine runs, fused as the
    recognizer fuses them."""
    return FusedMatcher({e.model_id: random_matcher(faces, e.dim) for e, _ in engine.embedders},
                        impostor_stats(engine.model_ids))


def bench_case(engine: Engine, data: bytes, matcher: FusedMatcher,
               repeat: int) -> dict[str, Any]:
    """Pipeline stages and the floor on one photo, interleaved run by run. The floor is the
    decode and the raw runs of the detector and of each embedder on its batch of chips."""
    settings = MatchSettings()
    image = decode_image(data)
    faces = [f for f in engine.faces(image) if f.passed_gates]
    tensor = letterbox(image, engine.detector.long_side).tensor
    batches = [(embedder, preprocess_crops(np.stack([f.chips[chip] for f in faces]),
                                           embedder.prep))
               for embedder, chip in engine.embedders if faces and chip in CHIPS]

    def floor() -> None:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        engine.detector.run_raw(tensor)
        for embedder, batch in batches:
            embedder.run_raw(batch)

    def pipeline() -> dict[str, float]:
        stages: dict[str, float] = {}
        found = [f for f in engine.analyse(data, stages) if f.embedding is not None]
        start = time.perf_counter()
        if found:
            matcher.match({m: np.stack([f.embeddings[m] for f in found])
                           for m in matcher.models}, settings)
        stages["match"] = (time.perf_counter() - start) * 1000
        return stages

    floor()
    pipeline()
    floors: list[float] = []
    totals: list[float] = []
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
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
        "faces": len(engine.detector.detect(image)),
        "embedded": len(faces),
        "stages_ms": {s: statistics.median(v) for s, v in per_stage.items()},
        "pipeline_ms": statistics.median(totals),
        "floor_ms": statistics.median(floors),
        "ratio_to_floor": statistics.median(totals) / statistics.median(floors),
    }


def bench_matching(dim: int, repeat: int) -> dict[str, float]:
    """One face matched against galleries of ``MATCH_SIZES`` random faces, in ms."""
    query = random_matcher(5, dim).matrix[:1]
    settings = MatchSettings()
    timings = {}
    for size in MATCH_SIZES:
        matcher = random_matcher(size, dim)
        timings[str(size)] = median_ms(partial(matcher.match, query, settings), repeat)
    return timings


def stage_header() -> str:
    """Header of the per-stage table (the same columns in the README's table)."""
    return (f"{'case':24} {'faces':>5} " + " ".join(f"{s:>7}" for s in STAGES)
            + f" {'total':>7} {'floor':>7} {'ratio':>6}")


def stage_row(label: str, case: dict[str, Any]) -> str:
    """One row of the per-stage table."""
    stages = " ".join(f"{case['stages_ms'][s]:7.1f}" for s in STAGES)
    return (f"{label:24} {case['faces']:5d} {stages} {case['pipeline_ms']:7.1f} "
            f"{case['floor_ms']:7.1f} {case['ratio_to_floor']:5.2f}x")


def matching_line(match_ms: dict[str, float]) -> str:
    """The matching-scale line of both reports."""
    return "match 1 face against " + ", ".join(
        f"{int(k):,} faces {v:.2f} ms" for k, v in match_ms.items())


def median_case(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-stage medians over many photos, in ``bench_case``'s shape."""
    return {
        "faces": round(statistics.median(c["faces"] for c in cases)),
        "embedded": round(statistics.median(c["embedded"] for c in cases)),
        "stages_ms": {s: statistics.median(c["stages_ms"][s] for c in cases) for s in STAGES},
        "pipeline_ms": statistics.median(c["pipeline_ms"] for c in cases),
        "floor_ms": statistics.median(c["floor_ms"] for c in cases),
        "ratio_to_floor": statistics.median(c["ratio_to_floor"] for c in cases),
    }


def run_bench(engine: Engine, folder: Path, repeat: int = 3) -> dict[str, Any]:
    """Every photo of ``folder`` (either layout of ``folders``) through the pipeline and the
    floor, as one JSON-safe dict; photos that cannot be read are listed, not fatal."""
    people = people_photos(folder)
    photos = [photo for paths in people.values() for photo in paths]
    gallery = random_gallery(engine, GALLERY_FACES)
    per_photo: dict[str, dict[str, Any]] = {}
    unreadable: list[dict[str, str]] = []
    for photo in photos:
        try:
            per_photo[str(photo)] = bench_case(engine, photo.read_bytes(), gallery, repeat)
        except OSError as exc:
            unreadable.append({"image": str(photo), "error": "unreadable",
                               "message": exc.strerror or str(exc)})
        except KnownFacesError as exc:
            unreadable.append({"image": str(photo), "error": exc.code, "message": exc.message})
    if not per_photo:
        raise KnownFacesError(f"none of the {len(photos)} photos in {folder} could be read",
                              code="invalid_layout")
    slowest = max(per_photo, key=lambda p: per_photo[p]["pipeline_ms"])
    return {
        "folder": str(folder),
        "people": len(people),
        "photos": len(per_photo),
        "repeat": repeat,
        "median": median_case(list(per_photo.values())),
        "slowest": {"image": slowest, **per_photo[slowest]},
        "photos_without_faces": sum(1 for c in per_photo.values() if not c["faces"]),
        "per_photo": per_photo,
        "match_ms": bench_matching(engine.embedder.dim, max(repeat, 5)),
        "rss_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "threads": engine.detector.session.get_session_options().intra_op_num_threads,
        "mode": engine.mode,
        "unreadable_images": unreadable,
    }


def format_report(report: dict[str, Any]) -> str:
    """The per-stage table of a user's folder: the median photo and the slowest one."""
    header = stage_header()
    lines = [
        f"{report['photos']} photos of {report['people']} people in {report['folder']}",
        f"median ms of {report['repeat']} runs per photo, ONNX Runtime on "
        f"{report['threads']} threads, mode {report['mode']}, matched against "
        f"{GALLERY_FACES:,} faces",
        header,
        "-" * len(header),
        stage_row("median photo", report["median"]),
        stage_row("slowest photo", report["slowest"]),
        f"slowest: {report['slowest']['image']}",
    ]
    if report["photos_without_faces"]:
        lines.append(f"{report['photos_without_faces']} photo(s) without a face")
    lines += [
        "",
        matching_line(report["match_ms"]),
        f"RSS {report['rss_mb']:.0f} MB, peak {report['peak_rss_mb']:.0f} MB",
    ]
    return "\n".join(lines)
