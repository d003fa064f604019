"""The ``known-faces`` command line, run as a user runs it (a subprocess per command), and the
pieces behind it (label layout, folder layouts, evaluate's histogram) in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from known_faces.cli import resolve_person
from known_faces.errors import KnownFacesError
from known_faces.evaluate import SAFE_THRESHOLD_FLOOR, histogram_texts, write_histogram
from known_faces.folders import name_from_file, people_photos
from known_faces.pipeline.annotate import layout, overlaps, place_labels
from known_faces.pipeline.decode import decode_image
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery
from tests.photos import REPO

COMMANDS = ["models", "recognize", "enroll", "people", "gallery", "evaluate", "bench"]


def run(*args: str | Path, data_dir: Path | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``known-faces ARGS`` with the test's data dir (and working directory)."""
    command = [sys.executable, "-m", "known_faces.cli", *map(str, args)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                          cwd=cwd)


def image_shape(path: Path) -> tuple[int, ...]:
    """The shape of an image file as decoded (fails on a file that is not one)."""
    return tuple(decode_image(path.read_bytes()).shape)


def assert_error_lines(result: subprocess.CompletedProcess[str], *codes: str) -> None:
    """Status 2 and, on stderr, exactly one ``known-faces: <code>: <message>`` line per code
    (warnings aside), with no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith("known-faces: warning: ")]
    assert [line.split(": ")[1] for line in lines] == list(codes), result.stderr
    assert all(line.startswith("known-faces: ") for line in lines)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    """``--help`` works on every command and documents --data-dir."""
    result = run(*([command, "list"] if command == "people" else [command]), "--help")
    assert result.returncode == 0, result.stderr
    assert "--data-dir" in result.stdout


def test_enroll_recognize_people_and_annotate(tmp_path: Path, faces_dir: Path,
                                              faces_manifest: dict[str, Any]) -> None:
    """Enroll a person, see the rejected group photo's reason, recognise with --json and
    --annotate, list, rename and forget."""
    people = faces_manifest["people"]
    group = faces_dir / faces_manifest["groups"]["kit_with_rose.jpg"]["file"]
    enrolled = run("enroll", "Barack Obama", faces_dir / people["barack_obama"][0], group,
                   data_dir=tmp_path)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "1 photo(s) enrolled" in enrolled.stdout
    assert f"rejected {group}: several_faces" in enrolled.stdout

    annotated = tmp_path / "out.jpg"
    probe = faces_dir / faces_manifest["groups"]["obama_and_biden.jpg"]["file"]
    result = run("recognize", probe, "--json", "--annotate", annotated, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    [output] = json.loads(result.stdout)
    assert output["face_count"] == 3
    named = [f["person"] for f in output["faces"] if f["known"]]
    assert named == ["barack_obama"]
    assert {"event_id", "similarity", "threshold", "margin", "box", "second"} <= set(
        output["faces"][0])
    assert image_shape(annotated) == image_shape(probe)
    assert set(output["faces"][0]["scores"]) == {"mobilefacenet-192", "dlib-resnet-128"}
    fast = run("recognize", probe, "--json", "--mode", "fast", data_dir=tmp_path)
    assert fast.returncode == 0, fast.stderr
    [fast_output] = json.loads(fast.stdout)
    assert [f["person"] for f in fast_output["faces"] if f["known"]] == ["barack_obama"]
    assert set(fast_output["faces"][0]["scores"]) == {"mobilefacenet-192"}

    listed = json.loads(run("people", "list", "--json", data_dir=tmp_path).stdout)
    assert [(p["person"], p["face_count"]) for p in listed] == [("barack_obama", 1)]
    assert run("people", "rename", "barack_obama", "Barack", data_dir=tmp_path).returncode == 0
    assert run("people", "forget", "barack_obama", data_dir=tmp_path).returncode == 0
    assert json.loads(run("people", "list", "--json", data_dir=tmp_path).stdout) == []


def test_enroll_folder_and_gallery_export_import(tmp_path: Path, faces_dir: Path) -> None:
    """``enroll --folder`` takes one subfolder per person; export → import restores them."""
    data = tmp_path / "data"
    result = run("enroll", "--folder", faces_dir / "people", "--json", data_dir=data)
    assert result.returncode == 0, result.stderr
    summary = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert summary["barack_obama"]["enrolled"] == 3
    archive = tmp_path / "gallery.zip"
    assert run("gallery", "export", archive, data_dir=data).returncode == 0
    restored = tmp_path / "restored"
    assert run("gallery", "import", archive, data_dir=restored).returncode == 0
    before = json.loads(run("people", "list", "--json", data_dir=data).stdout)
    after = json.loads(run("people", "list", "--json", data_dir=restored).stdout)
    assert [(p["person"], p["face_count"]) for p in after] == [
        (p["person"], p["face_count"]) for p in before]


def test_user_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    """Forgetting nobody, a bad name and a non-image give a coded one-line error."""
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    for args, code in ((("people", "forget", "nobody"), "unknown_person"),
                       (("recognize", junk), "invalid_image"),
                       (("gallery", "import", junk), "invalid_archive")):
        result = run(*args, data_dir=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert code in result.stderr
    assert_error_lines(run("enroll", "../x", junk, data_dir=tmp_path), "invalid_name")


def test_evaluate_json_and_histogram(tmp_path: Path, faces_dir: Path) -> None:
    """``evaluate --json`` reports the fixed keys; on the shared photos everybody enrolled is
    recognised and every stranger rejected at the default threshold."""
    plot = tmp_path / "hist.png"
    result = run("evaluate", faces_dir / "people", "--strangers", "0.3", "--seed", "1", "--json",
                 "--histogram", plot)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("top1", "known_accept", "stranger_rejection", "tar_far_1pct", "tar_far_0_1pct",
                "eer", "suggested_threshold", "threshold", "people", "probes"):
        assert key in report
    assert report["people"] == 16
    assert report["top1"] == 1.0
    assert report["known_accept"] == 1.0
    assert report["stranger_rejection"] == 1.0
    assert report["suggested_threshold"] < report["threshold"]
    assert report["suggested_threshold"] >= SAFE_THRESHOLD_FLOOR
    # each model alone and the fusion, side by side; the top-level figures are the fusion's
    assert report["mode"] == "accurate"
    assert list(report["models"]) == ["mobilefacenet-192", "dlib-resnet-128", "fused"]
    assert report["models"]["fused"]["eer_threshold"] == report["eer_threshold"]
    for column in report["models"].values():
        assert column["impostor_max"] < column["genuine_min"]
    text = run("evaluate", faces_dir / "people", "--seed", "1", "--mode", "fast")
    assert "fused" not in text.stdout
    assert "known accepted             100.0%" in text.stdout
    assert report["histogram"] == str(plot)
    assert len(image_shape(plot)) == 3


# -- item 14: one error line per bad input, the good ones still reported --------------------
def test_recognize_reports_good_images_and_each_bad_one(tmp_path: Path, faces_dir: Path) -> None:
    """A missing file, a non-image and an empty directory among good images and a directory of
    images: each bad one is one line on stderr, every good one is in the output, status 2."""
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    good = faces_dir / "resolution" / "obama-240p.jpg"
    result = run("recognize", good, tmp_path / "nothere.jpg", junk, empty,
                 faces_dir / "people" / "joe_biden", "--json", data_dir=tmp_path / "data")
    assert_error_lines(result, "unreadable", "invalid_image", "no_images")
    assert f"{tmp_path / 'nothere.jpg'}: No such file or directory" in result.stderr
    images = [output["image"] for output in json.loads(result.stdout)]
    assert images == [str(good), *(str(p) for p in sorted(
        (faces_dir / "people" / "joe_biden").iterdir()))]

    text = run("recognize", good, tmp_path / "nothere.jpg", data_dir=tmp_path / "data")
    assert_error_lines(text, "unreadable")
    assert text.stdout.startswith(f"{good}: 1 face(s)")


@pytest.mark.parametrize(("args", "code"), [
    (("recognize",), "usage"),
    (("models", "repair"), "usage"),
    (("bench",), "usage"),
    (("bench", "--photos", "{tmp}", "--repeat", "0"), "usage"),
    (("evaluate", "{tmp}", "--enroll", "0"), "usage"),
    (("evaluate", "{tmp}", "--strangers", "2"), "usage"),
    (("recognize", "{tmp}/a.jpg", "--threads", "none"), "usage"),
    (("enroll", "Alice", "{tmp}/nothere.jpg"), "unreadable"),
    (("enroll", "--folder", "{tmp}/nothere"), "invalid_layout"),
    (("enroll", "--folder", "{tmp}/empty"), "invalid_layout"),
    (("people", "rename", "Nobody", "X"), "unknown_person"),
    (("gallery", "import", "{tmp}/nothere.zip"), "unreadable"),
    (("gallery", "export", "{tmp}/no/such/dir/backup.zip"), "unwritable"),
    (("evaluate", "{tmp}/nothere"), "invalid_layout"),
    (("evaluate", "{tmp}/empty"), "invalid_layout"),
    (("bench", "--photos", "{tmp}/empty"), "invalid_layout"),
    (("recognize", "{tmp}/nothere.jpg", "--models-dir", "{tmp}/empty"), "model_error"),
    (("people", "list", "--data-dir", "{tmp}/empty"), "storage_error"),
    (("people", "list", "--data-dir", "{tmp}/empty/gallery.db"), "storage_error"),
])
def test_every_command_errors_in_one_line(tmp_path: Path, args: tuple[str, ...],
                                          code: str) -> None:
    """Usage mistakes, missing files and folders, unwritable targets, missing models and a
    broken data dir: one ``known-faces: <code>: …`` line and status 2, never a traceback."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "gallery.db").write_bytes(b"this is no SQLite database" * 100)
    argv = [arg.format(tmp=tmp_path) for arg in args]
    data_dir = None if "--data-dir" in argv or code == "usage" else tmp_path / "data"
    assert_error_lines(run(*argv, data_dir=data_dir), code)


