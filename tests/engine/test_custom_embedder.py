"""A user's own ArcFace-style embedder, declared by file and preprocessing (DESIGN §2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from known_faces.errors import ModelError
from known_faces.models.catalogue import DETECTOR, EMBEDDER, Preprocessing, embedder_spec
from known_faces.paths import default_models_dir
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery


@pytest.fixture
def own_model(tmp_path: Path) -> Path:
    """A copy of MobileFaceNet under another name, standing in for a user's model."""
    target = tmp_path / "my_embedder.onnx"
    shutil.copy(default_models_dir() / EMBEDDER.file, target)
    return target


def test_preprocessing_is_parsed_or_refused_clearly() -> None:
    """CHANNELS,MEAN,STD round-trips; anything else names the expected form."""
    assert Preprocessing.parse(" bgr , 127.5, 127.5 ") == Preprocessing("BGR", 127.5, 127.5)
    assert str(Preprocessing()) == "RGB,127.5,128"
    for bad in ("RGB", "YUV,0,1", "RGB,a,1", "RGB,0,0"):
        with pytest.raises(ModelError, match="CHANNELS,MEAN,STD"):
            Preprocessing.parse(bad)


def test_the_id_follows_the_file_and_the_preprocessing(own_model: Path) -> None:
    """Same file and preprocessing, same id; a different preprocessing or file, another id."""
    assert embedder_spec(None, None) is EMBEDDER
    rgb = embedder_spec(own_model, "RGB,127.5,128")
    assert rgb.id.startswith("custom-my_embedder-")
    assert embedder_spec(own_model, None).id == rgb.id
    assert embedder_spec(own_model, "BGR,127.5,127.5").id != rgb.id
    own_model.write_bytes(own_model.read_bytes() + b"\0")
    assert embedder_spec(own_model, "RGB,127.5,128").id != rgb.id
    with pytest.raises(ModelError, match="cannot read"):
        embedder_spec(own_model.with_name("missing.onnx"), None)


def test_switching_embedder_reembeds_and_recognises(
    engine: Engine, tmp_path: Path, own_model: Path, photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any],
) -> None:
    """People enrolled with MobileFaceNet are recognised after switching to the user's model:
    the stored crops are re-embedded at start-up, nobody enrolls again."""
    obama = faces_manifest["people"]["barack_obama"]
    gallery = Gallery.open(tmp_path / "data")
    person = gallery.create_person("Barack Obama")
    Recognizer(engine, gallery).enroll(person.slug, photo(obama[0]))
    spec = embedder_spec(own_model, "RGB,127.5,128")
    switched = Recognizer(Engine.load(embedder=spec, threads=1), gallery)
    assert gallery.faces_missing_embeddings(spec.id) == []
    face = switched.recognize(photo(obama[1])).faces[0]
    assert face.status is FaceStatus.KNOWN
    assert face.match.best.person == person.slug


def test_a_file_that_is_not_an_embedder_is_one_clear_line(tmp_path: Path) -> None:
    """``--embedder`` pointing at the detector fails with model_error, status 2, one line."""
    result = subprocess.run(
        [sys.executable, "-m", "known_faces.cli", "recognize", str(tmp_path / "x.jpg"),
         "--data-dir", str(tmp_path), "--embedder", str(default_models_dir() / DETECTOR.file)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("known-faces: model_error:")
    assert "not an ArcFace-style embedder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
