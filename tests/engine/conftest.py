"""Fixtures for the engine tests: the real models, the real photos, temporary galleries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from known_faces.engine import Engine
from known_faces.gallery import Gallery
from known_faces.recognizer import Recognizer
from tests.photos import faces_dir, manifest


@pytest.fixture(scope="session")
def photos() -> Path:
    """The shared photo directory."""
    return faces_dir()


@pytest.fixture(scope="session")
def faces_manifest(photos: Path) -> dict[str, Any]:
    """The photos' manifest."""
    return manifest()


@pytest.fixture(scope="session")
def photo(photos: Path) -> Callable[[str], bytes]:
    """Bytes of a photo by its path relative to the photo directory."""
    return lambda relative: (photos / relative).read_bytes()


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The real engine on the models installed by scripts/setup."""
    return Engine.load(threads=2)


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    """An empty gallery in a temporary data dir."""
    store = Gallery.open(tmp_path)
    yield store
    store.close()


@pytest.fixture
def recognizer(engine: Engine, gallery: Gallery) -> Recognizer:
    """Engine + the temporary gallery, default thresholds, unknown sightings kept."""
    return Recognizer(engine, gallery)
