"""Every supported op through the real ABI (emit -> generated Makefile with -Werror -> cffi),
against onnx.reference, over varied shapes and attributes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from helpers import assert_close, compile_and_run, make_model, ort_reference, reference
from helpers import f32 as random_f32
from onnx import TensorProto, helper

rng = np.random.default_rng(1234)


f32 = partial(random_f32, rng, lo=-2.0, hi=2.0)


def i64(*vals):
    return np.array(vals, dtype=np.int64)


class Case:
    def __init__(self, id, op, inputs, attrs=None, inits=None, n_out=1, opset=17, input_names=None, tol=None, ort_because=""):
        self.id, self.op, self.inputs, self.attrs = id, op, inputs, attrs or {}
        self.ort_because = ort_because  # why onnxruntime, not onnx.reference, is this case's oracle
        self.inits, self.n_out, self.opset, self.tol = inits or {}, n_out, opset, tol or {}
        self.input_names = input_names

    def model(self):
        names = self.input_names or [f"x{k}" for k in range(len(self.inputs))] + list(self.inits)
        outs = [f"y{k}" for k in range(self.n_out)]
        node = helper.make_node(self.op, names, outs, name=f"{self.op}_node", **self.attrs)
        feeds = {f"x{k}": v for k, v in enumerate(self.inputs)}
        return make_model([node], feeds, outs, self.inits, self.opset), feeds


def unary(op, lo=-2.0, hi=2.0, **attrs):
    return [Case(f"{op}-{shape}", op, [f32(*shape, lo=lo, hi=hi)], attrs) for shape in ((7,), (2, 3, 5))]


def binary(op, lo=-2.0, hi=2.0):
    shapes = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3))]
    return [Case(f"{op}-{a}-{b}", op, [f32(*a, lo=lo, hi=hi), f32(*b, lo=lo, hi=hi)]) for a, b in shapes]


CASES = [
    *unary("Relu"), *unary("Sigmoid"), *unary("Tanh"), *unary("Erf"), *unary("Exp"), *unary("Neg"), *unary("Abs"),
    *unary("Sqrt", 0.1, 4.0), *unary("Log", 0.1, 4.0), *unary("Reciprocal", 0.5, 3.0), *unary("HardSwish", -5, 5),
    *unary("LeakyRelu", alpha=0.1), *unary("HardSigmoid", -4, 4, alpha=0.3, beta=0.4), *unary("Floor"), *unary("Ceil"),
    *unary("Softplus"), *unary("Elu", alpha=0.7), *unary("Sin"), *unary("Cos"), *unary("Sign"),
    *binary("Add"), *binary("Sub"), *binary("Mul"), *binary("Div", 0.5, 2.0), *binary("Pow", 0.5, 2.0),
    *binary("Min"), *binary("Max"),
    Case("PRelu", "PRelu", [f32(2, 3, 4), f32(3, 1)]), Case("PRelu-scalar", "PRelu", [f32(2, 3), f32(1)]),
    Case("Mod-int", "Mod", [np.array([-7, 7, -7, 7, 5], np.int64), np.array([3, -3, -3, 3, 5], np.int64)]),
    Case("Mod-fmod-float", "Mod", [f32(3, 4, lo=-5, hi=5), f32(4, lo=1, hi=2)], {"fmod": 1}),
    Case("Sum-3", "Sum", [f32(2, 3), f32(3), f32(2, 1)]),
    Case("Max-3", "Max", [f32(2, 3), f32(3), f32(2, 1)]),
    Case("Clip-inputs", "Clip", [f32(4, 5)], inits={"lo": np.float32(-0.5), "hi": np.float32(0.7)}),
    Case("Clip-min-only", "Clip", [f32(4, 5)], inits={"lo": np.float32(-0.5)}),
    Case("Clip-attr-opset6", "Clip", [f32(4, 5)], {"min": -0.3, "max": 0.2}, opset=6),
    Case("Equal-int", "Equal", [np.array([1, 2, 3, 4], np.int64), np.array([1, 0, 3, 0], np.int64)]),
    Case("Less", "Less", [f32(3, 4), f32(4)]),
    Case("Greater", "Greater", [f32(3, 4), f32(4)]),
    Case("Not", "Not", [rng.random((3, 4)) > 0.5]),
    Case("And", "And", [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5]),
    Case("Where", "Where", [rng.random((2, 3, 4)) > 0.5, f32(3, 4), f32(2, 1, 1)]),
    Case("Where-int", "Where", [rng.random((5,)) > 0.5, np.arange(5, dtype=np.int64), np.zeros(1, np.int64)]),
    Case("Cast-f2i", "Cast", [f32(3, 4, lo=-9, hi=9)], {"to": TensorProto.INT64}),
    Case("Cast-i2f", "Cast", [np.arange(-6, 6, dtype=np.int64).reshape(3, 4)], {"to": TensorProto.FLOAT}),
    Case("Cast-f2b", "Cast", [np.array([0.0, 1.5, -2.0, 0.0], np.float32)], {"to": TensorProto.BOOL}),
    Case("Cast-b2f", "Cast", [np.array([True, False, True])], {"to": TensorProto.FLOAT}),
    Case("Identity", "Identity", [f32(2, 3)]),
    Case("Dropout", "Dropout", [f32(2, 3)]),
    # linear algebra
    Case("MatMul-2d", "MatMul", [f32(5, 7), f32(7, 3)]),
    Case("MatMul-batched", "MatMul", [f32(2, 3, 5, 7), f32(2, 3, 7, 4)]),
    Case("MatMul-broadcast", "MatMul", [f32(2, 1, 5, 7), f32(3, 7, 4)]),
    Case("MatMul-vec-mat", "MatMul", [f32(7), f32(2, 7, 4)]),
    Case("MatMul-mat-vec", "MatMul", [f32(2, 5, 7), f32(7)]),
    Case("MatMul-weights", "MatMul", [f32(4, 6)], inits={"w": f32(6, 3)}),
    Case("Gemm", "Gemm", [f32(4, 6), f32(6, 3), f32(3)]),
    Case("Gemm-transB-alpha-beta", "Gemm", [f32(4, 6), f32(3, 6), f32(4, 1)], {"transB": 1, "alpha": 0.5, "beta": 2.0}),
    Case("Gemm-transA-noC", "Gemm", [f32(6, 4), f32(6, 3)], {"transA": 1}),
    Case("Gemm-C-matrix", "Gemm", [f32(4, 6), f32(6, 3), f32(4, 3)]),
    # convolution
    Case("Conv-basic", "Conv", [f32(1, 3, 8, 8), f32(4, 3, 3, 3)]),
    Case("Conv-bias-pads-stride", "Conv", [f32(2, 3, 9, 7), f32(5, 3, 3, 3), f32(5)], {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    Case("Conv-asym-pads-dil", "Conv", [f32(1, 2, 10, 9), f32(3, 2, 3, 2)], {"pads": [0, 2, 1, 0], "dilations": [2, 3]}),
    Case("Conv-groups", "Conv", [f32(1, 4, 6, 6), f32(6, 2, 3, 3), f32(6)], {"group": 2, "pads": [1, 1, 1, 1]}),
    Case("Conv-depthwise", "Conv", [f32(1, 8, 7, 7), f32(8, 1, 3, 3)], {"group": 8, "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    Case("Conv-same-upper", "Conv", [f32(1, 2, 7, 8), f32(3, 2, 4, 3)], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    Case("Conv-same-lower", "Conv", [f32(1, 2, 7, 8), f32(3, 2, 4, 3)], {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    Case("Conv-valid", "Conv", [f32(1, 2, 7, 8), f32(3, 2, 3, 3)], {"auto_pad": "VALID"}),
    Case("Conv-1x1", "Conv", [f32(2, 16, 5, 5), f32(8, 16, 1, 1), f32(8)]),
    Case("Conv-1d", "Conv", [f32(2, 3, 11), f32(4, 3, 3)], {"pads": [1, 2], "strides": [2]}),
    Case("Conv-weights-init", "Conv", [f32(1, 3, 6, 6)], inits={"w": f32(2, 3, 3, 3), "b": f32(2)}),
    Case("ConvTranspose-basic", "ConvTranspose", [f32(1, 3, 4, 4), f32(3, 2, 3, 3)]),
    Case("ConvTranspose-stride-pads", "ConvTranspose", [f32(1, 2, 5, 4), f32(2, 3, 3, 3), f32(3)],
         {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    Case("ConvTranspose-groups-dil", "ConvTranspose", [f32(1, 4, 3, 3), f32(4, 2, 2, 2)], {"group": 2, "dilations": [2, 2]},
         ort_because="onnx.reference 1.23 fails on grouped ConvTranspose (broadcast error)"),
    Case("ConvTranspose-output-shape", "ConvTranspose", [f32(1, 1, 3, 3), f32(1, 2, 3, 3)],
         {"strides": [3, 2], "output_shape": [10, 8]}),
    # pooling
    Case("MaxPool", "MaxPool", [f32(1, 3, 8, 8)], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    Case("MaxPool-pads-ceil", "MaxPool", [f32(2, 2, 9, 7)],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    Case("MaxPool-dilations", "MaxPool", [f32(1, 2, 9, 9)], {"kernel_shape": [2, 2], "dilations": [2, 2]}),
    Case("MaxPool-same", "MaxPool", [f32(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    Case("MaxPool-1d", "MaxPool", [f32(1, 2, 9)], {"kernel_shape": [3], "strides": [2]}),
    Case("AveragePool", "AveragePool", [f32(1, 3, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2]}),
    Case("AveragePool-pads", "AveragePool", [f32(1, 2, 7, 7)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    Case("AveragePool-count-pad", "AveragePool", [f32(1, 2, 7, 7)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    Case("AveragePool-ceil", "AveragePool", [f32(1, 1, 6, 6)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    Case("GlobalAveragePool", "GlobalAveragePool", [f32(2, 5, 6, 7)]),
    Case("GlobalMaxPool", "GlobalMaxPool", [f32(2, 5, 6, 7)]),
    # normalisation and softmax
    Case("BatchNormalization", "BatchNormalization",
         [f32(2, 3, 4, 5), f32(3), f32(3), f32(3), f32(3, lo=0.5, hi=2.0)], {"epsilon": 1e-3}),
    Case("LayerNormalization", "LayerNormalization", [f32(2, 5, 8), f32(8), f32(8)], opset=17),
    Case("LayerNormalization-axis", "LayerNormalization", [f32(2, 5, 8), f32(5, 8), f32(5, 8)], {"axis": 1}, opset=17),
    Case("LRN", "LRN", [f32(1, 7, 3, 3)], {"size": 3, "alpha": 0.01, "beta": 0.75, "bias": 1.5},
         ort_because="onnx.reference 1.23's LRN differs from the spec's channel window (1.5e-2 off)"),
    Case("Softmax", "Softmax", [f32(3, 4, 5)], opset=13),
    Case("Softmax-axis1", "Softmax", [f32(3, 4, 5)], {"axis": 1}, opset=13),
    Case("Softmax-opset11-coerced", "Softmax", [f32(3, 4, 5)], {"axis": 1}, opset=11,
         ort_because="onnx.reference 1.23 applies opset-13 single-axis semantics to Softmax-11"),
    Case("LogSoftmax", "LogSoftmax", [f32(3, 4, 5)], {"axis": 0}, opset=13),
    # reductions
    Case("ReduceMean", "ReduceMean", [f32(2, 3, 4)], {"axes": [1], "keepdims": 1}, opset=13),
    Case("ReduceMean-18", "ReduceMean", [f32(2, 3, 4)], inits={"axes": i64(0, 2)}, opset=18),
    Case("ReduceSum", "ReduceSum", [f32(2, 3, 4)], {"keepdims": 0}, inits={"axes": i64(-1)}, opset=13),
    Case("ReduceSum-all", "ReduceSum", [f32(2, 3, 4)], opset=13),
    Case("ReduceMax", "ReduceMax", [f32(2, 3, 4)], {"axes": [0, 2], "keepdims": 0}, opset=13),
    Case("ReduceMin", "ReduceMin", [f32(2, 3, 4)], {"axes": [1]}, opset=13),
    Case("ReduceProd", "ReduceProd", [f32(2, 3, 4, lo=0.5, hi=1.5)], {"axes": [1]}, opset=13),
    Case("ReduceL2", "ReduceL2", [f32(2, 3, 4)], {"axes": [2]}, opset=13),
    Case("ReduceLogSumExp", "ReduceLogSumExp", [f32(2, 3, 4)], {"axes": [1]}, opset=13),
    Case("ReduceSum-int", "ReduceSum", [np.arange(24, dtype=np.int64).reshape(2, 3, 4)], inits={"axes": i64(1)}, opset=13),
    Case("ArgMax", "ArgMax", [f32(3, 4, 5)], {"axis": 1}),
    Case("ArgMin-last", "ArgMin", [np.array([[1, 0, 0, 2]], np.float32)], {"axis": 1, "keepdims": 0, "select_last_index": 1}),
    # data movement
    Case("Reshape", "Reshape", [f32(2, 3, 4)], inits={"shape": i64(4, -1)}),
    Case("Reshape-zero", "Reshape", [f32(2, 3, 4)], inits={"shape": i64(0, 12)}),
    Case("Flatten", "Flatten", [f32(2, 3, 4)], {"axis": 2}),
    Case("Squeeze", "Squeeze", [f32(1, 3, 1, 4)], inits={"axes": i64(0, -2)}, opset=13),
    Case("Squeeze-opset11", "Squeeze", [f32(1, 3, 1, 4)], {"axes": [2]}, opset=11),
    Case("Unsqueeze", "Unsqueeze", [f32(3, 4)], inits={"axes": i64(0, 3)}, opset=13),
    Case("Transpose", "Transpose", [f32(2, 3, 4)], {"perm": [2, 0, 1]}),
    Case("Transpose-default", "Transpose", [f32(2, 3, 4, 5)]),
    Case("Concat", "Concat", [f32(2, 3), f32(2, 5), f32(2, 1)], {"axis": 1}),
    Case("Concat-axis0-int", "Concat", [np.arange(6, dtype=np.int64).reshape(2, 3), np.ones((1, 3), np.int64)], {"axis": 0}),
    Case("Split", "Split", [f32(2, 6)], {"axis": 1}, inits={"split": i64(1, 2, 3)}, n_out=3, opset=13),
    Case("Split-even", "Split", [f32(6, 2)], {"axis": 0}, n_out=3, opset=13),
    Case("Split-18-num-outputs", "Split", [f32(7, 2)], {"axis": 0, "num_outputs": 3}, n_out=3, opset=18),
    Case("Slice", "Slice", [f32(5, 6)], inits={"s": i64(1, 0), "e": i64(4, 5)}),
    Case("Slice-axes-steps", "Slice", [f32(5, 6, 4)], inits={"s": i64(-1, 1), "e": i64(-10, 100), "a": i64(1, 2), "k": i64(-2, 2)}),
    Case("Slice-opset9", "Slice", [f32(5, 6)], {"starts": [1], "ends": [3], "axes": [1]}, opset=9),
    Case("Gather-axis0", "Gather", [f32(5, 4), np.array([0, 4, -1, 2], np.int64)]),
    Case("Gather-axis1-2d-idx", "Gather", [f32(3, 5, 2), np.array([[0, 1], [4, 3]], np.int64)], {"axis": 1}),
    Case("Gather-const-idx", "Gather", [f32(5, 4)], {"axis": 1}, inits={"i": np.array([3, 0], np.int64)}),
    Case("Gather-int32-idx", "Gather", [f32(5, 4), np.array([1, 3], np.int32)]),
    Case("Pad-constant", "Pad", [f32(2, 3)], {"mode": "constant"}, inits={"p": i64(0, 1, 2, 1), "v": np.float32(1.5)}),
    Case("Pad-edge", "Pad", [f32(1, 2, 3, 3)], {"mode": "edge"}, inits={"p": i64(0, 0, 1, 2, 0, 0, 2, 1)}),
    Case("Pad-reflect", "Pad", [f32(1, 2, 4, 4)], {"mode": "reflect"}, inits={"p": i64(0, 0, 2, 1, 0, 0, 1, 3)}),
    Case("Pad-negative", "Pad", [f32(4, 5)], inits={"p": i64(-1, 2, 1, -2)},
         ort_because="onnx.reference 1.23 rejects negative pads, which the spec allows"),
    Case("Pad-opset2", "Pad", [f32(2, 3)], {"pads": [1, 0, 0, 2], "value": -1.0}, opset=2),
    Case("Expand", "Expand", [f32(3, 1)], inits={"s": i64(2, 3, 4)}),
    Case("Tile", "Tile", [f32(2, 3)], inits={"r": i64(2, 3)}),
    Case("Shape", "Shape", [f32(2, 3, 4)]),
    Case("Shape-slice", "Shape", [f32(2, 3, 4)], {"start": 1}, opset=15),
    Case("ConstantOfShape", "ConstantOfShape", [], inits={"s": i64(2, 3)}, input_names=["s"]),
    Case("Resize-nearest", "Resize", [f32(1, 2, 3, 4)], {"mode": "nearest"},
         inits={"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 2, 2], np.float32)}),
    Case("Resize-nearest-asym-floor", "Resize", [f32(1, 2, 3, 4)],
         {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
         inits={"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 1.5, 2.5], np.float32)}),
    Case("Resize-linear", "Resize", [f32(1, 2, 3, 4)], {"mode": "linear"},
         inits={"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 2, 1.5], np.float32)}),
    Case("Resize-linear-align-corners-sizes", "Resize", [f32(1, 2, 3, 4)],
         {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
         inits={"roi": np.zeros(0, np.float32), "sc": np.zeros(0, np.float32), "sz": i64(1, 2, 5, 7)}),
    Case("Resize-linear-pytorch-down", "Resize", [f32(1, 1, 8, 8)],
         {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
         inits={"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 0.5, 0.75], np.float32)}),
    Case("Upsample-opset9", "Upsample", [f32(1, 1, 2, 3)], {"mode": "nearest"}, inits={"sc": np.array([1, 1, 2, 3], np.float32)}, opset=9),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op(case, tmp_path):
    model, feeds = case.model()
    if case.ort_because:
        pytest.importorskip("onnxruntime", reason=f"oracle for this case: {case.ort_because}")
        want = ort_reference(model, feeds)
    else:
        want = reference(model, feeds)
    got = compile_and_run(model, feeds, tmp_path / "out")
    assert_close(got, want, **case.tol)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_interpreter(case):
    """The IR's numpy semantics alone (the constant folder's engine) against the same oracle."""
    import auroragen

    model, feeds = case.model()
    want = ort_reference(model, feeds) if case.ort_because else reference(model, feeds)
    assert_close(auroragen.interpret(auroragen.import_onnx(model), feeds), want, **case.tol)


def test_constant_node(tmp_path):
    c = helper.make_node("Constant", [], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0]))
    add = helper.make_node("Add", ["x", "c"], ["y"])
    feeds = {"x": f32(2, 3)}
    model = make_model([c, add], feeds, ["y"])
    assert_close(compile_and_run(model, feeds, tmp_path / "out"), reference(model, feeds))


def test_shape_subgraph_folds_to_a_reshape(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torch exports a flatten."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"]),
        helper.make_node("Concat", ["b1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    feeds = {"x": f32(2, 3, 4)}
    inits = {"zero": np.array(0, np.int64), "ax0": i64(0), "minus1": i64(-1)}
    model = make_model(nodes, feeds, ["y"], inits, opset=13)
    import auroragen
    from auroragen.passes import run_pipeline

    g = run_pipeline(auroragen.import_onnx(model))
    assert [n.op for n in g.nodes] == ["reshape"]
    assert_close(compile_and_run(model, feeds, tmp_path / "out"), reference(model, feeds))
