"""Offline stand-in for hassfest and the HACS action, which need the network.

Checks what they would: manifest keys and ordering, services.yaml against Home Assistant's own
services schema and selectors, every translation key the code uses present in strings.json,
translations/en.json identical to strings.json, every exception's placeholders filled where it
is raised, icons for every entity and service, hacs.json, brand images and quality_scale.yaml.
"""

from __future__ import annotations

import ast
import json
import re
import string
import struct
from pathlib import Path

import pytest
import voluptuous as vol
import yaml
from awesomeversion import AwesomeVersion
from homeassistant.const import Platform
from homeassistant.helpers import selector
from homeassistant.helpers import service as service_helper

from custom_components.known_faces.event import EVENT_ATTRIBUTES
from custom_components.known_faces.services import USER_ERROR_KEYS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "custom_components" / "known_faces"
SOURCES = sorted(PACKAGE.glob("*.py"))
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
SERVICES = yaml.safe_load((PACKAGE / "services.yaml").read_text())
MANIFEST = json.loads((PACKAGE / "manifest.json").read_text())

IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): "known_faces",
        vol.Required("name"): str,
        vol.Required("codeowners"): [vol.Match(r"^@.+$")],
        vol.Required("config_flow"): True,
        vol.Required("dependencies"): vol.All([str], vol.Contains("mqtt")),
        vol.Required("documentation"): vol.Url(),
        vol.Required("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Required("issue_tracker"): vol.Url(),
        vol.Required("mqtt"): [str],
        vol.Required("requirements"): [str],
        vol.Required("version"): vol.All(str, lambda v: AwesomeVersion(v).valid or vol.Invalid(v)),
        vol.Optional("after_dependencies"): [str],
    }
)
# hassfest's field schema for integrations that have translations: names come from strings.json.
FIELD_KEYS = {"example", "default", "required", "advanced", "selector", "filter"}
HACS_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("filename"): str,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("homeassistant"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
        vol.Optional("persistent_directory"): str,
    }
)


def _keyword_values(keyword: str, paths: list[Path]) -> set[str]:
    """Every string literal passed as `keyword=` in the given modules."""
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == keyword
                and isinstance(node.value, ast.Constant)
            ):
                found.add(node.value.value)
    return found


def _entity_translation_keys() -> dict[str, set[str]]:
    """Translation keys per platform, from descriptions and class attributes in each module."""
    keys: dict[str, set[str]] = {}
    for platform in Platform:
        path = PACKAGE / f"{platform.value}.py"
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "translation_key":
                found.add(node.value.value)
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_attr_translation_key" for t in node.targets
            ):
                found.add(node.value.value)
        keys[platform.value] = found
    return keys


def test_manifest() -> None:
    """Schema, `domain` then `name` first and the rest sorted, no heavy requirements."""
    MANIFEST_SCHEMA(MANIFEST)
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert MANIFEST["mqtt"] == ["known_faces/announce"]
    assert not MANIFEST["requirements"]


def test_no_heavy_imports() -> None:
    """The integration must never pull the engine's dependencies into Home Assistant."""
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in {"numpy", "cv2", "onnxruntime", "known_faces"}, (path, name)


def test_services_yaml_schema() -> None:
    """services.yaml passes Home Assistant's own schema and every selector validates."""
    service_helper._SERVICES_SCHEMA(SERVICES)
    for service, spec in SERVICES.items():
        for field, field_spec in spec["fields"].items():
            assert set(field_spec) <= FIELD_KEYS, (service, field)
            selector.validate_selector(field_spec["selector"])


def test_services_registered_match_yaml() -> None:
    """Every service the code registers is described, and nothing else is."""
    source = (PACKAGE / "services.py").read_text()
    registered = set(re.findall(r'^SERVICE_\w+ = "(\w+)"$', source, re.MULTILINE))
    assert registered == set(SERVICES)
    assert set(SERVICES) == set(STRINGS["services"])


def test_service_translations() -> None:
    """Every service and field has a translated name and description."""
    for service, spec in SERVICES.items():
        text = STRINGS["services"][service]
        assert text["name"]
        assert text["description"]
        assert set(text["fields"]) == set(spec["fields"]), service
        for field in spec["fields"]:
            assert text["fields"][field]["name"], (service, field)
            assert text["fields"][field]["description"], (service, field)


def test_entity_translations() -> None:
    """Every entity translation key used by a platform has a name; only those are present."""
    used = _entity_translation_keys()
    assert {platform: set(keys) for platform, keys in STRINGS["entity"].items()} == used
    for platform, keys in used.items():
        for key in keys:
            assert STRINGS["entity"][platform][key]["name"], (platform, key)
    attributes = STRINGS["entity"]["event"]["face"]["state_attributes"]
    assert set(attributes["event_type"]["state"]) == {"known", "unknown", "ignored"}
    assert set(attributes) == {"event_type", *EVENT_ATTRIBUTES}


