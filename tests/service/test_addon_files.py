"""The add-on folder: config.yaml mirrors the service's schema; the Dockerfile copies what exists.

No Supervisor and no Docker daemon run here, so the Supervisor's option rules are restated
below (from supervisor/addons/options.py) and both validators are run over the same probe
values: same keys, same defaults, and the same values accepted and refused.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Any

import pytest
import voluptuous as vol
import yaml

from known_faces import __version__
from known_faces.service.config import OPTIONS_SCHEMA

from .helpers import REPO

ADDON = REPO / "addon"
CONFIG = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))

SUPERVISOR_ELEMENT = re.compile(
    r"^(?:|bool|email|url|port"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>\d+)?,(?P<i_max>\d+)?\))?"
    r"|float(?:\((?P<f_min>[\d\.]+)?,(?P<f_max>[\d\.]+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\))\??$"
)

STRING_PROBES = ["known_faces", "front_door", "Front-Door_2", "a/b", "a/+/b", "+", "a/#", "/a",
                 "a/", "", "bad camera", "x" * 65, "frigate/+/person/snapshot", "a/+/+/b",
                 "home/known faces", "ümlaut", 42]
NUMBER_PROBES = [-1, 0, 0.5, 1, 1.5, 8, 7, 160, 159, 640, 1000, 1001, 1920, 1921, 65535, 65536,
                 "0.3", "12", "abc", True]
PROBES = {"str": STRING_PROBES, "password": STRING_PROBES, "match": STRING_PROBES,
          "bool": [True, False, "true", "off", "maybe", 1, 0],
          "list": ["debug", "info", "warning", "error", "loud", ""],
          "int": NUMBER_PROBES, "float": NUMBER_PROBES, "port": NUMBER_PROBES}


def supervisor_element(spec: str) -> vol.Schema:
    """The Supervisor's validator for one element type, restated."""
    match = SUPERVISOR_ELEMENT.match(spec)
    assert match, f"not a Supervisor type: {spec}"
    bounds = {name[2:]: float(match.group(name)) for name in
              ("i_min", "i_max", "f_min", "f_max") if match.group(name)}
    kind = spec.split("(", maxsplit=1)[0].rstrip("?")
    validators: dict[str, Any] = {
        "str": lambda v: v, "password": lambda v: v,
        "int": vol.All(vol.Coerce(int), vol.Range(**bounds)),
        "float": vol.All(vol.Coerce(float), vol.Range(**bounds)),
        "bool": vol.Boolean(),
        "port": vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        "match": lambda v: vol.Match(match.group("match"))(str(v)),
        "list": lambda v: vol.In(match.group("list").split("|"))(str(v)),
    }
    return validators[kind]


def supervisor_validate(schema: Any, value: Any) -> Any:
    """The Supervisor's validation of a value against a (nested) schema, restated."""
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise vol.Invalid("not a list")
        return [supervisor_validate(schema[0], item) for item in value]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise vol.Invalid("not a dict")
        result = {k: supervisor_validate(schema[k], v) for k, v in value.items() if k in schema}
        for key, spec in schema.items():
            inner = spec[0] if isinstance(spec, list) and spec else spec
            if key not in result and not (isinstance(inner, str) and inner.endswith("?")):
                raise vol.Invalid(f"missing option {key}")
        return result
    if value is None:
        raise vol.Invalid("missing")
    return supervisor_element(schema)(value)


def accepts(validate: Any, value: Any) -> bool:
    """Whether a validator takes the value."""
    try:
        validate(value)
    except (vol.Invalid, ValueError, TypeError):
        return False
    return True


def element_kind(spec: Any) -> str:
    """``float`` for ``float(0,1)?``, ``match`` for ``match(...)``."""
    return str(spec).split("(")[0].rstrip("?")


def test_same_keys_and_defaults() -> None:
    ours = {str(marker): marker for marker in OPTIONS_SCHEMA.schema}
    assert set(ours) == set(CONFIG["schema"])
    defaults = OPTIONS_SCHEMA({})
    assert defaults == CONFIG["options"]
    for key, spec in CONFIG["schema"].items():
        optional = isinstance(spec, str) and spec.endswith("?")
        assert (key in CONFIG["options"]) is not optional, key
    assert supervisor_validate(CONFIG["schema"], CONFIG["options"]) == CONFIG["options"]


