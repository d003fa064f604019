"""Golden embeddings: the numerical check of the converted embedder (DESIGN §2).

tflite2onnx does not write byte-identical files, so the converted MobileFaceNet is verified by
what it computes: on fixed synthetic inputs its embeddings must match the ones recorded once
from a conversion checked by hand (``golden_embeddings.json``). No photo is shipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..pipeline.embed import Embedder
from .catalogue import ModelSpec

GOLDEN_FILE = Path(__file__).with_name("golden_embeddings.json")
TOLERANCE = 1e-3


def golden_inputs() -> np.ndarray:
    """Two deterministic 112×112 BGR inputs: seeded noise and a colour gradient."""
    rng = np.random.default_rng(20261123)
    noise = rng.integers(0, 256, size=(112, 112, 3), dtype=np.uint8)
    y, x = np.mgrid[0:112, 0:112]
    gradient = np.stack([x * 2, y * 2, x + y], axis=-1).clip(0, 255).astype(np.uint8)
    return np.stack([noise, gradient])


def compute_golden(path: Path, spec: ModelSpec) -> np.ndarray:
    """The model's embeddings of the golden inputs."""
    if spec.preprocessing is None:
        raise ModelError(f"{spec.id} is not an embedder")
    return Embedder(path, spec.preprocessing, spec.id, threads=1).embed(golden_inputs())


def check_golden_embeddings(path: Path, spec: ModelSpec) -> float:
    """Raise ModelError unless ``path`` reproduces the recorded embeddings; return max |diff|."""
    recorded = json.loads(GOLDEN_FILE.read_text())
    if recorded.get("model") != spec.id:
        raise ModelError(f"no golden embeddings recorded for {spec.id}")
    expected = np.asarray(recorded["embeddings"], dtype=np.float32)
    got = compute_golden(path, spec)
    if got.shape != expected.shape:
        raise ModelError(f"{spec.id}: output shape {got.shape}, expected {expected.shape}")
    worst = float(np.abs(got - expected).max())
    if worst > TOLERANCE:
        raise ModelError(f"{spec.id}: embeddings differ from the golden ones by {worst:.2e}")
    return worst
