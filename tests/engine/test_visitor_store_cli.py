"""``known-faces visitors …`` and ``known-faces search`` run as a user runs them (a subprocess
per command) on visitors recorded from real photos by the real engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from known_faces.pipeline.engine import Engine
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery

from .test_cli import assert_error_lines, run


@pytest.fixture
def data_dir(engine: Engine, tmp_path: Path, photo: Callable[[str], bytes],
             faces_manifest: dict[str, Any]) -> Path:
    """Two photos of one stranger and one of another, recorded as visitors v_0001, v_0002."""
    gallery = Gallery.open(tmp_path)
    recognizer = Recognizer(engine, gallery)
    people = faces_manifest["people"]
    labels = []
    for relative in (*people["kit_harington"][:2], people["albert_einstein"][0]):
        face = recognizer.recognize(photo(relative), camera="door").faces[0]
        assert face.visitor is not None
        labels.append(face.visitor.visitor)
    gallery.close()
    assert labels == ["v_0001", "v_0001", "v_0002"]
    return tmp_path


def test_list_show_ignore_merge_assign_forget(data_dir: Path) -> None:
    listed = run("visitors", "list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert [(v["visitor"], v["sightings"]) for v in json.loads(listed.stdout)] == [
        ("v_0002", 1), ("v_0001", 2)]
    shown = run("visitors", "show", "v_0001", data_dir=data_dir)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("v_0001  pending")
    assert shown.stdout.count("sighting ") == 2

    assert "ignored" in run("visitors", "ignore", "v_0002", data_dir=data_dir).stdout
    ignored = run("visitors", "list", "--status", "ignored", "--json", data_dir=data_dir)
    assert [v["visitor"] for v in json.loads(ignored.stdout)] == ["v_0002"]
    assert "pending" in run("visitors", "unignore", "v_0002", data_dir=data_dir).stdout

    assigned = run("visitors", "assign", "v_0001", "--name", "Kit Harington", "--json",
                   data_dir=data_dir)
    assert assigned.returncode == 0, assigned.stderr
    answer = json.loads(assigned.stdout)
    assert (answer["person"]["person"], answer["created"], answer["sightings_moved"]) == (
        "kit_harington", True, 2)
    assert len(answer["faces"]) >= 1
    people = json.loads(run("people", "list", "--json", data_dir=data_dir).stdout)
    assert [(p["person"], p["face_count"]) for p in people] == [
        ("kit_harington", len(answer["faces"]))]

    assert_error_lines(run("visitors", "assign", "v_0002", "--name", "KIT HARINGTON",
                           data_dir=data_dir), "duplicate_name")
    assert_error_lines(run("visitors", "merge", "v_0002", "v_0001", data_dir=data_dir),
                       "unknown_visitor")
    forgotten = run("visitors", "forget", "v_0002", data_dir=data_dir)
    assert "forgotten" in forgotten.stdout
    assert run("visitors", "list", data_dir=data_dir).stdout.strip() == "no visitors"


def test_search_finds_the_earlier_sightings(data_dir: Path, faces_dir: Path,
                                            faces_manifest: dict[str, Any]) -> None:
    third = faces_dir / faces_manifest["people"]["kit_harington"][2]
    result = run("search", third, "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    face = json.loads(result.stdout)["faces"][0]
    assert [v["visitor"] for v in face["visitors"]] == ["v_0001"]
    assert len(face["sightings"]) == 2
    text = run("search", third, data_dir=data_dir).stdout
    assert "visitor v_0001" in text
    stranger = faces_dir / faces_manifest["people"]["steve_carell"][0]
    assert "never seen before" in run("search", stranger, data_dir=data_dir).stdout
    # Searching recorded nothing.
    listed = json.loads(run("visitors", "list", "--json", data_dir=data_dir).stdout)
    assert [v["sightings"] for v in listed] == [1, 2]


def test_errors_are_one_line_and_status_2(data_dir: Path, tmp_path: Path) -> None:
    for visitor in ("v_0099", "nobody", "v_1"):
        assert_error_lines(run("visitors", "show", visitor, data_dir=data_dir),
                           "unknown_visitor")
    assert_error_lines(run("visitors", "merge", "v_0001", "v_0001", data_dir=data_dir),
                       "same_visitor")
    assert_error_lines(run("visitors", "assign", "v_0001", "--person", "nobody",
                           data_dir=data_dir), "unknown_person")
    assert_error_lines(run("visitors", "assign", "v_0001", data_dir=data_dir), "usage")
    assert_error_lines(run("search", tmp_path / "missing.jpg", data_dir=data_dir),
                       "unreadable")
    assert_error_lines(run("search", tmp_path / "missing.jpg", "--threshold", "2",
                           data_dir=data_dir), "usage")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    assert_error_lines(run("search", junk, data_dir=data_dir), "invalid_image")
