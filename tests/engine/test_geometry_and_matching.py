"""Alignment and matching on synthetic data, where the right answer is known exactly."""

from __future__ import annotations

import numpy as np

from known_faces.pipeline.align import ARCFACE_TEMPLATE, similarity_transform
from known_faces.pipeline.detect import nms, priors
from known_faces.pipeline.match import Matcher, MatchSettings, PersonRef
from known_faces.pipeline.quality import rough_yaw


def test_similarity_transform_recovers_rotation_scale_translation() -> None:
    """Landmarks moved by a known similarity map back onto the template exactly."""
    angle, scale, shift = np.radians(25), 2.5, np.array([40.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = ARCFACE_TEMPLATE @ (scale * rotation).T + shift
    matrix = similarity_transform(moved, ARCFACE_TEMPLATE)
    back = moved @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(back, ARCFACE_TEMPLATE, atol=1e-9)


def test_yaw_is_zero_for_the_template_and_signed_when_turned() -> None:
    """The frontal template has no yaw; moving the nose sideways turns the head."""
    assert abs(rough_yaw(ARCFACE_TEMPLATE)) < 2
    turned = ARCFACE_TEMPLATE.copy()
    turned[2, 0] += 12
    assert rough_yaw(turned) > 30
    turned[2, 0] -= 24
    assert rough_yaw(turned) < -30


def test_priors_cover_every_stride() -> None:
    """Two anchors per cell at strides 8, 16 and 32."""
    grid = priors(64, 96)
    assert len(grid) == 2 * (8 * 12 + 4 * 6 + 2 * 3)
    assert grid[:, :2].min() > 0
    assert grid[:, :2].max() < 1


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    """Overlapping boxes collapse to the highest score; separate boxes survive."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.7]), 0.4) == [1, 2]


def unit(*values: float) -> np.ndarray:
    """A unit vector."""
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_threshold_and_margin_decide_who_is_named() -> None:
    """Named only when similar enough AND clearly ahead of the runner-up."""
    matcher = Matcher(
        [PersonRef("alice", "Alice"), PersonRef("bob", "Bob")],
        [np.stack([unit(1, 0, 0), unit(0.9, 0.1, 0)]), np.stack([unit(0, 1, 0)])],
    )
    settings = MatchSettings(threshold=0.6, margin=0.1)
    clear, tie, weak = matcher.match(
        np.stack([unit(1, 0.05, 0), unit(1, 1, 0), unit(0.3, 0, 1)]), settings)
    assert clear.known
    assert clear.best.person == "alice"
    assert clear.second.person == "bob"
    assert not tie.known  # both about 0.7: above the threshold, but no margin
    assert tie.best.similarity >= settings.threshold
    assert not weak.known
    assert weak.best.person == "alice"  # the best guess is still reported


def test_empty_gallery_names_nobody() -> None:
    """With nobody enrolled every face is unknown, with no guess."""
    verdict = Matcher([], []).match(np.stack([unit(1, 0, 0)]), MatchSettings())[0]
    assert not verdict.known
    assert verdict.best is None
