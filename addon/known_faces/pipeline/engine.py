"""The recognition pipeline without a gallery: decode → detect → align → quality → embed.

``Engine`` owns the two ONNX sessions, created once. Its methods are plain functions of their
inputs, safe to call from several worker threads at once (ONNX Runtime sessions are), and are
what the CLI, the service and the benchmark share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from ..errors import EnrollmentRejected, ModelError
from ..models.catalogue import DETECTOR, EMBEDDER, ModelSpec
from ..paths import default_models_dir
from .align import align_face
from .decode import decode_image
from .detect import RetinaFaceDetector
from .embed import Embedder
from .quality import QualityGates, enrollment_problem, measure, recognition_status
from .results import DetectedFace

StageTimes = dict[str, float]


@contextmanager
def timed(stages: StageTimes, name: str) -> Iterator[None]:
    """Add the block's wall time in ms to ``stages[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + (time.perf_counter() - start) * 1000


def encode_crop(crop: np.ndarray) -> bytes:
    """An aligned crop as the JPEG the gallery and the ``face`` topic carry."""
    ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:  # pragma: no cover - encoding a valid uint8 image does not fail
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def decode_crop(data: bytes) -> np.ndarray:
    """A stored crop back to BGR pixels."""
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)


class Engine:
    """Detector + embedder + quality gates."""

    def __init__(self, detector: RetinaFaceDetector, embedder: Embedder,
                 gates: QualityGates | None = None) -> None:
        self.detector = detector
        self.embedder = embedder
        self.gates = gates or QualityGates()

    @classmethod
    def load(
        cls,
        models_dir: Path | None = None,
        *,
        threads: int = 2,
        detector_size: int = 640,
        gates: QualityGates | None = None,
        embedder: ModelSpec = EMBEDDER,
    ) -> Engine:
        """Sessions on the installed catalogue models (``known-faces models install``), or on
        a user's own embedder (``catalogue.custom_embedder``)."""
        models_dir = models_dir or default_models_dir()
        if embedder.preprocessing is None:
            raise ModelError(f"{embedder.id} declares no preprocessing")
        detector = RetinaFaceDetector(models_dir / DETECTOR.file, long_side=detector_size,
                                      threads=threads)
        return cls(detector, Embedder(models_dir / embedder.file, embedder.preprocessing,
                                      embedder.id, threads=threads), gates)

    @property
    def model_id(self) -> str:
        """Which embedder made the vectors (the gallery tags them with it)."""
        return self.embedder.model_id

    def faces(self, image: np.ndarray, stages: StageTimes | None = None) -> list[DetectedFace]:
        """Every face of an image with its quality verdict; faces that pass the gates also get
        an embedding (one batch for the whole snapshot)."""
        stages = stages if stages is not None else {}
        with timed(stages, "detect"):
            detections = self.detector.detect(image)
        found = []
        with timed(stages, "align"):
            for det in detections:
                crop = align_face(image, det.landmarks)
                quality = measure(det.box, det.score, det.landmarks, crop)
                box = (round(float(det.box[0])), round(float(det.box[1])),
                       round(float(det.box[2])), round(float(det.box[3])))
                found.append((box, det.landmarks, quality, crop,
                              recognition_status(quality, self.gates)))
        passed = [crop for _, _, _, crop, rejection in found if rejection is None]
        with timed(stages, "embed"):
            vectors = iter(self.embedder.embed(np.stack(passed)) if passed else [])
        return [DetectedFace(box, landmarks, quality, crop, rejection,
                             None if rejection is not None else next(vectors))
                for box, landmarks, quality, crop, rejection in found]

    def analyse(self, data: bytes, stages: StageTimes | None = None) -> list[DetectedFace]:
        """Decode snapshot bytes and return ``faces`` of it."""
        stages = stages if stages is not None else {}
        with timed(stages, "decode"):
            image = decode_image(data)
        return self.faces(image, stages)

    def enrollment_face(self, data: bytes) -> DetectedFace:
        """The one face of an enrollment photo; EnrollmentRejected with the reason otherwise."""
        faces = self.analyse(data)
        if not faces:
            raise EnrollmentRejected("no face was found in the image", code="no_face")
        if len(faces) > 1:
            raise EnrollmentRejected(
                f"{len(faces)} faces were found; an enrollment photo must show exactly one",
                code="several_faces",
            )
        face = faces[0]
        problem = enrollment_problem(face.quality, self.gates)
        if problem:
            code, reason = problem
            raise EnrollmentRejected(reason, code=code)
        if face.embedding is None:  # passed the strict gates, so it passed the loose ones
            raise EnrollmentRejected("the face could not be embedded", code="low_quality")
        return face

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Embeddings of stored aligned crops (re-embedding after a model change)."""
        return self.embedder.embed(np.stack(crops))
