"""The recognition pipeline without a gallery: decode → detect → align → quality → embed.

``Engine`` owns the ONNX sessions, created once: the detector, the primary embedder
(MobileFaceNet or the user's) and, in ``accurate`` mode, dlib's ResNet, whose score is fused
with the primary's (DESIGN §3). Each embedder runs once per snapshot on a batch of all the
gated faces' chips. Its methods are plain functions of their
inputs, safe to call from several worker threads at once (ONNX Runtime sessions are), and are
what the CLI, the service and the benchmark share.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from ..errors import EnrollmentRejected, InvalidImage, ModelError
from ..models.catalogue import DETECTOR, EMBEDDER, ModelSpec, mode_embedders
from ..paths import default_models_dir
from .align import (
    ARCFACE_CHIP,
    CHIPS,
    STORED_CHIP,
    chip_from_stored,
    cut_chip,
    similarity_transform,
    stored_matrix,
    warp,
)
from .decode import decode_reduced, memory_slot
from .detect import RetinaFaceDetector
from .embed import Embedder
from .quality import QualityGates, enrollment_problem, measure, recognition_status
from .results import DetectedFace

StageTimes = dict[str, float]
#: ``accurate``: MobileFaceNet and dlib fused; ``fast``: the primary embedder alone.
MODES = ("accurate", "fast")
# A large JPEG keeps at least this many times the detector's long side when decoded reduced.
REDUCED_DECODE_FACTOR = 4


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


def in_full_size(face: DetectedFace, scale: int) -> DetectedFace:
    """A face found on an image decoded at 1/``scale``, in the full-size image's pixels."""
    box = (face.box[0] * scale, face.box[1] * scale, face.box[2] * scale, face.box[3] * scale)
    quality = dataclasses.replace(face.quality, face_px=face.quality.face_px * scale)
    return dataclasses.replace(face, box=box, landmarks=face.landmarks * scale, quality=quality)


