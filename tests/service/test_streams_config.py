"""Stream options (a camera's ``stream`` and ``fps``, the global ``stream_max_fps``) and the
frame budget they make."""

from __future__ import annotations

import pytest

from known_faces.service.config import ConfigError, Settings
from known_faces.service.streams import tracker_settings
from known_faces.sources.streams import FrameBudget


def test_a_camera_may_name_a_stream_and_its_rate() -> None:
    """``stream`` and ``fps`` (default 2) per camera; cameras without one have none."""
    settings = Settings.from_mapping({"cameras": [
        {"name": "door", "stream": "rtsp://cam.local/live", "fps": 5},
        {"name": "yard", "stream": "/share/yard.mp4"},
        {"name": "porch", "margin": 0.1}]})
    cameras = settings.cameras
    assert (cameras["door"].stream, cameras["door"].fps) == ("rtsp://cam.local/live", 5)
    assert (cameras["yard"].stream, cameras["yard"].fps) == ("/share/yard.mp4", 2)
    assert cameras["porch"].stream is None
    assert settings.stream_max_fps == 8


@pytest.mark.parametrize(("options", "message"), [
    ({"cameras": [{"name": "door", "stream": "rtsp://x", "fps": 0}]},
     "invalid option 'cameras.0.fps': value must be at least 0.1 (got 0)"),
    ({"cameras": [{"name": "door", "stream": "rtsp://x", "fps": "fast"}]},
     "invalid option 'cameras.0.fps'"),
    ({"stream_max_fps": 500}, "invalid option 'stream_max_fps': value must be at most 120"),
])
def test_bad_stream_options_are_one_clear_error(options: dict[str, object], message: str) -> None:
    """The message names the option."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping(options)
    assert str(caught.value).startswith(message)


def test_the_budget_scales_every_camera_alike_only_when_it_binds() -> None:
    """Within the budget each camera keeps its rate; past it, all are scaled by one factor
    and their sum is the budget."""
    loose = FrameBudget(8, {"a": 2, "b": 3})
    assert not loose.binding
    assert (loose.fps("a"), loose.fps("b")) == (2, 3)
    tight = FrameBudget(4, {"a": 2, "b": 6})
    assert tight.binding
    assert (tight.fps("a"), tight.fps("b")) == (1, 3)
    assert not FrameBudget(4, {}).binding


def test_a_slow_stream_s_tracks_outlive_a_missed_frame() -> None:
    """At 2 frames/s the default timeout; at 0.25 frames/s three intervals (12 s)."""
    assert tracker_settings(2, "accurate").max_unseen_s == 2.5
    assert tracker_settings(0.25, "accurate").max_unseen_s == 12
    assert tracker_settings(0.25, "fast").max_unseen_s == 12
    # one confident frame names a track: further above the threshold on MobileFaceNet's scale
    assert tracker_settings(2, "fast").confident_margin > tracker_settings(2, "accurate"
                                                                          ).confident_margin
