"""Gallery archives from a hostile client: each is refused (or its bad vectors dropped) before any
write, the gallery is unchanged, it still opens and recognises, and no stranger gets named."""

from __future__ import annotations

import copy
import io
import json
import logging
import sqlite3
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from known_faces.errors import InvalidArchive
from known_faces.models.catalogue import EMBEDDER
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.match import Matcher, MatchSettings, PersonRef
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer
from known_faces.store import archive as archive_module
from known_faces.store.archive import export_archive, import_archive, read_archive
from known_faces.store.gallery import Gallery

Manifest = dict[str, Any]
MODEL = EMBEDDER.id



@pytest.fixture(scope="module")
def engine(engine: Engine) -> Engine:
    """These tests damage and count the rows of one model: MobileFaceNet alone (fast mode)."""
    return Engine(engine.detector, engine.embedder, engine.gates)

@pytest.fixture(scope="module")
def good_archive(engine: Engine, tmp_path_factory: pytest.TempPathFactory,
                 photo: Callable[[str], bytes], faces_manifest: dict[str, Any]) -> bytes:
    """An export of a gallery with Barack Obama and Joe Biden, one photo each."""
    gallery = Gallery.open(tmp_path_factory.mktemp("source"))
    recognizer = Recognizer(engine, gallery, keep_unknown=False)
    for slug in ("barack_obama", "joe_biden"):
        person = gallery.create_person(slug.replace("_", " ").title())
        recognizer.enroll(person.slug, photo(faces_manifest["people"][slug][0]))
    target = io.BytesIO()
    export_archive(gallery, target)
    gallery.close()
    return target.getvalue()


def manifest_of(archive: bytes) -> Manifest:
    """The archive's manifest, parsed."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return json.loads(source.read("manifest.json"))


def rewrite(archive: bytes, manifest: Any = None, **members: bytes | None) -> bytes:
    """The archive with another manifest (any JSON value; bytes are written as they are) and
    members replaced by name (``None`` removes one)."""
    replaced = dict(members)
    if manifest is not None:
        replaced["manifest.json"] = (manifest if isinstance(manifest, bytes)
                                     else json.dumps(manifest).encode())
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, \
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            if item.filename not in replaced:
                out.writestr(item.filename, source.read(item))
        for name, data in replaced.items():
            if data is not None:
                out.writestr(name, data)
    return target.getvalue()


def edited(archive: bytes, change: Callable[[Manifest], object]) -> Manifest:
    """A copy of the manifest after ``change`` edited it in place."""
    manifest = copy.deepcopy(manifest_of(archive))
    change(manifest)
    return manifest


def face0(manifest: Manifest) -> dict[str, Any]:
    """The first face of a manifest."""
    return manifest["faces"][0]


def jpeg(size: int, fill: int = 128) -> bytes:
    """A real JPEG of ``size``×``size`` grey pixels."""
    ok, data = cv2.imencode(".jpg", np.full((size, size, 3), fill, np.uint8))
    assert ok
    return data.tobytes()


def claims_huge_size(crop: bytes) -> bytes:
    """The crop with its JPEG frame header claiming 60000×60000 pixels (a decompression bomb)."""
    data = bytearray(crop)
    offset = 2
    while data[offset + 1] not in (0xC0, 0xC2):
        offset += 2 + struct.unpack(">H", data[offset + 2: offset + 4])[0]
    data[offset + 5: offset + 9] = struct.pack(">HH", 60000, 60000)
    return bytes(data)


def member(archive: bytes, name: str) -> bytes:
    """One member's bytes."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return source.read(name)


def crop_name(archive: bytes) -> str:
    """The first face's crop member."""
    return face0(manifest_of(archive))["crop"]


def vector_name(archive: bytes) -> str:
    """The first face's vector member of the running model."""
    return face0(manifest_of(archive))["vectors"][MODEL]


def every_face_shares_one_crop(manifest: Manifest) -> None:
    """Point every face at the first face's crop (and make many faces)."""
    first = face0(manifest)
    manifest["faces"] = [{**first, "id": n, "vectors": {}} for n in range(50)]


