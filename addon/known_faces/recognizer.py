"""Engine + gallery: recognise snapshots and enroll faces (what the CLI and service share).

The in-memory matcher (one per embedder the engine runs, fused: ``FusedMatcher``) is rebuilt
only when the gallery's version changes, and swapped as one reference, so concurrent
recognitions never see half a gallery. ``refresh`` is cheap (one
SQLite read) and lets a long-running service pick up people enrolled by another process.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .errors import DoesNotMatchPerson, EnrollmentRejected
from .models.catalogue import MODELS
from .pipeline.align import STORED_CHIP
from .pipeline.engine import Engine, decode_crop, encode_crop, timed
from .pipeline.fused_match import FusedMatcher
from .pipeline.match import Matcher, MatchSettings
from .pipeline.results import (
    Candidate,
    DetectedFace,
    FaceResult,
    FaceStatus,
    Match,
    SnapshotResult,
)
from .pipeline.score import ImpostorStats
from .publish import payloads
from .store.gallery import Face, Gallery, Person
from .store.names import clean_name
from .store.visitors import DEFAULT_THRESHOLD, FaceSearch, Visitors, enrollment_gate

REEMBED_BATCH = 32
#: The warning a forced enrollment of a photo unlike the person's others answers with.
DOES_NOT_MATCH = DoesNotMatchPerson.code
LOG = logging.getLogger(__name__)
#: A model that is only ever used alone (a user's embedder) is "standardised" by (0, 1): its
#: score is its cosine.
IDENTITY = ImpostorStats(0.0, 1.0)


def impostor_stats(models: tuple[str, ...]) -> dict[str, ImpostorStats]:
    """Each model's impostor statistics from the catalogue (DESIGN §3)."""
    specs = {m.id: m for m in MODELS}
    stats = {}
    for model in models:
        spec = specs.get(model)
        mean, sd = (spec.impostor_mean, spec.impostor_sd) if spec else (None, None)
        stats[model] = ImpostorStats(mean, sd) if mean is not None and sd else IDENTITY
    return stats


@dataclass(frozen=True, slots=True)
class Enrollment:
    """An accepted photo: the stored face, its person, whether the person was created, and
    ``warning`` (``does_not_match_person``) when it was forced in although it did not resemble
    the person's other photos."""

    face: Face
    person: Person
    created: bool
    warning: str | None


