"""Chips for both embedders from one alignment, and the stored crop both can be cut from again
(real photos, real models)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pytest

from known_faces.models.catalogue import DLIB_EMBEDDER, EMBEDDER
from known_faces.pipeline.align import (
    ARCFACE_CHIP,
    DLIB_CHIP,
    STORED_CHIP,
    align_face,
    similarity_transform,
    stored_matrix,
)
from known_faces.pipeline.decode import decode_image
from known_faces.pipeline.engine import Engine, decode_crop, encode_crop
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery
from known_faces.store.validate import check_crop

OBAMA = "people/barack_obama/barack_obama_1.jpg"


def test_the_stored_crop_holds_the_whole_dlib_chip() -> None:
    """Every corner of the dlib chip lies inside the stored crop, with room to spare, so
    cutting it again needs no border pixels (the 112-px ArcFace crop would need 12 rows)."""
    matrix = similarity_transform(DLIB_CHIP.template, STORED_CHIP.template)
    corners = np.array([[0, 0], [150, 0], [0, 150], [150, 150]], float)
    inside = corners @ matrix[:, :2].T + matrix[:, 2]
    assert inside.min() > 8
    assert inside.max() < STORED_CHIP.size - 8
    legacy = similarity_transform(DLIB_CHIP.template, ARCFACE_CHIP.template)
    assert (corners @ legacy[:, :2].T + legacy[:, 2]).max() > ARCFACE_CHIP.size + 10


def test_both_chips_come_from_one_alignment(engine: Engine,
                                            photo: Callable[[str], bytes]) -> None:
    """A gated face carries both chips and both models' vectors; the ArcFace chip is the one
    ``align_face`` cuts, and the stored crop is 224 px."""
    face = engine.analyse(photo(OBAMA))[0]
    assert face.passed_gates
    assert face.crop.shape == (224, 224, 3)
    assert face.chips[DLIB_CHIP.name].shape == (150, 150, 3)
    assert set(face.embeddings) == {EMBEDDER.id, DLIB_EMBEDDER.id}
    assert face.embedding is face.embeddings[EMBEDDER.id]
    assert [v.shape for v in face.embeddings.values()] == [(192,), (128,)]
    check_crop(encode_crop(face.crop))


@pytest.mark.parametrize("path", [OBAMA, "people/joe_biden/joe_biden_2.jpg",
                                  "people/person_a/person_a_2.jpg"])
def test_chips_cut_again_from_the_stored_crop_embed_alike(
        engine: Engine, photo: Callable[[str], bytes], path: str) -> None:
    """Re-embedding from the stored crop (what a model change does) gives nearly the vectors
    of the chips cut from the original image, for both models, and for dlib closer than the
    old 112-px crop does (measured on the shared photos: ≥ 0.995 against 0.985–0.998)."""
    face = next(f for f in engine.analyse(photo(path)) if f.passed_gates)
    from_jpeg = decode_crop(encode_crop(face.crop))  # as the gallery stores and reads it
    for model in engine.model_ids:
        again = engine.embed_stored([from_jpeg], model)[0]
        assert float(again @ face.embeddings[model]) > 0.98, model
    dlib = face.embeddings[DLIB_EMBEDDER.id]
    stored = engine.embed_stored([from_jpeg], DLIB_EMBEDDER.id)[0]
    legacy = engine.embed_stored([align_face(decode_image(photo(path)), face.landmarks)],
                                 DLIB_EMBEDDER.id)[0]
    assert float(stored @ dlib) > max(0.99, float(legacy @ dlib))


def test_a_gallery_from_before_dlib_gets_dlib_vectors_from_its_old_crops(
        engine: Engine, gallery: Gallery, photo: Callable[[str], bytes],
        faces_manifest: dict[str, list[str]], caplog: pytest.LogCaptureFixture) -> None:
    """A face stored as the old 112-px ArcFace crop with only a MobileFaceNet vector (as every
    gallery made before the dlib model): the first start computes its dlib vector from that
    crop, says so once, and the person is still recognised from another photo."""
    obama = faces_manifest["people"]["barack_obama"]
    face = engine.analyse(photo(obama[0]))[0]
    image = decode_image(photo(obama[0]))
    legacy = align_face(image, face.landmarks)  # the 112-px crop an old release stored
    person = gallery.create_person("Barack Obama")
    assert face.embedding is not None
    gallery.add_face(person.slug, encode_crop(legacy), face.embedding, EMBEDDER.id, "old", {})
    with caplog.at_level(logging.WARNING):
        recognizer = Recognizer(engine, gallery, keep_unknown=False)
    assert gallery.faces_missing_embeddings(DLIB_EMBEDDER.id) == []
    assert "112-px crop" in caplog.text
    result = recognizer.recognize(photo(obama[1])).faces[0]
    assert result.status is FaceStatus.KNOWN
    assert result.match is not None
    assert result.match.best is not None
    assert set(result.match.best.scores) == {EMBEDDER.id, DLIB_EMBEDDER.id}


def test_the_stored_transform_is_the_fit_to_the_stored_template() -> None:
    """Composing the ArcFace fit with the stored crop's scale and shift is the least-squares
    fit to the stored template itself (so the engine solves one fit per face, not two)."""
    rng = np.random.default_rng(7)
    landmarks = ARCFACE_CHIP.template * 3.1 + rng.normal(0, 4, (5, 2)) + [300, 120]
    arcface = similarity_transform(landmarks, ARCFACE_CHIP.template)
    np.testing.assert_allclose(stored_matrix(arcface),
                               similarity_transform(landmarks, STORED_CHIP.template), atol=1e-9)