def understate_size(archive: bytes, name: str) -> bytes:
    """The archive with ``name``'s uncompressed size in the central directory (which is what a
    reader believes) set to 1 byte."""
    data = bytearray(archive)
    offset = data.find(b"PK\x01\x02")
    while offset >= 0:
        (length,) = struct.unpack("<H", data[offset + 28: offset + 30])
        if bytes(data[offset + 46: offset + 46 + length]) == name.encode():
            data[offset + 24: offset + 28] = struct.pack("<I", 1)
            return bytes(data)
        offset = data.find(b"PK\x01\x02", offset + 4)
    raise AssertionError(f"{name} is not in the archive")


def nested(depth: int) -> bytes:
    """A JSON document nested ``depth`` levels deep."""
    return b"[" * depth + b"]" * depth


HOSTILE: dict[str, Callable[[bytes], bytes]] = {
    # the manifest and its fields with the wrong JSON type
    "manifest is a list": lambda a: rewrite(a, []),
    "manifest is a string": lambda a: rewrite(a, "manifest"),
    "manifest is a number": lambda a: rewrite(a, 7),
    "manifest is not JSON": lambda a: rewrite(a, b"{not json"),
    "manifest is not UTF-8": lambda a: rewrite(a, b"\xff\xfe{"),
    "manifest nested 100k deep": lambda a: rewrite(a, nested(100_000)),
    "manifest missing": lambda a: rewrite(a, **{"manifest.json": None}),
    "wrong format version": lambda a: rewrite(a, edited(a, lambda m: m.update(version=2))),
    "people is an object": lambda a: rewrite(a, edited(a, lambda m: m.update(people={}))),
    "people is a string": lambda a: rewrite(a, edited(a, lambda m: m.update(people="x"))),
    "person is a string": lambda a: rewrite(a, edited(a, lambda m: m["people"].append("x"))),
    "person slug is a number": lambda a: rewrite(
        a, edited(a, lambda m: m["people"][0].update(person=1))),
    "name is a number": lambda a: rewrite(a, edited(a, lambda m: m["people"][0].update(name=1))),
    "name is path-like": lambda a: rewrite(
        a, edited(a, lambda m: m["people"][0].update(name="../etc"))),
    "name with a lone surrogate": lambda a: rewrite(
        a, edited(a, lambda m: m["people"][0].update(name="\ud800"))),
    "same slug twice": lambda a: rewrite(
        a, edited(a, lambda m: m["people"].append(dict(m["people"][0])))),
    "faces is a string": lambda a: rewrite(a, edited(a, lambda m: m.update(faces="x"))),
    "face is a list": lambda a: rewrite(a, edited(a, lambda m: m["faces"].append([]))),
    "face id is text": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(id="1"))),
    "face id is a bool": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(id=True))),
    "face id is a float": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(id=1.5))),
    "face of nobody": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(person="x"))),
    "vectors is a list": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(vectors=[]))),
    "vectors is a string": lambda a: rewrite(
        a, edited(a, lambda m: face0(m).update(vectors="v"))),
    "vector member is a number": lambda a: rewrite(
        a, edited(a, lambda m: face0(m).update(vectors={MODEL: 3}))),
    "too many vectors": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(
        vectors={f"m{n}": "x" for n in range(archive_module.MAX_VECTORS_PER_FACE + 1)}))),
    "quality is a list": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(quality=[]))),
    "quality value is text": lambda a: rewrite(
        a, edited(a, lambda m: face0(m).update(quality={"blur": "high"}))),
    "quality value is NaN": lambda a: rewrite(
        a, edited(a, lambda m: face0(m).update(quality={"blur": float("nan")}))),
    "source is a number": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(source=1))),
    "created is huge text": lambda a: rewrite(
        a, edited(a, lambda m: face0(m).update(created="x" * 10_000))),
    "crop member is a number": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(crop=1))),
    # crops that are not aligned crops
    "crop missing": lambda a: rewrite(a, **{crop_name(a): None}),
    "crop is not a JPEG": lambda a: rewrite(a, **{crop_name(a): b"GIF89a"}),
    "crop is a PNG": lambda a: rewrite(a, **{crop_name(a): cv2.imencode(
        ".png", np.zeros((112, 112, 3), np.uint8))[1].tobytes()}),
    "crop is truncated": lambda a: rewrite(
        a, **{crop_name(a): member(a, crop_name(a))[:400]}),
    "crop larger than aligned": lambda a: rewrite(a, **{crop_name(a): jpeg(200)}),
    "crop smaller than aligned": lambda a: rewrite(a, **{crop_name(a): jpeg(50)}),
    "crop claims 60000x60000": lambda a: rewrite(
        a, **{crop_name(a): claims_huge_size(member(a, crop_name(a)))}),
    "crop over the size limit": lambda a: rewrite(
        a, **{crop_name(a): member(a, crop_name(a)) + b"\0" * 300_000}),
    "crop whose header understates its size": lambda a: understate_size(
        rewrite(a, **{crop_name(a):
                      member(a, crop_name(a)) + b"\0" * 300_000}), crop_name(a)),
    # member re-use and the zip itself
    "every face shares one crop": lambda a: rewrite(a, edited(a, every_face_shares_one_crop)),
    "crop member used as a vector": lambda a: rewrite(a, edited(a, lambda m: face0(m).update(
        vectors={MODEL: face0(m)["crop"]}))),
    "not a zip": lambda a: b"not a zip",
    "truncated zip": lambda a: a[: len(a) // 2],
}


