"""The ``known-faces`` command line, run as a user runs it (a subprocess per command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest

COMMANDS = ["models", "recognize", "enroll", "people", "gallery", "evaluate", "bench"]


def run(*args: str | Path, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``known-faces ARGS`` with the test's data dir."""
    command = [sys.executable, "-m", "known_faces.cli", *map(str, args)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


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
    assert cv2.imread(str(annotated)).shape == cv2.imread(str(probe)).shape

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
    bad_name = run("enroll", "../x", junk, data_dir=tmp_path)
    assert "invalid_name" in bad_name.stdout
    assert bad_name.returncode == 1


def test_evaluate_json_and_histogram(tmp_path: Path, faces_dir: Path) -> None:
    """``evaluate --json`` reports the fixed keys; on the shared photos everybody enrolled is
    recognised and every stranger rejected at the default threshold."""
    plot = tmp_path / "hist.png"
    result = run("evaluate", faces_dir / "people", "--strangers", "0.3", "--seed", "1", "--json",
                 "--plot", plot)
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
    assert cv2.imread(str(plot)) is not None
