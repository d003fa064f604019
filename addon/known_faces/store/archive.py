"""Export the whole gallery to one zip archive, and import it back (merge or replace).

The archive holds a ``manifest.json`` (format version, people, faces with their metadata), the
aligned crops as JPEG and each face's vectors by model as raw float32.

An archive comes from outside (a user's backup, or anybody who can reach the API), so import
trusts nothing in it and checks everything before the one transaction that writes it; a refused
archive changes nothing:

* the manifest and every field has the JSON type it should (else ``InvalidArchive``, never a
  ``TypeError``); names go through ``clean_name``;
* sizes are bounded: each member (read with a limit, whatever its header claims), their total,
  and the numbers of people, faces and vectors; each member is used once, so a manifest that
  points every face at one big member cannot multiply it;
* every crop is a JPEG that decodes to an aligned crop;
* a vector is kept only if its model runs here and it has that model's dimension, is finite and
  is unit length; any other vector is dropped with a warning, and the recognizer recomputes it
  from the crop. A scaled vector would otherwise raise every similarity to that face and name
  strangers as that person.

Merging the same archive twice changes nothing: the gallery knows faces by their crop's content.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from ..errors import InvalidArchive, InvalidName, KnownFacesError
from .gallery import Face, Gallery, StoredFace
from .names import clean_name
from .validate import CATALOGUE_DIMS, Unusable, check_crop, parse_vector

LOG = logging.getLogger(__name__)

FORMAT = "known-faces-gallery"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_CROP_BYTES = 256 * 1024
MAX_VECTOR_BYTES = 4096 * 4
MAX_PEOPLE = 5_000
MAX_FACES = 20_000
MAX_VECTORS_PER_FACE = 8
MAX_MEMBERS = 1 + MAX_FACES * (1 + MAX_VECTORS_PER_FACE)
MAX_TOTAL_BYTES = 256 * 1024 * 1024
#: Longest slug, source or creation time accepted (a slug is at most 48 characters plus a
#: ``_N`` suffix; the others are short labels and ISO-8601 times).
MAX_TEXT = 100

T = TypeVar("T")
_KINDS = {dict: "an object", list: "a list", str: "text", int: "an integer"}


@dataclass(frozen=True, slots=True)
class Archive:
    """A checked archive: people ``(slug, name)``, ``(slug, face)`` pairs, and what was dropped."""

    people: list[tuple[str, str]]
    faces: list[tuple[str, StoredFace]]
    warnings: list[str]


def export_archive(gallery: Gallery, target: Path | IO[bytes]) -> tuple[int, int]:
    """Write the gallery to ``target``; returns (people, faces) written."""
    people = gallery.people()
    faces_meta = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for stored in gallery.stored_faces():
            face = stored.face
            crop_name = f"crops/{face.id}.jpg"
            archive.writestr(crop_name, stored.crop)
            vectors = {}
            for model, vector in stored.vectors.items():
                member = f"vectors/{face.id}.{model}.f32"
                archive.writestr(member, vector.astype(np.float32).tobytes())
                vectors[model] = member
            faces_meta.append({**face.as_dict(), "crop": crop_name, "vectors": vectors})
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "people": [{"person": p.slug, "name": p.name} for p in people],
            "faces": faces_meta,
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    return len(people), len(faces_meta)


def _get(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    """``obj[key]`` if it has the JSON type ``kind``; InvalidArchive saying where otherwise."""
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArchive(f"{where}: '{key}' must be {_KINDS[kind]}")
    return value


def _storable(value: str, what: str) -> str:
    """``value`` if SQLite can store it: JSON may carry lone surrogates (``"\\ud800"``), which
    are not UTF-8 and would fail in the middle of the import's transaction."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise InvalidArchive(f"{what} is not valid Unicode text") from exc
    return value


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _get(obj, key, str, where)
    if len(value) > MAX_TEXT:
        raise InvalidArchive(f"{where}: '{key}' is longer than {MAX_TEXT} characters")
    return _storable(value, f"{where}: '{key}'")


def _objects(obj: Mapping[str, Any], key: str, limit: int) -> list[dict[str, Any]]:
    """``obj[key]`` as a list of at most ``limit`` JSON objects."""
    items = _get(obj, key, list, "the manifest")
    if len(items) > limit:
        raise InvalidArchive(f"the archive has more than {limit} {key}")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidArchive(f"{key} #{n + 1} must be an object")
    return items


def _quality(meta: Mapping[str, Any], where: str) -> dict[str, float]:
    quality = _get(meta, "quality", dict, where)
    for key, value in quality.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise InvalidArchive(f"{where}: quality '{key}' must be a finite number")
    return quality


