"""Test videos made from the real shared photos: each person walks across the frame (moving and
growing, as someone approaching a camera does), with empty frames between appearances.

Nothing here is committed as media: the tests encode the videos into their temporary folders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests import photos

WIDTH, HEIGHT = 480, 320
BACKGROUND = (96, 104, 112)


@dataclass(frozen=True, slots=True)
class Scene:
    """``seconds`` of one photo walking across (or of the empty background when None)."""

    photo: str | None
    seconds: float


def portrait(relative: str, height: int, max_width: int) -> np.ndarray:
    """A photo scaled to ``height`` pixels, its middle at most ``max_width`` wide."""
    image = cv2.imread(str(photos.faces_dir() / relative), cv2.IMREAD_COLOR)
    assert image is not None, relative
    width = round(image.shape[1] * height / image.shape[0])
    scaled = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    left = max(0, (width - max_width) // 2)
    return np.ascontiguousarray(scaled[:, left : left + max_width])


def frames(scenes: Sequence[Scene], fps: float, size: tuple[int, int] = (WIDTH, HEIGHT)
           ) -> Iterator[np.ndarray]:
    """Every frame of the scenes: the photo 60 % of the frame high growing to 85 %, moving
    from the left edge towards the right."""
    width, height = size
    for scene in scenes:
        count = round(scene.seconds * fps)
        for i in range(count):
            canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
            if scene.photo is not None:
                t = i / max(count - 1, 1)
                image = portrait(scene.photo, round(height * (0.6 + 0.25 * t)), width * 3 // 5)
                h, w = image.shape[:2]
                x = round((width - w) * t)
                canvas[height - h :, x : x + w] = image
            yield canvas


def write(path: Path, scenes: Sequence[Scene], fps: float = 5.0,
          size: tuple[int, int] = (WIDTH, HEIGHT)) -> int:
    """Encode the scenes as a video file (.avi: Motion JPEG, .mp4: MPEG-4); frames written."""
    codec = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, size)
    assert writer.isOpened(), path
    count = 0
    for frame in frames(scenes, fps, size):
        writer.write(frame)
        count += 1
    writer.release()
    return count


def count_frames(path: Path) -> int:
    """Frames OpenCV reads back from a video file (proves it plays)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


OBAMA = "people/barack_obama/barack_obama_2.jpg"
OBAMA_AGAIN = "people/barack_obama/barack_obama_3.jpg"
BIDEN = "people/joe_biden/joe_biden_2.jpg"
STRANGER = "people/amy_adams/amy_adams_1.jpg"

# Obama (a one-second gap inside, shorter than a track's timeout: one appearance), Biden, a
# stranger, and Obama again (another appearance), with longer gaps between people.
VISITS = (
    Scene(OBAMA, 3), Scene(None, 1), Scene(OBAMA, 1.5), Scene(None, 4),
    Scene(BIDEN, 3), Scene(None, 4), Scene(STRANGER, 3), Scene(None, 4),
    Scene(OBAMA_AGAIN, 2.5),
)
