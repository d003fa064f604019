"""Match face embeddings against the gallery: best per person, threshold and margin (DESIGN §3).

The gallery is held as one normalised float32 matrix with the rows of each person contiguous,
so a snapshot's faces are matched with one matrix product and one ``maximum.reduceat``. A
``Matcher`` is immutable: a gallery change builds a new one and swaps the reference, so a match
running in another thread never sees a half-updated gallery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .results import Candidate, Match


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """When a face is named: similarity ≥ threshold and a lead of ≥ margin over the runner-up.

    The defaults favour rejection: naming a stranger as a family member is the worst error
    (README, *Calibration*).
    """

    threshold: float = 0.55
    margin: float = 0.08


@dataclass(frozen=True, slots=True)
class PersonRef:
    """The identity a gallery row belongs to."""

    slug: str
    name: str


class Matcher:
    """An immutable snapshot of the gallery's embeddings for one model."""

    def __init__(self, people: Sequence[PersonRef], rows: Sequence[np.ndarray]) -> None:
        """``rows[i]`` is an ``n_i×D`` array of person i's unit embeddings (n_i may be 0)."""
        kept = [(p, r) for p, r in zip(people, rows, strict=True) if len(r)]
        self.people = [p for p, _ in kept]
        counts = [len(r) for _, r in kept]
        self.starts = np.cumsum([0, *counts[:-1]]).astype(np.intp)
        dim = kept[0][1].shape[1] if kept else 0
        self.matrix = (
            np.ascontiguousarray(np.vstack([r for _, r in kept]), dtype=np.float32)
            if kept
            else np.zeros((0, dim), dtype=np.float32)
        )

    def __len__(self) -> int:
        """Number of stored embeddings."""
        return len(self.matrix)

    def person_similarities(self, queries: np.ndarray) -> np.ndarray:
        """``F×P``: for each query face, the best cosine over each person's embeddings."""
        if not self.people:
            return np.zeros((len(queries), 0), dtype=np.float32)
        # N×F rather than F×N: a matrix-vector product over contiguous rows, then the
        # per-person maximum over each person's contiguous block of rows.
        return np.maximum.reduceat(self.matrix @ queries.T, self.starts, axis=0).T

    def match(self, queries: np.ndarray, settings: MatchSettings) -> list[Match]:
        """The verdict for each query face."""
        sims = self.person_similarities(queries)
        return [verdict(self.people, row, settings) for row in sims]


def verdict(people: Sequence[PersonRef], row: np.ndarray, settings: MatchSettings,
            scores: Mapping[str, np.ndarray] | None = None) -> Match:
    """Best and runner-up of one face's per-person scores ``row``, named when the best clears
    the threshold and leads by the margin; ``scores`` (model → that face's per-person cosines)
    is reported on each candidate when ``row`` is their fusion."""
    if row.size == 0:
        return Match(False, None, None, settings.threshold, settings.margin)

    def candidate(index: int) -> Candidate:
        person = people[index]
        by_model = {model: float(values[index]) for model, values in (scores or {}).items()}
        return Candidate(person.slug, person.name, float(row[index]), by_model)

    order = np.argsort(row)[::-1][:2]
    best = candidate(order[0])
    second = candidate(order[1]) if len(order) > 1 else None
    lead = best.similarity - (second.similarity if second else -1.0)
    known = best.similarity >= settings.threshold and lead >= settings.margin
    return Match(known, best, second, settings.threshold, settings.margin)
