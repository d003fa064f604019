"""Accuracy on real photos: who is recognised, who stays unknown, how many faces are found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from known_faces.errors import EnrollmentRejected
from known_faces.pipeline.engine import Engine
from known_faces.pipeline.match import MatchSettings
from known_faces.pipeline.results import FaceStatus
from known_faces.publish import payloads
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery
from tests.photos import manifest

EVENT_FIELDS = {
    "event_id", "snapshot_id", "camera", "time", "known", "person", "name", "similarity",
    "threshold", "margin", "second", "best_guess", "box", "face_px", "detection_score",
    "face_count", "source", "model", "latency_ms", "status", "visitor", "visitor_sightings",
    "visitor_sightings_24h", "scores",
}


@pytest.fixture(params=["accurate", "fast"])
def recognizer(request: pytest.FixtureRequest, engine: Engine, fast_engine: Engine,
               gallery: Gallery) -> Recognizer:
    """Every test here runs in both modes: MobileFaceNet and dlib fused, and MobileFaceNet
    alone; the default thresholds must hold in each."""
    return Recognizer(engine if request.param == "accurate" else fast_engine, gallery)


def group_cases() -> list[Any]:
    """One case per group photo with a recorded count (collected lazily: skips without data)."""
    try:
        groups = manifest()["groups"]
    except pytest.skip.Exception:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="no test photos"))]
    return [pytest.param(g["file"], g["faces"], id=name) for name, g in groups.items()]


@pytest.mark.parametrize(("relative", "count"), group_cases())
def test_group_photo_face_count(engine: Engine, photo: Callable[[str], bytes],
                                relative: str, count: int) -> None:
    """Every group photo gives exactly its recorded number of faces (the no-face one none)."""
    assert len(engine.analyse(photo(relative))) == count


@pytest.fixture
def enrolled(recognizer: Recognizer, faces_manifest: dict[str, Any],
             photo: Callable[[str], bytes]) -> dict[str, str]:
    """Everybody with two or more photos, enrolled from their first photo: name → slug."""
    slugs = {}
    for name, files in faces_manifest["people"].items():
        if len(files) >= 2:
            person = recognizer.gallery.create_person(name.replace("_", " ").title())
            recognizer.enroll(person.slug, photo(files[0]))
            slugs[name] = person.slug
    return slugs


def test_everyone_recognised_from_one_enrolled_photo(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """Each further photo of an enrolled person names that person, with the default settings."""
    probes = 0
    for name, slug in enrolled.items():
        for relative in faces_manifest["people"][name][1:]:
            faces = recognizer.recognize(photo(relative)).faces
            assert len(faces) == 1, relative
            assert faces[0].status is FaceStatus.KNOWN, (relative, faces[0].match)
            assert faces[0].match.best.person == slug, relative
            probes += 1
    assert probes >= 15


def test_people_not_enrolled_stay_unknown(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """Strangers (people with a single photo, never enrolled) are not named."""
    strangers = [f for n, files in faces_manifest["people"].items() if n not in enrolled
                 for f in files]
    assert len(strangers) >= 5
    for relative in strangers:
        result = recognizer.recognize(photo(relative))
        assert result.faces, relative
        for face in result.faces:
            assert face.status is FaceStatus.UNKNOWN, (relative, face.match)
            assert face.match.best is not None  # the best guess is still reported
    assert recognizer.gallery.unknown_sighting_count() == len(strangers)


def test_group_photos_name_the_people_they_contain(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """Photos with several enrolled people name each of them once."""
    for group in faces_manifest["groups"].values():
        if "contains" not in group:
            continue
        named = [f.match.best.person for f in recognizer.recognize(photo(group["file"])).faces
                 if f.status is FaceStatus.KNOWN]
        assert sorted(named) == sorted(enrolled[p] for p in group["contains"]), group["file"]


def test_resolution_series_gives_the_same_identity(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """The same photo from 240p to 1080p names the same person."""
    series = faces_manifest["resolution_series"]
    for relative in series["files"]:
        faces = recognizer.recognize(photo(relative)).faces
        assert [f.status for f in faces] == [FaceStatus.KNOWN], relative
        assert faces[0].match.best.person == enrolled[series["identity"]], relative


def test_per_call_threshold_override(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """A camera with a stricter threshold does not name a face the default would name."""
    relative = faces_manifest["people"]["barack_obama"][1]
    default = recognizer.recognize(photo(relative)).faces[0]
    assert default.status is FaceStatus.KNOWN
    strict = MatchSettings(threshold=min(default.match.similarity + 0.01, 1.0))
    overridden = recognizer.recognize(photo(relative), match=strict).faces[0]
    assert overridden.status is FaceStatus.UNKNOWN
    assert overridden.match.threshold == strict.threshold


def test_event_fields_follow_the_contract(
    recognizer: Recognizer, enrolled: dict[str, str], faces_manifest: dict[str, Any],
    photo: Callable[[str], bytes],
) -> None:
    """Events carry exactly the DESIGN §5 fields (with §9's ``status`` and visitor fields),
    JSON-safe."""
    group = faces_manifest["groups"]["obama_and_biden.jpg"]
    result = recognizer.recognize(photo(group["file"]), camera="door", source="mqtt")
    events = payloads.person_detected_events(result)
    assert len(events) == sum(f.passed_gates for f in result.faces) >= 2
    answered = payloads.recognize_answer(result)["faces"]
    assert len(answered) == result.face_count
    assert all(set(face) == EVENT_FIELDS for face in answered)
    for event in events:
        assert set(event) == EVENT_FIELDS
        # each model's cosine behind the (fused) similarity, for diagnosis
        assert set(event["scores"]) == set(recognizer.engine.model_ids)
        if len(event["scores"]) == 1:
            assert event["scores"][recognizer.engine.model_id] == event["similarity"]
        assert event["camera"] == "door"
        assert event["source"] == "mqtt"
        assert event["face_count"] == group["faces"]
        assert len(event["box"]) == 4
        if event["known"]:
            assert event["person"] in enrolled.values()
            assert event["similarity"] >= event["threshold"]
            assert event["best_guess"] is None
            nearest = event["person"]
        else:
            assert event["person"] is None
            assert event["best_guess"] is not None
            assert event["best_guess"]["similarity"] == event["similarity"]
            nearest = event["best_guess"]["person"]
        # ``second`` is the runner-up whatever the verdict, never the nearest person again.
        assert event["second"]["person"] != nearest
        assert event["second"]["similarity"] <= event["similarity"]
    assert len({e["event_id"] for e in events}) == len(events)


def test_enrollment_rejects_group_and_empty_photos(
    recognizer: Recognizer, faces_manifest: dict[str, Any], photo: Callable[[str], bytes],
) -> None:
    """A group photo is refused for several faces, a photo with no face for no face; the
    gallery keeps nothing of either."""
    person = recognizer.gallery.create_person("Somebody")
    version = recognizer.gallery.version
    with pytest.raises(EnrollmentRejected) as several:
        recognizer.enroll(person.slug, photo(faces_manifest["groups"]["kit_with_rose.jpg"]["file"]))
    assert several.value.code == "several_faces"
    with pytest.raises(EnrollmentRejected) as none:
        recognizer.enroll(person.slug,
                          photo(faces_manifest["groups"]["compreface_017_0.jpg"]["file"]))
    assert none.value.code == "no_face"
    assert recognizer.gallery.person(person.slug).face_count == 0
    assert recognizer.gallery.version == version


def test_enrollment_rejects_a_small_face(recognizer: Recognizer, photo: Callable[[str], bytes],
                                         faces_manifest: dict[str, Any]) -> None:
    """The 240p frame's face (about 50 px) is fine to recognise but too small to enroll."""
    person = recognizer.gallery.create_person("Small")
    with pytest.raises(EnrollmentRejected) as rejected:
        recognizer.enroll(person.slug, photo(faces_manifest["resolution_series"]["files"][0]))
    assert rejected.value.code == "too_small"
