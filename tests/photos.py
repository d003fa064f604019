"""Where the shared real photos are, for every test suite (standard library only).

The photos live in ``$KNOWN_FACES_TEST_DATA`` (default ``../shared/data/faces`` beside the
clone) and are never copied into the repository. Without them a test that needs them is
skipped with the reason, unless ``KNOWN_FACES_REQUIRE_TEST_DATA=1`` (CI), which makes it fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def faces_dir() -> Path:
    """The photo directory; skips (or fails in CI) when it is missing."""
    path = Path(os.environ.get("KNOWN_FACES_TEST_DATA", REPO.parent / "shared" / "data" / "faces"))
    if not (path / "manifest.json").is_file():
        reason = f"the shared test photos are not at {path} (set KNOWN_FACES_TEST_DATA)"
        if os.environ.get("KNOWN_FACES_REQUIRE_TEST_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def manifest() -> dict[str, Any]:
    """The photos' manifest.json (people, groups with face counts, resolution series)."""
    return json.loads((faces_dir() / "manifest.json").read_text())
