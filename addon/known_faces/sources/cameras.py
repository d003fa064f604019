"""What a camera name may be. Names arrive from any broker client and HTTP caller and become
topic levels and metric labels, so they are kept plain."""

from __future__ import annotations

import re

CAMERA_RE = r"^[A-Za-z0-9_\-]{1,64}$"
_CAMERA = re.compile(CAMERA_RE)


def valid_camera(name: str) -> bool:
    """True for 1–64 ASCII letters, digits, ``_`` or ``-``."""
    return bool(_CAMERA.fullmatch(name))