def snapshot(gallery: Gallery) -> tuple[Any, ...]:
    """Everything an import could change, read through a separate connection."""
    with sqlite3.connect(gallery.path) as db:
        tables = tuple(db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                       for t in ("people", "faces", "embeddings", "meta"))
    return (gallery.version, *tables)


@pytest.fixture
def populated(engine: Engine, gallery: Gallery, photo: Callable[[str], bytes],
              faces_manifest: dict[str, Any]) -> Recognizer:
    """A gallery with Albert Einstein enrolled, which no import may disturb."""
    recognizer = Recognizer(engine, gallery, keep_unknown=False)
    person = gallery.create_person("Albert Einstein")
    recognizer.enroll(person.slug, photo(faces_manifest["people"]["albert_einstein"][0]))
    return recognizer


@pytest.mark.parametrize("case", HOSTILE)
@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_hostile_archive_is_refused_and_changes_nothing(
    case: str, mode: str, good_archive: bytes, populated: Recognizer,
) -> None:
    """Each hostile archive raises InvalidArchive (HTTP 400), never a TypeError or a 500, and
    leaves every table and the version as they were, in both import modes."""
    gallery = populated.gallery
    before = snapshot(gallery)
    hostile = HOSTILE[case](good_archive)
    with pytest.raises(InvalidArchive) as raised:
        import_archive(gallery, io.BytesIO(hostile), mode=mode, models={MODEL: 192})
    assert raised.value.code == "invalid_archive"
    assert raised.value.message
    assert snapshot(gallery) == before


def test_the_hostile_cases_start_from_an_archive_that_imports(good_archive: bytes,
                                                             gallery: Gallery) -> None:
    """The unmodified archive imports, so each case above is refused for its own defect."""
    assert import_archive(gallery, io.BytesIO(rewrite(good_archive)), mode="merge") == (2, 2)


