"""People's names: kept as typed, with a unique, file- and topic-safe slug derived from them.

The slug becomes an MQTT topic level, an entity id and an archive path, so it may hold only
``[a-z0-9_]``; the display name may be any Unicode a user types, but never something that looks
like a path or is empty or absurdly long, and never something that *looks* like another name:
invisible and direction-control characters (zero-width spaces and joiners, the byte-order mark,
right-to-left overrides and isolates) would let two people show the same on screen while being
different names, so they are refused, and every name is NFC-normalised so that a composed and a
decomposed "Zoë" are one name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import chain

from ..errors import InvalidName

MAX_NAME_LENGTH = 64
MAX_SLUG_LENGTH = 48
# Categories no visible name needs: controls (Cc), format characters (Cf: zero-width space and
# joiners, BOM, bidi overrides and isolates, soft hyphen...) and surrogates (Cs: a lone one is
# not text at all and cannot even be stored as UTF-8).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Letters that render as nothing (Hangul fillers), the combining grapheme joiner and the blank
# Braille pattern: not in those categories, but just as invisible.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800")
_PATH_CHARACTERS = frozenset("/\\")
SLUG_PATTERN = r"^[a-z0-9_]+$"


def forbidden_character(char: str) -> bool:
    """Whether ``char`` may not appear in a name (invisible, a control or a path separator)."""
    return (char in _PATH_CHARACTERS or char in _INVISIBLE_EXTRA
            or unicodedata.category(char) in _INVISIBLE_CATEGORIES)


def clean_name(name: object) -> str:
    """The display name, NFC-normalised with runs of white space made one space;
    InvalidName when it cannot be one."""
    if not isinstance(name, str):
        raise InvalidName("the name must be text")
    bad = next((c for c in name if forbidden_character(c)), None)
    if bad is not None:
        raise InvalidName(
            f"the name must not contain U+{ord(bad):04X} ('/', '\\', control, invisible or "
            "direction-control characters)"
        )
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        raise InvalidName("the name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidName(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if cleaned.startswith("."):
        raise InvalidName("the name must not start with '.'")
    return cleaned


def slugify(name: str) -> str:
    """``"Zoë O'Neil"`` → ``"zoe_o_neil"``; names with no Latin letters get ``person``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return slug[:MAX_SLUG_LENGTH] or "person"


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return spans


@cache
def name_pattern() -> str:
    """What ``clean_name`` accepts (but for its length), as a regular expression that both
    ECMA-262 and Python read, for the API's OpenAPI document: no forbidden character, and not
    blank or starting with '.' once trimmed.

    Forbidden characters are listed for the Basic Multilingual Plane (the few beyond it are
    refused all the same) less the surrogates, which no well-formed string holds and which
    regex engines, Hypothesis' among them, misread inside a character class.
    """
    plane = chain(range(0xD800), range(0xE000, 0x10000))
    bad = "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}"
                  for lo, hi in _ranges([c for c in plane if forbidden_character(chr(c))]))
    return f"^[^\\S{bad}]*[^\\s.{bad}][^{bad}]*$"