def test_exception_translations() -> None:
    """Every exception translation key raised in the code, or mapped from the service, has text."""
    platform_files = {PACKAGE / f"{platform.value}.py" for platform in Platform}
    raised = _keyword_values("translation_key", [p for p in SOURCES if p not in platform_files])
    used = raised | set(USER_ERROR_KEYS.values())
    assert used - set(STRINGS["exceptions"]) == set()
    for key, value in STRINGS["exceptions"].items():
        assert value["message"], key


def _placeholders(message: str) -> set[str]:
    """The `{name}` fields of a message."""
    return {field for _, field, _, _ in string.Formatter().parse(message) if field}


def test_exception_placeholders_filled() -> None:
    """Every raise with a literal key passes each placeholder its message names.

    A missing one is shown literally (`{person}`) by Home Assistant. The keys mapped from the
    service's error codes are raised with the service's message only.
    """
    messages = {key: value["message"] for key, value in STRINGS["exceptions"].items()}
    checked = 0
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.endswith(("Error", "NotReady", "AuthFailed"))
            ):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            key = keywords.get("translation_key")
            if not isinstance(key, ast.Constant):
                continue
            given = keywords.get("translation_placeholders")
            names = (
                {k.value for k in given.keys if isinstance(k, ast.Constant)}
                if isinstance(given, ast.Dict)
                else set()
            )
            assert _placeholders(messages[key.value]) <= names, (path.name, key.value)
            checked += 1
    assert checked > 10
    for key in set(USER_ERROR_KEYS.values()):
        assert _placeholders(messages[key]) <= {"message"}, key


def test_config_flow_translations() -> None:
    """Every step, error and abort reason of the flows has text."""
    source = (PACKAGE / "config_flow.py").read_text()
    steps = set(re.findall(r'step_id="(\w+)"', source))
    config_steps = steps - {"init"}
    assert config_steps <= set(STRINGS["config"]["step"])
    assert "init" in STRINGS["options"]["step"]
    errors = set(re.findall(r'"base": "(\w+)"', source))
    assert errors <= set(STRINGS["config"]["error"])
    aborts = set(re.findall(r'reason="(\w+)"', source)) | {
        "already_configured",
        "already_in_progress",
        "reauth_successful",
        "reconfigure_successful",
    }
    # Discovery aborts with the validation error codes themselves.
    assert aborts | errors <= set(STRINGS["config"]["abort"])
    option_errors = set(re.findall(r'CONF_TOPIC_PREFIX\] = "(\w+)"', source))
    assert option_errors <= set(STRINGS["options"]["error"])


def test_translations_equal_strings() -> None:
    """translations/en.json is strings.json, as hassfest's translation step would write it."""
    assert json.loads((PACKAGE / "translations" / "en.json").read_text()) == STRINGS


def test_icons() -> None:
    """Icons exist for every entity translation key and every service."""
    icons = json.loads((PACKAGE / "icons.json").read_text())
    for platform, keys in _entity_translation_keys().items():
        for key in keys:
            assert icons["entity"][platform][key]["default"].startswith("mdi:")
    assert set(icons["services"]) == set(SERVICES)


def test_hacs_json() -> None:
    """hacs.json is valid and names a supported Home Assistant version."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    HACS_SCHEMA(hacs)
    assert hacs["name"] == MANIFEST["name"]
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion("2025.4.4")


@pytest.mark.parametrize("path", ["strings.json", "icons.json", "manifest.json"])
def test_json_files_parse(path: str) -> None:
    """The JSON files parse (a trailing comma would break loading at runtime)."""
    assert isinstance(json.loads((PACKAGE / path).read_text()), dict)


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_brand_images() -> None:
    """Icons and logos for the integration (HA 2026.3+ reads `brand/`) and for the add-on.

    Sizes as the brands repository asks: icon 256x256 (@2x 512x512), logo with its shorter side
    128-256 px (@2x 256-512); the add-on's icon is square, its logo wider than tall.
    """
    brand = PACKAGE / "brand"
    assert _png_size(brand / "icon.png") == (256, 256)
    assert _png_size(brand / "icon@2x.png") == (512, 512)
    width, height = _png_size(brand / "logo.png")
    assert 128 <= min(width, height) <= 256
    assert width >= height
    width, height = _png_size(brand / "logo@2x.png")
    assert 256 <= min(width, height) <= 512
    width, height = _png_size(ROOT / "addon" / "icon.png")
    assert width == height
    width, height = _png_size(ROOT / "addon" / "logo.png")
    assert width > height


RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow-test-coverage",
        "config-flow",
        "dependency-transparency",
        "docs-actions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery-update-info",
        "discovery",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}


def test_quality_scale() -> None:
    """quality_scale.yaml settles every rule up to gold: done, or exempt with the reason why."""
    rules = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text())["rules"]
    assert set(rules) == {rule for tier in RULES.values() for rule in tier}
    for tier in ("bronze", "silver", "gold"):
        for rule in RULES[tier]:
            status = rules[rule] if isinstance(rules[rule], str) else rules[rule]["status"]
            assert status in {"done", "exempt"}, rule
            if status == "exempt":
                assert rules[rule]["comment"].strip(), rule
