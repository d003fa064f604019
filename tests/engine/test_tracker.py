"""The face tracker on real embeddings of real photos: tracks, votes, one event per track.

Faces come from the real engine and matcher on the shared photos; each "frame" places a real
face at a chosen box, as a camera would show a person walking. Where a test needs a lookalike
frame (a face the matcher names as someone else), it hands the tracker that verdict on a real
embedding, since the tracker reads only the verdict and the vector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from known_faces.pipeline.results import Candidate, FaceResult, FaceStatus, Match
from known_faces.pipeline.tracker import EventKind, Tracker, TrackerSettings, TrackEvent, iou
from known_faces.recognizer import Recognizer

Face = Callable[[str], FaceResult]


@pytest.fixture
def face(recognizer: Recognizer, photo: Callable[[str], bytes]) -> Face:
    """Obama and Biden enrolled from their first photos; ``face(path)`` is the one face the
    recognizer finds in a photo, with its verdict."""
    for name, first in (("Barack Obama", "people/barack_obama/barack_obama_1.jpg"),
                        ("Joe Biden", "people/joe_biden/joe_biden_1.jpg")):
        person = recognizer.gallery.create_person(name)
        recognizer.enroll(person.slug, photo(first))

    def one(relative: str) -> FaceResult:
        faces = recognizer.recognize(photo(relative), keep_unknown=False).faces
        assert len(faces) == 1, relative
        return faces[0]

    return one


def at(face: FaceResult, box: tuple[int, int, int, int]) -> FaceResult:
    """The same face seen at another place in the frame."""
    return dataclasses.replace(face, face=dataclasses.replace(face.face, box=box))


def walk(start: int, frames: int, step: int = 12, size: int = 100) -> list[tuple[int, ...]]:
    """Boxes of a face moving right and growing a little each frame."""
    return [(start + i * step, 50, start + i * step + size + 2 * i, 150 + 2 * i)
            for i in range(frames)]


OBAMA = "people/barack_obama/barack_obama_2.jpg"
OBAMA_3 = "people/barack_obama/barack_obama_3.jpg"
BIDEN = "people/joe_biden/joe_biden_2.jpg"
STRANGER = "people/amy_adams/amy_adams_1.jpg"


def test_iou() -> None:
    """Overlap of boxes: identical 1, disjoint 0, half-shifted one third."""
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_moving_known_face_is_one_track_and_one_event(face: Face) -> None:
    """A known face moving and growing over ten frames is one track, confirmed once, named."""
    obama, tracker = face(OBAMA), Tracker()
    events, tracks = [], set()
    for i, box in enumerate(walk(0, 10)):
        frame = tracker.update([at(obama, box)], now=i * 0.5)
        events += frame.events
        tracks |= {t.track_id for _, t in frame.faces if t}
    assert len(tracks) == 1
    assert [e.kind for e in events] == [EventKind.CONFIRMED]
    assert events[0].identity is not None
    assert events[0].identity.person == "barack_obama"
    assert events[0].frames <= 2


def test_two_people_side_by_side_keep_their_tracks(face: Face) -> None:
    """Two faces in each frame stay on their own tracks, each named once."""
    obama, biden, tracker = face(OBAMA), face(BIDEN), Tracker()
    events = []
    for i in range(6):
        frame = tracker.update([at(obama, (10 + 5 * i, 40, 110 + 5 * i, 140)),
                                at(biden, (300 - 5 * i, 40, 400 - 5 * i, 140))], now=i * 0.5)
        events += frame.events
        obama_track = next(t for f, t in frame.faces if f.match and f.match.best
                           and f.match.best.person == "barack_obama")
        assert obama_track is not None
        assert obama_track.person in (None, "barack_obama")
    assert sorted(e.identity.person for e in events if e.identity) == ["barack_obama", "joe_biden"]
    assert len({e.track.track_id for e in events}) == 2


def test_a_swap_of_places_follows_the_embedding(face: Face) -> None:
    """Where boxes would pair faces wrongly (they jump across each other), continuity of the
    embedding keeps each person on their own track."""
    obama, biden, tracker = face(OBAMA), face(BIDEN), Tracker()
    left, right = (10, 40, 110, 140), (60, 40, 160, 140)
    first = tracker.update([at(obama, left), at(biden, right)], now=0)
    second = tracker.update([at(obama, right), at(biden, left)], now=0.5)
    ids = {f.match.best.person: t.track_id
           for f, t in first.faces if f.match and f.match.best and t}
    for f, t in second.faces:
        assert f.match is not None
        assert f.match.best is not None
        assert t is not None
        assert ids[f.match.best.person] == t.track_id


def test_a_gap_longer_than_the_timeout_starts_a_new_track(face: Face) -> None:
    """Seen, gone for longer than ``max_unseen_s``, seen again: two tracks, two events; a short
    gap (a missed detection) keeps the track and adds no event."""
    obama = face(OBAMA)
    tracker = Tracker(TrackerSettings(max_unseen_s=2.0))
    events = []
    for now in (0, 0.5, 1.0, 2.5, 3.0):  # 1.5 s gap: same track
        events += tracker.update([at(obama, (10, 10, 110, 110))], now=now).events
    ended = tracker.update([], now=6.0).ended  # 3 s unseen: over
    assert [t.frames for t in ended] == [5]
    for now in (6.5, 7.0):
        events += tracker.update([at(obama, (200, 10, 300, 110))], now=now).events
    assert len(events) == 2
    assert events[0].track.track_id != events[1].track.track_id


def named(events: list[TrackEvent]) -> list[tuple[EventKind, str | None]]:
    """Each event's kind and the slug it names."""
    return [(e.kind, e.identity.person if e.identity else None) for e in events]


