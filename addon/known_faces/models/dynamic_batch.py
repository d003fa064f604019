"""Make a tflite2onnx-converted embedder accept any batch size (DESIGN §2).

tflite2onnx freezes the batch dimension of the graph it writes (MobileFaceNet comes out as
``[2,3,112,112] -> [2,192]``). This script sets dim 0 of the input and output to a symbolic
``batch`` and every Reshape target's dim 0 to -1. It runs inside the throwaway tflite2onnx
environment (it needs the ``onnx`` package, which is not a runtime dependency), so it imports
nothing from known_faces.

Usage: python dynamic_batch.py IN.onnx OUT.onnx
"""

import sys

import onnx
from onnx import numpy_helper


def make_batch_dynamic(model: onnx.ModelProto) -> None:
    """Rewrite ``model`` in place so that dim 0 is free everywhere it was frozen."""
    graph = model.graph
    for value in (*graph.input, *graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = "batch"
    initializers = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        shape_init = initializers.get(node.input[1])
        if shape_init is None:
            continue
        shape = numpy_helper.to_array(shape_init).copy()
        shape[0] = -1
        shape_init.CopyFrom(numpy_helper.from_array(shape, shape_init.name))
    del graph.value_info[:]
    onnx.checker.check_model(model)


def main(argv: list[str]) -> int:
    """Read, rewrite, write."""
    source, target = argv
    model = onnx.load(source)
    make_batch_dynamic(model)
    onnx.save(model, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
