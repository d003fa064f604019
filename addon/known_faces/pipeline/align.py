"""Five-point similarity alignment to each embedder's template (DESIGN §2–§3).

Every chip is cut from the original image with the same similarity transform fitted to the
detector's landmarks; only the template and size differ (ArcFace 112, dlib 150).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_SIZE = 112
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation (Umeyama) mapping source → target,
    as the 2×3 matrix ``cv2.warpAffine`` takes. No shear, so faces are never distorted."""
    src_mean, dst_mean = source.mean(0), target.mean(0)
    src, dst = source - src_mean, target - dst_mean
    covariance = dst.T @ src / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / src.var(0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112×112 BGR crop whose landmarks sit on the ArcFace template."""
    return cut_chip(image, landmarks, ARCFACE_CHIP)


@dataclass(frozen=True, slots=True)
class Chip:
    """An embedder's aligned input: its size and where the five landmarks sit on it."""

    name: str
    size: int
    template: np.ndarray


ARCFACE_CHIP = Chip("arcface", CROP_SIZE, ARCFACE_TEMPLATE)
#: dlib's face chip (DESIGN §2): the same five-point warp as ArcFace's, onto dlib's template.
DLIB_CHIP = Chip("dlib", 150, np.array(
    [[46.80, 43.93], [101.61, 43.82], [73.80, 75.72], [50.68, 100.10], [98.61, 99.80]],
    dtype=np.float64))
CHIPS = {chip.name: chip for chip in (ARCFACE_CHIP, DLIB_CHIP)}

#: The crop the gallery stores: the ArcFace template ×1.6 inside 224×224, loose enough that
#: both chips can be cut again from it (the dlib chip reaches 12% below the ArcFace crop's chin:
#: in ArcFace pixels it spans x 5.6–107.5, y 22.5–124.5). A stored crop's size says which
#: template it is on; 112 is the ArcFace chip that galleries before the dlib model stored.
STORED_SCALE, STORED_SHIFT = 1.6, np.array([22.4, 16.0])
STORED_CHIP = Chip("stored", 224, ARCFACE_TEMPLATE * STORED_SCALE + STORED_SHIFT)
STORED_TEMPLATES = {STORED_CHIP.size: STORED_CHIP.template, CROP_SIZE: ARCFACE_TEMPLATE}


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``image`` through the 2×3 ``matrix`` into a ``size`` square (linear interpolation,
    replicated border), as every chip is cut."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def cut_chip(image: np.ndarray, landmarks: np.ndarray, chip: Chip) -> np.ndarray:
    """The ``chip.size`` square BGR chip whose landmarks sit on ``chip.template``."""
    return warp(image, similarity_transform(landmarks.astype(np.float64), chip.template),
                chip.size)


def stored_matrix(arcface: np.ndarray) -> np.ndarray:
    """The stored crop's transform from the ArcFace chip's: its template is the ArcFace
    template scaled and shifted, and a least-squares similarity fit follows a similarity of its
    target, so this is the fit itself, without solving it again."""
    return np.hstack([arcface[:, :2] * STORED_SCALE,
                      (arcface[:, 2] * STORED_SCALE + STORED_SHIFT)[:, None]])


def chip_from_stored(crop: np.ndarray, chip: Chip) -> np.ndarray:
    """Cut ``chip`` again from a stored crop (its size says its template). From a 112-px
    ArcFace crop the dlib chip's bottom rows are the crop's replicated last row (degraded)."""
    template = STORED_TEMPLATES.get(crop.shape[0])
    if template is None:
        raise ValueError(f"a stored crop of {crop.shape[0]} px has no known template")
    if crop.shape[0] == chip.size and template is chip.template:
        return crop
    return cut_chip(crop, template, chip)
