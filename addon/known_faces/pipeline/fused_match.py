"""Match against several embedders at once and fuse their scores (DESIGN §3).

Per person and per model the best cosine over that person's embeddings (each model's own
``Matcher``); each model's cosines standardised by its impostor distribution and averaged
(``score.fuse``), on MobileFaceNet's cosine scale, so ``match_threshold`` and ``margin`` mean
what they mean for MobileFaceNet alone. The first model is the reference and fixes the people:
a person with no vector of another model (its re-embedding failed) is scored by the models
that have one. Immutable, like ``Matcher``: a gallery change builds a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .match import Matcher, MatchSettings, PersonRef, verdict
from .results import Match
from .score import ImpostorStats, fuse


class FusedMatcher:
    """One ``Matcher`` per model, the reference model's first."""

    def __init__(self, matchers: Mapping[str, Matcher], stats: Mapping[str, ImpostorStats],
                 reference: ImpostorStats | None = None) -> None:
        """``reference`` is the scale scores are put on (by default the first model's own):
        ``evaluate`` scores dlib alone on MobileFaceNet's scale, so one threshold fits all."""
        if not matchers:
            raise ValueError("a fused matcher needs at least one model")
        self.models = tuple(matchers)
        self.matchers = dict(matchers)
        self.stats = {model: stats[model] for model in self.models}
        self.reference = reference or self.stats[self.models[0]]
        self.people: Sequence[PersonRef] = self.matchers[self.models[0]].people
        slugs = {person.slug: i for i, person in enumerate(self.people)}
        # For each model, the reference column of each of its people (people it lacks: NaN).
        self._columns = {model: np.asarray([slugs.get(p.slug, -1) for p in m.people], np.intp)
                         for model, m in self.matchers.items()}

    def __len__(self) -> int:
        """Stored embeddings of the reference model."""
        return len(self.matchers[self.models[0]])

    def cosines(self, queries: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per model, ``F×P``: each face's best cosine per person (NaN: no vector of them)."""
        out = {}
        for model, matcher in self.matchers.items():
            sims = matcher.person_similarities(queries[model])
            aligned = np.full((len(sims), len(self.people)), np.nan, dtype=np.float32)
            keep = self._columns[model] >= 0
            aligned[:, self._columns[model][keep]] = sims[:, keep]
            out[model] = aligned
        return out

    def scores(self, queries: Mapping[str, np.ndarray]) -> tuple[np.ndarray,
                                                                  dict[str, np.ndarray]]:
        """The fused ``F×P`` scores and the per-model cosines they came from."""
        cosines = self.cosines(queries)
        return fuse(cosines, self.stats, self.reference), cosines

    def match(self, queries: Mapping[str, np.ndarray], settings: MatchSettings) -> list[Match]:
        """The verdict for each query face; ``queries`` holds every model's ``F×D`` vectors."""
        fused, cosines = self.scores(queries)
        return [verdict(self.people, row, settings,
                        {model: values[i] for model, values in cosines.items()})
                for i, row in enumerate(fused)]