def test_limits_on_counts_and_total_size(good_archive: bytes, gallery: Gallery,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """More people, faces, members or bytes than the limits allow are refused as a whole."""
    limits = {"MAX_PEOPLE": 1, "MAX_FACES": 1, "MAX_MEMBERS": 3, "MAX_TOTAL_BYTES": 2_000}
    for limit, value in limits.items():
        with monkeypatch.context() as patch:
            patch.setattr(archive_module, limit, value)
            with pytest.raises(InvalidArchive):
                read_archive(io.BytesIO(good_archive))
    assert gallery.people() == []


def test_refused_import_leaves_a_gallery_that_starts_and_recognises(
    engine: Engine, good_archive: bytes, populated: Recognizer, photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any],
) -> None:
    """After every hostile archive was tried against it, the gallery reopens (a restart) and
    recognises its person; nobody from the refused archives was added."""
    gallery = populated.gallery
    for make in HOSTILE.values():
        with pytest.raises(InvalidArchive):
            import_archive(gallery, io.BytesIO(make(good_archive)), mode="replace")
    gallery.close()
    reopened = Gallery(gallery.path)
    recognizer = Recognizer(engine, reopened, keep_unknown=False)
    assert [p.slug for p in reopened.people()] == ["albert_einstein"]
    assert reopened.problems() == []
    einstein = recognizer.recognize(photo(faces_manifest["people"]["albert_einstein"][0]))
    assert [f.status for f in einstein.faces] == [FaceStatus.KNOWN]
    reopened.close()


def scale_vectors(archive: bytes, factor: float) -> bytes:
    """The archive with every vector multiplied by ``factor``."""
    manifest = manifest_of(archive)
    scaled = {}
    for face in manifest["faces"]:
        for name in face["vectors"].values():
            vector = np.frombuffer(member(archive, name), dtype=np.float32) * factor
            scaled[name] = vector.astype(np.float32).tobytes()
    return rewrite(archive, **scaled)


def stranger_photos(faces_manifest: dict[str, Any]) -> list[str]:
    """Every photo of everybody but Obama and Biden."""
    return [path for slug, paths in faces_manifest["people"].items()
            if slug not in ("barack_obama", "joe_biden") for path in paths]


