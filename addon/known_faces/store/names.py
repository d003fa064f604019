"""People's names: kept as typed, with a unique, file- and topic-safe slug derived from them.

The slug becomes an MQTT topic level, an entity id and an archive path, so it may hold only
``[a-z0-9_]``; the display name may be any Unicode a user types, but never something that looks
like a path or is empty or absurdly long.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidName

MAX_NAME_LENGTH = 64
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")


def clean_name(name: object) -> str:
    """The display name, trimmed; InvalidName when it cannot be one."""
    if not isinstance(name, str):
        raise InvalidName("the name must be text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        raise InvalidName("the name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidName(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if _FORBIDDEN.search(name) or cleaned in (".", "..") or cleaned.startswith("."):
        raise InvalidName(
            "the name must not contain '/', '\\' or control characters, nor start with '.'"
        )
    return cleaned


def slugify(name: str) -> str:
    """``"Zoë O'Neil"`` → ``"zoe_o_neil"``; names with no Latin letters get ``person``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return slug[:48] or "person"
