"""Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` with numpy alone (DESIGN §2).

The file is dlib's own serialisation of the network object, outermost layer first:

* primitives: an int is a control byte (low nibble = number of magnitude bytes, 0x80 = negative)
  then little-endian magnitude bytes; a string is an int length then bytes; a bool is ASCII
  ``'0'``/``'1'``; a float is an int mantissa then an int exponent (m·2^e); a tensor is a version
  int (2), four ints ``n, k, nr, nc`` and raw little-endian float32;
* the loss header (``loss_metric_2``), 130 nesting version ints (one per layer wrapper: 2 for a
  layer, 1 for a tag or skip, 3 for the layer on the input), ``input_rgb_image_sized`` (channel
  means, 150×150), then every layer's details in forward order, each followed by three bools and
  three empty tensors (the first also by its sample-expansion factor).

The parser checks every name, shape and count against the one network this project converts
(``DlibResNet``), so a truncated or altered file fails with one line saying where, instead of
producing a graph that computes something else. Affine layers (batch norm, already folded by
dlib into a per-channel scale and shift) are folded into the convolution before them in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError

#: Layer wrappers in the v1 network (the nesting version ints) and layers with details.
WRAPPERS = 130
LAYERS = 108
#: Residual blocks: (channels, down-sampling?) in forward order.
BLOCKS = (
    (32, False), (32, False), (32, False),
    (64, True), (64, False), (64, False), (64, False),
    (128, True), (128, False), (128, False),
    (256, True), (256, False), (256, False),
    (256, True),
)


class DatFormatError(ModelError):
    """The ``.dat`` is not the network this converter knows; the message says where."""


@dataclass(frozen=True, slots=True)
class Conv:
    """A convolution with the affine after it folded in: ``weight`` OIHW, ``bias`` O."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    pad: int


@dataclass(frozen=True, slots=True)
class Block:
    """``relu(conv2(relu(conv1(x))) + shortcut(x))``; a down block's conv1 has stride 2 and its
    shortcut is a 2×2 stride-2 average pool (dlib zero-pads the smaller operand at the end of
    each axis before adding)."""

    conv1: Conv
    conv2: Conv
    down: bool


@dataclass(frozen=True, slots=True)
class DlibResNet:
    """The parsed network: input means (R, G, B), input size, stem, blocks, 256→128 matrix."""

    means: tuple[float, float, float]
    size: int
    stem: Conv
    blocks: tuple[Block, ...]
    fc: np.ndarray  # 256×128: embedding = pooled @ fc
    layer_names: tuple[str, ...] = field(default=())

    def arrays(self) -> dict[str, np.ndarray]:
        """Every weight by a stable name, plus the structure, for ``dlib_graph.py``."""
        out = {"means": np.asarray(self.means, np.float64), "size": np.asarray(self.size),
               "fc": self.fc, "down": np.asarray([b.down for b in self.blocks])}
        convs = {"stem": self.stem}
        for i, block in enumerate(self.blocks):
            convs[f"b{i}.1"], convs[f"b{i}.2"] = block.conv1, block.conv2
        for name, conv in convs.items():
            out[f"{name}.w"], out[f"{name}.b"] = conv.weight, conv.bias
            out[f"{name}.sp"] = np.asarray([conv.stride, conv.pad])
        return out


