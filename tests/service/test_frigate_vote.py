"""The vote over one Frigate event's frames (``pipeline/vote.py``), on hand-made results: which
person wins, when a later frame corrects the answer, and which unknown face represents it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from known_faces.pipeline.results import (
    Candidate,
    DetectedFace,
    FaceResult,
    FaceStatus,
    Match,
    Quality,
    SnapshotResult,
)
from known_faces.pipeline.vote import EventVote, face_weight

THRESHOLD, MARGIN = 0.55, 0.08


def face(person: str | None, similarity: float, *, px: int = 150, score: float = 0.99,
         status: FaceStatus | None = None) -> FaceResult:
    """A gated face the matcher named ``person`` (or not, below the threshold)."""
    known = person is not None and similarity >= THRESHOLD
    best = Candidate(person or "somebody", (person or "somebody").title(), similarity)
    detected = DetectedFace(box=(10, 10, 10 + px, 10 + px), landmarks=np.zeros((5, 2)),
                            quality=Quality(px, score, 100.0, 0.0), crop=np.zeros((1, 1, 3)),
                            rejection=None, embedding=np.zeros(4))
    verdict = Match(known, best, None, THRESHOLD, MARGIN)
    return FaceResult(detected, status or (FaceStatus.KNOWN if known else FaceStatus.UNKNOWN),
                      verdict)


def frame(*faces: FaceResult) -> SnapshotResult:
    """One recognised picture."""
    return SnapshotResult(str(uuid.uuid4()), "door", "frigate", "m", faces, datetime.now(UTC),
                          1.0, {})


def test_no_frames_or_faceless_frames_are_no_face() -> None:
    vote = EventVote()
    assert vote.verdict().kind == "no_face"
    vote.add(frame(), "latest")
    verdict = vote.verdict()
    assert (verdict.kind, verdict.frames, verdict.frames_with_face) == ("no_face", 1, 0)


def test_the_best_frame_of_a_known_person_is_the_answer() -> None:
    vote = EventVote()
    vote.add(frame(face("alice", 0.62)), "latest")
    vote.add(frame(face("alice", 0.81)), "snapshot")
    verdict = vote.verdict()
    assert verdict.kind == "known"
    assert verdict.names == {"alice"}
    assert verdict.best is not None
    assert verdict.best.score == 0.81
    assert verdict.best.frame == "snapshot"
    assert verdict.unknown_face is None


def test_a_weaker_frame_naming_someone_else_does_not_flip_it() -> None:
    vote = EventVote()
    vote.add(frame(face("alice", 0.80)), "latest")
    vote.add(frame(face("bob", 0.66)), "snapshot")
    assert vote.verdict().names == {"alice"}


def test_a_small_face_weighs_less_than_a_large_one() -> None:
    """Bob's raw score is higher, but his face is a third of the chip size: Alice stays."""
    vote = EventVote()
    vote.add(frame(face("alice", 0.70, px=150)), "snapshot")
    vote.add(frame(face("bob", 0.75, px=40)), "latest")
    assert vote.verdict().names == {"alice"}
    assert face_weight(face("x", 0.7, px=40)) < face_weight(face("x", 0.7, px=150))


def test_stronger_evidence_for_someone_else_is_a_correction() -> None:
    vote = EventVote()
    vote.add(frame(face("bob", 0.58, px=60)), "latest")
    assert vote.verdict().names == {"bob"}
    vote.add(frame(face("alice", 0.85)), "snapshot")
    assert vote.verdict().names == {"alice"}


def test_two_faces_in_one_frame_are_two_people() -> None:
    vote = EventVote()
    vote.add(frame(face("alice", 0.8), face("bob", 0.7)), "latest")
    vote.add(frame(face("carol", 0.6)), "snapshot")  # weaker than both: not a third person
    verdict = vote.verdict()
    assert [p.person for p in verdict.people] == ["alice", "bob"]
    assert verdict.faces == 2


def test_a_stranger_is_represented_by_the_clearest_unknown_face() -> None:
    vote = EventVote()
    vote.add(frame(face(None, 0.3, px=60)), "latest")
    vote.add(frame(face(None, 0.2, px=140)), "snapshot")
    vote.add(frame(face("alice", 0.4)), "latest")  # a guess below the threshold names nobody
    verdict = vote.verdict()
    assert verdict.kind == "unknown"
    assert verdict.people == ()
    assert verdict.unknown_face is not None
    assert verdict.unknown_face.face_px == 140
    assert verdict.unknown_face.frame == "snapshot"


def test_someone_unnamed_beside_a_named_person_still_has_an_unknown_face() -> None:
    vote = EventVote()
    vote.add(frame(face("alice", 0.8), face(None, 0.1, px=90)), "latest")
    verdict = vote.verdict()
    assert verdict.kind == "known"
    assert verdict.unknown_face is not None
    assert verdict.unknown_face.face_px == 90
    single = EventVote()
    single.add(frame(face(None, 0.3)), "latest")
    single.add(frame(face("alice", 0.8)), "snapshot")  # the same one person, named later
    assert single.verdict().unknown_face is None
