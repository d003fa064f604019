"""Service configuration: one voluptuous schema, four sources, one clear error.

The add-on options (``OPTIONS_SCHEMA``) mirror ``addon/config.yaml`` key for key (a test holds
them together); the service settings add what only a standalone install chooses (ports, paths,
threads). Sources, later ones winning: defaults, the config file (the Supervisor's
``/data/options.json`` or ``--config`` YAML), ``KNOWN_FACES_<OPTION>`` environment variables,
command-line flags. An invalid value stops start-up with one message that names the option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from ..errors import ModelError
from ..models.catalogue import Preprocessing
from ..paths import default_data_dir, default_models_dir
from ..pipeline.match import MatchSettings
from ..pipeline.quality import QualityGates
from ..publish.outbox import MAX_EVENTS
from ..sources.cameras import CAMERA_RE
from ..store.visitors import DEFAULT_THRESHOLD as VISITOR_THRESHOLD
from .frigate_config import LIST_OPTIONS as FRIGATE_LIST_OPTIONS
from .frigate_config import FrigateSettings, frigate_options

SUPERVISOR_OPTIONS = Path("/data/options.json")
SUPERVISOR_DATA_DIR = Path("/data")
ENV_PREFIX = "KNOWN_FACES_"

# Patterns shared with config.yaml's ``match(...)`` types, so the Supervisor refuses the same
# values in its UI that the service would refuse at start-up (CAMERA_RE among them).

PREFIX_RE = r"^[^/#+\s]+(/[^/#+\s]+)*$"
SNAPSHOT_TOPIC_RE = r"^([^/#+]+/)*\+(/[^/#+]+)*$"

LOG_LEVELS = ("debug", "info", "warning", "error")

# The engine's defaults are the calibrated ones (README, *Calibration*); the options start there.
MATCH_DEFAULTS = MatchSettings()
GATE_DEFAULTS = QualityGates()


def _preprocessing(value: Any) -> str:
    """``CHANNELS,MEAN,STD`` as the engine parses it (``RGB,127.5,128``)."""
    try:
        return str(Preprocessing.parse(str(value)))
    except ModelError as err:
        raise vol.Invalid(str(err)) from None


def _unit_float() -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=0, max=1))


CAMERA_SCHEMA = vol.Schema(
    {
        vol.Required("name"): vol.All(vol.Coerce(str), vol.Match(CAMERA_RE)),
        vol.Optional("match_threshold"): _unit_float(),
        vol.Optional("margin"): _unit_float(),
        # A camera stream (RTSP, HTTP MJPEG or a video file) read at ``fps`` (DESIGN §11).
        vol.Optional("stream"): vol.Coerce(str),
        vol.Optional("fps"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=30)),
    }
)

OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Optional("match_threshold", default=MATCH_DEFAULTS.threshold): _unit_float(),
        vol.Optional("margin", default=MATCH_DEFAULTS.margin): _unit_float(),
        vol.Optional("min_face_px", default=GATE_DEFAULTS.min_face_px): vol.All(
            vol.Coerce(int), vol.Range(min=8, max=1000)
        ),
        vol.Optional(
            "min_detection_score", default=GATE_DEFAULTS.min_detection_score
        ): _unit_float(),
        vol.Optional("detector_size", default=640): vol.All(
            vol.Coerce(int), vol.Range(min=160, max=1920)
        ),
        vol.Optional("snapshot_topics", default=["frigate/+/person/snapshot"]): [
            vol.All(vol.Coerce(str), vol.Match(SNAPSHOT_TOPIC_RE))
        ],
        vol.Optional("cameras", default=list): [CAMERA_SCHEMA],
        vol.Optional("topic_prefix", default="known_faces"): vol.All(
            vol.Coerce(str), vol.Match(PREFIX_RE)
        ),
        vol.Optional("mqtt_host"): vol.Coerce(str),
        vol.Optional("mqtt_port"): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Optional("mqtt_username"): vol.Coerce(str),
        vol.Optional("mqtt_password"): vol.Coerce(str),
        vol.Optional("mqtt_tls", default=False): vol.Boolean(),
        vol.Optional("log_level", default="info"): vol.In(LOG_LEVELS),
        # Another ArcFace-style 112×112 ONNX embedder (models/README.md); the gallery is
        # re-embedded from its stored crops when it changes.
        vol.Optional("embedder_file"): vol.Coerce(str),
        vol.Optional("embedder_preprocessing"): _preprocessing,
        **frigate_options(PREFIX_RE),
        # Frames per second of all camera streams together; each frame is one recognition.
        vol.Optional("stream_max_fps", default=8.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.5, max=120)),
        # Strangers (DESIGN §9): kept as visitors at all, grouped from which score, for how long.
        vol.Optional("keep_unknown", default=True): vol.Boolean(),
        vol.Optional("visitor_threshold", default=VISITOR_THRESHOLD): _unit_float(),
        vol.Optional("visitor_retention_days", default=30): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=3650)),
        # accurate: MobileFaceNet and dlib's ResNet fused (DESIGN §3); fast: MobileFaceNet only.
        vol.Optional("mode", default="accurate"): vol.In(("accurate", "fast")),
    }
)

SERVICE_SCHEMA = OPTIONS_SCHEMA.extend(
    {
        vol.Optional("http_host", default="0.0.0.0"): str,
        vol.Optional("http_port", default=8066): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=65535)
        ),
        vol.Optional("data_dir"): vol.Coerce(Path),
        vol.Optional("models_dir"): vol.Coerce(Path),
        # One ONNX Runtime thread per worker and two workers: measured on a shared 2-core
        # machine (bench/service_latency.py), spinning intra-op threads lost to other load,
        # while two single-threaded workers kept p50 low and doubled throughput.
        vol.Optional("threads", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=64)),
        vol.Optional("workers", default=2): vol.All(vol.Coerce(int), vol.Range(min=1, max=16)),
        # Events kept while the broker is away or slow; past it the oldest are dropped and
        # counted (known_faces_publish_dropped_total).
        vol.Optional("publish_queue", default=MAX_EVENTS): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=1_000_000)),
        vol.Optional("advertise_url"): vol.Url(),
    }
)

_LIST_OPTIONS = ("snapshot_topics", "cameras", *FRIGATE_LIST_OPTIONS)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the option and says why."""


