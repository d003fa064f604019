"""The vote over the frames of one tracked object (a Frigate event; DESIGN §10).

One frame can mislead: a lookalike at a bad angle, a passer-by's face blurred. So each frame's
faces are kept as the best evidence per person, weighted by how far the face can be trusted
(its size against the 112 px chip the embedder sees, and the detector's confidence), and the
answer is read from all frames together:

* a person can be the answer only through a frame in which the matcher named them (score at or
  above the threshold, with the margin to the runner-up: the face was ``known``);
* an event shows as many people as the most faces one frame had (``n``); the answer is the
  ``n`` named people with the best weighted evidence, so a lookalike frame naming someone else
  with weaker evidence than the confident answer changes nothing, and stronger evidence is a
  correction;
* when fewer people are named than were seen, the event is ``unknown`` as well, and its best
  unknown face is the one that represents it (the visitors' single hook: one face per event,
  not one per frame).

Pure: results in, verdict out; no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import FaceResult, FaceStatus, SnapshotResult

FULL_WEIGHT_PX = 112


def face_weight(face: FaceResult) -> float:
    """How much one face's score counts, in (0, 1]: size (up to the embedder's chip) times
    detection confidence."""
    size = min(1.0, face.quality.face_px / FULL_WEIGHT_PX)
    return max(1e-3, size * min(1.0, face.quality.detection_score))


@dataclass(frozen=True, slots=True)
class Evidence:
    """The best frame of one person, or the event's representative unknown face.

    ``weighted`` is the score times the face's weight for a named face; for an unknown face it
    is the weight alone (the clearest face represents a stranger, not the closest guess).
    """

    person: str | None
    name: str | None
    score: float
    weighted: float
    snapshot_id: str
    box: tuple[int, int, int, int]
    face_px: int
    frame: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The event's answer so far.

    ``kind``: ``known`` (somebody named), ``unknown`` (faces, nobody named) or ``no_face``.
    ``people`` best first. ``unknown_face`` is set when somebody seen stayed unnamed.
    ``faces`` is the most faces one frame had: how many people the event shows.
    """

    kind: str
    people: tuple[Evidence, ...]
    unknown_face: Evidence | None
    frames: int
    frames_with_face: int
    faces: int

    @property
    def names(self) -> frozenset[str]:
        """Who the answer is, for telling a correction from more of the same."""
        return frozenset(p.person for p in self.people if p.person)

    @property
    def best(self) -> Evidence | None:
        """The strongest named person."""
        return self.people[0] if self.people else None


@dataclass(slots=True)
class EventVote:
    """Accumulates the frames of one event; ``verdict`` can be read after every frame."""

    _best: dict[str, Evidence] = field(default_factory=dict)
    _unknown: Evidence | None = None
    _most_faces: int = 0
    _frames: int = 0
    _with_face: int = 0

    def add(self, result: SnapshotResult, frame: str) -> None:
        """One more frame's faces (only the ones that passed the quality gates count);
        ``frame`` says which kind of picture it was (``latest``, ``snapshot``)."""
        self._frames += 1
        faces = result.matched
        if not faces:
            return
        self._with_face += 1
        self._most_faces = max(self._most_faces, len(faces))
        for face in faces:
            evidence = _evidence(result, face, frame)
            if face.status is FaceStatus.KNOWN and evidence.person is not None:
                held = self._best.get(evidence.person)
                if held is None or evidence.weighted > held.weighted:
                    self._best[evidence.person] = evidence
            elif self._unknown is None or evidence.weighted > self._unknown.weighted:
                self._unknown = evidence

    def verdict(self) -> Verdict:
        """The answer from every frame so far."""
        ranked = sorted(self._best.values(), key=lambda e: e.weighted, reverse=True)
        people = tuple(ranked[: self._most_faces])
        unnamed = len(people) < self._most_faces
        if people:
            kind = "known"
        elif self._with_face:
            kind = "unknown"
        else:
            kind = "no_face"
        return Verdict(kind, people, self._unknown if unnamed else None, self._frames,
                       self._with_face, self._most_faces)


def _evidence(result: SnapshotResult, face: FaceResult, frame: str) -> Evidence:
    match = face.match
    best = match.best if match is not None else None
    known = face.status is FaceStatus.KNOWN and best is not None
    score = match.similarity if match is not None else 0.0
    weight = face_weight(face)
    return Evidence(
        person=best.person if known and best else None,
        name=best.name if known and best else None,
        score=score, weighted=score * weight if known else weight,
        snapshot_id=result.snapshot_id,
        box=face.box, face_px=face.quality.face_px, frame=frame)