class _Reader:
    """Sequential reads of dlib's primitives; every overrun is a DatFormatError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> DatFormatError:
        return DatFormatError(f"the dlib model file is not the expected ResNet v1: {what} "
                              f"at byte {self.pos} of {len(self.data)}")

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise DatFormatError(f"the dlib model file is truncated: {len(self.data)} bytes, "
                                 f"ended inside a value at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        if control & 0x70 or control & 0x0F > 8:
            self.pos -= 1
            raise self.fail(f"control byte {control:#04x} is not an int")
        value = int.from_bytes(self.take(control & 0x0F), "little")
        return -value if control & 0x80 else value

    def expect_int(self, allowed: tuple[int, ...], what: str) -> int:
        start = self.pos
        value = self.integer()
        if value not in allowed:
            self.pos = start
            raise self.fail(f"{what} is {value}, expected {' or '.join(map(str, allowed))}")
        return value

    def string(self) -> str:
        length = self.integer()
        if not 0 <= length <= 64:
            raise self.fail(f"a string of length {length}")
        try:
            return self.take(length).decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail("a name that is not ASCII") from exc

    def expect_string(self, name: str) -> None:
        start = self.pos
        found = self.string()
        if found != name:
            self.pos = start
            raise self.fail(f"layer '{found}' where '{name}' belongs")

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if abs(exponent) > 1100:
            raise self.fail(f"a float exponent {exponent}")
        return float(mantissa) * 2.0**exponent

    def flag(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"{byte!r} where a bool belongs")
        return byte == b"1"

    def tensor(self, shape: tuple[int, ...]) -> np.ndarray:
        self.expect_int((2,), "a tensor's version")
        dims = tuple(self.integer() for _ in range(4))
        if dims != shape:
            raise self.fail(f"a tensor of shape {dims} where {shape} belongs")
        count = int(np.prod(dims))
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float64)

    def alias(self, shape: tuple[int, int, int, int]) -> None:
        self.expect_int((1,), "an alias tensor's version")
        dims = tuple(self.integer() for _ in range(4))
        if dims != shape:
            raise self.fail(f"an alias of shape {dims} where {shape} belongs")


class _Network:
    """Walks the layer details in forward order, building the folded network."""

    def __init__(self, reader: _Reader) -> None:
        self.r = reader
        self.names: list[str] = []
        self.first = True

    def tail(self) -> None:
        """Three bools and three empty tensors after every layer (and, after the layer on the
        input, its sample-expansion factor 1)."""
        for _ in range(3):
            self.r.flag()
        for _ in range(3):
            self.r.tensor((0, 0, 0, 0))
        if self.first:
            self.r.expect_int((1,), "the sample-expansion factor")
            self.first = False

    def layer(self, name: str) -> None:
        self.r.expect_string(name)
        self.names.append(name)

    def conv(self, filters: int, inputs: int, size: int, stride: int, pad: int) -> np.ndarray:
        """A ``con_4`` layer: returns its params (filters OIHW, then biases)."""
        self.layer("con_4")
        params = self.r.tensor((filters * inputs * size * size + filters, 1, 1, 1))
        found = [self.r.integer() for _ in range(7)]
        wanted = [filters, size, size, stride, stride, pad, pad]
        if found != wanted:
            raise self.r.fail(f"con_4 settings {found} where {wanted} belong")
        self.r.alias((filters, inputs, size, size))
        self.r.alias((1, filters, 1, 1))
        for _ in range(4):  # learning-rate and weight-decay multipliers
            self.r.real()
        self.tail()
        return params

    def affine_conv(self, filters: int, inputs: int, size: int, stride: int, pad: int) -> Conv:
        """``affine(con(x))`` as one convolution (folded in float64, stored float32)."""
        params = self.conv(filters, inputs, size, stride, pad)
        self.layer("affine_")
        scale_shift = self.r.tensor((2 * filters, 1, 1, 1))
        self.r.alias((1, filters, 1, 1))
        self.r.alias((1, filters, 1, 1))
        self.r.expect_int((0,), "the affine mode (0: per channel)")
        self.tail()
        gamma, beta = scale_shift[:filters], scale_shift[filters:]
        weight = params[: -filters].reshape(filters, inputs, size, size)
        bias = params[-filters:]
        return Conv((weight * gamma[:, None, None, None]).astype(np.float32),
                    (bias * gamma + beta).astype(np.float32), stride, pad)

    def simple(self, name: str) -> None:
        self.layer(name)
        self.tail()

    def pool(self, name: str, settings: list[int]) -> None:
        self.layer(name)
        found = [self.r.integer() for _ in range(6)]
        if found != settings:
            raise self.r.fail(f"{name} settings {found} where {settings} belong")
        self.tail()

    def block(self, channels: int, inputs: int, down: bool) -> Block:
        conv1 = self.affine_conv(channels, inputs, 3, 2 if down else 1, 0 if down else 1)
        self.simple("relu_")
        conv2 = self.affine_conv(channels, channels, 3, 1, 1)
        if down:
            self.pool("avg_pool_2", [2, 2, 2, 2, 0, 0])
        self.simple("add_prev_")
        self.simple("relu_")
        return Block(conv1, conv2, down)

    def fc(self) -> np.ndarray:
        self.layer("fc_2")
        found = [self.r.integer(), self.r.integer()]
        if found != [128, 256]:
            raise self.r.fail(f"fc_2 of {found[1]}→{found[0]} where 256→128 belongs")
        matrix = self.r.tensor((256, 128, 1, 1)).reshape(256, 128).astype(np.float32)
        self.r.alias((256, 128, 1, 1))
        self.r.alias((0, 0, 0, 0))
        self.r.expect_int((1,), "the fc bias mode (1: no bias)")
        for _ in range(4):
            self.r.real()
        self.tail()
        return matrix


def parse_dat(data: bytes) -> DlibResNet:
    """The network in ``data``; DatFormatError (one line) when it is not dlib's ResNet v1."""
    r = _Reader(data)
    r.expect_int((1,), "the loss wrapper's version")
    r.expect_string("loss_metric_2")
    r.real(), r.real()  # margin and distance threshold: training-time only
    for _ in range(WRAPPERS):
        r.expect_int((1, 2, 3), "a layer wrapper's version")
    r.expect_string("input_rgb_image_sized")
    means = (r.real(), r.real(), r.real())
    size = (r.integer(), r.integer())
    if size != (150, 150):
        raise r.fail(f"input size {size} where (150, 150) belongs")
    net = _Network(r)
    stem = net.affine_conv(32, 3, 7, 2, 0)
    net.simple("relu_")
    net.pool("max_pool_2", [3, 3, 2, 2, 0, 0])
    blocks, inputs = [], 32
    for channels, down in BLOCKS:
        blocks.append(net.block(channels, inputs, down))
        inputs = channels
    net.pool("avg_pool_2", [0, 0, 1, 1, 0, 0])
    fc = net.fc()
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} bytes after the last layer")
    if len(net.names) != LAYERS:  # pragma: no cover - the fixed walk above reads exactly these
        raise r.fail(f"{len(net.names)} layers where {LAYERS} belong")
    return DlibResNet(means, 150, stem, tuple(blocks), fc, tuple(net.names))


def parse_dat_file(path: Path) -> DlibResNet:
    """``parse_dat`` of a file; ModelError when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the dlib model {path}: {exc.strerror}") from exc
    return parse_dat(data)
