"""Build the ONNX graph of dlib's ResNet v1 from the weights ``dlib_dat.py`` parsed (DESIGN §2).

It runs inside the install-time converter environment (it needs the ``onnx`` package, which is
not a runtime dependency), so it imports nothing from known_faces: the install step parses the
``.dat`` with numpy, saves the folded weights as ``.npz`` (``DlibResNet.arrays``), and this script
turns them into an opset-17 graph with ``onnx.helper``. Names, attribute order and metadata are
fixed, so the same weights give the same bytes (the install pins the file's sha256).

Input ``input`` ``N×3×150×150`` float32 RGB ``(x − mean_c) / 256``; output ``embedding`` ``N×128``
(not normalised). dlib adds tensors of different shapes by zero-padding both at the end of each
axis; here that is an explicit ``Pad`` before the ``Add``.

Usage: python dlib_graph.py WEIGHTS.npz OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


class GraphBuilder:
    """Appends nodes and initialisers with sequential names, tracking each tensor's C×H×W."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, int, int]] = {}
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def const(self, kind: str, value: np.ndarray) -> str:
        name = self.name(kind)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], shape: tuple[int, int, int],
           **attributes: object) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attributes))
        self.shapes[out] = shape
        return out

    def conv(self, x: str, weights: dict[str, np.ndarray], key: str) -> str:
        weight, bias = weights[f"{key}.w"], weights[f"{key}.b"]
        stride, pad = (int(v) for v in weights[f"{key}.sp"])
        size = weight.shape[2]
        _, h, w = self.shapes[x]
        shape = (weight.shape[0], (h + 2 * pad - size) // stride + 1,
                 (w + 2 * pad - size) // stride + 1)
        return self.op("Conv", [x, self.const("w", weight), self.const("b", bias)], shape,
                       kernel_shape=[size, size], strides=[stride, stride],
                       pads=[pad, pad, pad, pad])

    def relu(self, x: str) -> str:
        return self.op("Relu", [x], self.shapes[x])

    def pool(self, op_type: str, x: str, size: int, stride: int) -> str:
        c, h, w = self.shapes[x]
        shape = (c, (h - size) // stride + 1, (w - size) // stride + 1)
        return self.op(op_type, [x], shape, kernel_shape=[size, size], strides=[stride, stride])

    def pad_to(self, x: str, shape: tuple[int, int, int]) -> str:
        """Zeros at the end of each axis up to ``shape`` (dlib's rule for adding tensors)."""
        if self.shapes[x] == shape:
            return x
        extra = [target - have for target, have in zip(shape, self.shapes[x], strict=True)]
        pads = np.asarray([0, 0, 0, 0, 0, *extra], dtype=np.int64)
        return self.op("Pad", [x, self.const("pads", pads)], shape, mode="constant")

    def add(self, a: str, b: str) -> str:
        shape = tuple(max(p, q) for p, q in zip(self.shapes[a], self.shapes[b], strict=True))
        full = (shape[0], shape[1], shape[2])
        return self.op("Add", [self.pad_to(a, full), self.pad_to(b, full)], full)


def build(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The model for the arrays of ``DlibResNet.arrays``."""
    g = GraphBuilder()
    size = int(weights["size"])
    g.shapes["input"] = (3, size, size)
    x = g.pool("MaxPool", g.relu(g.conv("input", weights, "stem")), 3, 2)
    for i, down in enumerate(weights["down"]):
        main = g.conv(g.relu(g.conv(x, weights, f"b{i}.1")), weights, f"b{i}.2")
        shortcut = g.pool("AveragePool", x, 2, 2) if down else x
        x = g.relu(g.add(main, shortcut))
    channels = g.shapes[x][0]
    pooled = g.op("GlobalAveragePool", [x], (channels, 1, 1))
    flat = g.op("Flatten", [pooled], (channels, 1, 1), axis=1)
    g.nodes.append(helper.make_node("MatMul", [flat, g.const("fc", weights["fc"])],
                                    ["embedding"], name="embedding"))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT,
                                       ["batch", weights["fc"].shape[1]])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="known-faces dlib_graph", producer_version="1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def main(argv: list[str]) -> int:
    """Read the weights, build, write."""
    source, target = argv
    with np.load(source) as archive:
        weights = {key: archive[key] for key in archive.files}
    onnx.save(build(weights), target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
