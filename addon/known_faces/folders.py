"""Folders of people's photos as users keep them: what ``enroll --folder``, ``evaluate`` and
``bench`` read.

Two layouts are accepted, alone or mixed, because users arrive with either: one subfolder per
person (``family/Alice/*.jpg``; the folder's name is the person's name) and a flat folder of
``Name_N.jpg`` files, the layout of the Hailo face recognition guide this project grew from
(``Alice_1.jpg``, ``Bob_Smith_2.jpg`` → "Alice", "Bob Smith"). A folder holding neither is
refused with one line that names both layouts, instead of an empty result.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import KnownFacesError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
LAYOUT = "DIR/<person>/*.jpg (one folder per person) or DIR/<Name>_<N>.jpg (e.g. Bob_Smith_1.jpg)"
_TRAILING_NUMBER = re.compile(r"[\s_-]*\d+$")
_DIGITS = re.compile(r"(\d+)")


def natural_key(path: Path) -> list[int | str]:
    """Sort key that puts ``Alice_2.jpg`` before ``Alice_10.jpg`` (the first photos are the
    ones ``evaluate --enroll K`` enrolls, so the order must be the one a user sees)."""
    return [int(part) if part.isdigit() else part.casefold()
            for part in _DIGITS.split(path.name)]


def is_image(path: Path) -> bool:
    """A visible file with an image suffix (hidden files are editors' and OSes' leftovers)."""
    return (path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
            and path.is_file())


def images_in(folder: Path) -> list[Path]:
    """The images directly inside ``folder``, in natural order."""
    return sorted((p for p in folder.iterdir() if is_image(p)), key=natural_key)


def name_from_file(path: Path) -> str:
    """``Bob_Smith_2.jpg`` → ``Bob Smith``: the trailing number goes, underscores are spaces
    (a name that is only a number keeps it)."""
    stem = _TRAILING_NUMBER.sub("", path.stem) or path.stem
    return " ".join(stem.replace("_", " ").split())


def layout_error(folder: Path, problem: str) -> KnownFacesError:
    """The one-line refusal every folder command gives, naming the layouts it reads."""
    return KnownFacesError(f"{folder} {problem}; expected {LAYOUT}", code="invalid_layout")


def people_photos(folder: Path) -> dict[str, list[Path]]:
    """Person name → photos from either layout (a subfolder and files of the same name are
    merged); ``invalid_layout`` when ``folder`` is not a directory or holds no photos."""
    if not folder.is_dir():
        raise layout_error(folder, "is not a directory")
    people: dict[str, list[Path]] = {}
    subfolders = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=natural_key)
    for sub in subfolders:
        photos = images_in(sub)
        if photos:
            people.setdefault(sub.name, []).extend(photos)
    for photo in images_in(folder):
        people.setdefault(name_from_file(photo), []).append(photo)
    if not people:
        raise layout_error(folder, "holds no photos")
    return people