@dataclass(frozen=True, slots=True)
class CameraOverride:
    """Per-camera match settings; None means the global value."""

    match_threshold: float | None
    margin: float | None
    stream: str | None = None
    fps: float = 2.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration of one service instance."""

    match_threshold: float
    margin: float
    min_face_px: int
    min_detection_score: float
    detector_size: int
    snapshot_topics: tuple[str, ...]
    cameras: dict[str, CameraOverride]
    topic_prefix: str
    mqtt_host: str | None
    mqtt_port: int | None
    mqtt_username: str | None
    mqtt_password: str | None
    mqtt_tls: bool
    log_level: str
    embedder_file: Path | None
    embedder_preprocessing: str | None
    http_host: str
    http_port: int
    data_dir: Path
    models_dir: Path
    threads: int
    workers: int
    publish_queue: int
    advertise_url: str | None
    frigate: FrigateSettings
    keep_unknown: bool
    visitor_threshold: float
    visitor_retention_days: int
    stream_max_fps: float = 8.0
    mode: str = "accurate"

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, under_supervisor: bool = False) -> Settings:
        """Validate a merged mapping; raise ConfigError naming the first bad option.

        Under the Supervisor the data dir defaults to ``/data``, the add-on's persistent volume.
        """
        try:
            data = SERVICE_SCHEMA(raw)
        except vol.MultipleInvalid as err:
            raise ConfigError(_describe(err.errors[0], raw)) from None
        cameras = {
            c["name"]: CameraOverride(c.get("match_threshold"), c.get("margin"),
                                      c.get("stream") or None, c.get("fps", 2.0))
            for c in data["cameras"]
        }
        fallback_data = SUPERVISOR_DATA_DIR if under_supervisor else default_data_dir()
        return cls(
            match_threshold=data["match_threshold"],
            margin=data["margin"],
            min_face_px=data["min_face_px"],
            min_detection_score=data["min_detection_score"],
            detector_size=data["detector_size"],
            snapshot_topics=tuple(dict.fromkeys(data["snapshot_topics"])),
            cameras=cameras,
            topic_prefix=data["topic_prefix"],
            mqtt_host=data.get("mqtt_host") or None,
            mqtt_port=data.get("mqtt_port"),
            mqtt_username=data.get("mqtt_username") or None,
            mqtt_password=data.get("mqtt_password") or None,
            mqtt_tls=data["mqtt_tls"],
            log_level=data["log_level"],
            embedder_file=Path(data["embedder_file"]) if data.get("embedder_file") else None,
            embedder_preprocessing=data.get("embedder_preprocessing"),
            http_host=data["http_host"],
            http_port=data["http_port"],
            data_dir=data.get("data_dir") or fallback_data,
            models_dir=data.get("models_dir") or default_models_dir(),
            threads=data["threads"],
            workers=data["workers"],
            publish_queue=data["publish_queue"],
            advertise_url=data.get("advertise_url"),
            frigate=FrigateSettings.from_options(data),
            stream_max_fps=data["stream_max_fps"],
            keep_unknown=data["keep_unknown"],
            visitor_threshold=data["visitor_threshold"],
            visitor_retention_days=data["visitor_retention_days"],
            mode=data["mode"],
        )


def _describe(error: vol.Invalid, raw: dict[str, Any]) -> str:
    """``invalid option 'cameras.0.margin': value must be at most 1 (got 1.5)``."""
    path = [str(p) for p in error.path]
    if not path:
        return f"invalid configuration: {error.error_message}"
    name = ".".join(path)
    if error.error_message == "extra keys not allowed":
        return f"unknown option '{name}'"
    value: Any = raw
    for part in error.path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return f"invalid option '{name}': {error.error_message}"
    return f"invalid option '{name}': {error.error_message} (got {value!r})"


def read_file(path: Path) -> dict[str, Any]:
    """A YAML (or JSON, which is YAML) mapping of options; an empty file is no options."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options")
    return data