def test_scaled_vectors_are_recomputed_and_name_no_stranger(
    engine: Engine, good_archive: bytes, gallery: Gallery, photo: Callable[[str], bytes],
    faces_manifest: dict[str, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    """Vectors × 3 would triple every similarity to the imported faces and name strangers (shown
    with a matcher over the scaled vectors). The import drops them with a warning, the
    recognizer recomputes them from the crops, and on real photos no stranger is named while
    the imported people still are."""
    hostile = scale_vectors(good_archive, 3.0)
    strangers = stranger_photos(faces_manifest)
    embedded = [face.embedding for path in strangers for face in engine.analyse(photo(path))]
    stranger_vectors = np.stack([vector for vector in embedded if vector is not None])
    manifest = manifest_of(hostile)
    naive = Matcher(
        [PersonRef(p["person"], p["name"]) for p in manifest["people"]],
        [np.frombuffer(member(hostile, f["vectors"][MODEL]), np.float32)[None]
         for f in manifest["faces"]],
    )
    assert any(v.known for v in naive.match(stranger_vectors, MatchSettings())), \
        "the attack would not have worked: the test proves nothing"

    with caplog.at_level(logging.WARNING, logger="known_faces.store.archive"):
        assert import_archive(gallery, io.BytesIO(hostile), models={MODEL: 192}) == (2, 2)
    assert "2 mobilefacenet-192 vector(s) dropped" in caplog.text
    assert len(gallery.faces_missing_embeddings(MODEL)) == 2
    recognizer = Recognizer(engine, gallery, keep_unknown=False)
    assert gallery.faces_missing_embeddings(MODEL) == []
    assert all(abs(np.linalg.norm(row) - 1) < 1e-3 for row in recognizer.matcher.matrix)
    named = [(path, face.match.best.person) for path in strangers
             for face in recognizer.recognize(photo(path)).faces
             if face.status is FaceStatus.KNOWN]
    assert named == []
    for slug in ("barack_obama", "joe_biden"):
        faces = recognizer.recognize(photo(faces_manifest["people"][slug][1])).faces
        assert [(f.status, f.match.best.person) for f in faces] == [(FaceStatus.KNOWN, slug)]


@pytest.mark.parametrize(
    ("vector", "why"),
    [
        (np.full(192, np.nan, np.float32).tobytes(), "NaN"),
        (np.full(192, np.inf, np.float32).tobytes(), "NaN or infinite"),
        (np.zeros(192, np.float32).tobytes(), "its length is 0"),
        ((np.ones(128, np.float32) / np.float32(128 ** 0.5)).tobytes(), "512 bytes"),
        (b"\0" * 7, "7 bytes"),
        (b"", "0 bytes"),
    ],
)
def test_unusable_vectors_are_dropped_and_recomputed(
    engine: Engine, good_archive: bytes, gallery: Gallery, vector: bytes, why: str,
) -> None:
    """A vector that is not finite, not unit length or not of the model's dimension is dropped
    with a warning naming the defect; the face is imported and re-embedded from its crop."""
    hostile = rewrite(good_archive, **{vector_name(good_archive): vector})
    content = read_archive(io.BytesIO(hostile), {MODEL: 192})
    assert len(content.faces) == 2
    assert sum(MODEL in face.vectors for _, face in content.faces) == 1
    assert len(content.warnings) == 1
    assert why in content.warnings[0]
    import_archive(gallery, io.BytesIO(hostile), models={MODEL: 192})
    Recognizer(engine, gallery, keep_unknown=False)
    assert len(gallery.matcher(MODEL)) == 2


def test_vectors_of_models_not_running_here_are_dropped(good_archive: bytes,
                                                        gallery: Gallery) -> None:
    """Only the running models' vectors are imported: another model's (whose dimension cannot
    be checked) is dropped with a warning, and the faces come in without it."""
    content = read_archive(io.BytesIO(good_archive), {"other-model": 512})
    assert [face.vectors for _, face in content.faces] == [{}, {}]
    assert content.warnings == [
        "2 mobilefacenet-192 vector(s) dropped (that model does not run here); they will be "
        "recomputed from their crops"
    ]
    import_archive(gallery, io.BytesIO(good_archive), models={"other-model": 512})
    assert len(gallery.faces_missing_embeddings(MODEL)) == 2


def test_merging_the_same_archive_twice_changes_nothing(good_archive: bytes,
                                                        populated: Recognizer) -> None:
    """The second merge finds every face already there (by the crop's content): no row and
    not the version changes. Replace with the same archive keeps the same faces too."""
    gallery = populated.gallery
    assert import_archive(gallery, io.BytesIO(good_archive), mode="merge") == (2, 2)
    before = snapshot(gallery)
    assert import_archive(gallery, io.BytesIO(good_archive), mode="merge") == (0, 0)
    assert snapshot(gallery) == before
    assert import_archive(gallery, io.BytesIO(good_archive), mode="replace") == (2, 2)
    assert [(p.slug, p.face_count) for p in gallery.people()] == [
        ("barack_obama", 1), ("joe_biden", 1)]


def test_an_archive_listing_a_face_twice_imports_it_once(good_archive: bytes,
                                                         gallery: Gallery) -> None:
    """Two entries with identical crops (in different members) for one person are one face."""
    manifest = manifest_of(good_archive)
    first = face0(manifest)
    manifest["faces"].append({**first, "id": 99, "crop": "crops/copy.jpg", "vectors": {}})
    twice = rewrite(good_archive, manifest,
                    **{"crops/copy.jpg": member(good_archive, first["crop"])})
    assert import_archive(gallery, io.BytesIO(twice)) == (2, 2)


def test_export_leaves_out_what_an_import_would_refuse(
    good_archive: bytes, gallery: Gallery, tmp_path: Path,
) -> None:
    """A face whose stored crop went bad is not exported (so the export still imports) and is
    reported; the rest round-trips."""
    import_archive(gallery, io.BytesIO(good_archive))
    with sqlite3.connect(gallery.path) as db:
        db.execute("UPDATE faces SET crop = x'ffd8ff00' WHERE id = (SELECT MIN(id) FROM faces)")
    target = io.BytesIO()
    assert export_archive(gallery, target) == (2, 1)
    assert any("not exported" in problem for problem in gallery.problems())
    fresh = Gallery.open(tmp_path / "fresh")
    target.seek(0)
    assert import_archive(fresh, target, mode="replace") == (2, 1)
    fresh.close()
