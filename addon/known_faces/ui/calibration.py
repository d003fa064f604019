"""The calibration page's numbers and charts: how the gallery's own faces score against each
other, so a user sees where ``match_threshold`` and ``margin`` fall (DESIGN §12).

Genuine scores are the pairs of photos of one person, impostor scores the pairs of different
people. Per face, leaving it out, the best genuine score against the best impostor score says
whether it would be named at a threshold: that is the ``lead`` the margin is about. Charts are
inline SVG drawn here, so the page needs no script and no chart library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..pipeline.fused_match import FusedMatcher
from ..pipeline.match import Matcher
from ..pipeline.score import fuse

MAX_FACES = 1500  # pairs grow as n²: a sample of this many faces answers the same question
THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
WIDTH, HEIGHT, PAD_X, PAD_Y = 640, 220, 40, 28


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    """What one threshold would do to the gallery's own faces."""

    threshold: float
    genuine_share: float  # of genuine pairs at or above it
    impostor_pairs: int  # impostor pairs at or above it
    named: int  # faces (left out) that would be named as their own person
    wrong: int  # faces (left out) that would be named as somebody else
    visitors_named: int  # visitors awaiting review that some person would be named for


@dataclass(frozen=True, slots=True)
class Calibration:
    """Every score the charts and the table are drawn from."""

    people: int
    faces: int
    genuine: np.ndarray
    impostor: np.ndarray
    leads: np.ndarray
    rows: tuple[ThresholdRow, ...]


def calibrate(fused: FusedMatcher, threshold: float, margin: float,
              visitors: Sequence[Sequence[Mapping[str, np.ndarray]]] = ()) -> Calibration:
    """Pairwise scores of the gallery's faces (a fixed sample beyond ``MAX_FACES``), fused over
    every model whose vectors cover the same faces as the reference model's, so the charts
    show the score ``match_threshold`` is compared with; and, per threshold, how many of the
    ``visitors`` awaiting review (each its sightings' vectors by model) would have been named
    as somebody: strangers the user has not assigned are what a lower threshold would name."""
    reference = fused.matchers[fused.models[0]]
    models = [m for m in fused.models if _same_faces(fused.matchers[m], reference)]
    owner = np.repeat(np.arange(len(reference.people)),
                      np.diff([*reference.starts.tolist(), len(reference.matrix)]))
    keep = np.arange(len(owner))
    if len(keep) > MAX_FACES:
        keep = np.sort(np.random.default_rng(0).choice(len(keep), MAX_FACES, replace=False))
    owner = owner[keep]
    cosines = {m: fused.matchers[m].matrix[keep] @ fused.matchers[m].matrix[keep].T
               for m in models}
    sims = fuse(cosines, fused.stats, fused.reference)
    same = owner[:, None] == owner[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    genuine, impostor = sims[same & upper], sims[~same & upper]
    best_genuine = np.where(same & ~np.eye(len(sims), dtype=bool), sims, -np.inf).max(
        axis=1, initial=-np.inf)
    best_impostor = np.where(~same, sims, -np.inf).max(axis=1, initial=-np.inf)
    has_pair = np.isfinite(best_genuine)
    rival = np.where(np.isfinite(best_impostor), best_impostor, -1.0)
    leads = (best_genuine - rival)[has_pair]
    visitor_best, visitor_lead = _visitor_scores(fused, visitors)
    rows = tuple(_row(t, margin, genuine, impostor, best_genuine[has_pair], rival[has_pair],
                      int(np.sum((visitor_best >= t) & (visitor_lead >= margin))))
                 for t in sorted({*THRESHOLDS, round(threshold, 2)}))
    return Calibration(len(set(owner.tolist())), len(owner), genuine, impostor, leads, rows)


def _same_faces(matcher: Matcher, reference: Matcher) -> bool:
    """Whether a model's matrix holds a vector of each of the reference's faces, in order
    (a face whose other vector is missing or unusable breaks the row-by-row pairing)."""
    return (len(matcher.matrix) == len(reference.matrix)
            and [p.slug for p in matcher.people] == [p.slug for p in reference.people]
            and np.array_equal(matcher.starts, reference.starts))


def _visitor_scores(fused: FusedMatcher, visitors: Sequence[Sequence[Mapping[str, np.ndarray]]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per visitor, the best person's fused score over its sightings and that person's lead
    over the runner-up (as the matcher would judge its best sighting)."""
    best, lead = [], []
    for sightings in visitors:
        usable = [s for s in sightings if all(m in s for m in fused.models)]
        if not usable or not fused.people:
            continue
        scores, _ = fused.scores({m: np.stack([s[m] for s in usable]) for m in fused.models})
        per_person = np.nanmax(scores, axis=0)
        ranked = np.sort(per_person)[::-1]
        best.append(float(ranked[0]))
        lead.append(float(ranked[0] - (ranked[1] if len(ranked) > 1 else -1.0)))
    return np.asarray(best, np.float32), np.asarray(lead, np.float32)


def _row(threshold: float, margin: float, genuine: np.ndarray, impostor: np.ndarray,
         own: np.ndarray, rival: np.ndarray, visitors_named: int) -> ThresholdRow:
    share = float(np.mean(genuine >= threshold)) if len(genuine) else 0.0
    named = int(np.sum((own >= threshold) & (own - rival >= margin)))
    wrong = int(np.sum((rival >= threshold) & (rival - own >= margin)))
    return ThresholdRow(threshold, share, int(np.sum(impostor >= threshold)), named, wrong,
                        visitors_named)


def histogram_svg(series: dict[str, np.ndarray], marks: dict[str, float], *, low: float,
                  high: float, title: str, bins: int = 50) -> str:
    """Bars of each series (each scaled to its own tallest bin, since impostor pairs far
    outnumber genuine ones) over [low, high], with labelled vertical lines at ``marks``.
    Series keys are also the bars' CSS classes."""
    span_x = WIDTH - 2 * PAD_X
    span_y = HEIGHT - 2 * PAD_Y
    step = span_x / bins

    def x_of(value: float) -> float:
        return PAD_X + (min(max(value, low), high) - low) / (high - low) * span_x

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{title}"><title>{title}</title>']
    for name, values in series.items():
        counts, _ = np.histogram(np.clip(values, low, high), bins=bins, range=(low, high))
        top = max(int(counts.max(initial=0)), 1)
        for i, count in enumerate(counts.tolist()):
            if count:
                h = count / top * span_y
                parts.append(f'<rect class="bar {name}" x="{PAD_X + i * step:.1f}" '
                             f'y="{HEIGHT - PAD_Y - h:.1f}" width="{step:.1f}" '
                             f'height="{h:.1f}"><title>{name}: {count}</title></rect>')
    parts.append(f'<line class="axis" x1="{PAD_X}" y1="{HEIGHT - PAD_Y}" '
                 f'x2="{WIDTH - PAD_X}" y2="{HEIGHT - PAD_Y}"/>')
    tick = 0.25
    value = np.ceil(low / tick) * tick
    while value <= high + 1e-9:
        x = x_of(float(value))
        parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - PAD_Y + 16}">'
                     f'{value:.2f}</text>')
        value += tick
    for i, (label, at) in enumerate(marks.items()):
        x = x_of(at)
        parts.append(f'<line class="mark" x1="{x:.1f}" y1="{PAD_Y - 8}" x2="{x:.1f}" '
                     f'y2="{HEIGHT - PAD_Y}"/><text class="mark-label" x="{x + 4:.1f}" '
                     f'y="{PAD_Y - 10 + 14 * i}">{label} {at:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
