"""``recognize --annotate``: each face's box and a label with the person's display name (or the
face's status) and similarity.

Labels are what a user reads, so they carry the display name ("Barack Obama"), not the slug.
OpenCV's Hershey font draws ASCII only, so a name is transliterated (Zoë → Zoe) and falls back
to the slug when nothing Latin is left. Each label goes just above its face, else just below,
else inside its top, else the nearest free row, and is kept inside the image, so in a group
photo no label covers another or is cut off at the edge.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import KnownFacesError
from .decode import decode_image
from .results import FaceResult, FaceStatus, SnapshotResult

COLOURS = {
    FaceStatus.KNOWN: (80, 200, 60),
    FaceStatus.UNKNOWN: (40, 160, 255),
    FaceStatus.TOO_SMALL: (160, 160, 160),
    FaceStatus.LOW_QUALITY: (160, 160, 160),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
PAD = 2
ROW_STEP = 2

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive), in pixels


@dataclass(frozen=True, slots=True)
class Label:
    """One label as drawn: its text and the rectangle its background fills."""

    text: str
    box: Box
    colour: tuple[int, int, int]
    scale: float
    thickness: int


def drawable(name: str, fallback: str) -> str:
    """``name`` in the ASCII the Hershey font has, or ``fallback`` when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(ascii_name.split()) or fallback


def face_label(face: FaceResult) -> str:
    """``Barack Obama 0.87`` for a known face, ``unknown 0.31`` or the status otherwise."""
    match = face.match
    if face.status is FaceStatus.KNOWN and match and match.best:
        return f"{drawable(match.best.name, match.best.person)} {match.similarity:.2f}"
    if match:
        return f"unknown {match.similarity:.2f}"
    return face.status.value


def overlaps(a: Box, b: Box) -> bool:
    """Whether two rectangles share any pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(faces: Sequence[Box], sizes: Sequence[tuple[int, int]], width: int,
                 height: int) -> list[Box]:
    """A rectangle per label (``sizes`` are width × height) beside its face, inside the image
    and clear of every label placed before it: above the face, below it, inside its top edge,
    then the nearest free row; only when no row is free does a label overlap another."""
    placed: list[Box] = []
    for (x1, y1, _, y2), size in zip(faces, sizes, strict=True):
        w, h = min(size[0], width), min(size[1], height)
        x = min(max(x1, 0), max(width - w, 0))
        highest = max(height - h, 0)
        above = y1 - h
        rows = sorted(range(0, highest + 1, ROW_STEP), key=lambda y: abs(y - above))
        candidates = [min(max(y, 0), highest) for y in (above, y2, y1, *rows)]
        free = (y for y in candidates
                if not any(overlaps((x, y, x + w, y + h), other) for other in placed))
        y = next(free, candidates[0])
        placed.append((x, y, x + w, y + h))
    return placed


# A face's label text and the status its colour shows, when the caller decides them (a
# tracked face is labelled with its track's identity, not this frame's verdict).
LabelText = tuple[str, FaceStatus]


def layout(result: SnapshotResult, width: int, height: int,
           labels: Sequence[LabelText] | None = None) -> list[Label]:
    """Every face's label, sized for the image (shrunk when wider than it) and placed."""
    thickness = max(2, round(max(width, height) / 500))
    chosen = labels or [(face_label(face), face.status) for face in result.faces]
    sizes, styles = [], []
    for text, _ in chosen:
        scale, weight = thickness / 3, thickness
        (text_w, text_h), base = cv2.getTextSize(text, FONT, scale, weight)
        if text_w + 2 * PAD > width:  # a long name on a small image: shrink to fit
            shrink = (width - 2 * PAD) / (text_w + 2 * PAD)
            scale, weight = scale * shrink, max(1, round(weight * shrink))
            (text_w, text_h), base = cv2.getTextSize(text, FONT, scale, weight)
        sizes.append((min(text_w + 2 * PAD, width), text_h + base + 2 * PAD))
        styles.append((scale, weight))
    boxes = place_labels([face.box for face in result.faces], sizes, width, height)
    return [Label(text, box, COLOURS[status], scale, weight)
            for (text, status), box, (scale, weight) in zip(chosen, boxes, styles, strict=True)]


def draw(image: np.ndarray, result: SnapshotResult,
         texts: Sequence[LabelText] | None = None) -> np.ndarray:
    """The image with every face's box and label drawn on it (in place); ``texts`` replaces
    each face's own label."""
    height, width = image.shape[:2]
    thickness = max(2, round(max(width, height) / 500))
    labels = layout(result, width, height, texts)
    for face, label in zip(result.faces, labels, strict=True):
        x1, y1, x2, y2 = face.box
        cv2.rectangle(image, (x1, y1), (x2, y2), label.colour, thickness)
    for label in labels:
        lx1, ly1, lx2, ly2 = label.box
        cv2.rectangle(image, (lx1, ly1), (lx2 - 1, ly2 - 1), label.colour, -1)
        (_, text_h), _ = cv2.getTextSize(label.text, FONT, label.scale, label.thickness)
        cv2.putText(image, label.text, (lx1 + PAD, ly1 + PAD + text_h), FONT, label.scale,
                    (0, 0, 0), label.thickness)
    return image


def annotate_image(data: bytes, result: SnapshotResult, target: Path) -> None:
    """Write a copy of the image with the faces marked."""
    if not cv2.imwrite(str(target), draw(decode_image(data), result)):
        raise KnownFacesError(f"cannot write {target} (use a .jpg or .png name)",
                              code="unwritable")


VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def video_writer(target: Path, fps: float, width: int, height: int, *,
                 into: Path | None = None) -> cv2.VideoWriter:
    """An opened writer for ``recognize VIDEO --annotate OUT``: MPEG-4 in .mp4/.mov, Motion
    JPEG in .avi (OpenCV's wheels carry these encoders; H.264 they do not). It writes to
    ``into`` (a temporary name beside ``target``) when given."""
    codec = VIDEO_CODECS.get(target.suffix.lower())
    if codec is None:
        raise KnownFacesError(f"cannot write {target} (use a .mp4, .mov or .avi name)",
                              code="unwritable")
    writer = cv2.VideoWriter(str(into or target), cv2.VideoWriter.fourcc(*codec), fps,
                             (width, height))
    if not writer.isOpened():
        raise KnownFacesError(f"cannot write {target}", code="unwritable")
    return writer
