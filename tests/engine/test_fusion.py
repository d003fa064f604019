"""Fusion of MobileFaceNet's and dlib's scores (DESIGN §3): the arithmetic on vectors where the
answer is known, and the modes on the real engine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from known_faces.errors import ModelError
from known_faces.models.catalogue import DLIB_EMBEDDER, EMBEDDER
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.fused_match import FusedMatcher
from known_faces.pipeline.match import Matcher, MatchSettings, PersonRef
from known_faces.pipeline.score import ImpostorStats
from known_faces.recognizer import impostor_stats

MFN = ImpostorStats(0.0132, 0.1425)
DLIB = ImpostorStats(0.8218, 0.0338)
STATS = {"m": MFN, "d": DLIB}
ALICE, BOB = PersonRef("alice", "Alice"), PersonRef("bob", "Bob")


def unit(*values: float) -> np.ndarray:
    """A unit row vector."""
    vector = np.asarray(values, np.float32)
    return vector / np.linalg.norm(vector)


def cosine_pair(cosine: float) -> tuple[np.ndarray, np.ndarray]:
    """Two unit 2-D vectors with the given cosine."""
    angle = np.arccos(cosine)
    return unit(1, 0), unit(np.cos(angle), np.sin(angle))


def test_fused_score_is_the_mean_z_on_mobilefacenets_scale() -> None:
    """Per person and model the best cosine; z-scores averaged; mapped onto MFN's scale."""
    m_alice, m_query = cosine_pair(0.60)
    d_alice, d_query = cosine_pair(0.95)
    m_bob, _ = cosine_pair(0.10)
    matchers = {"m": Matcher([ALICE, BOB], [np.stack([m_alice, m_bob]), m_bob[None]]),
                "d": Matcher([ALICE, BOB], [d_alice[None], unit(0, 1)[None]])}
    fused, cosines = FusedMatcher(matchers, STATS).scores({"m": m_query[None],
                                                          "d": d_query[None]})
    z = ((0.60 - MFN.mean) / MFN.sd + (0.95 - DLIB.mean) / DLIB.sd) / 2
    assert fused[0, 0] == pytest.approx(z * MFN.sd + MFN.mean, abs=1e-5)
    assert cosines["m"][0, 0] == pytest.approx(0.60, abs=1e-6)
    match = FusedMatcher(matchers, STATS).match({"m": m_query[None], "d": d_query[None]},
                                                MatchSettings(0.55, 0.08))[0]
    assert match.known
    assert match.best is not None
    assert match.best.person == "alice"
    assert match.best.scores == {"m": pytest.approx(0.60, abs=1e-6),
                                 "d": pytest.approx(0.95, abs=1e-6)}


def test_one_model_alone_scores_its_cosine() -> None:
    """With MobileFaceNet alone (fast mode) the score is its cosine: thresholds keep meaning."""
    alice, query = cosine_pair(0.42)
    fused, _ = FusedMatcher({"m": Matcher([ALICE], [alice[None]])}, STATS).scores(
        {"m": query[None]})
    assert fused[0, 0] == pytest.approx(0.42, abs=1e-6)


def test_a_model_that_disagrees_pulls_the_score_down() -> None:
    """A lookalike MobileFaceNet scores high but dlib does not: the fusion does not name them
    at a threshold MobileFaceNet alone would pass."""
    m_alice, m_query = cosine_pair(0.62)
    d_alice, d_query = cosine_pair(DLIB.mean)  # dlib: as far as any stranger
    matchers = {"m": Matcher([ALICE], [m_alice[None]]), "d": Matcher([ALICE], [d_alice[None]])}
    settings = MatchSettings(0.55, 0.08)
    assert Matcher([ALICE], [m_alice[None]]).match(m_query[None], settings)[0].known
    fused = FusedMatcher(matchers, STATS).match({"m": m_query[None], "d": d_query[None]},
                                                settings)[0]
    assert not fused.known
    assert fused.similarity < 0.35


def test_a_person_without_a_vector_of_one_model_is_scored_by_the_other() -> None:
    """Bob has no dlib vector (his re-embedding failed): his score is MobileFaceNet's alone,
    and his dlib cosine is reported as missing (NaN), not as a number."""
    m_bob, m_query = cosine_pair(0.7)
    d_alice, d_query = cosine_pair(0.99)
    matchers = {"m": Matcher([ALICE, BOB], [unit(0, 1)[None], m_bob[None]]),
                "d": Matcher([ALICE], [d_alice[None]])}
    fused, cosines = FusedMatcher(matchers, STATS).scores({"m": m_query[None],
                                                          "d": d_query[None]})
    assert fused[0, 1] == pytest.approx(0.7, abs=1e-5)
    assert np.isnan(cosines["d"][0, 1])


def test_dlib_alone_on_mobilefacenets_scale() -> None:
    """``evaluate`` scores dlib alone on MobileFaceNet's scale (a reference), so one threshold
    reads the same for every column."""
    d_alice, d_query = cosine_pair(DLIB.mean + 3 * DLIB.sd)
    fused, _ = FusedMatcher({"d": Matcher([ALICE], [d_alice[None]])}, STATS, MFN).scores(
        {"d": d_query[None]})
    assert fused[0, 0] == pytest.approx(MFN.mean + 3 * MFN.sd, abs=1e-4)


def test_catalogue_stats_and_a_users_model() -> None:
    """The catalogue's constants are what fusion uses; a user's embedder is (0, 1): its cosine."""
    stats = impostor_stats((EMBEDDER.id, DLIB_EMBEDDER.id, "custom-x"))
    assert stats[EMBEDDER.id] == MFN
    assert stats[DLIB_EMBEDDER.id] == DLIB
    assert stats["custom-x"] == ImpostorStats(0.0, 1.0)


def test_modes_load_the_right_embedders(photo: Callable[[str], bytes]) -> None:
    """accurate runs both embedders, fast MobileFaceNet only (and cuts no dlib chip)."""
    fast = Engine.load(mode="fast", threads=1)
    assert fast.model_ids == (EMBEDDER.id,)
    assert fast.mode == "fast"
    face = fast.analyse(photo("people/barack_obama/barack_obama_1.jpg"))[0]
    assert set(face.embeddings) == {EMBEDDER.id}
    assert set(face.chips) == {"arcface"}
    with pytest.raises(ModelError, match="mode 'turbo'"):
        Engine.load(mode="turbo")


def test_accurate_engine_runs_both(engine: Engine) -> None:
    """The default engine fuses MobileFaceNet (primary) with dlib."""
    assert engine.mode == "accurate"
    assert engine.model_ids == (EMBEDDER.id, DLIB_EMBEDDER.id)
