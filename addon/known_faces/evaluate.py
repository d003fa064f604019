"""``known-faces evaluate``: accuracy on a user's own photos, with strangers held out.

Naming a stranger as a family member is the error users hate most, and a gallery never holds
everybody who rings the doorbell, so the evaluation is open-set: a share of the people is never
enrolled and their photos must come out unknown. The suggested threshold is the lowest one at
which (almost) no probe would be named as somebody else, which favours rejection — but never
under ``SAFE_THRESHOLD_FLOOR``: a household's photos rarely hold lookalike strangers, so what
separates them understates how close a stranger at the door gets (README, *Calibration*).
Results on too few probes are flagged, because a folder of a dozen photos can show 100% or 0%
by chance.

In ``accurate`` mode every figure is given for each model alone and for their fusion, side by
side (each model's cosine put on MobileFaceNet's scale by its impostor statistics, so one
threshold reads the same in every column); the verdicts, the suggestion and the histogram are
the fusion's, which is what the service names people by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import KnownFacesError
from .folders import people_photos
from .pipeline.engine import Engine
from .pipeline.fused_match import FusedMatcher
from .pipeline.match import Matcher, MatchSettings, PersonRef
from .recognizer import impostor_stats

SUGGEST_AT_FAR = 0.001
# Under this threshold lookalike strangers get named: on the held-out set with lookalikes
# (DESIGN §2, README *Calibration*) 0.45 named about 4% of strangers and 0.55 under 1%, so 0.50
# is the lowest threshold ``evaluate`` suggests, whatever a folder without lookalikes shows.
SAFE_THRESHOLD_FLOOR = 0.50
# Fewer known or stranger probes than this and the rates are chance: with n stranger probes and
# none named, up to 3/n of strangers may still be named in use (the 95% "rule of three").
MIN_PROBES = 20

Vector = np.ndarray
Vectors = dict[str, np.ndarray]
#: The column of the fused score in a side-by-side report.
FUSED = "fused"


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


def main_face_embeddings(engine: Engine, photo: Path) -> Vectors | None:
    """Every model's embedding of the largest face that passes the gates, or None;
    KnownFacesError (``unreadable`` or the decoder's code) when the file is not a usable
    image."""
    try:
        data = photo.read_bytes()
    except OSError as exc:
        raise KnownFacesError(exc.strerror or str(exc), code="unreadable") from exc
    faces = [f for f in engine.analyse(data) if f.embedding is not None]
    if not faces:
        return None
    return max(faces, key=lambda f: f.quality.face_px).embeddings


def scorers(models: Sequence[str], refs: Sequence[PersonRef],
            rows: Sequence[Vectors]) -> dict[str, FusedMatcher]:
    """Each model alone and, with several, their fusion: all on the first model's scale."""
    stats = impostor_stats(tuple(models))
    matchers = {m: Matcher(refs, [r[m] for r in rows]) for m in models}
    alone = {m: FusedMatcher({m: matchers[m]}, stats, stats[models[0]]) for m in models}
    return {**alone, FUSED: FusedMatcher(matchers, stats)} if len(models) > 1 else alone


def rate(scores: Vector, threshold: float) -> float:
    """Share of scores at or above ``threshold``."""
    return float(np.mean(scores >= threshold)) if scores.size else 0.0


def tar_at_far(genuine: Vector, impostor: Vector, far: float) -> float | None:
    """Best true-accept rate among thresholds whose false-accept rate is ≤ ``far`` (None
    without scores of both kinds)."""
    if not genuine.size or not impostor.size:
        return None
    candidates = np.unique(np.concatenate([genuine, impostor, [1.01]]))
    best = 0.0
    for threshold in candidates:
        if rate(impostor, threshold) <= far:
            best = max(best, rate(genuine, threshold))
    return best


def equal_error_rate(genuine: Vector, impostor: Vector) -> tuple[float | None, float | None]:
    """(EER, threshold where false accepts and false rejects are equal); (None, None) without
    scores of both kinds (the 100% it used to print then meant only "no data")."""
    if not genuine.size or not impostor.size:
        return None, None
    grid = np.linspace(-0.2, 1.0, 1201)
    far = np.array([rate(impostor, t) for t in grid])
    frr = np.array([1 - rate(genuine, t) for t in grid])
    index = int(np.argmin(np.abs(far - frr)))
    return float((far[index] + frr[index]) / 2), float(grid[index])


def separating_threshold(best_impostor: Vector) -> float | None:
    """Lowest threshold (rounded up to 0.01) at which at most 0.1% of probes would be named as
    somebody else — with few probes, just above the highest impostor; None without any."""
    if not best_impostor.size:
        return None
    ordered = np.sort(best_impostor)[::-1]
    allowed = int(np.floor(SUGGEST_AT_FAR * ordered.size))
    return float(np.ceil((ordered[allowed] + 1e-6) * 100) / 100)


def score_probes(
    matcher: FusedMatcher,
    settings: MatchSettings,
    known: Sequence[tuple[int, Vectors]],
    strangers: Sequence[Vectors],
) -> Scores:
    """Genuine and impostor similarities and the open-set verdicts."""
    scores = Scores([], [], [], 0, 0, len(known), 0, len(strangers))

    def query(vectors: Vectors) -> Vectors:
        return {m: vectors[m][None] for m in matcher.models}

    for own, vectors in known:
        sims = matcher.scores(query(vectors))[0][0]
        scores.genuine.append(float(sims[own]))
        others = np.delete(sims, own)
        scores.impostor.extend(others.tolist())
        if others.size:
            scores.best_impostor.append(float(others.max()))
        scores.top1_hits += int(np.argmax(sims) == own)
        verdict = matcher.match(query(vectors), settings)[0]
        best = verdict.best
        scores.known_accepted += int(verdict.known and best is not None
                                     and best.person == matcher.people[own].slug)
    for vectors in strangers:
        sims = matcher.scores(query(vectors))[0][0]
        scores.impostor.extend(sims.tolist())
        scores.best_impostor.append(float(sims.max()))
        scores.strangers_rejected += int(not matcher.match(query(vectors), settings)[0].known)
    return scores


def figures(scores: Scores) -> dict[str, Any]:
    """One scorer's rates and distribution figures (a column of the side-by-side report)."""
    genuine, impostor = np.array(scores.genuine), np.array(scores.impostor)
    eer, eer_threshold = equal_error_rate(genuine, impostor)
    return {
        "top1": share(scores.top1_hits, scores.known_probes),
        "known_accept": share(scores.known_accepted, scores.known_probes),
        "stranger_rejection": share(scores.strangers_rejected, scores.stranger_probes),
        "tar_far_1pct": tar_at_far(genuine, impostor, 0.01),
        "tar_far_0_1pct": tar_at_far(genuine, impostor, 0.001),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "separating_threshold": separating_threshold(np.array(scores.best_impostor)),
        "genuine_median": float(np.median(genuine)) if genuine.size else None,
        "genuine_min": float(genuine.min()) if genuine.size else None,
        "impostor_median": float(np.median(impostor)) if impostor.size else None,
        "impostor_max": float(impostor.max()) if impostor.size else None,
    }


def share(count: int, total: int) -> float | None:
    """count / total, or None when there is nothing to measure."""
    return count / total if total else None


def probe_warnings(known: int, strangers: int, enroll: int) -> list[str]:
    """Why the rates of a small folder must not be trusted, in words a user can act on."""
    warnings = []
    if known == 0:
        warnings.append(f"no known probes: every enrolled person has only {enroll} usable "
                        "photo(s), so top-1, known accepted, TAR and EER cannot be measured; "
                        f"give each person at least {enroll + 1}")
    elif known < MIN_PROBES:
        warnings.append(f"only {known} known probe(s): top-1 and known accepted are "
                        f"rough (aim for {MIN_PROBES} or more photos beyond the enrolled ones)")
    if strangers == 0:
        warnings.append("no stranger probes: nothing measures how often a stranger is "
                        "named; add people you do not enroll or raise --strangers")
    elif strangers < MIN_PROBES:
        warnings.append(f"only {strangers} stranger probe(s): even with none named here, up "
                        f"to {min(1.0, 3 / strangers):.0%} of strangers could be named in use "
                        f"(95% confidence); aim for {MIN_PROBES} or more")
    return warnings


def suggestion(separating: float | None, default: float) -> tuple[float, str | None]:
    """(threshold to suggest, warning): the separating threshold, raised to the safe floor
    with the reason when it falls below it."""
    if separating is None:
        return default, None
    if separating >= SAFE_THRESHOLD_FLOOR:
        return separating, None
    return SAFE_THRESHOLD_FLOOR, (
        f"the lowest threshold separating these strangers is {separating:.2f}, under the safe "
        f"floor {SAFE_THRESHOLD_FLOOR:.2f}: photos without lookalikes understate how close a "
        "stranger's face gets (a lookalike stranger reached 0.57 on the set the defaults "
        f"were chosen on), so {SAFE_THRESHOLD_FLOOR:.2f} is suggested instead "
        "(README, Calibration)")


def evaluate_folder(
    engine: Engine,
    folder: Path,
    *,
    settings: MatchSettings,
    enroll: int = 1,
    strangers: float = 0.3,
    seed: int = 0,
    histogram: Path | None = None,
) -> dict[str, Any]:
    """Enroll the first ``enroll`` photos of each non-stranger, probe everything else.

    Photos that cannot be read are listed in ``unreadable_images`` (the evaluation goes on);
    ``warnings`` says which figures rest on too little data."""
    people = people_photos(folder)
    if len(people) < 2:
        raise KnownFacesError(f"evaluate needs photos of at least two people; {folder} has "
                              f"{len(people)}", code="invalid_layout")
    names = sorted(people)
    order = np.random.default_rng(seed).permutation(len(names))
    n_strangers = min(len(names) - 1, round(strangers * len(names)))
    stranger_names = {names[i] for i in order[:n_strangers]}

    failed: list[str] = []
    unreadable: list[dict[str, str]] = []
    refs: list[PersonRef] = []
    rows: list[Vectors] = []
    known_probes: list[tuple[int, Vectors]] = []
    stranger_probes: list[Vectors] = []
    for name in names:
        vectors: list[Vectors | None] = []
        for photo in people[name]:
            try:
                vector = main_face_embeddings(engine, photo)
            except KnownFacesError as exc:
                unreadable.append({"image": str(photo), "error": exc.code,
                                   "message": exc.message})
                continue
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
        rows.append({m: np.vstack([v[m] for v in enrolled]) for m in engine.model_ids})
        known_probes.extend((len(refs) - 1, v) for v in vectors[enroll:] if v is not None)

    if not refs:
        raise KnownFacesError(f"nobody could be enrolled: none of the first {enroll} photo(s) "
                              "of any enrolled person has a usable face", code="no_usable_faces")
    columns = {label: score_probes(matcher, settings, known_probes, stranger_probes)
               for label, matcher in scorers(engine.model_ids, refs, rows).items()}
    scores = columns[FUSED] if FUSED in columns else columns[engine.model_id]
    main = figures(scores)
    genuine, impostor = np.array(scores.genuine), np.array(scores.impostor)
    separating = main["separating_threshold"]
    suggested, floor_warning = suggestion(separating, settings.threshold)
    warnings = probe_warnings(scores.known_probes, scores.stranger_probes, enroll)
    if floor_warning:
        warnings.append(floor_warning)
    report: dict[str, Any] = {
        **main,
        "mode": engine.mode,
        "models": {label: figures(s) for label, s in columns.items()},
        "suggested_threshold": suggested,
        "threshold_floor": SAFE_THRESHOLD_FLOOR,
        "threshold": settings.threshold,
        "margin": settings.margin,
        "people": len(names),
        "enrolled_people": len(refs),
        "strangers": sorted(stranger_names),
        "probes": scores.known_probes + scores.stranger_probes,
        "known_probes": scores.known_probes,
        "stranger_probes": scores.stranger_probes,
        "failed_images": failed,
        "unreadable_images": unreadable,
        "warnings": warnings,
        "histogram": None,
    }
    if histogram is not None:
        write_histogram(histogram, genuine, impostor, settings.threshold, suggested,
                        fused=FUSED in columns)
        report["histogram"] = str(histogram)
    return report


def histogram_texts(genuine: int, impostor: int, fused: bool = False) -> dict[str, str]:
    """The title, axis titles and legend of the histogram, with the counts behind each curve
    (a reader must see whether a bar is one score or a hundred)."""
    kind = "fused " if fused else ""
    return {
        "title": f"known-faces evaluate: {genuine} genuine and {impostor} impostor "
                 f"{kind}similarities",
        "x_axis": ("fused score (MobileFaceNet + dlib, on MobileFaceNet's cosine scale)" if fused
                   else "cosine similarity of a probe to an enrolled person"),
        "y_axis": "share of that kind's scores per bin",
        "genuine": f"genuine (same person), n = {genuine}",
        "impostor": f"impostor (other people), n = {impostor}",
    }


def write_histogram(target: Path, genuine: Vector, impostor: Vector,
                    threshold: float, suggested: float, *, fused: bool = False) -> None:
    """Genuine (green) vs impostor (red) similarity histograms, each normalised to its own
    count so both shapes show, with the thresholds marked (drawn with OpenCV, so the
    evaluation needs no plotting library)."""
    width, height, left, right, top, bottom = 900, 480, 80, 20, 70, 60
    font, ink = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    texts = histogram_texts(genuine.size, impostor.size, fused)
    canvas: np.ndarray = np.full((height, width, 3), 255, dtype=np.uint8)
    low, high = -0.2, 1.0
    bins = np.linspace(low, high, 61)
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [(s, c) for s, c in ((impostor, (60, 60, 230)), (genuine, (60, 170, 60))) if s.size]
    shares = [np.histogram(np.clip(s, low, high), bins=bins)[0] / s.size
              for s, _ in series]
    peak = max((float(s.max()) for s in shares), default=1.0) or 1.0
    y_max = float(np.ceil(peak * 10) / 10)

    def x_of(value: float) -> int:
        return left + round((float(value) - low) / (high - low) * plot_w)

    def y_of(value: float) -> int:
        return height - bottom - round(float(value) / y_max * plot_h)

    for (_, colour), density in zip(series, shares, strict=True):
        overlay = canvas.copy()
        for i, value in enumerate(density):
            if value:
                cv2.rectangle(overlay, (x_of(bins[i]), y_of(value)),
                              (x_of(bins[i + 1]) - 1, height - bottom), colour, -1)
        canvas = cv2.addWeighted(overlay, 0.55, canvas, 0.45, 0)
    cv2.line(canvas, (left, height - bottom), (width - right, height - bottom), ink, 1)
    cv2.line(canvas, (left, top), (left, height - bottom), ink, 1)
    for tick in np.arange(-0.2, 1.01, 0.2):
        cv2.putText(canvas, f"{tick:.1f}", (x_of(tick) - 12, height - bottom + 18), font, 0.45,
                    ink, 1)
    for tick in np.linspace(0, y_max, 5):
        cv2.putText(canvas, f"{tick:.0%}", (left - 45, y_of(tick) + 5), font, 0.45, ink, 1)
        cv2.line(canvas, (left - 4, y_of(tick)), (left, y_of(tick)), ink, 1)
    cv2.putText(canvas, texts["title"], (left, 24), font, 0.6, ink, 1)
    cv2.putText(canvas, texts["x_axis"], (left + plot_w // 2 - 300, height - 14), font, 0.5,
                ink, 1)
    (label_w, label_h), _ = cv2.getTextSize(texts["y_axis"], font, 0.5, 1)
    vertical: np.ndarray = np.full((label_h + 8, label_w + 4, 3), 255, dtype=np.uint8)
    cv2.putText(vertical, texts["y_axis"], (2, label_h + 2), font, 0.5, ink, 1)
    vertical = cv2.rotate(vertical, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y0 = max(top, top + (plot_h - vertical.shape[0]) // 2)
    rows = min(vertical.shape[0], height - y0)
    canvas[y0 : y0 + rows, 4 : 4 + vertical.shape[1]] = vertical[:rows]
    for value, colour, label, y in ((threshold, (200, 80, 0), "threshold", top - 6),
                                    (suggested, ink, "suggested", top + 14)):
        cv2.line(canvas, (x_of(value), top), (x_of(value), height - bottom), colour, 2)
        cv2.putText(canvas, f"{label} {value:.2f}", (x_of(value) + 4, y), font, 0.5, colour, 1)
    cv2.putText(canvas, texts["genuine"], (left + 8, top + 20), font, 0.5, (60, 170, 60), 1)
    cv2.putText(canvas, texts["impostor"], (left + 8, top + 40), font, 0.5, (60, 60, 230), 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), canvas):
        raise KnownFacesError(f"cannot write {target} (use a .png name)", code="unwritable")


def percent(value: float | None) -> str:
    """A rate, or why there is none."""
    return "n/a" if value is None else f"{value:.1%}"


def side_by_side(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Each model alone and the fusion, one column each, at the same threshold and margin."""
    def eer(f: dict[str, Any]) -> str:
        return "n/a" if f["eer"] is None else f"{f['eer']:.1%}@{f['eer_threshold']:.2f}"

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("top-1", lambda f: percent(f["top1"])),
        ("known accepted", lambda f: percent(f["known_accept"])),
        ("strangers rejected", lambda f: percent(f["stranger_rejection"])),
        ("TAR at FAR 1%", lambda f: percent(f["tar_far_1pct"])),
        ("TAR at FAR 0.1%", lambda f: percent(f["tar_far_0_1pct"])),
        ("EER", eer),
        ("lowest genuine", lambda f: number(f["genuine_min"])),
        ("highest impostor", lambda f: number(f["impostor_max"])),
        ("separating threshold", lambda f: number(f["separating_threshold"])),
    ]
    width = max(18, *(len(label) + 2 for label in columns))
    lines = [f"{'(MobileFaceNet scale)':26}" + "".join(f"{label:>{width}}" for label in columns)]
    for title, cell in rows:
        lines.append(f"{title:26}" + "".join(f"{cell(f):>{width}}" for f in columns.values()))
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The human-readable summary (warnings go to stderr, see ``cli.cmd_evaluate``); with
    several models, a side-by-side table of each model alone and the fusion first."""
    eer = ("n/a" if report["eer"] is None
           else f"{report['eer']:.1%} at {report['eer_threshold']:.2f}")
    tar = f"{percent(report['tar_far_1pct'])} / {percent(report['tar_far_0_1pct'])}"
    lines = [
        f"people {report['people']} ({report['enrolled_people']} enrolled, "
        f"{len(report['strangers'])} strangers), probes {report['probes']} "
        f"({report['known_probes']} known, {report['stranger_probes']} stranger)",
        f"top-1                      {percent(report['top1'])}",
        f"known accepted             {percent(report['known_accept'])}  "
        f"(threshold {report['threshold']}, margin {report['margin']})",
        f"strangers rejected         {percent(report['stranger_rejection'])}",
        f"TAR at FAR 1% / 0.1%       {tar}",
        f"EER                        {eer}",
    ]
    if len(report.get("models", {})) > 1:
        lines[1:1] = [*side_by_side(report["models"]),
                      f"verdicts below are the fusion's (mode {report['mode']})"]
    separating = report["separating_threshold"]
    if separating is not None and separating < report["threshold_floor"]:
        lines.append(f"separating threshold       {separating:.2f}  (under the safe floor "
                     f"{report['threshold_floor']:.2f}: unsafe, see the warning)")
    lines.append(f"suggested threshold        {report['suggested_threshold']:.2f}")
    if report["failed_images"]:
        lines.append(f"no usable face in {len(report['failed_images'])} photo(s): "
                     + ", ".join(report["failed_images"]))
    if report["histogram"]:
        lines.append(f"histogram written to {report['histogram']}")
    return "\n".join(lines)