def read_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """``KNOWN_FACES_<OPTION>`` for every option; lists as YAML or comma-separated."""
    options: dict[str, Any] = {}
    for marker in SERVICE_SCHEMA.schema:
        key = str(marker)
        value = environ.get(ENV_PREFIX + key.upper())
        if value is None or value == "":
            continue
        if key in _LIST_OPTIONS:
            options[key] = _parse_list(key, value)
        else:
            options[key] = value
    return options


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's own text spans several lines)."""
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + str(getattr(err, "problem", None) or err).replace("\n", " ")


def _parse_list(key: str, value: str) -> Any:
    if value.lstrip().startswith("["):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ConfigError(
                f"invalid option '{key}' in {ENV_PREFIX}{key.upper()}: {_yaml_problem(err)}"
            ) from None
    return [item.strip() for item in value.split(",") if item.strip()]


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Settings:
    """Merge file, environment and flag overrides (None values are ignored) and validate.

    Without ``config_file``, the Supervisor's options file is read when running as an add-on.
    """
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("SUPERVISOR_TOKEN") and SUPERVISOR_OPTIONS.is_file():
        config_file = SUPERVISOR_OPTIONS
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(read_file(config_file))
    merged.update(read_environment(environ))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings.from_mapping(merged, under_supervisor=bool(environ.get("SUPERVISOR_TOKEN")))
