"""Embed aligned square chips with an ONNX embedder, batched, L2-normalised.

The chip size is the graph's (112 for ArcFace-style models, 150 for dlib's ResNet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models.catalogue import Preprocessing
from .onnx_session import create_session


def preprocess_crops(crops: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """``N×S×S×3`` BGR uint8 crops → ``N×3×S×S`` float32 as the model declares."""
    if prep.channels == "RGB":
        crops = crops[..., ::-1]
    mean = (np.asarray(prep.channel_means, dtype=np.float32) if prep.channel_means
            else np.float32(prep.mean))
    batch = (crops.astype(np.float32) - mean) / np.float32(prep.std)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so a dot product is the cosine similarity."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class Embedder:
    """One ONNX embedder session; ``embed`` runs all crops of a snapshot in one batch."""

    def __init__(self, path: Path, prep: Preprocessing, model_id: str, threads: int = 2,
                 size: int = 112) -> None:
        self.session = create_session(path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        in_shape = inputs[0].shape if len(inputs) == 1 else []
        out_shape = outputs[0].shape if outputs else []
        if list(in_shape[1:]) != [3, size, size] or len(out_shape) != 2 or not isinstance(
            out_shape[1], int
        ):
            kind = "an ArcFace-style embedder" if size == 112 else f"a {size}×{size} embedder"
            raise ModelError(
                f"{path.name} is not {kind} (input {in_shape}, output "
                f"{out_shape}; expected N×3×{size}×{size} → N×D)"
            )
        self.size = size
        self.input_name = inputs[0].name
        self.prep = prep
        self.model_id = model_id
        self.dim = int(out_shape[1])

    def run_raw(self, batch: np.ndarray) -> np.ndarray:
        """Raw ``session.run`` on a preprocessed batch (the benchmark's floor)."""
        output: np.ndarray = self.session.run(None, {self.input_name: batch})[0]
        return output

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """``N×S×S×3`` BGR chips → ``N×dim`` unit vectors."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self.run_raw(preprocess_crops(crops, self.prep)))