class Recognizer:
    """Recognition and enrollment against one gallery."""

    def __init__(self, engine: Engine, gallery: Gallery, match: MatchSettings | None = None,
                 *, keep_unknown: bool = True,
                 visitor_threshold: float = DEFAULT_THRESHOLD) -> None:
        self.engine = engine
        self.gallery = gallery
        self.match_settings = match or MatchSettings()
        self.keep_unknown = keep_unknown
        self._stats = impostor_stats(engine.model_ids)
        # Visitors are grouped by the score people are named by: every model, the same stats.
        self.visitors = Visitors(gallery, engine.dims, visitor_threshold, self._stats)
        self._lock = threading.Lock()
        self._version = -1
        self._fused = FusedMatcher({m: Matcher([], []) for m in engine.model_ids}, self._stats)
        self._warned_legacy = False
        self.refresh()

    @property
    def matcher(self) -> Matcher:
        """The current immutable matcher of the primary embedder."""
        return self._fused.matchers[self.engine.model_id]

    @property
    def fused(self) -> FusedMatcher:
        """The current immutable matcher over every embedder the engine runs."""
        return self._fused

    def refresh(self) -> bool:
        """Rebuild the matcher if the gallery changed (here or in another process)."""
        version = self.gallery.version
        if version == self._version:
            return False
        with self._lock:
            self.reembed()
            version = self.gallery.version
            self._fused = FusedMatcher({m: self.gallery.matcher(m) for m in self.engine.model_ids},
                                       self._stats)
            self._version = version
        return True

    def reembed(self) -> int:
        """Compute every model's vectors for stored crops that lack them (model change, import,
        the first start with dlib's model); nobody has to enroll again. Returns how many
        vectors were computed.

        A face stored before the dlib model has a 112-px ArcFace crop, which ends above the
        bottom of the dlib chip: its dlib vector is cut from that crop with the last rows
        replicated, slightly less accurate (README, *Galleries from before dlib*). That is
        logged once, with the advice to add a new photo of those people.
        """
        done = 0
        for model in self.engine.model_ids:
            missing = self.gallery.faces_missing_embeddings(model)
            legacy = 0
            for start in range(0, len(missing), REEMBED_BATCH):
                chunk = missing[start : start + REEMBED_BATCH]
                crops = [decode_crop(crop) for _, crop in chunk]
                legacy += sum(1 for c in crops if c.shape[0] < STORED_CHIP.size)
                vectors = self.engine.embed_stored(crops, model)
                self.gallery.store_embeddings(
                    model, [(fid, v) for (fid, _), v in zip(chunk, vectors, strict=True)])
            done += len(missing)
            if legacy and model != self.engine.model_id and not self._warned_legacy:
                self._warned_legacy = True
                LOG.warning("%d face(s) were enrolled before %s and keep only a 112-px crop: "
                            "their %s vectors are cut from it, slightly less accurate; add a "
                            "new photo of those people to restore full accuracy",
                            legacy, model, model)
        return done

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
        gated = [face for face in detected if face.embedding is not None]
        with timed(stages, "match"):
            verdicts = iter(self.match(gated, settings))
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

    def match(self, faces: list[DetectedFace], settings: MatchSettings) -> list[Match]:
        """The fused verdict for embedded faces (every model's vectors in one matrix each)."""
        if not faces:
            return []
        fused = self._fused
        return fused.match({m: np.stack([f.embeddings[m] for f in faces]) for m in fused.models},
                           settings)

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
        seen = self.visitors.observe(face.face.embeddings, encode_crop(face.crop),
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
            fused = self._fused  # people are found by the score that names them
            scores, _ = fused.scores({m: face.embeddings[m][None] for m in fused.models})
            people = sorted((Candidate(p.slug, p.name, float(score))
                             for p, score in zip(fused.people, scores[0], strict=True)
                             if score >= threshold), key=lambda c: -c.similarity)
            hits = self.visitors.search(face.embeddings, threshold, [c.person for c in people])
            found.append(FaceSearch(face, people, hits))
        return found

    def enrollment_gate(self, quality: dict[str, float]) -> tuple[str, str] | None:
        """This engine's enrollment gates over a stored sighting's quality measures."""
        return enrollment_gate(self.engine.gates)(quality)

    def enroll(self, slug: str, data: bytes, *, source: str = "cli",
               force: bool = False) -> Face:
        """Add one photo's face to a person (strict gates; EnrollmentRejected says why)."""
        return self.enroll_checked(slug, data, source=source, force=force).face

    def enroll_checked(self, slug: str, data: bytes, *, source: str = "cli",
                       force: bool = False) -> Enrollment:
        """``enroll``, answering with the person and the resemblance warning (if forced)."""
        self.gallery.person(slug)
        face, vector = self._enrollment_face(data)
        warning = self._check_resemblance(slug, face, force)
        stored = self.gallery.add_face(slug, encode_crop(face.crop), vector,
                                       self.engine.model_id, source, payloads.quality(face.quality),
                                       self._other_vectors(face))
        self.refresh()
        return Enrollment(stored, self.gallery.person(slug), False, warning)

    def enroll_by_name(self, name: str, data: bytes, *, source: str = "cli",
                       force: bool = False) -> tuple[Face, Person, bool]:
        """Add one photo's face to the person called ``name``, creating them only when the
        face is accepted: (face, person, created). A refused photo changes nothing."""
        done = self.enroll_by_name_checked(name, data, source=source, force=force)
        return done.face, done.person, done.created

    def enroll_by_name_checked(self, name: str, data: bytes, *, source: str = "cli",
                               force: bool = False) -> Enrollment:
        """``enroll_by_name``, answering with the resemblance warning (if forced)."""
        clean_name(name)  # a bad name is refused before the engine spends time on the photo
        face, vector = self._enrollment_face(data)
        existing = self.gallery.find_by_name(name)
        warning = self._check_resemblance(existing.slug, face, force) if existing else None
        stored, created = self.gallery.add_face_by_name(
            name, encode_crop(face.crop), vector, self.engine.model_id, source,
            payloads.quality(face.quality), self._other_vectors(face))
        self.refresh()
        return Enrollment(stored, self.gallery.person(stored.person), created, warning)

    def resemblance(self, slug: str, face: DetectedFace) -> float | None:
        """The (fused) score of ``face`` against ``slug``'s enrolled photos; None when they
        have none yet (a first photo has nothing to resemble)."""
        self.refresh()
        fused = self._fused
        column = next((i for i, p in enumerate(fused.people) if p.slug == slug), None)
        if column is None or not face.embeddings:
            return None
        scores, _ = fused.scores({m: face.embeddings[m][None] for m in fused.models})
        return float(scores[0, column])

    def _check_resemblance(self, slug: str, face: DetectedFace, force: bool) -> str | None:
        """DoesNotMatchPerson when the photo scores under the threshold against the person's
        other photos, unless forced; then the warning to answer with (None when it matches)."""
        score = self.resemblance(slug, face)
        threshold = self.match_settings.threshold
        if score is None or score >= threshold:
            return None
        if not force:
            raise DoesNotMatchPerson(
                f"this photo does not resemble the person's other photos (score {score:.2f}, "
                f"threshold {threshold:.2f}): probably someone else; add it with force if it "
                "is really them")
        return DOES_NOT_MATCH

    def _other_vectors(self, face: DetectedFace) -> dict[str, np.ndarray]:
        """The face's vectors from the embedders besides the primary one."""
        return {m: v for m, v in face.embeddings.items() if m != self.engine.model_id}

    def _enrollment_face(self, data: bytes) -> tuple[DetectedFace, np.ndarray]:
        """The gated face of an enrollment photo and its embedding."""
        face = self.engine.enrollment_face(data)
        if face.embedding is None:  # enrollment_face only returns embedded faces
            raise EnrollmentRejected("the face could not be embedded", code="low_quality")
        return face, face.embedding
