"""Golden embeddings: the numerical check of the converted embedders (DESIGN §2).

tflite2onnx does not write byte-identical files, so the converted MobileFaceNet is verified by
what it computes: on fixed synthetic inputs its embeddings must match the ones recorded once
from a conversion checked by hand (``golden_embeddings.json``). dlib's ResNet is checked the
same way against what dlib itself (dlib-bin's ``compute_face_descriptor``) computed on the same
synthetic inputs (``dlib_golden_embeddings.json``, recorded by ``bench/record_dlib_goldens.py``,
which also keeps dlib's descriptors of real chips for the tests). No photo is shipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..pipeline.align import CHIPS
from ..pipeline.embed import Embedder
from .catalogue import ModelSpec

GOLDEN_FILE = Path(__file__).with_name("golden_embeddings.json")
DLIB_GOLDEN_FILE = Path(__file__).with_name("dlib_golden_embeddings.json")
GOLDEN_FILES = {"mobilefacenet-192": GOLDEN_FILE, "dlib-resnet-128": DLIB_GOLDEN_FILE}
TOLERANCE = 1e-3


def golden_inputs(size: int = 112) -> np.ndarray:
    """Two deterministic ``size``² BGR inputs: seeded noise and a colour gradient."""
    rng = np.random.default_rng(20261123)
    noise = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    y, x = np.mgrid[0:size, 0:size]
    gradient = np.stack([x * 2, y * 2, x + y], axis=-1).clip(0, 255).astype(np.uint8)
    return np.stack([noise, gradient])


def load_embedder(path: Path, spec: ModelSpec) -> Embedder:
    """A one-thread session on ``path`` as ``spec`` declares it."""
    if spec.preprocessing is None:
        raise ModelError(f"{spec.id} is not an embedder")
    return Embedder(path, spec.preprocessing, spec.id, threads=1, size=CHIPS[spec.chip].size)


def compute_golden(path: Path, spec: ModelSpec) -> np.ndarray:
    """The model's embeddings of the golden inputs."""
    return load_embedder(path, spec).embed(golden_inputs(CHIPS[spec.chip].size))


def recorded(spec: ModelSpec) -> dict[str, Any]:
    """The golden file of ``spec``; ModelError when none was recorded for it."""
    file = GOLDEN_FILES.get(spec.id)
    data: dict[str, Any] = json.loads(file.read_text()) if file else {}
    if data.get("model") != spec.id:
        raise ModelError(f"no golden embeddings recorded for {spec.id}")
    return data


def check_golden_embeddings(path: Path, spec: ModelSpec) -> float:
    """Raise ModelError unless ``path`` reproduces the recorded embeddings; return max |diff|."""
    expected = np.asarray(recorded(spec)["embeddings"], dtype=np.float32)
    try:
        got = compute_golden(path, spec)
    except ModelError as exc:
        raise ModelError(f"{spec.id}: {exc.message}") from exc
    if got.shape != expected.shape:
        raise ModelError(f"{spec.id}: output shape {got.shape}, expected {expected.shape}")
    worst = float(np.abs(got - expected).max())
    if worst > TOLERANCE:
        raise ModelError(f"{spec.id}: embeddings differ from the golden ones by {worst:.2e}")
    return worst
