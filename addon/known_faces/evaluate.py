"""``known-faces evaluate``: accuracy on a user's own photos, with strangers held out.

Naming a stranger as a family member is the error users hate most, and a gallery never holds
everybody who rings the doorbell, so the evaluation is open-set: a share of the people is never
enrolled and their photos must come out unknown. The suggested threshold is the lowest one at
which (almost) no probe would be named as somebody else, which favours rejection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import KnownFacesError
from .pipeline.engine import Engine
from .pipeline.match import Matcher, MatchSettings, PersonRef

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
SUGGEST_AT_FAR = 0.001


@dataclass(slots=True)
class Scores:
    """What the probes produced."""

    genuine: list[float]
    impostor: list[float]
    best_impostor: list[float]
    top1_hits: int
    known_accepted: int
    known_probes: int
    strangers_rejected: int
    stranger_probes: int


def collect(folder: Path) -> dict[str, list[Path]]:
    """``folder/<person>/*.jpg`` → person → sorted photos (people with none are skipped)."""
    if not folder.is_dir():
        raise KnownFacesError(f"{folder} is not a directory", code="invalid_request")
    people = {
        sub.name: sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for sub in sorted(folder.iterdir()) if sub.is_dir()
    }
    return {name: photos for name, photos in people.items() if photos}


def main_face_embedding(engine: Engine, photo: Path) -> np.ndarray | None:
    """The embedding of the largest face that passes the gates, or None."""
    faces = [f for f in engine.analyse(photo.read_bytes()) if f.embedding is not None]
    if not faces:
        return None
    return max(faces, key=lambda f: f.quality.face_px).embedding


def rate(scores: np.ndarray, threshold: float) -> float:
    """Share of scores at or above ``threshold``."""
    return float(np.mean(scores >= threshold)) if scores.size else 0.0


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    """Best true-accept rate among thresholds whose false-accept rate is ≤ ``far``."""
    if not genuine.size or not impostor.size:
        return 0.0
    candidates = np.unique(np.concatenate([genuine, impostor, [1.01]]))
    best = 0.0
    for threshold in candidates:
        if rate(impostor, threshold) <= far:
            best = max(best, rate(genuine, threshold))
    return best


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold where false accepts and false rejects are equal)."""
    grid = np.linspace(-0.2, 1.0, 1201)
    far = np.array([rate(impostor, t) for t in grid])
    frr = np.array([1 - rate(genuine, t) for t in grid])
    index = int(np.argmin(np.abs(far - frr)))
    return float((far[index] + frr[index]) / 2), float(grid[index])


def suggested_threshold(best_impostor: np.ndarray) -> float:
    """Lowest threshold (rounded up to 0.01) at which at most 0.1% of probes would be named as
    somebody else — with few probes, just above the highest impostor."""
    if not best_impostor.size:
        return MatchSettings().threshold
    ordered = np.sort(best_impostor)[::-1]
    allowed = int(np.floor(SUGGEST_AT_FAR * ordered.size))
    return float(np.ceil((ordered[allowed] + 1e-6) * 100) / 100)


def score_probes(
    matcher: Matcher,
    settings: MatchSettings,
    known: Sequence[tuple[int, np.ndarray]],
    strangers: Sequence[np.ndarray],
) -> Scores:
    """Genuine and impostor similarities and the open-set verdicts."""
    scores = Scores([], [], [], 0, 0, len(known), 0, len(strangers))
    for own, vector in known:
        sims = matcher.person_similarities(vector[None])[0]
        scores.genuine.append(float(sims[own]))
        others = np.delete(sims, own)
        scores.impostor.extend(others.tolist())
        if others.size:
            scores.best_impostor.append(float(others.max()))
        scores.top1_hits += int(np.argmax(sims) == own)
        verdict = matcher.match(vector[None], settings)[0]
        best = verdict.best
        scores.known_accepted += int(verdict.known and best is not None
                                     and best.person == matcher.people[own].slug)
    for vector in strangers:
        sims = matcher.person_similarities(vector[None])[0]
        scores.impostor.extend(sims.tolist())
        scores.best_impostor.append(float(sims.max()))
        scores.strangers_rejected += int(not matcher.match(vector[None], settings)[0].known)
    return scores


def evaluate_folder(
    engine: Engine,
    folder: Path,
    *,
    settings: MatchSettings,
    enroll: int = 1,
    strangers: float = 0.3,
    seed: int = 0,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Enroll the first ``enroll`` photos of each non-stranger, probe everything else."""
    people = collect(folder)
    if len(people) < 2:
        raise KnownFacesError("evaluate needs photos of at least two people",
                              code="invalid_request")
    names = sorted(people)
    order = np.random.default_rng(seed).permutation(len(names))
    n_strangers = min(len(names) - 1, round(strangers * len(names)))
    stranger_names = {names[i] for i in order[:n_strangers]}

    failed: list[str] = []
    refs: list[PersonRef] = []
    rows: list[np.ndarray] = []
    known_probes: list[tuple[int, np.ndarray]] = []
    stranger_probes: list[np.ndarray] = []
    for name in names:
        vectors = []
        for photo in people[name]:
            vector = main_face_embedding(engine, photo)
            if vector is None:
                failed.append(str(photo))
            vectors.append(vector)
        if name in stranger_names:
            stranger_probes.extend(v for v in vectors if v is not None)
            continue
        enrolled = [v for v in vectors[:enroll] if v is not None]
        if not enrolled:
            continue
        refs.append(PersonRef(name, name))
        rows.append(np.vstack(enrolled))
        known_probes.extend((len(refs) - 1, v) for v in vectors[enroll:] if v is not None)

    matcher = Matcher(refs, rows)
    scores = score_probes(matcher, settings, known_probes, stranger_probes)
    genuine, impostor = np.array(scores.genuine), np.array(scores.impostor)
    eer, eer_threshold = equal_error_rate(genuine, impostor)
    suggestion = suggested_threshold(np.array(scores.best_impostor))
    report = {
        "top1": scores.top1_hits / max(scores.known_probes, 1),
        "known_accept": scores.known_accepted / max(scores.known_probes, 1),
        "stranger_rejection": scores.strangers_rejected / max(scores.stranger_probes, 1),
        "tar_far_1pct": tar_at_far(genuine, impostor, 0.01),
        "tar_far_0_1pct": tar_at_far(genuine, impostor, 0.001),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "suggested_threshold": suggestion,
        "threshold": settings.threshold,
        "margin": settings.margin,
        "people": len(names),
        "enrolled_people": len(refs),
        "strangers": sorted(stranger_names),
        "probes": scores.known_probes + scores.stranger_probes,
        "known_probes": scores.known_probes,
        "stranger_probes": scores.stranger_probes,
        "genuine_median": float(np.median(genuine)) if genuine.size else None,
        "impostor_median": float(np.median(impostor)) if impostor.size else None,
        "impostor_max": float(impostor.max()) if impostor.size else None,
        "failed_images": failed,
        "plot": None,
    }
    if plot is not None:
        write_histogram(plot, genuine, impostor, settings.threshold, suggestion)
        report["plot"] = str(plot)
    return report


def write_histogram(target: Path, genuine: np.ndarray, impostor: np.ndarray,
                    threshold: float, suggestion: float) -> None:
    """Genuine (green) vs impostor (red) similarity histograms with the thresholds marked
    (drawn with OpenCV, so the evaluation needs no plotting library)."""
    width, height, left, bottom = 900, 420, 50, 40
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    bins = np.linspace(-0.2, 1.0, 61)
    plot_w, plot_h = width - left - 20, height - bottom - 40

    def x_of(value: float) -> int:
        return left + round((value - bins[0]) / (bins[-1] - bins[0]) * plot_w)

    for scores, colour in ((impostor, (60, 60, 230)), (genuine, (60, 170, 60))):
        if not scores.size:
            continue
        density, _ = np.histogram(scores, bins=bins)
        density = density / density.max()
        for i, value in enumerate(density):
            top = height - bottom - round(value * plot_h)
            overlay = canvas.copy()
            cv2.rectangle(overlay, (x_of(bins[i]), top), (x_of(bins[i + 1]) - 1, height - bottom),
                          colour, -1)
            canvas = cv2.addWeighted(overlay, 0.55, canvas, 0.45, 0)
    cv2.line(canvas, (left, height - bottom), (width - 20, height - bottom), (0, 0, 0), 1)
    for tick in np.arange(-0.2, 1.01, 0.2):
        cv2.putText(canvas, f"{tick:.1f}", (x_of(tick) - 12, height - bottom + 18),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for value, colour, label in ((threshold, (200, 80, 0), "threshold"),
                                 (suggestion, (0, 0, 0), "suggested")):
        cv2.line(canvas, (x_of(value), 30), (x_of(value), height - bottom), colour, 2)
        cv2.putText(canvas, f"{label} {value:.2f}", (x_of(value) + 4, 24 if label == "threshold"
                    else 44), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    cv2.putText(canvas, "genuine (same person)", (left + 5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (60, 170, 60), 1)
    cv2.putText(canvas, "impostor (other people)", (left + 5, 40), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (60, 60, 230), 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), canvas):
        raise KnownFacesError(f"cannot write {target}", code="unwritable")


def format_report(report: dict[str, Any]) -> str:
    """The human-readable summary."""
    lines = [
        f"people {report['people']} ({report['enrolled_people']} enrolled, "
        f"{len(report['strangers'])} strangers), probes {report['probes']} "
        f"({report['known_probes']} known, {report['stranger_probes']} stranger)",
        f"top-1                      {report['top1']:.1%}",
        f"known accepted             {report['known_accept']:.1%}  "
        f"(threshold {report['threshold']}, margin {report['margin']})",
        f"strangers rejected         {report['stranger_rejection']:.1%}",
        f"TAR at FAR 1% / 0.1%       {report['tar_far_1pct']:.1%} / {report['tar_far_0_1pct']:.1%}",
        f"EER                        {report['eer']:.1%} at {report['eer_threshold']:.2f}",
        f"suggested threshold        {report['suggested_threshold']:.2f}",
    ]
    if report["failed_images"]:
        lines.append(f"no usable face in {len(report['failed_images'])} photo(s): "
                     + ", ".join(report["failed_images"]))
    if report["plot"]:
        lines.append(f"histogram written to {report['plot']}")
    return "\n".join(lines)