def test_a_lookalike_frame_does_not_flip_a_confident_track(face: Face) -> None:
    """One frame the matcher names as somebody else (similar enough to pass the threshold)
    does not change a track confirmed over several frames; a sustained change does."""
    obama, tracker = face(OBAMA), Tracker()
    assert obama.match is not None
    lookalike = dataclasses.replace(obama, match=Match(
        True, Candidate("joe_biden", "Joe Biden", 0.62), obama.match.best,
        obama.match.threshold, obama.match.margin))
    box = (10, 10, 110, 110)
    events = []
    for i in range(4):
        events += tracker.update([at(obama, box)], now=i * 0.5).events
    events += tracker.update([at(lookalike, box)], now=2.0).events
    events += tracker.update([at(obama, box)], now=2.5).events
    assert named(events) == [(EventKind.CONFIRMED, "barack_obama")]
    for i in range(12):  # many frames naming somebody else do outvote the track
        events += tracker.update([at(lookalike, box)], now=3 + i * 0.5).events
    assert named(events)[1:] == [(EventKind.CHANGED, "joe_biden")]
    track = events[0].track
    assert track.best_score == pytest.approx(0.62)  # the named person's best, not Obama's


def test_a_stranger_is_one_unknown_track(face: Face) -> None:
    """A face nobody is enrolled as: one track, confirmed unknown once after a few frames,
    with its best face kept (what a visitor would be made from)."""
    stranger, tracker = face(STRANGER), Tracker()
    assert stranger.status is FaceStatus.UNKNOWN
    events = []
    for i, box in enumerate(walk(0, 8)):
        events += tracker.update([at(stranger, box)], now=i * 0.5).events
    assert len(events) == 1
    event = events[0]
    assert event.kind is EventKind.CONFIRMED
    assert event.identity is None
    assert event.frames == TrackerSettings().unknown_frames
    assert event.track.best_face.embedding is not None


def test_another_photo_of_the_same_person_rejoins_without_overlap(face: Face) -> None:
    """A different photo of the same person far from the last box (they walked across while
    missed) continues the track by resemblance; a different person there does not."""
    obama, obama_again, biden = face(OBAMA), face(OBAMA_3), face(BIDEN)
    tracker = Tracker()
    first = tracker.update([at(obama, (0, 0, 100, 100))], now=0).faces[0][1]
    again = tracker.update([at(obama_again, (400, 0, 500, 100))], now=0.5).faces[0][1]
    other = tracker.update([at(biden, (0, 0, 100, 100))], now=1.0).faces[0][1]
    assert first is not None
    assert again is not None
    assert other is not None
    assert again.track_id == first.track_id
    assert other.track_id != first.track_id


def test_one_frame_names_a_track_only_when_confident_for_the_mode(face: Face) -> None:
    """A single frame well above the threshold names a track at once; how far above depends on
    the score's scale: 0.10 over is confident for the fused score (mode ``accurate``, margin
    0.08) but not for MobileFaceNet alone (``fast``, 0.15), which waits for a second frame."""
    obama = face(OBAMA)
    assert obama.match is not None
    assert obama.match.best is not None
    assert TrackerSettings() == TrackerSettings.for_mode("accurate")
    score = obama.match.threshold + 0.10
    clear = dataclasses.replace(obama, match=dataclasses.replace(
        obama.match, best=Candidate("barack_obama", "Barack Obama", score)))
    box = (10, 10, 110, 110)
    for mode, frames in (("accurate", 1), ("fast", 2)):
        tracker = Tracker(TrackerSettings.for_mode(mode))
        events = [e for i in range(3)
                  for e in tracker.update([at(clear, box)], now=i * 0.5).events]
        assert named(events) == [(EventKind.CONFIRMED, "barack_obama")], mode
        assert events[0].frames == frames, mode
