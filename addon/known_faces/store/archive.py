"""Export the whole gallery to one zip archive, and import it back (merge or replace).

The archive holds a ``manifest.json`` (format version, people, faces with their metadata), the
aligned crops as JPEG and each face's vectors by model as raw float32. Vectors from another
model are kept too: after import the recognizer re-embeds whatever its own model lacks.
Import validates everything before the one transaction that writes it, so a damaged archive
changes nothing.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import InvalidArchive, KnownFacesError
from .gallery import Face, Gallery, StoredFace

FORMAT = "known-faces-gallery"
FORMAT_VERSION = 1
MAX_MEMBER_BYTES = 4 * 1024 * 1024


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


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise InvalidArchive(f"the archive lacks {name}") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise InvalidArchive(f"{name} is too large")
    return archive.read(info)


ArchiveContent = tuple[list[tuple[str, str]], list[tuple[str, StoredFace]]]


def read_archive(source: Path | IO[bytes]) -> ArchiveContent:
    """Parse and validate an archive: people ``(slug, name)`` and ``(slug, face)`` pairs."""
    try:
        with zipfile.ZipFile(source) as archive:
            manifest = json.loads(_read(archive, "manifest.json"))
            if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
                raise InvalidArchive("not a Known Faces gallery archive of a known version")
            people = [(str(p["person"]), str(p["name"])) for p in manifest["people"]]
            slugs = {slug for slug, _ in people}
            faces = []
            for meta in manifest["faces"]:
                if meta["person"] not in slugs:
                    raise InvalidArchive(f"face {meta['id']} belongs to nobody in the archive")
                crop = _read(archive, meta["crop"])
                if crop[:3] != b"\xff\xd8\xff":
                    raise InvalidArchive(f"{meta['crop']} is not a JPEG crop")
                vectors = {
                    str(model): np.frombuffer(_read(archive, member), dtype=np.float32).copy()
                    for model, member in meta["vectors"].items()
                }
                face = Face(int(meta["id"]), meta["person"], str(meta["source"]),
                            dict(meta["quality"]), str(meta["created"]))
                faces.append((meta["person"], StoredFace(face, crop, vectors)))
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError) as exc:
        raise InvalidArchive(f"damaged archive: {exc}") from exc
    return people, faces


def import_archive(
    gallery: Gallery, source: Path | IO[bytes], *, mode: str = "merge"
) -> tuple[int, int]:
    """Import an archive in one transaction; returns (people added, faces added)."""
    if mode not in ("merge", "replace"):
        raise KnownFacesError(f"unknown import mode '{mode}' (merge or replace)",
                              code="invalid_request")
    people, faces = read_archive(source)
    return gallery.replace_all(people, faces, merge=mode == "merge")
