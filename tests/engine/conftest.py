"""Fixtures for the engine tests: the real models and temporary galleries (the photos come
from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from known_faces.pipeline.engine import Engine
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The real engine on the models installed by scripts/setup."""
    return Engine.load(threads=2)


@pytest.fixture(scope="session")
def fast_engine(engine: Engine) -> Engine:
    """The same sessions in ``fast`` mode: MobileFaceNet alone, no fusion."""
    return Engine(engine.detector, engine.embedder, engine.gates)


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
