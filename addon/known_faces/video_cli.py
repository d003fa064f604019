"""``known-faces recognize VIDEO`` and ``known-faces watch URL``: videos and streams (DESIGN §11).

A video is recognised frame by frame through a tracker, so a person walking by for ten
seconds is one line (start, end, identity, best score), not three hundred; ``--annotate``
writes the video with every frame's boxes and names. ``watch`` does the same live on a stream
(RTSP, HTTP MJPEG, a file) at ``--fps`` frames per second and prints each event as it happens.
Errors follow the CLI's rule: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from .errors import KnownFacesError
from .publish import payloads
from .recognizer import Recognizer
from .sources.video import VideoSource, is_video
from .tracking import summaries, track_video


def wants_video(paths: list[Path]) -> bool:
    """Whether ``recognize`` was given a video (then it must be the only input)."""
    videos = [p for p in paths if is_video(p)]
    if videos and len(paths) > 1:
        raise KnownFacesError("give one video at a time (images and videos do not mix)",
                              code="usage")
    return bool(videos)


def recognize_video(args: argparse.Namespace, recognizer: Recognizer) -> int:
    """One line per confirmed track (or the tracks as JSON); the annotated copy if asked."""
    path: Path = args.images[0]
    with VideoSource(str(path)) as source:
        found = track_video(recognizer, source, camera=args.camera, annotate=args.annotate)
    tracks = list(summaries(found.tracks))
    if args.json:
        print(json.dumps({"video": str(path), "frames": found.frames, "fps": round(found.fps, 3),
                          "tracks": tracks}, indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {found.frames} frame(s) at {found.fps:g} fps, {len(tracks)} track(s)")
    for t in tracks:
        who = t["name"] if t["known"] else "unknown"
        print(f"  {t['start_s']:8.2f}s - {t['end_s']:8.2f}s  {who:24} "
              f"{t['best_similarity']:.3f}  {t['track_id']} ({t['frames']} frames)")
    return 0


def event_line(event: payloads.Payload) -> str:
    """One printed event: time, camera, track, who, similarity."""
    who = event["name"] if event["known"] else "unknown"
    similarity = "" if event["similarity"] is None else f"{event['similarity']:.3f}"
    return (f"{event['time']}  {event['camera']}  {event['track_id']}  {who}  {similarity}  "
            f"({event['frames']} frames)")


def cmd_watch(args: argparse.Namespace, recognizer: Recognizer) -> int:
    """Print each track's events live until the stream ends (or Ctrl-C)."""
    def show(events: list[payloads.Payload]) -> None:
        for event in events:
            print(json.dumps(event, ensure_ascii=False) if args.json else event_line(event),
                  flush=True)

    with VideoSource(args.url) as source:
        track_video(recognizer, source, camera=args.camera, every_s=1 / args.fps,
                    on_events=show)
    return 0


def add_watch(command: Callable[..., argparse.ArgumentParser],
              load: Callable[[argparse.Namespace], Recognizer]) -> None:
    """Register ``watch`` with the CLI's ``command`` helper and its recognizer loader."""
    def positive_fps(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not 0 < value <= 60:
            raise argparse.ArgumentTypeError(f"fps must be above 0 and at most 60 (got {text})")
        return value

    watch = command("watch", lambda args: cmd_watch(args, load(args)),
                    "print the people seen on a stream (RTSP, HTTP MJPEG or a video file) live")
    watch.add_argument("url", metavar="URL", help="rtsp://, http(s):// or a file path")
    watch.add_argument("--fps", type=positive_fps, default=2.0,
                       help="frames recognised per second (default 2)")
    watch.add_argument("--camera", default="watch", help="camera name reported in events")
    watch.add_argument("--threshold", type=float, help="match threshold override")
    watch.add_argument("--margin", type=float, help="margin override")
    watch.add_argument("--json", action="store_true", help="one JSON event per line")

