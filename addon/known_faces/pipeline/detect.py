"""RetinaFace (MobileNet-0.25) face detection: letterbox, priors, decode, NMS (DESIGN §2–§3).

The network is fully convolutional, so the snapshot is scaled to a configurable long side and
padded to a multiple of the largest stride; the priors for each padded size are computed once
and cached. Boxes and the five landmarks come back in the original image's pixels, landmarks
already in the ArcFace template order (left eye, right eye, nose, left and right mouth corner).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .onnx_session import create_session

STRIDES = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Detection:
    """One face: box ``[x1, y1, x2, y2]``, score, and 5×2 landmarks, in image pixels."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray


@dataclass(frozen=True, slots=True)
class Letterboxed:
    """A network-ready tensor and the scale that maps its pixels back to the image's."""

    tensor: np.ndarray
    scale: float


@lru_cache(maxsize=16)
def priors(height: int, width: int) -> np.ndarray:
    """Anchor centres and sizes ``[N, 4]`` (cx, cy, w, h) normalised to the input size."""
    rows = []
    for stride, sizes in zip(STRIDES, MIN_SIZES, strict=True):
        fh, fw = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        centres = np.stack([(xs + 0.5) * stride / width, (ys + 0.5) * stride / height], -1)
        centres = np.repeat(centres.reshape(-1, 2), len(sizes), axis=0)
        dims = np.tile([[s / width, s / height] for s in sizes], (fh * fw, 1))
        rows.append(np.hstack([centres, dims]))
    return np.vstack(rows).astype(np.float32)


def letterbox(image: np.ndarray, long_side: int) -> Letterboxed:
    """Scale so the long side is ``long_side``, pad to a multiple of 32 with the mean colour
    (zero after mean subtraction), and lay out as an NCHW float32 blob."""
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_h, pad_w = -(-new_h // 32) * 32, -(-new_w // 32) * 32
    mean = tuple(float(v) for v in BGR_MEAN)
    padded = cv2.copyMakeBorder(resized, 0, pad_h - new_h, 0, pad_w - new_w,
                                cv2.BORDER_CONSTANT, value=mean)
    return Letterboxed(cv2.dnn.blobFromImage(padded, 1.0, None, mean, swapRB=False), scale)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of the kept boxes, best first."""
    order = scores.argsort()[::-1]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


class RetinaFaceDetector:
    """One ONNX session of RetinaFace; ``detect`` returns the faces of one BGR image."""

    def __init__(
        self,
        path: Path,
        *,
        long_side: int = 640,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.4,
        threads: int = 2,
    ) -> None:
        self.session = create_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.long_side = long_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def run_raw(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Raw ``session.run`` (the benchmark's floor)."""
        return self.session.run(None, {self.input_name: tensor})

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces above the score threshold, after NMS, best first."""
        boxed = letterbox(image, self.long_side)
        loc, conf, landmarks = (out[0] for out in self.run_raw(boxed.tensor))
        scores = conf[:, 1]
        candidates = np.flatnonzero(scores >= self.score_threshold)
        if candidates.size == 0:
            return []
        _, _, pad_h, pad_w = boxed.tensor.shape
        anchor = priors(pad_h, pad_w)[candidates]
        loc, landmarks, scores = loc[candidates], landmarks[candidates], scores[candidates]
        centre = anchor[:, :2] + loc[:, :2] * VARIANCES[0] * anchor[:, 2:]
        size = anchor[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        offsets = landmarks.reshape(-1, 5, 2) * VARIANCES[0]
        points = anchor[:, None, :2] + offsets * anchor[:, None, 2:]
        to_pixels = np.array([pad_w, pad_h], dtype=np.float32) / boxed.scale
        boxes = boxes * np.tile(to_pixels, 2)
        points = points * to_pixels
        height, width = image.shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        return [
            Detection(boxes[i], float(scores[i]), points[i])
            for i in nms(boxes, scores, self.nms_threshold)
        ]
