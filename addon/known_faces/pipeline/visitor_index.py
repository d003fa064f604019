"""Which visitor (a cluster of unknown sightings, DESIGN §9) a face belongs to, fast.

Every unknown face is compared with every visitor, so the index is a preallocated array of
``SLOTS`` vectors per visitor and model, grown by doubling: joining or starting a visitor
writes a few rows instead of rebuilding a matrix, and a lookup is one matrix product and a
maximum over the slots (about 3 ms against 10,000 visitors on two cores). Empty slots hold
zero vectors, whose cosine (0) is below any model's impostor mean, so they never win.

A visitor's score is, per model, its best slot's cosine, fused across models like a person's
(``score.fuse``), so visitors and people are compared on the same scale. A visitor none of
whose kept sightings has a vector of some model (all recorded in ``fast`` mode, or before
sightings kept every model's vector) is scored on the models it has: that model's cosine is
NaN, which ``fuse`` leaves out of the mean. ``nearest`` reads the
slots of only the ``CANDIDATES`` visitors whose mean vector is closest: the full slot array of
10,000 visitors is about 60 MB, which one look-up cannot afford to stream through.

Not thread-safe by itself: the visitor store holds a lock around look-up-then-assign, which
must be atomic anyway (two frames of one new stranger must start one visitor, not two).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .score import ImpostorStats, fuse

SLOTS = 8
INITIAL_CAPACITY = 64
CANDIDATES = 64


class VisitorIndex:
    """Per model, ``capacity × SLOTS × D`` unit vectors; row ``i`` belongs to ``ids[i]``."""

    def __init__(self, dims: Mapping[str, int], stats: Mapping[str, ImpostorStats],
                 reference: ImpostorStats) -> None:
        self._dims = dict(dims)
        self._stats = stats
        self._reference = reference
        self._vectors = {model: np.zeros((INITIAL_CAPACITY, SLOTS, dim), np.float32)
                         for model, dim in self._dims.items()}
        self._means = {model: np.zeros((INITIAL_CAPACITY, dim), np.float32)
                       for model, dim in self._dims.items()}
        self._ids = np.zeros(INITIAL_CAPACITY, np.int64)
        self._ignored = np.zeros(INITIAL_CAPACITY, bool)
        self._has = {model: np.zeros(INITIAL_CAPACITY, bool) for model in self._dims}
        self._row: dict[int, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, visitor: int) -> bool:
        return visitor in self._row

    def put(self, visitor: int, slots: Mapping[str, np.ndarray], *, ignored: bool) -> None:
        """Set a visitor's vectors (per model ``n × D``, n ≤ SLOTS; a model missing or with
        no rows: the visitor has no vector of it) and status; at least one model's vectors."""
        if not any(len(slots.get(model, ())) for model in self._dims):
            raise ValueError("a visitor needs at least one vector")
        row = self._row.get(visitor)
        if row is None:
            row = self._count
            if row == len(self._ids):
                self._grow()
            self._row[visitor] = row
            self._count += 1
            self._ids[row] = visitor
        for model, array in self._vectors.items():
            vectors = np.asarray(slots.get(model, ()), np.float32)[:SLOTS]
            array[row] = 0.0
            self._means[model][row] = 0.0
            self._has[model][row] = len(vectors) > 0
            if len(vectors):
                array[row, : len(vectors)] = vectors
                mean = vectors.mean(axis=0)
                self._means[model][row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self._ignored[row] = ignored

    def remove(self, visitor: int) -> None:
        """Drop a visitor; the last row moves into its place."""
        row = self._row.pop(visitor, None)
        if row is None:
            return
        last = self._count - 1
        if row != last:
            moved = int(self._ids[last])
            for arrays in (self._vectors, self._means):
                for array in arrays.values():
                    array[row] = array[last]
            for has in self._has.values():
                has[row] = has[last]
            self._ids[row], self._ignored[row] = moved, self._ignored[last]
            self._row[moved] = row
        for arrays in (self._vectors, self._means):
            for array in arrays.values():
                array[last] = 0.0
        self._count = last

    def nearest(self, query: Mapping[str, np.ndarray]) -> tuple[int, float, bool] | None:
        """(visitor, fused score, ignored) of the best visitor for one face (per model a
        ``D`` unit vector), or None when there are no visitors."""
        n = self._count
        if n == 0:
            return None
        rows = np.arange(n)
        if n > CANDIDATES:
            coarse = fuse({model: self._present(model, rows, self._means[model][:n]
                                                @ np.asarray(query[model], np.float32))
                           for model in self._models(query)}, self._stats, self._reference)
            rows = np.argpartition(coarse, n - CANDIDATES)[n - CANDIDATES:]
        scores = self._slot_scores(query, rows)
        best = int(rows[int(np.argmax(scores))])
        return int(self._ids[best]), float(scores.max()), bool(self._ignored[best])

    def scores(self, query: Mapping[str, np.ndarray]) -> np.ndarray:
        """The exact fused score of one face against every visitor, in row order."""
        return self._slot_scores(query, np.arange(self._count))

    def _slot_scores(self, query: Mapping[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(0, np.float32)
        cosines = {}
        for model in self._models(query):
            dim = self._dims[model]
            # A 2-D matrix-vector product (BLAS); a 3-D one is several times slower.
            flat = self._vectors[model][rows].reshape(len(rows) * SLOTS, dim)
            cosines[model] = self._present(model, rows, (
                flat @ np.asarray(query[model], np.float32)).reshape(len(rows), SLOTS).max(axis=1))
        return fuse(cosines, self._stats, self._reference)

    def _models(self, query: Mapping[str, np.ndarray]) -> list[str]:
        """The models a face is compared on: the index's that the face has a vector of."""
        return [model for model in self._dims if model in query]

    def _present(self, model: str, rows: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        """``cosines`` of ``rows``, NaN where the visitor has no vector of ``model``."""
        return np.where(self._has[model][rows], cosines, np.float32(np.nan))

    def ids(self) -> np.ndarray:
        """Visitor ids in row order (what ``scores`` is aligned with)."""
        return self._ids[: self._count].copy()

    def _grow(self) -> None:
        capacity = 2 * len(self._ids)
        for model, array in self._vectors.items():
            grown = np.zeros((capacity, SLOTS, self._dims[model]), np.float32)
            grown[: len(array)] = array
            self._vectors[model] = grown
            means = np.zeros((capacity, self._dims[model]), np.float32)
            means[: len(array)] = self._means[model]
            self._means[model] = means
        for model, has in self._has.items():
            self._has[model] = np.resize(has, capacity)
        self._ids = np.resize(self._ids, capacity)
        self._ignored = np.resize(self._ignored, capacity)
