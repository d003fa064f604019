"""Engine + gallery: recognise snapshots and enroll faces (what the CLI and service share).

The in-memory matcher is rebuilt only when the gallery's version changes, and swapped as one
reference, so concurrent recognitions never see half a gallery. ``refresh`` is cheap (one
SQLite read) and lets a long-running service pick up people enrolled by another process.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

from .errors import EnrollmentRejected
from .pipeline.engine import Engine, decode_crop, encode_crop, timed
from .pipeline.match import Matcher, MatchSettings
from .pipeline.results import (
    Candidate,
    DetectedFace,
    FaceResult,
    FaceStatus,
    Match,
    SnapshotResult,
)
from .publish import payloads
from .store.gallery import Face, Gallery, Person
from .store.names import clean_name
from .store.visitors import DEFAULT_THRESHOLD, FaceSearch, Visitors, enrollment_gate

REEMBED_BATCH = 32


class Recognizer:
    """Recognition and enrollment against one gallery."""

    def __init__(self, engine: Engine, gallery: Gallery, match: MatchSettings | None = None,
                 *, keep_unknown: bool = True,
                 visitor_threshold: float = DEFAULT_THRESHOLD) -> None:
        self.engine = engine
        self.gallery = gallery
        self.match_settings = match or MatchSettings()
        self.keep_unknown = keep_unknown
        self.visitors = Visitors(gallery, engine.model_id, engine.embedder.dim,
                                 visitor_threshold)
        self._lock = threading.Lock()
        self._version = -1
        self._matcher = Matcher([], [])
        self.refresh()

    @property
    def matcher(self) -> Matcher:
        """The current immutable matcher."""
        return self._matcher

    def refresh(self) -> bool:
        """Rebuild the matcher if the gallery changed (here or in another process)."""
        version = self.gallery.version
        if version == self._version:
            return False
        with self._lock:
            if self.gallery.faces_missing_embeddings(self.engine.model_id):
                self.reembed()
            version = self.gallery.version
            self._matcher = self.gallery.matcher(self.engine.model_id)
            self._version = version
        return True

    def reembed(self) -> int:
        """Compute this model's vectors for stored crops that lack them (model change, import);
        nobody has to enroll again. Returns how many faces were embedded."""
        missing = self.gallery.faces_missing_embeddings(self.engine.model_id)
        for start in range(0, len(missing), REEMBED_BATCH):
            chunk = missing[start : start + REEMBED_BATCH]
            vectors = self.engine.embed_crops([decode_crop(crop) for _, crop in chunk])
            self.gallery.store_embeddings(
                self.engine.model_id, [(fid, v) for (fid, _), v in zip(chunk, vectors, strict=True)]
            )
        return len(missing)

    def recognize(self, data: bytes, *, camera: str = "cli", source: str = "cli",
                  match: MatchSettings | None = None, received: float | None = None,
                  visit: str | None = None,
                  keep_unknown: bool | None = None) -> SnapshotResult:
        """Every face of a snapshot with its verdict; ``match`` overrides the thresholds
        (per camera), ``received`` (a ``time.monotonic`` value) is when the snapshot
        arrived, so the latency includes its wait in the intake. With ``keep_unknown`` every
        unknown face joins or starts a visitor (one that matches an ignored visitor is
        ``ignored``); the frames of one ``visit`` (a Frigate event) count once. A stream's
        tracker passes ``keep_unknown=False``: it records one sighting per track instead
        (``record_visit``), not one per frame."""
        start = time.monotonic() if received is None else received
        stages: dict[str, float] = {}
        detected = self.engine.analyse(data, stages)
        settings = match or self.match_settings
        vectors = [face.embedding for face in detected if face.embedding is not None]
        with timed(stages, "match"):
            verdicts = iter(self._matcher.match(np.stack(vectors), settings) if vectors else [])
            faces = tuple(self._result(face, verdicts) for face in detected)
        now = datetime.now(UTC)
        if self.keep_unknown if keep_unknown is None else keep_unknown:
            with timed(stages, "visitors"):
                faces = tuple(self.record_visit(face, camera, now.isoformat(), visit)
                              for face in faces)
        result = SnapshotResult(
            snapshot_id=str(uuid.uuid4()), camera=camera, source=source,
            model=self.engine.model_id, faces=faces, time=now,
            latency_ms=(time.monotonic() - start) * 1000, stage_ms=stages,
        )
        return result

    @staticmethod
    def _result(face: DetectedFace, verdicts: Iterator[Match]) -> FaceResult:
        """A detected face's final result: its gate's verdict, or the matcher's."""
        if face.rejection is not None:
            return FaceResult(face, face.rejection)
        verdict = next(verdicts)
        return FaceResult(face, FaceStatus.KNOWN if verdict.known else FaceStatus.UNKNOWN,
                          verdict)

    def record_visit(self, face: FaceResult, camera: str, time: str,
                     visit: str | None = None) -> FaceResult:
        """An unknown face recorded as a visitor's sighting (DESIGN §9); the face comes back
        with its visitor, and ``ignored`` if that visitor is ignored."""
        if face.status is not FaceStatus.UNKNOWN or face.embedding is None:
            return face
        seen = self.visitors.observe(face.embedding, encode_crop(face.crop),
                                     payloads.quality(face.quality), camera, time, visit)
        if seen is None:
            return face
        status = FaceStatus.IGNORED if seen.ignored else FaceStatus.UNKNOWN
        return dataclasses.replace(face, status=status, visitor=seen)

    def search(self, data: bytes, threshold: float) -> list[FaceSearch]:
        """Every gated face of a photo with the people, visitors and kept sightings scoring at
        least ``threshold`` against it ("was this person here before?"). Records nothing."""
        found = []
        for face in self.engine.analyse(data):
            if face.embedding is None:
                continue
            matcher = self._matcher
            scores = matcher.person_similarities(face.embedding[None])
            people = sorted((Candidate(p.slug, p.name, float(score))
                             for p, score in zip(matcher.people, scores[0], strict=True)
                             if score >= threshold), key=lambda c: -c.similarity)
            hits = self.visitors.search(face.embedding, threshold, [c.person for c in people])
            found.append(FaceSearch(face, people, hits))
        return found

    def enrollment_gate(self, quality: dict[str, float]) -> tuple[str, str] | None:
        """This engine's enrollment gates over a stored sighting's quality measures."""
        return enrollment_gate(self.engine.gates)(quality)

    def enroll(self, slug: str, data: bytes, *, source: str = "cli") -> Face:
        """Add one photo's face to a person (strict gates; EnrollmentRejected says why)."""
        self.gallery.person(slug)
        face, vector = self._enrollment_face(data)
        stored = self.gallery.add_face(slug, encode_crop(face.crop), vector,
                                       self.engine.model_id, source, payloads.quality(face.quality))
        self.refresh()
        return stored

    def enroll_by_name(self, name: str, data: bytes, *,
                       source: str = "cli") -> tuple[Face, Person, bool]:
        """Add one photo's face to the person called ``name``, creating them only when the
        face is accepted: (face, person, created). A refused photo changes nothing."""
        clean_name(name)  # a bad name is refused before the engine spends time on the photo
        face, vector = self._enrollment_face(data)
        stored, created = self.gallery.add_face_by_name(
            name, encode_crop(face.crop), vector, self.engine.model_id, source,
            payloads.quality(face.quality))
        self.refresh()
        return stored, self.gallery.person(stored.person), created

    def _enrollment_face(self, data: bytes) -> tuple[DetectedFace, np.ndarray]:
        """The gated face of an enrollment photo and its embedding."""
        face = self.engine.enrollment_face(data)
        if face.embedding is None:  # enrollment_face only returns embedded faces
            raise EnrollmentRejected("the face could not be embedded", code="low_quality")
        return face, face.embedding