def decode_crop(data: bytes) -> np.ndarray:
    """A stored crop back to BGR pixels."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidImage("a stored face crop does not decode")
    return np.asarray(image)


def load_embedder(models_dir: Path, spec: ModelSpec, threads: int) -> Embedder:
    """A session on a catalogue (or the user's) embedder, with its chip's size."""
    if spec.preprocessing is None:
        raise ModelError(f"{spec.id} declares no preprocessing")
    return Embedder(models_dir / spec.file, spec.preprocessing, spec.id, threads=threads,
                    size=CHIPS[spec.chip].size)


class Engine:
    """Detector + embedders + quality gates. ``embedder`` is the primary one; ``embedders``
    all of them, the primary first, with the chip each takes."""

    def __init__(self, detector: RetinaFaceDetector, embedder: Embedder,
                 gates: QualityGates | None = None, *,
                 extra: tuple[tuple[Embedder, str], ...] = ()) -> None:
        self.detector = detector
        self.embedder = embedder
        self.gates = gates or QualityGates()
        self.embedders = ((embedder, ARCFACE_CHIP.name), *extra)

    @classmethod
    def load(
        cls,
        models_dir: Path | None = None,
        *,
        threads: int = 2,
        detector_size: int = 640,
        gates: QualityGates | None = None,
        embedder: ModelSpec = EMBEDDER,
        mode: str = "accurate",
    ) -> Engine:
        """Sessions on the installed catalogue models (``known-faces models install``), or on
        a user's own embedder (``catalogue.custom_embedder``). ``accurate`` adds dlib's ResNet
        to the catalogue's MobileFaceNet; a user's embedder has no impostor statistics to fuse
        by, so it always runs alone, as ``fast`` does."""
        if mode not in MODES:
            raise ModelError(f"mode '{mode}' is not one of {', '.join(MODES)}")
        models_dir = models_dir or default_models_dir()
        primary = load_embedder(models_dir, embedder, threads)
        detector = RetinaFaceDetector(models_dir / DETECTOR.file, long_side=detector_size,
                                      threads=threads)
        extra = tuple((load_embedder(models_dir, spec, threads), spec.chip)
                      for spec in mode_embedders(embedder, mode)[1:])
        return cls(detector, primary, gates, extra=extra)

    @property
    def model_id(self) -> str:
        """Which embedder made the vectors (the gallery tags them with it)."""
        return self.embedder.model_id

    @property
    def model_ids(self) -> tuple[str, ...]:
        """Every embedder's model id, the primary first."""
        return tuple(embedder.model_id for embedder, _ in self.embedders)

    @property
    def dims(self) -> dict[str, int]:
        """Every embedder's ``{model id: dimension}``, the primary first."""
        return {embedder.model_id: embedder.dim for embedder, _ in self.embedders}

    @property
    def mode(self) -> str:
        """``accurate`` when a second embedder is fused, else ``fast``."""
        return "accurate" if len(self.embedders) > 1 else "fast"

    def faces(self, image: np.ndarray, stages: StageTimes | None = None) -> list[DetectedFace]:
        """Every face of an image with its quality verdict; faces that pass the gates also get
        an embedding (one batch for the whole snapshot)."""
        stages = stages if stages is not None else {}
        with timed(stages, "detect"):
            detections = self.detector.detect(image)
        found = []
        with timed(stages, "align"):
            for det in detections:
                arcface = similarity_transform(det.landmarks.astype(np.float64),
                                               ARCFACE_CHIP.template)
                chips = {ARCFACE_CHIP.name: warp(image, arcface, ARCFACE_CHIP.size)}
                quality = measure(det.box, det.score, det.landmarks, chips[ARCFACE_CHIP.name])
                rejection = recognition_status(quality, self.gates)
                if rejection is None:
                    for _, chip in self.embedders[1:]:
                        chips[chip] = cut_chip(image, det.landmarks, CHIPS[chip])
                box = (round(float(det.box[0])), round(float(det.box[1])),
                       round(float(det.box[2])), round(float(det.box[3])))
                stored = warp(image, stored_matrix(arcface), STORED_CHIP.size)
                found.append((box, det.landmarks, quality, stored, rejection, chips))
        passed = [chips for *_, rejection, chips in found if rejection is None]
        with timed(stages, "embed"):
            vectors = self._embed_chips(passed)
        faces, index = [], 0
        for box, landmarks, quality, crop, rejection, chips in found:
            embeddings: dict[str, np.ndarray] = {}
            if rejection is None:
                embeddings = {model: rows[index] for model, rows in vectors.items()}
                index += 1
            faces.append(DetectedFace(box, landmarks, quality, crop, rejection,
                                      embeddings.get(self.model_id), embeddings, chips))
        return faces

    def _embed_chips(self, faces: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Every embedder on its chips of ``faces``, one batch each: model id → N×D."""
        if not faces:
            return {}
        return {embedder.model_id: embedder.embed(np.stack([f[chip] for f in faces]))
                for embedder, chip in self.embedders}

    def analyse(self, data: bytes, stages: StageTimes | None = None) -> list[DetectedFace]:
        """Decode snapshot bytes and return ``faces`` of it, in the snapshot's own pixels.

        A very large JPEG is decoded reduced (``decode_reduced``: at least four times the
        detector's long side is kept); its faces are then measured on the reduced image, which
        only makes the quality gates stricter, and reported in full-size pixels.
        """
        stages = stages if stages is not None else {}
        min_long_side = REDUCED_DECODE_FACTOR * self.detector.long_side
        with memory_slot(data, min_long_side):
            with timed(stages, "decode"):
                image, scale = decode_reduced(data, min_long_side)
            faces = self.faces(image, stages)
        return faces if scale == 1 else [in_full_size(face, scale) for face in faces]

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
        """The primary embedder's vectors of stored crops (re-embedding after a model change)."""
        return self.embed_stored(crops, self.model_id)

    def embed_stored(self, crops: list[np.ndarray], model: str) -> np.ndarray:
        """``model``'s vectors of stored crops, its chip cut again from each (a crop's size
        says its template: ``align.STORED_TEMPLATES``)."""
        for embedder, chip in self.embedders:
            if embedder.model_id == model:
                return embedder.embed(np.stack([chip_from_stored(c, CHIPS[chip]) for c in crops]))
        raise ModelError(f"the engine does not run {model}")