class _Reader:
    """Reads an archive's members with every bound applied."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        if len(archive.infolist()) > MAX_MEMBERS:
            raise InvalidArchive(f"the archive has more than {MAX_MEMBERS} members")
        self.archive = archive
        self.used: set[str] = set()
        self.total = 0

    def read(self, name: object, limit: int, where: str) -> bytes:
        """One member, at most ``limit`` bytes, used once; the bytes read count towards the
        total (a lying size in the header does not help: the read itself is capped)."""
        if not isinstance(name, str):
            raise InvalidArchive(f"{where}: the member name must be text")
        if name in self.used:
            raise InvalidArchive(f"{where}: {name} is used twice")
        try:
            info = self.archive.getinfo(name)
        except KeyError as exc:
            raise InvalidArchive(f"the archive lacks {name}") from exc
        if info.file_size > limit:
            raise InvalidArchive(f"{name} is larger than {limit} bytes")
        with self.archive.open(info) as member:
            data = member.read(limit + 1)
        if len(data) > limit:
            raise InvalidArchive(f"{name} is larger than {limit} bytes")
        self.used.add(name)
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise InvalidArchive(f"the archive holds more than {MAX_TOTAL_BYTES} bytes")
        return data


def _manifest(reader: _Reader) -> dict[str, Any]:
    try:
        manifest = json.loads(reader.read("manifest.json", MAX_MANIFEST_BYTES, "the archive"))
    except RecursionError as exc:
        raise InvalidArchive("manifest.json is nested too deeply") from exc
    except ValueError as exc:
        raise InvalidArchive(f"manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise InvalidArchive("manifest.json must be a JSON object")
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise InvalidArchive("not a Known Faces gallery archive of a known version")
    return manifest


def _people(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    people: dict[str, str] = {}
    for n, entry in enumerate(_objects(manifest, "people", MAX_PEOPLE)):
        where = f"person #{n + 1}"
        slug = _text(entry, "person", where)
        if slug in people:
            raise InvalidArchive(f"{where}: '{slug}' appears twice")
        try:
            people[slug] = _storable(clean_name(entry.get("name")), f"{where}: the name")
        except InvalidName as exc:
            raise InvalidArchive(f"{where} ('{slug}'): {exc.message}") from exc
    return list(people.items())


def _vectors(reader: _Reader, meta: dict[str, Any], where: str, models: Mapping[str, int],
             dropped: Counter[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The face's usable vectors of the models in ``models``; others counted in ``dropped``."""
    members = _get(meta, "vectors", dict, where)
    if len(members) > MAX_VECTORS_PER_FACE:
        raise InvalidArchive(f"{where}: more than {MAX_VECTORS_PER_FACE} vectors")
    vectors = {}
    for model, member in members.items():
        if not isinstance(member, str):
            raise InvalidArchive(f"{where}: the {model} vector's member name must be text")
        if model not in models:
            dropped[model, "that model does not run here"] += 1
            continue
        blob = reader.read(member, MAX_VECTOR_BYTES, where)
        try:
            vectors[model] = parse_vector(blob, models[model]).copy()
        except Unusable as exc:
            dropped[model, str(exc)] += 1
    return vectors


def _face(reader: _Reader, meta: dict[str, Any], n: int, slugs: set[str],
          models: Mapping[str, int], dropped: Counter[tuple[str, str]]) -> tuple[str, StoredFace]:
    where = f"face #{n + 1}"
    face_id = _get(meta, "id", int, where)
    where = f"face {face_id}"
    slug = _text(meta, "person", where)
    if slug not in slugs:
        raise InvalidArchive(f"{where} belongs to nobody in the archive")
    crop_name = meta.get("crop")
    crop = reader.read(crop_name, MAX_CROP_BYTES, where)
    try:
        check_crop(crop)
    except Unusable as exc:
        raise InvalidArchive(f"{where}: the crop {crop_name} is unusable: {exc}") from exc
    face = Face(face_id, slug, _text(meta, "source", where), _quality(meta, where),
                _text(meta, "created", where))
    return slug, StoredFace(face, crop, _vectors(reader, meta, where, models, dropped))


def read_archive(source: Path | IO[bytes], models: Mapping[str, int] | None = None) -> Archive:
    """Parse and check a whole archive; InvalidArchive says what is wrong with it.

    ``models`` maps the model ids the service runs to their vector dimensions (by default the
    catalogue's embedders); vectors of other models, or unusable ones, are dropped and listed in
    ``warnings``.
    """
    models = CATALOGUE_DIMS if models is None else models
    dropped: Counter[tuple[str, str]] = Counter()
    try:
        with zipfile.ZipFile(source) as archive:
            reader = _Reader(archive)
            manifest = _manifest(reader)
            people = _people(manifest)
            slugs = {slug for slug, _ in people}
            faces = [_face(reader, meta, n, slugs, models, dropped)
                     for n, meta in enumerate(_objects(manifest, "faces", MAX_FACES))]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:
        # a damaged, truncated, encrypted or oddly compressed zip (RuntimeError: encrypted)
        raise InvalidArchive(f"damaged archive: {exc}") from exc
    warnings = [f"{count} {model} vector(s) dropped ({why}); they will be recomputed from "
                "their crops" for (model, why), count in sorted(dropped.items())]
    return Archive(people, faces, warnings)


def import_archive(
    gallery: Gallery, source: Path | IO[bytes], *, mode: str = "merge",
    models: Mapping[str, int] | None = None,
) -> tuple[int, int]:
    """Check an archive, then import it in one transaction; returns (people added, faces
    added). ``models``: see ``read_archive``; dropped vectors are logged as warnings."""
    if mode not in ("merge", "replace"):
        raise KnownFacesError(f"unknown import mode '{mode}' (merge or replace)",
                              code="invalid_request")
    archive = read_archive(source, models)
    for warning in archive.warnings:
        LOG.warning("gallery import: %s", warning)
    return gallery.replace_all(archive.people, archive.faces, merge=mode == "merge")
