"""ONNX Runtime sessions, created once per model with a configurable thread count."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from ..errors import ModelError


def create_session(path: Path, threads: int = 2) -> ort.InferenceSession:
    """A CPU session on ``path`` with ``threads`` intra-op threads (inter-op 1: the graphs are
    sequential, and a second pool only competes with the first on a small machine)."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing: run 'known-faces models install'")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped errors for bad files
        raise ModelError(f"cannot load {path.name}: {exc}") from exc
