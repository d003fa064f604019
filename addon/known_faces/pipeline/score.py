"""One similarity scale for every embedder and for their fusion (DESIGN §3).

Each embedder has its own cosine scale (MobileFaceNet's impostors sit around 0.01, dlib's
around 0.82), so cosines of two models cannot be averaged as they are. Each model's cosine is
standardised by its impostor distribution, z = (s − μ) / σ, the z-scores are averaged, and the
mean is mapped back onto the reference model's cosine scale (z · σ_ref + μ_ref), so that
``match_threshold`` and ``margin`` keep the meaning they have for MobileFaceNet alone. With a
single model that is the reference, the score is the cosine itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ImpostorStats:
    """Mean and standard deviation of a model's cosine between different people."""

    mean: float
    sd: float

    def standardise(self, cosine: np.ndarray) -> np.ndarray:
        """Cosines as impostor z-scores."""
        z: np.ndarray = (cosine - self.mean) / self.sd
        return z


def fuse(cosines: Mapping[str, np.ndarray], stats: Mapping[str, ImpostorStats],
         reference: ImpostorStats) -> np.ndarray:
    """The fused score of same-shaped per-model cosine arrays, on the reference's scale. A NaN
    cosine (that model has no vector of the person) is left out of that entry's mean."""
    if not cosines:
        raise ValueError("fusing needs at least one model's cosines")
    z = np.nanmean([stats[model].standardise(values) for model, values in cosines.items()],
                axis=0)
    fused: np.ndarray = (z * reference.sd + reference.mean).astype(np.float32)
    return fused
