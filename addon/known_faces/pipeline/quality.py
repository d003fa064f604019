"""Quality measures and gates: which faces may be named, and which may be enrolled (DESIGN §3).

A small, blurred or turned-away face gives an embedding that is close to everybody's, which is
how strangers get named as family members; such faces are reported but never matched. The gates
for enrollment are stricter, because one bad enrolled face spoils every later match.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .results import FaceStatus, Quality


@dataclass(frozen=True, slots=True)
class QualityGates:
    """Thresholds below which a face is not named (recognition) or not accepted (enrollment)."""

    min_face_px: int = 40
    min_detection_score: float = 0.75
    min_blur: float = 15.0
    max_yaw: float = 60.0
    enroll_min_face_px: int = 64
    enroll_min_detection_score: float = 0.9
    enroll_min_blur: float = 40.0
    enroll_max_yaw: float = 45.0


def blur_score(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the aligned crop: low means blurred."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def rough_yaw(landmarks: np.ndarray) -> float:
    """Head yaw in degrees from how far the nose sits from the eyes' midpoint (0 = frontal)."""
    left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    half_span = np.linalg.norm(right_eye - left_eye) / 2
    if half_span < 1e-6:
        return 90.0
    axis = (right_eye - left_eye) / (2 * half_span)
    offset = float(np.dot(nose - (left_eye + right_eye) / 2, axis)) / half_span
    return float(np.degrees(np.arcsin(np.clip(offset, -1.0, 1.0))))


def measure(box: np.ndarray, score: float, landmarks: np.ndarray, crop: np.ndarray) -> Quality:
    """All measures of one face."""
    face_px = round(float(min(box[2] - box[0], box[3] - box[1])))
    return Quality(face_px, score, blur_score(crop), rough_yaw(landmarks))


def recognition_status(quality: Quality, gates: QualityGates) -> FaceStatus | None:
    """``too_small`` / ``low_quality`` when a face must not be named, else None."""
    if quality.face_px < gates.min_face_px:
        return FaceStatus.TOO_SMALL
    if (
        quality.detection_score < gates.min_detection_score
        or quality.blur < gates.min_blur
        or abs(quality.yaw) > gates.max_yaw
    ):
        return FaceStatus.LOW_QUALITY
    return None


def enrollment_problem(quality: Quality, gates: QualityGates) -> tuple[str, str] | None:
    """(code, reason) when a face is not good enough to enroll, else None."""
    if quality.face_px < gates.enroll_min_face_px:
        return "too_small", (
            f"the face is {quality.face_px} px wide; at least {gates.enroll_min_face_px} px needed"
        )
    if quality.blur < gates.enroll_min_blur:
        return "blurred", (
            f"the face is blurred (sharpness {quality.blur:.0f} < {gates.enroll_min_blur:.0f})"
        )
    unclear = quality.detection_score < gates.enroll_min_detection_score
    if unclear or abs(quality.yaw) > gates.enroll_max_yaw:
        return "low_quality", (
            f"the face is not clear or not frontal enough (score {quality.detection_score:.2f}, "
            f"yaw {quality.yaw:.0f}°)"
        )
    return None
