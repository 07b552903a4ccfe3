"""Hostile and malformed models through the command line: each invalid one is refused with one line
naming the node (or tensor) and the problem, a non-zero exit, no traceback, and no OUT folder."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_cli import assert_clean_error, run_cli


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17, domains=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *domains])
    m.ir_version = 8
    return m


def cycle():
    return _model([helper.make_node("Relu", ["b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"], name="second")],
                  [_vi("x", [2])], [_vi("b", [2])])


def dangling_input():
    return _model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="adder")], [_vi("x", [2])], [_vi("y", [2])])


def duplicate_outputs():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="one"), helper.make_node("Neg", ["x"], ["y"], name="two")],
                  [_vi("x", [2])], [_vi("y", [2])])


def unknown_domain():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="foreign", domain="com.example.secret")],
                  [_vi("x", [2])], [_vi("y", [2])], domains=[helper.make_opsetid("com.example.secret", 1)])


def wrong_attribute_type():
    node = helper.make_node("Softmax", ["x"], ["y"], name="soft")
    node.attribute.append(helper.make_attribute("axis", "last"))
    return _model([node], [_vi("x", [2, 3])], [_vi("y", [2, 3])])


def not_broadcastable():
    return _model([helper.make_node("Add", ["x", "z"], ["y"], name="bad_add")], [_vi("x", [2, 3]), _vi("z", [4])],
                  [_vi("y", [2, 3])])


def negative_dim():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2, -5])], [_vi("y", [2, -5])])


def absurd_dims():
    big = 1 << 40
    return _model([helper.make_node("Relu", ["x"], ["y"], name="huge")], [_vi("x", [big, big])], [_vi("y", [big, big])])


def absurd_reshape():
    shape = numpy_helper.from_array(np.array([1 << 31, 1 << 31, 1 << 31], np.int64), "shape")
    return _model([helper.make_node("Expand", ["x", "shape"], ["y"], name="blow_up")], [_vi("x", [1])], [_vi("y", None)],
                  [shape])


def input_shadowed_by_node():
    return _model([helper.make_node("Relu", ["x"], ["x"], name="overwrite")], [_vi("x", [2])], [_vi("x", [2])])


def missing_output():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2])], [_vi("never_made", [2])])


def bad_initializer_size():
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4], float_data=[1.0, 2.0])  # 2 values for 16
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="with_w")], [_vi("x", [4, 4])], [_vi("y", [4, 4])], [t])


def conv_channel_mismatch():
    w = numpy_helper.from_array(np.ones((4, 5, 3, 3), np.float32), "w")
    return _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_bad")], [_vi("x", [1, 3, 8, 8])],
                  [_vi("y", [1, 4, 6, 6])], [w])


CASES = {
    "cycle": (cycle, ["cycle"]),
    "dangling input": (dangling_input, ["adder", "nowhere"]),
    "duplicate outputs": (duplicate_outputs, ["'y'"]),
    "unknown domain": (unknown_domain, ["foreign", "com.example.secret"]),
    "attribute of the wrong type": (wrong_attribute_type, ["soft", "axis"]),
    "shapes that do not broadcast": (not_broadcastable, ["bad_add", "broadcast"]),
    "negative dimension": (negative_dim, ["-5"]),
    "absurd dimensions": (absurd_dims, ["input 'x'", "TiB"]),
    "absurd expand": (absurd_reshape, ["blow_up", "TiB"]),
    "input written by a node": (input_shadowed_by_node, ["'x'"]),
    "missing graph output": (missing_output, ["never_made"]),
    "initializer with too few values": (bad_initializer_size, ["'w'"]),
    "conv channel mismatch": (conv_channel_mismatch, ["conv_bad"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_model_is_refused_cleanly(case, tmp_path):
    build, needles = CASES[case]
    path = tmp_path / "bad.onnx"
    onnx.save(build(), path)
    out = tmp_path / "out"
    r = run_cli(path, "-o", out)
    assert_clean_error(r, *needles)
    assert not out.exists(), "a failed compile left OUT behind"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"], "a temporary folder was left behind"
