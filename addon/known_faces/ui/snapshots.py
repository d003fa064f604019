"""Images the Cameras page makes from a camera's last snapshot: the snapshot with every face
marked, and the region around one face for enrolling it."""

from __future__ import annotations

import cv2
import numpy as np

from ..pipeline import annotate
from ..pipeline.decode import decode_image
from ..service.recent import CameraView

JPEG_QUALITY = 90
# Context kept around a face to enroll, in face widths: enough for the detector to find it
# again (and for the enrollment gates to judge it), little enough to leave neighbours out.
CONTEXT = 0.6


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - encoding a decoded image does not fail
        raise ValueError("JPEG encoding failed")
    return bytes(data)


def annotated(view: CameraView) -> bytes:
    """The snapshot with each face's box, name (or status) and score drawn on it."""
    return _jpeg(annotate.draw(decode_image(view.image), view.result))


def face_region(view: CameraView, index: int) -> bytes:
    """The snapshot cut to face ``index`` and some context around it."""
    image = decode_image(view.image)
    x1, y1, x2, y2 = view.result.faces[index].box
    pad = int(CONTEXT * max(x2 - x1, y2 - y1))
    height, width = image.shape[:2]
    return _jpeg(image[max(y1 - pad, 0):min(y2 + pad, height),
                       max(x1 - pad, 0):min(x2 + pad, width)])
