"""The instance's API token and id, kept in the data dir so they survive restarts and updates.

The token is made on first start (and only then printed), so a user who missed the log line gets
it back with ``known-faces token`` rather than by reading files. The instance id lets the
integration recognise the same service behind a changed address.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

TOKEN_FILE = "token"
INSTANCE_FILE = "instance_id"


def _read(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return value or None


def _write_private(path: Path, value: str) -> None:
    """Write atomically with mode 0600: the token grants full control of the gallery."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    tmp.replace(path)


def read_token(data_dir: Path) -> str | None:
    """The stored token, or None before the first start."""
    return _read(data_dir / TOKEN_FILE)


def ensure_token(data_dir: Path, *, rotate: bool = False) -> tuple[str, bool]:
    """The token, and whether it was made just now (the caller prints it only then)."""
    token = None if rotate else read_token(data_dir)
    if token is not None:
        return token, False
    token = secrets.token_urlsafe(32)
    _write_private(data_dir / TOKEN_FILE, token)
    return token, True


def ensure_instance_id(data_dir: Path) -> str:
    """A stable random id for this installation."""
    path = data_dir / INSTANCE_FILE
    value = _read(path)
    if value is None:
        value = uuid.uuid4().hex
        _write_private(path, value)
    return value
