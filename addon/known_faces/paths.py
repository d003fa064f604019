"""Where the gallery, the token and the models live.

Data and models live outside the clone (and outside the image layer in the add-on), so a fresh
clone or a rebuilt container never loses a gallery and a second install reuses the models.
Environment variables override the defaults; CLI flags override the environment.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def default_data_dir() -> Path:
    """``$KNOWN_FACES_DATA_DIR`` or the user's data directory."""
    env = os.environ.get("KNOWN_FACES_DATA_DIR")
    return Path(env) if env else _xdg("XDG_DATA_HOME", ".local/share") / "known-faces"


def default_cache_dir() -> Path:
    """``$KNOWN_FACES_CACHE_DIR`` or the user's cache directory (downloads, build tools)."""
    env = os.environ.get("KNOWN_FACES_CACHE_DIR")
    return Path(env) if env else _xdg("XDG_CACHE_HOME", ".cache") / "known-faces"


def default_models_dir() -> Path:
    """``$KNOWN_FACES_MODELS_DIR`` or ``models/`` inside the cache directory."""
    env = os.environ.get("KNOWN_FACES_MODELS_DIR")
    return Path(env) if env else default_cache_dir() / "models"