def documents() -> list[tuple[str, Any]]:
    """Option documents varying one value at a time, nested ones included."""
    docs: list[tuple[str, Any]] = []
    for key, spec in CONFIG["schema"].items():
        if isinstance(spec, list) and isinstance(spec[0], dict):
            for sub, sub_spec in spec[0].items():
                for probe in PROBES[element_kind(sub_spec)]:
                    item = {"name": "door", sub: probe}
                    docs.append((f"{key}.{sub}={probe!r}", {**CONFIG["options"], key: [item]}))
            docs.append((f"{key} without name",
                         {**CONFIG["options"], key: [{"match_threshold": 0.5}]}))
        elif isinstance(spec, list):
            for probe in PROBES[element_kind(spec[0])]:
                docs.append((f"{key}=[{probe!r}]", {**CONFIG["options"], key: [probe]}))
        else:
            for probe in PROBES[element_kind(spec)]:
                docs.append((f"{key}={probe!r}", {**CONFIG["options"], key: probe}))
    return docs


@pytest.mark.parametrize(("label", "document"), documents(), ids=[d[0] for d in documents()])
def test_same_values_accepted_and_refused(label: str, document: dict[str, Any]) -> None:
    supervisor = accepts(lambda d: supervisor_validate(CONFIG["schema"], d), document)
    assert accepts(OPTIONS_SCHEMA, document) == supervisor, label


def test_config_yaml_declares_the_add_on_contract() -> None:
    assert CONFIG["slug"] == "known_faces"
    assert set(CONFIG["arch"]) == {"amd64", "aarch64"}
    assert "mqtt:need" in CONFIG["services"]
    assert CONFIG["discovery"] == ["known_faces"]
    assert CONFIG["ports"] == {"8066/tcp": None}  # not published on the host by default
    assert CONFIG["ingress"] is True
    assert CONFIG["ingress_port"] == 8066
    assert CONFIG["panel_icon"].startswith("mdi:")
    assert CONFIG["panel_title"] == "Known Faces"
    assert "{arch}" in CONFIG["image"]
    assert CONFIG["init"] is False
    assert CONFIG["version"] == __version__
    changelog = (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## (\S+)", changelog, re.MULTILINE).group(1) == __version__
    build = yaml.safe_load((ADDON / "build.yaml").read_text(encoding="utf-8"))
    assert set(build["build_from"]) == set(CONFIG["arch"])
    assert all("debian" in image for image in build["build_from"].values())


def test_every_option_is_translated_and_documented() -> None:
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text("utf-8"))
    assert set(translations["configuration"]) == set(CONFIG["schema"])
    assert all(t["name"] and t["description"] for t in translations["configuration"].values())
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    for key in CONFIG["schema"]:
        assert f"`{key}`" in docs, key


def dockerfile_copies() -> list[str]:
    """Source paths of every COPY that reads the build context (not ``--from``)."""
    sources = []
    text = (ADDON / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            sources.extend(w for w in words[1:-1] if not w.startswith("--"))
    return sources


def test_every_path_the_dockerfile_copies_is_in_the_repository() -> None:
    sources = dockerfile_copies()
    assert sources
    in_git = (REPO / ".git").exists()
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.splitlines() if in_git else []
    ignore = (ADDON / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for source in sources:
        assert (REPO / source).exists(), source
        # Tracked, so a fresh clone has it too (untracked files only exist here).
        assert not in_git or any(t == source or t.startswith(source + "/") for t in tracked), source
        assert f"!{source}" in ignore.splitlines(), f"{source} is not let into the context"
    assert re.search(r"^RUN .*known-faces models install", (ADDON / "Dockerfile").read_text(),
                     re.MULTILINE)
    assert "HEALTHCHECK" in (ADDON / "Dockerfile").read_text()


def test_s6_service_scripts_are_executable() -> None:
    service = ADDON / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d" / "known-faces"
    assert (service / "type").read_text().strip() == "longrun"
    for script in ("run", "finish"):
        assert os.access(service / script, os.X_OK), script
    assert "exec /usr/src/.venv/bin/known-faces serve" in (service / "run").read_text()
    assert (ADDON / "rootfs/etc/s6-overlay/s6-rc.d/user/contents.d/known-faces").exists()
    assert yaml.safe_load((REPO / "repository.yaml").read_text())["name"]
