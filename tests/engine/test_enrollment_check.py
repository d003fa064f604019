"""A new photo that does not resemble the person's other photos is refused unless forced
(real photos, real models, both modes): the commonest way a gallery gets poisoned is a wrong
photo in the wrong folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from known_faces.errors import DoesNotMatchPerson, EnrollmentRejected
from known_faces.pipeline.engine import Engine
from known_faces.recognizer import DOES_NOT_MATCH, Recognizer
from known_faces.store.gallery import Gallery


@pytest.fixture(params=["accurate", "fast"])
def recognizer(request: pytest.FixtureRequest, engine: Engine, fast_engine: Engine,
               gallery: Gallery) -> Recognizer:
    """The check holds in both modes."""
    return Recognizer(engine if request.param == "accurate" else fast_engine, gallery)


def test_wrong_photo_refused_and_nothing_changes(recognizer: Recognizer,
                                                 photo: Callable[[str], bytes],
                                                 faces_manifest: dict[str, Any]) -> None:
    """Every other person's photo is refused for Barack Obama; the gallery is untouched."""
    people = faces_manifest["people"]
    gallery = recognizer.gallery
    person = gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(people["barack_obama"][0]))
    version = gallery.version
    for name in ("joe_biden", "john_lennon", "person_a", "albert_einstein"):
        with pytest.raises(DoesNotMatchPerson) as raised:
            recognizer.enroll(person.slug, photo(people[name][0]))
        assert raised.value.code == "does_not_match_person"
        assert "threshold" in raised.value.message
        with pytest.raises(DoesNotMatchPerson):
            recognizer.enroll_by_name("barack obama", photo(people[name][0]))
    assert gallery.version == version
    assert gallery.person(person.slug).face_count == 1


def test_genuine_photos_pass_and_forced_ones_warn(recognizer: Recognizer,
                                                  photo: Callable[[str], bytes],
                                                  faces_manifest: dict[str, Any]) -> None:
    """Everybody's further photos are accepted without a warning; a forced wrong photo is
    added, with the warning."""
    people = faces_manifest["people"]
    further, rejected = 0, []
    for name, files in people.items():
        if len(files) < 2:
            continue
        first = recognizer.enroll_by_name_checked(name, photo(files[0]))
        assert (first.created, first.warning) == (True, None)
        for relative in files[1:]:
            try:
                added = recognizer.enroll_by_name_checked(name, photo(relative))
            except DoesNotMatchPerson:
                raise
            except EnrollmentRejected as exc:  # too small for enrollment: not this check
                rejected.append(exc.code)
                continue
            assert added.warning is None
            further += 1
    assert further >= 10
    assert set(rejected) <= {"too_small", "blurred", "low_quality"}
    forced = recognizer.enroll_by_name_checked("joe_biden", photo(people["amy_adams"][0]),
                                               force=True)
    assert forced.warning == DOES_NOT_MATCH
    assert forced.person.face_count == len(people["joe_biden"]) + 1


def test_cli_enroll_refuses_and_forces(tmp_path: Path, faces_dir: Path,
                                       faces_manifest: dict[str, Any]) -> None:
    """``known-faces enroll`` lists the refused photo with its code; ``--force`` adds it."""
    people = faces_manifest["people"]
    obama = faces_dir / people["barack_obama"][0]
    biden = faces_dir / people["joe_biden"][0]

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "known_faces.cli", "enroll",
                               *map(str, args), "--data-dir", str(tmp_path), "--mode", "fast"],
                              capture_output=True, text=True, timeout=300, check=False)

    refused = run("Barack Obama", obama, biden)
    assert refused.returncode == 0, refused.stderr
    assert f"rejected {biden}: does_not_match_person" in refused.stdout
    assert "1 photo(s) enrolled" in refused.stdout
    forced = run("Barack Obama", biden, "--force")
    assert "1 photo(s) enrolled" in forced.stdout
    assert "warning: does_not_match_person" in forced.stdout
