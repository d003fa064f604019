"""Fixtures every suite shares: the real test photos (standard library and pytest only, so the
Home Assistant environments can load this file too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import photos


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The shared photo directory (skips, or fails in CI, when it is missing)."""
    return photos.faces_dir()


@pytest.fixture(scope="session")
def faces_manifest(faces_dir: Path) -> dict[str, Any]:
    """The photos' manifest.json: people, groups with face counts, resolution series."""
    return photos.manifest()


@pytest.fixture(scope="session")
def photo(faces_dir: Path) -> Callable[[str], bytes]:
    """Bytes of a photo by its path relative to the photo directory."""
    return lambda relative: (faces_dir / relative).read_bytes()
