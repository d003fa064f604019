"""The visitor index: nearest visitor, growth, removal, and the fused score's scale."""

from __future__ import annotations

import numpy as np

from known_faces.pipeline.score import ImpostorStats, fuse
from known_faces.pipeline.visitor_index import INITIAL_CAPACITY, SLOTS, VisitorIndex

MFN = ImpostorStats(0.0132, 0.1425)
DLIB = ImpostorStats(0.8218, 0.0338)


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_nearest_visitor_is_found_after_growth_and_removal() -> None:
    rng = np.random.default_rng(0)
    index = VisitorIndex({"m": 32}, {"m": MFN}, MFN)
    assert index.nearest({"m": unit(rng, 1, 32)[0]}) is None
    centres = unit(rng, 3 * INITIAL_CAPACITY, 32)
    for visitor, centre in enumerate(centres, start=1):
        index.put(visitor, {"m": centre[None]}, ignored=visitor % 2 == 0)
    assert len(index) == 3 * INITIAL_CAPACITY
    probe = centres[41] + 0.05 * unit(rng, 1, 32)[0]
    visitor, score, ignored = index.nearest({"m": probe / np.linalg.norm(probe)}) or (0, 0, 0)
    assert (visitor, ignored) == (42, True)
    assert score > 0.9
    index.remove(42)
    assert 42 not in index
    found = index.nearest({"m": probe / np.linalg.norm(probe)})
    assert found is not None
    assert found[0] != 42
    # The row that moved into 42's place is still found as itself.
    last = 3 * INITIAL_CAPACITY
    assert index.nearest({"m": centres[last - 1]})[:1] == (last,)


def test_a_visitor_is_as_close_as_its_best_slot_and_slots_are_bounded() -> None:
    rng = np.random.default_rng(1)
    index = VisitorIndex({"m": 16}, {"m": MFN}, MFN)
    vectors = unit(rng, SLOTS + 3, 16)
    index.put(7, {"m": vectors}, ignored=False)  # only the first SLOTS are kept
    assert index.nearest({"m": vectors[SLOTS - 1]})[1] > 0.999
    assert index.nearest({"m": vectors[SLOTS + 1]})[1] < 0.999


def test_fusion_keeps_the_reference_scale() -> None:
    """One reference model: the score is its cosine. Two: each impostor mean maps to the
    reference's mean, and agreement of both models moves the score further than one."""
    cos = np.array([0.2, 0.6], np.float32)
    assert np.allclose(fuse({"m": cos}, {"m": MFN}, MFN), cos)
    at_means = fuse({"m": np.array([MFN.mean]), "d": np.array([DLIB.mean])},
                    {"m": MFN, "d": DLIB}, MFN)
    assert np.allclose(at_means, MFN.mean)
    both = fuse({"m": np.array([0.6]), "d": np.array([0.95])}, {"m": MFN, "d": DLIB}, MFN)
    one = fuse({"m": np.array([0.6]), "d": np.array([DLIB.mean])}, {"m": MFN, "d": DLIB}, MFN)
    assert both[0] > one[0]
