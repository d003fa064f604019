"""Faces across the frames of one camera become tracks; a track's identity is a vote (DESIGN §11).

A stream sampled at 2 frames/s shows the same person many times: publishing each frame's
verdict would flood consumers, and one bad frame (a turned head, a lookalike) would name the
wrong person. So a face joins the track whose last box it overlaps and whose embedding it
continues (or, without overlap, a track it closely resembles: the person moved or was missed a
frame), and a track ends once unseen for ``max_unseen_s``.

The vote, after frigate's per-track vote: only frames the matcher named count, each with its
similarity. The identity is the person with the highest sum; a person needs ``min_votes`` such
frames or one frame ``confident_margin`` above the threshold (which depends on the score's
scale: ``CONFIDENT_MARGIN``), and another person replaces a
confirmed identity only by outvoting it with ``min_votes`` frames of their own, so a single
lookalike frame never flips a confident track. A track with ``unknown_frames`` unnamed frames
and nobody named is confirmed unknown. Each confirmation and each later change of identity is
one ``TrackEvent``; everything else is silent.

Pure: no clock (the caller passes ``now``), no I/O, one instance per camera, one thread at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from .results import Candidate, FaceResult, FaceStatus

Box = tuple[int, int, int, int]


# One frame this far above the threshold names a track, per engine mode. Both sit about 4.8
# impostor SDs above the impostor mean (README, *Streams and video files*): MobileFaceNet's
# impostor SD is 0.143, the fused score's only 0.127 and its genuine scores lower (median 0.72
# against 0.84 on the shared photos), so the fused score's margin is smaller. With MobileFaceNet's
# 0.15 a fused track would need two frames for 41% of genuine single frames instead of 22%.
CONFIDENT_MARGIN = {"accurate": 0.08, "fast": 0.15}


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """When faces belong together and when a track's identity is settled (the defaults are
    mode ``accurate``'s; ``for_mode`` gives another mode's)."""

    min_iou: float = 0.2
    min_continuity: float = 0.3
    reacquire: float = 0.55
    max_unseen_s: float = 2.5
    min_votes: int = 2
    confident_margin: float = CONFIDENT_MARGIN["accurate"]
    unknown_frames: int = 3

    @classmethod
    def for_mode(cls, mode: str, **changes: Any) -> TrackerSettings:
        """The settings of an engine running ``mode`` (``Engine.mode``), with ``changes``."""
        return replace(cls(confident_margin=CONFIDENT_MARGIN[mode]), **changes)


@dataclass(slots=True)
class Vote:
    """One person's share of a track's vote."""

    name: str
    frames: int = 0
    total: float = 0.0
    best: float = 0.0


class EventKind(StrEnum):
    """Why a track speaks."""

    CONFIRMED = "confirmed"
    CHANGED = "changed"


@dataclass(slots=True)
class Track:
    """One face followed across frames."""

    track_id: str
    first_seen: float
    last_seen: float
    box: Box
    embedding: np.ndarray
    best_face: FaceResult
    frames: int = 0
    unnamed_frames: int = 0
    best_similarity: float = 0.0
    votes: dict[str, Vote] = field(default_factory=dict)
    identity: Candidate | None = None
    confirmed: bool = False

    @property
    def person(self) -> str | None:
        """The slug the track is named as, None while unknown."""
        return self.identity.person if self.identity else None

    @property
    def best_score(self) -> float:
        """The named person's best similarity over the track; for an unknown track, the best
        similarity of any frame (how close it came to somebody)."""
        if self.identity is None:
            return self.best_similarity
        return self.votes[self.identity.person].best


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """A track was confirmed, or its identity changed, on ``face`` of this frame, after
    ``frames`` frames, naming ``identity`` (None: unknown); ``track`` goes on changing."""

    kind: EventKind
    track: Track
    face: FaceResult
    frames: int
    identity: Candidate | None


@dataclass(frozen=True, slots=True)
class FrameTracks:
    """What one frame did: each face with its track (None below the quality gates), the
    events to publish, and the tracks that ended."""

    faces: list[tuple[FaceResult, Track | None]]
    events: list[TrackEvent]
    ended: list[Track]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class Tracker:
    """The tracks of one camera."""

    def __init__(self, settings: TrackerSettings | None = None, id_prefix: str = "t") -> None:
        self.settings = settings or TrackerSettings()
        self._prefix = id_prefix
        self._next = 1
        self.active: list[Track] = []

    def update(self, faces: Sequence[FaceResult], now: float) -> FrameTracks:
        """Assign this frame's faces to tracks, vote, and end the tracks unseen too long."""
        ended = self._expire(now)
        embedded = [f for f in faces if f.embedding is not None and f.match is not None]
        pairs = self._associate(embedded)
        events: list[TrackEvent] = []
        assigned: dict[int, Track] = {}
        for index, face in enumerate(embedded):
            track = pairs.get(index) or self._start(face, now)
            assigned[id(face)] = track
            event = self._observe(track, face, now)
            if event is not None:
                events.append(event)
        return FrameTracks([(f, assigned.get(id(f))) for f in faces], events, ended)

    def finish(self) -> list[Track]:
        """End every track (the video is over)."""
        ended, self.active = self.active, []
        return ended

    def _expire(self, now: float) -> list[Track]:
        limit = self.settings.max_unseen_s
        ended = [t for t in self.active if now - t.last_seen > limit]
        self.active = [t for t in self.active if now - t.last_seen <= limit]
        return ended

    def _associate(self, faces: Sequence[FaceResult]) -> dict[int, Track]:
        """Greedy matching, best pair first: box overlap with embedding continuity, or a
        close resemblance on its own."""
        s = self.settings
        candidates = []
        for fi, face in enumerate(faces):
            vector = unit(np.asarray(face.embedding, dtype=np.float32))
            for track in self.active:
                cosine = float(track.embedding @ vector)
                overlap = iou(track.box, face.box)
                if (overlap >= s.min_iou and cosine >= s.min_continuity) or cosine >= s.reacquire:
                    candidates.append((cosine + overlap, fi, track))
        pairs: dict[int, Track] = {}
        taken: set[str] = set()
        for _, fi, track in sorted(candidates, key=lambda c: c[0], reverse=True):
            if fi not in pairs and track.track_id not in taken:
                pairs[fi] = track
                taken.add(track.track_id)
        return pairs

    def _start(self, face: FaceResult, now: float) -> Track:
        track = Track(f"{self._prefix}{self._next}", now, now, face.box,
                      unit(np.asarray(face.embedding, dtype=np.float32)), face)
        self._next += 1
        self.active.append(track)
        return track

    def _observe(self, track: Track, face: FaceResult, now: float) -> TrackEvent | None:
        """Add one frame to the track; an event when this frame settles or changes it."""
        track.frames += 1
        track.last_seen = now
        track.box = face.box
        track.embedding = unit(track.embedding * (track.frames - 1)
                               + unit(np.asarray(face.embedding, dtype=np.float32)))
        if _size(face) > _size(track.best_face):
            track.best_face = face
        match = face.match
        if match is not None:
            track.best_similarity = max(track.best_similarity, match.similarity)
        if face.status is FaceStatus.KNOWN and match is not None and match.best is not None:
            vote = track.votes.setdefault(match.best.person, Vote(match.best.name))
            vote.frames += 1
            vote.total += match.similarity
            vote.best = max(vote.best, match.similarity)
        else:
            track.unnamed_frames += 1
        return self._decide(track, face)

    def _decide(self, track: Track, face: FaceResult) -> TrackEvent | None:
        s = self.settings
        leader = self._leader(track, face)
        if leader is not None and (track.identity is None
                                   or leader.person != track.identity.person):
            was_confirmed = track.confirmed
            track.identity, track.confirmed = leader, True
            return TrackEvent(EventKind.CHANGED if was_confirmed else EventKind.CONFIRMED,
                              track, face, track.frames, leader)
        if not track.confirmed and track.unnamed_frames >= s.unknown_frames:
            track.confirmed = True
            return TrackEvent(EventKind.CONFIRMED, track, face, track.frames, None)
        return None

    def _leader(self, track: Track, face: FaceResult) -> Candidate | None:
        """The person the vote names now, or None when nobody has earned it on this frame.

        A change is only announced on a frame that names the new person, so the event's
        fields (similarity, box) are that person's.
        """
        s = self.settings
        match = face.match
        if face.status is not FaceStatus.KNOWN or match is None or match.best is None:
            return None
        slug = match.best.person
        vote = track.votes[slug]
        rivals = max((v.total for p, v in track.votes.items() if p != slug), default=0.0)
        if vote.total <= rivals:
            return None
        replacing = track.identity is not None and track.identity.person != slug
        confident = vote.best >= match.threshold + s.confident_margin and not replacing
        if vote.frames < s.min_votes and not confident:
            return None
        return Candidate(slug, vote.name, vote.best)


def _size(face: FaceResult) -> float:
    """How good a face is to keep as a track's picture: size, then detection score."""
    return face.quality.face_px + face.quality.detection_score