def test_export_failure_leaves_no_partial_archive(tmp_path: Path) -> None:
    """An export into a directory that is not writable leaves nothing behind, and a good one
    is private to the user (biometric data)."""
    archive = tmp_path / "backup.zip"
    assert run("gallery", "export", archive, data_dir=tmp_path / "data").returncode == 0
    assert archive.stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


# -- item 15: a refused enrollment leaves nobody behind --------------------------------------
def test_refused_enrollment_creates_nobody(tmp_path: Path, faces_dir: Path,
                                           faces_manifest: dict[str, Any]) -> None:
    """A group photo for a new name is refused and no (empty) person appears; with a good photo
    in the same call the person is created once, and ``--json`` says so."""
    group = faces_dir / faces_manifest["groups"]["kit_with_rose.jpg"]["file"]
    refused = run("enroll", "Kit Harington", group, data_dir=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "0 photo(s) enrolled, no person created or changed" in refused.stdout
    assert f"rejected {group}: several_faces" in refused.stdout
    assert json.loads(run("people", "list", "--json", data_dir=tmp_path).stdout) == []

    good = faces_dir / faces_manifest["people"]["kit_harington"][0]
    result = run("enroll", "Kit Harington", group, good, tmp_path / "nothere.jpg", "--json",
                 data_dir=tmp_path)
    assert_error_lines(result, "unreadable")
    [entry] = json.loads(result.stdout)
    assert (entry["person"], entry["created"], entry["enrolled"]) == ("kit_harington", True, 1)
    assert [r["error"] for r in entry["rejected"]] == ["several_faces"]
    assert [r["error"] for r in entry["failed"]] == ["unreadable"]
    listed = json.loads(run("people", "list", "--json", data_dir=tmp_path).stdout)
    assert [(p["name"], p["face_count"]) for p in listed] == [("Kit Harington", 1)]

    folder = run("enroll", "Kit Harington", faces_dir / "people" / "kit_harington",
                 data_dir=tmp_path)
    assert folder.returncode == 0, folder.stderr
    assert "3 photo(s) enrolled as 'kit_harington'" in folder.stdout


# -- item 16: display names, annotations, --threshold 0, flat folders ------------------------
def test_people_by_display_name_and_threshold_zero(tmp_path: Path, faces_dir: Path,
                                                   faces_manifest: dict[str, Any]) -> None:
    """rename and forget take the display name (any case) as well as the slug; --threshold 0
    is honoured (with a warning): the stranger is judged against 0, not the default."""
    people = faces_manifest["people"]
    assert run("enroll", "Joe Biden", faces_dir / people["joe_biden"][0],
               data_dir=tmp_path).returncode == 0
    renamed = run("people", "rename", "Joe Biden", "Joseph Biden", data_dir=tmp_path)
    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout.strip() == "joe_biden: now 'Joseph Biden'"

    stranger = faces_dir / people["albert_einstein"][0]
    default = json.loads(run("recognize", stranger, "--json", data_dir=tmp_path).stdout)
    assert not default[0]["faces"][0]["known"]
    zero = run("recognize", stranger, "--threshold", "0", "--margin", "0", "--json",
               data_dir=tmp_path)
    assert zero.returncode == 0, zero.stderr
    [face] = json.loads(zero.stdout)[0]["faces"]
    assert face["threshold"] == 0.0
    assert face["known"] == (face["similarity"] >= 0)
    assert "known-faces: warning: threshold 0 is under the safe floor" in zero.stderr

    forgotten = run("people", "forget", "joseph BIDEN", data_dir=tmp_path)
    assert forgotten.returncode == 0, forgotten.stderr
    assert json.loads(run("people", "list", "--json", data_dir=tmp_path).stdout) == []


def test_a_slug_that_is_another_persons_name_is_refused(gallery: Gallery) -> None:
    """'bob' as one person's slug and another's name would be a guess: refused, slugs work."""
    robert = gallery.create_person("Robert", slug="bob")
    other = gallery.create_person("bob")
    with pytest.raises(KnownFacesError) as refused:
        resolve_person(gallery, "bob")
    assert refused.value.code == "ambiguous_person"
    assert resolve_person(gallery, "Robert") == robert
    assert resolve_person(gallery, other.slug) == other


def inside(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether a label rectangle is non-empty and within a width × height image."""
    x1, y1, x2, y2 = box
    return 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_annotations_show_display_names_without_overlap(recognizer: Recognizer,
                                                         photo: Callable[[str], bytes],
                                                         faces_manifest: dict[str, Any]) -> None:
    """Labels carry display names, stay inside the image and never cover each other, also on
    the 8-face group photo."""
    people = faces_manifest["people"]
    recognizer.enroll_by_name("Barack Obama", photo(people["barack_obama"][0]))
    recognizer.enroll_by_name("Zoë Biden", photo(people["joe_biden"][0]))
    for group in ("obama_and_biden.jpg", "compreface_016_8.jpg", "compreface_000_5.jpg"):
        data = photo(faces_manifest["groups"][group]["file"])
        result = recognizer.recognize(data)
        height, width = decode_image(data).shape[:2]
        labels = layout(result, width, height)
        assert len(labels) == result.face_count == faces_manifest["groups"][group]["faces"]
        for i, label in enumerate(labels):
            assert inside(label.box, width, height), (group, label)
            assert not any(overlaps(label.box, other.box) for other in labels[i + 1:]), group
        if group == "obama_and_biden.jpg":
            texts = [label.text.rsplit(" ", 1)[0] for label in labels]
            assert "Barack Obama" in texts
            assert not any("barack_obama" in text for text in texts)
            assert {"Zoe Biden", "unknown"} & set(texts)


def test_label_placement_in_a_crowd_and_at_the_edges() -> None:
    """Eight faces in one corner, one at the far edge, one label wider than the image: every
    label inside, none overlapping."""
    faces = [(0, 0, 20, 20)] * 8 + [(190, 190, 200, 200), (100, 100, 120, 120)]
    boxes = place_labels(faces, [(60, 15)] * 9 + [(400, 15)], 200, 200)
    for i, box in enumerate(boxes):
        assert inside(box, 200, 200), box
        assert not any(overlaps(box, other) for other in boxes[i + 1:])


def test_annotate_several_inputs_into_a_directory(tmp_path: Path, faces_dir: Path) -> None:
    """With several images (or a directory) OUT is a directory holding each annotated image
    under its own name; a repeated name gets -2."""
    first = faces_dir / "resolution" / "obama-240p.jpg"
    copy = tmp_path / "again" / "obama-240p.jpg"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    out = tmp_path / "annotated"
    result = run("recognize", first, copy, faces_dir / "people" / "joe_biden", "--annotate", out,
                 data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "joe_biden_1.jpg", "joe_biden_2.jpg", "obama-240p-2.jpg", "obama-240p.jpg"]
    assert image_shape(out / "obama-240p-2.jpg") == image_shape(first)


def test_enroll_flat_folder_of_numbered_files(tmp_path: Path, faces_dir: Path,
                                              faces_manifest: dict[str, Any]) -> None:
    """``Name_N.jpg`` files (the Hailo guide's layout) enroll as "Name", underscores as spaces;
    a photo with several faces is skipped and creates nobody."""
    people, groups = faces_manifest["people"], faces_manifest["groups"]
    flat = tmp_path / "train"
    flat.mkdir()
    for target, source in (("Barack_Obama_1.jpg", people["barack_obama"][0]),
                           ("Barack_Obama_2.jpg", people["barack_obama"][1]),
                           ("Joe_Biden_1.jpg", people["joe_biden"][0]),
                           ("Kit_Harington_1.jpg", groups["kit_with_rose.jpg"]["file"])):
        (flat / target).write_bytes((faces_dir / source).read_bytes())
    result = run("enroll", "--folder", flat, data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert f"rejected {flat / 'Kit_Harington_1.jpg'}: several_faces" in result.stdout
    listed = json.loads(run("people", "list", "--json", data_dir=tmp_path / "data").stdout)
    assert [(p["name"], p["person"], p["face_count"]) for p in listed] == [
        ("Barack Obama", "barack_obama", 2), ("Joe Biden", "joe_biden", 1)]


def test_folder_layouts(tmp_path: Path) -> None:
    """Names from numbered files, natural order, subfolders and files merged, hidden files
    ignored."""
    assert name_from_file(Path("Bob_Smith_2.jpg")) == "Bob Smith"
    assert name_from_file(Path("Alice_1.JPG")) == "Alice"
    assert name_from_file(Path("Alice.png")) == "Alice"
    assert name_from_file(Path("007.jpg")) == "007"
    for name in ("Alice_10.jpg", "Alice_2.jpg", ".Alice_3.jpg", "notes.txt", "Bob/b.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = people_photos(tmp_path)
    assert {name: [p.name for p in paths] for name, paths in found.items()} == {
        "Bob": ["b.jpg"], "Alice": ["Alice_2.jpg", "Alice_10.jpg"]}


# -- item 17: evaluate on a small folder ----------------------------------------------------
def test_evaluate_small_folder_warns_and_keeps_the_floor(tmp_path: Path, faces_dir: Path) -> None:
    """Three people with two photos each: warnings for too few known and stranger probes, and a
    separating threshold under the floor is shown as unsafe while the suggestion stays at the
    floor."""
    small = tmp_path / "small"
    for person in ("alex_lacamoire", "joe_biden", "john_lennon"):
        (small / person).mkdir(parents=True)
        for source in sorted((faces_dir / "people" / person).iterdir()):
            (small / person / source.name).write_bytes(source.read_bytes())
    result = run("evaluate", small, "--json", "--strangers", "0.34")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["known_probes"], report["stranger_probes"]) == (2, 2)
    warnings = [line for line in result.stderr.splitlines()
                if line.startswith("known-faces: warning: ")]
    assert any("only 2 known probe(s)" in w for w in warnings)
    assert any("only 2 stranger probe(s)" in w and "up to 100%" in w for w in warnings)
    assert report["separating_threshold"] < SAFE_THRESHOLD_FLOOR
    assert report["suggested_threshold"] == SAFE_THRESHOLD_FLOOR
    assert any("under the safe floor" in w for w in warnings)
    assert report["warnings"] == [w.removeprefix("known-faces: warning: ") for w in warnings]

    text = run("evaluate", small, "--strangers", "0.34").stdout
    assert "(under the safe floor 0.50: unsafe, see the warning)" in text
    assert "suggested threshold        0.50" in text


def test_evaluate_without_known_probes_says_so(tmp_path: Path, faces_dir: Path) -> None:
    """One photo per person: no rate is invented (no "top-1 0.0%, EER 100%")."""
    single = tmp_path / "single"
    single.mkdir()
    for person in ("albert_einstein", "amy_adams", "steve_carell"):
        [source] = (faces_dir / "people" / person).iterdir()
        (single / f"{person}_1.jpg").write_bytes(source.read_bytes())
    (single / "broken_1.jpg").write_bytes(b"not an image")
    result = run("evaluate", single)
    assert_error_lines(result, "invalid_image")
    assert "top-1                      n/a" in result.stdout
    assert "EER                        n/a" in result.stdout
    assert "no known probes" in result.stderr


def test_histogram_has_titles_and_counts(tmp_path: Path) -> None:
    """The histogram's texts carry the counts, and the PNG has ink where the title and the
    axis titles go."""
    texts = histogram_texts(10, 210)
    assert "10 genuine and 210 impostor" in texts["title"]
    assert texts["genuine"].endswith("n = 10")
    assert texts["impostor"].endswith("n = 210")
    assert "similarity" in texts["x_axis"]
    assert "share" in texts["y_axis"]
    target = tmp_path / "hist.png"
    rng = np.random.default_rng(0)
    write_histogram(target, rng.normal(0.8, 0.05, 10), rng.normal(0.0, 0.14, 210), 0.55, 0.5)
    ink = decode_image(target.read_bytes()).min(axis=2) < 128
    assert ink[:35].any(), "title"
    assert ink[-25:].any(), "x-axis title"
    assert ink[:, :25].any(), "y-axis title"


# -- item 3: bench on a user's folder, from any directory -----------------------------------
def test_bench_on_a_flat_folder_from_anywhere(tmp_path: Path, faces_dir: Path) -> None:
    """``bench --photos DIR`` on two ``Name_N.jpg`` files, run from an unrelated directory."""
    flat = tmp_path / "mine"
    flat.mkdir()
    for name, source in (("Me_1.jpg", "resolution/obama-240p.jpg"),
                         ("You_1.jpg", "people/joe_biden/joe_biden_1.jpg")):
        (flat / name).write_bytes((faces_dir / source).read_bytes())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("bench", "--photos", flat, "--repeat", "1", "--json", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["photos"], report["people"]) == (2, 2)
    assert report["median"]["floor_ms"] > 0
    assert set(report["match_ms"]) == {"1000", "10000", "100000"}
    (flat / "Broken_1.jpg").write_bytes(b"not an image")
    text = run("bench", "--photos", flat, "--repeat", "1", cwd=elsewhere)
    assert_error_lines(text, "invalid_image")
    assert "median photo" in text.stdout
    assert "slowest photo" in text.stdout


def test_repository_bench_refuses_other_photos_in_one_line(tmp_path: Path) -> None:
    """``bench/engine.py`` needs the shared photos and says so in one line (status 2)."""
    result = subprocess.run([sys.executable, str(REPO / "bench" / "engine.py"), "--photos",
                             str(tmp_path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "known-faces bench --photos DIR" in result.stderr


def test_evaluate_with_no_usable_face_says_so(tmp_path: Path, faces_dir: Path,
                                              faces_manifest: dict[str, Any]) -> None:
    """Nobody enrollable (photos without faces) is one line, not a numpy traceback."""
    empty_room = (faces_dir / faces_manifest["groups"]["compreface_017_0.jpg"]["file"])
    for name in ("Ann_1.jpg", "Ben_1.jpg"):
        (tmp_path / name).write_bytes(empty_room.read_bytes())
    assert_error_lines(run("evaluate", tmp_path), "no_usable_faces")
