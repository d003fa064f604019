"""A camera's recognised frames through its tracker: events to publish, labels to draw (§11).

Shared by the stream cameras of the service and ``recognize VIDEO``. Each frame's result goes
through the camera's ``Tracker``; what comes out is one ``person_detected`` per track
confirmation or identity change, and per face the label of its track (the vote's name, not
this frame's guess).

Unknown tracks: the recognizer keeps no sighting per frame for these (a stranger standing at
the door for a minute is one visit, not 120); instead ``on_unknown_track`` is called once per
unknown track with the track's best face, and ``join_visitor`` makes it a visitor's sighting
(DESIGN §9); the fields it returns (status, visitor id, sightings) go into the track's event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from .pipeline.annotate import LabelText, draw, drawable, face_label, video_writer
from .pipeline.results import FaceResult, FaceStatus, SnapshotResult
from .pipeline.tracker import FrameTracks, Track, Tracker, TrackerSettings
from .publish import payloads
from .recognizer import Recognizer
from .sources.video import VideoSource

# camera, the track's best face, the event's time (ISO) → fields added to the track's event
UnknownTrackHook = Callable[[str, FaceResult, str], dict[str, Any]]
FRAME_JPEG_QUALITY = 95


def join_visitor(recognizer: Recognizer) -> UnknownTrackHook:
    """The hook of the service and ``recognize VIDEO``: an unknown track's best face joins or
    starts a visitor once (DESIGN §9), and the track's event says which, or ``ignored`` when
    that visitor is ignored; nothing is kept when the recognizer keeps no unknown faces."""
    def hook(camera: str, face: FaceResult, time: str) -> dict[str, Any]:
        if not recognizer.keep_unknown:
            return {}
        return payloads.visitor_fields(recognizer.record_visit(face, camera, time))

    return hook


class TrackedCamera:
    """One camera's tracker and what its frames said last."""

    def __init__(self, camera: str, settings: TrackerSettings | None = None,
                 on_unknown_track: UnknownTrackHook | None = None, *,
                 keep_finished: bool = True) -> None:
        """``keep_finished``: remember ended tracks for ``finish`` (a video's summary; a
        camera that runs for months keeps none)."""
        self.camera = camera
        self.tracker = Tracker(settings, id_prefix=f"{camera}-")
        self.on_unknown_track = on_unknown_track
        self.last: tuple[SnapshotResult, FrameTracks] | None = None
        self.finished: list[Track] = []
        self._keep_finished = keep_finished

    def add(self, result: SnapshotResult, now: float) -> list[payloads.Payload]:
        """Track one frame's faces; the events it makes (usually none)."""
        frame = self.tracker.update(result.faces, now)
        if self._keep_finished:
            self.finished += [t for t in frame.ended if t.confirmed]
        self.last = (result, frame)
        events = []
        for event in frame.events:
            fields = payloads.track_detected(result, event.face, event.track.track_id,
                                             event.frames)
            if event.identity is None and self.on_unknown_track is not None:
                fields.update(self.on_unknown_track(self.camera, event.track.best_face,
                                                    result.time.isoformat()))
            events.append(fields)
        return events

    def finish(self) -> list[Track]:
        """End every track; all confirmed tracks, in the order they started."""
        self.finished += [t for t in self.tracker.finish() if t.confirmed]
        return sorted(self.finished, key=lambda t: t.first_seen)


def track_labels(frame: FrameTracks) -> list[LabelText]:
    """Each face's label: its track's name when the vote named it, else its own verdict."""
    labels = []
    for face, track in frame.faces:
        if track is not None and track.identity is not None and face.match is not None:
            name = drawable(track.identity.name, track.identity.person)
            labels.append((f"{name} {face.match.similarity:.2f}", FaceStatus.KNOWN))
        else:
            labels.append((face_label(face), face.status))
    return labels


def frame_jpeg(image: Any) -> bytes:
    """A decoded frame as the JPEG bytes the recognizer (and the intake) take."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])
    if not ok:  # pragma: no cover - encoding a decoded frame does not fail
        raise RuntimeError("JPEG encoding failed")
    return bytes(data.tobytes())


@dataclass(frozen=True, slots=True)
class VideoTracks:
    """What ``recognize VIDEO`` found: frames read (and written) and the confirmed tracks."""

    frames: int
    fps: float
    tracks: list[Track]


def track_video(recognizer: Recognizer, source: VideoSource, *, camera: str,
                annotate: Path | None = None, every_s: float = 0.0,
                on_events: Callable[[list[payloads.Payload]], None] | None = None,
                settings: TrackerSettings | None = None) -> VideoTracks:
    """Recognise the frames of a video or stream through a tracker: every frame, or one per
    ``every_s`` seconds (``watch``); with ``annotate``, write every frame with its boxes and
    labels (same frame count, same rate). ``on_events`` gets each frame's events as they
    happen."""
    tracked = TrackedCamera(camera, settings or TrackerSettings.for_mode(recognizer.engine.mode),
                            join_visitor(recognizer))
    # Written beside OUT under a temporary name and renamed at the end: a failed run leaves
    # no half-written video under the name asked for.
    partial = writer = None
    if annotate is not None:
        partial = annotate.with_name(f".{annotate.stem}.partial{annotate.suffix}")
        writer = video_writer(annotate, source.fps, source.width, source.height, into=partial)
    frames = 0
    try:
        for frame in source.frames(0.0 if writer is not None else every_s):
            result = recognizer.recognize(frame_jpeg(frame.image), camera=camera,
                                          source="video", keep_unknown=False)
            events = tracked.add(result, frame.position_s)
            if on_events is not None and events:
                on_events(events)
            if writer is not None and tracked.last is not None:
                writer.write(draw(frame.image, result, track_labels(tracked.last[1])))
            frames += 1
    except BaseException:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.release()
    if partial is not None and annotate is not None:
        partial.replace(annotate)
    return VideoTracks(frames, source.fps, tracked.finish())


def summaries(tracks: list[Track]) -> Iterator[payloads.Payload]:
    """The tracks in their JSON shape."""
    for t in tracks:
        yield payloads.track_summary(t.track_id, t.first_seen, t.last_seen, t.frames,
                                     t.identity, t.best_score)
