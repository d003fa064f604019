"""``recognize --annotate``: draw each face's box, name (or status) and similarity."""

from __future__ import annotations

from pathlib import Path

import cv2

from ..errors import KnownFacesError
from .decode import decode_image
from .results import FaceStatus, SnapshotResult

COLOURS = {
    FaceStatus.KNOWN: (80, 200, 60),
    FaceStatus.UNKNOWN: (40, 160, 255),
    FaceStatus.TOO_SMALL: (160, 160, 160),
    FaceStatus.LOW_QUALITY: (160, 160, 160),
}


def annotate_image(data: bytes, result: SnapshotResult, target: Path) -> None:
    """Write a copy of the image with the faces marked (OpenCV's Hershey font is ASCII-only,
    so names are written as their slugs)."""
    image = decode_image(data)
    thickness = max(2, round(max(image.shape[:2]) / 500))
    scale = thickness / 3
    for face in result.faces:
        x1, y1, x2, y2 = face.box
        colour = COLOURS[face.status]
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness)
        match = face.match
        if face.status is FaceStatus.KNOWN and match and match.best:
            label = f"{match.best.person} {match.similarity:.2f}"
        elif match:
            label = f"unknown {match.similarity:.2f}"
        else:
            label = face.status.value
        (width, height), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(0, y1 - height - base - 4)
        cv2.rectangle(image, (x1, top), (x1 + width + 4, top + height + base + 4), colour, -1)
        cv2.putText(image, label, (x1 + 2, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thickness)
    if not cv2.imwrite(str(target), image):
        raise KnownFacesError(f"cannot write {target} (use a .jpg or .png name)",
                              code="unwritable")
