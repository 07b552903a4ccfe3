"""Hostile and malformed models through the command line: each invalid one is refused with one line
naming the node (or tensor) and the problem, a non-zero exit, no traceback, and no OUT folder."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# -- found by tools/fuzz.py (each crashed the compiler, hung it, or killed its process) ---------------

def unknown_attribute_named_like_an_input():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r", x=3)], [_vi("x", [2])], [_vi("y", [2])])


def missing_required_attribute():
    return _model([helper.make_node("Einsum", ["x"], ["y"], name="ein")], [_vi("x", [2, 2])], [_vi("y", [2])])


def operator_not_in_opset():
    return _model([helper.make_node("Einsum", ["x"], ["y"], name="early", equation="ii->i")], [_vi("x", [2, 2])],
                  [_vi("y", [2])], opset=11)


def opset_from_the_future():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2])], [_vi("y", [2])], opset=999)


def required_input_left_empty():
    return _model([helper.make_node("Add", ["x", ""], ["y"], name="half_add")], [_vi("x", [2])], [_vi("y", [2])])


def too_few_inputs():  # onnx's shape inference looped on this Range
    limit = numpy_helper.from_array(np.array(5, np.int64), "limit")
    return _model([helper.make_node("Range", ["s", "limit"], ["y"], name="short_range")], [_vi("s", [], TensorProto.INT64)],
                  [_vi("y", None, TensorProto.INT64)], [limit])


def input_type_not_taken():
    return _model([helper.make_node("Sigmoid", ["x"], ["y"], name="int_sigmoid")], [_vi("x", [2], TensorProto.INT32)],
                  [_vi("y", [2], TensorProto.INT32)])


def mixed_input_types():
    return _model([helper.make_node("Add", ["x", "z"], ["y"], name="mixed")], [_vi("x", [2]), _vi("z", [2], TensorProto.DOUBLE)],
                  [_vi("y", [2])])


def axis_beyond_any_rank():  # onnx's shape inference segfaulted on this GatherND
    return _model([helper.make_node("GatherND", ["x", "i"], ["y"], name="gnd", batch_dims=-100)],
                  [_vi("x", [2, 2, 2], TensorProto.INT32), _vi("i", [2, 1], TensorProto.INT64)], [_vi("y", None, TensorProto.INT32)])


def huge_integer_input():  # onnx's shape-data propagation allocated per element of `ends`
    return _model([helper.make_node("Slice", ["x", "starts", "ends"], ["y"], name="sl")],
                  [_vi("x", [4]), _vi("starts", [1], TensorProto.INT64), _vi("ends", [1 << 31], TensorProto.INT64)],
                  [_vi("y", None)])


def huge_built_constant():
    return _model([helper.make_node("EyeLike", ["x"], ["y"], name="eye")], [_vi("x", [4, 1 << 31])], [_vi("y", None)])


def concat_of_mixed_ranks():
    return _model([helper.make_node("Concat", ["x", "z"], ["y"], name="cat", axis=0)], [_vi("x", [2, 2]), _vi("z", [2])],
                  [_vi("y", None)])


def split_count_mismatch():
    return _model([helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=0, num_outputs=1 << 40)],
                  [_vi("x", [4])], [_vi("a", None), _vi("b", None)], opset=18)


def external_path_with_nul():
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], data_location=TensorProto.EXTERNAL)
    e = t.external_data.add()
    e.key, e.value = "location", "w\0.bin"
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="a")], [_vi("x", [2])], [_vi("y", [2])], [t])


def conv_group_zero():
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    return _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", group=0)], [_vi("x", [1, 3, 8, 8])],
                  [_vi("y", None)], [w])


def scan_over_a_scalar():
    body = helper.make_graph([helper.make_node("Add", ["s", "n"], ["o"]), helper.make_node("Identity", ["o"], ["e"])],
                             "body", [_vi("s", []), _vi("n", [])], [_vi("o", []), _vi("e", [])])
    return _model([helper.make_node("Scan", ["init", "x"], ["y", "z"], name="scan0", num_scan_inputs=1, body=body)],
                  [_vi("init", []), _vi("x", [])], [_vi("y", []), _vi("z", None)])


def lrn_size_zero():
    return _model([helper.make_node("LRN", ["x"], ["y"], name="norm0", size=0)], [_vi("x", [1, 4, 3, 3])],
                  [_vi("y", [1, 4, 3, 3])])


def dft_of_a_wide_last_axis():
    """The fuzzer's find: the importer cut the last axis into 2^31 slices (minutes) before it said no."""
    return _model([helper.make_node("DFT", ["x"], ["y"], name="dft0", axis=1)], [_vi("x", [1, 10, 1 << 31])],
                  [_vi("y", None)], opset=19)


def conv_transpose_kernel_shape_unlike_w():
    """The fuzzer's find: a kernel_shape of 2^63 - 1 against a 3x3 W planned a loop over it (minutes)."""
    w = numpy_helper.from_array(np.ones((1, 2, 3, 3), np.float32), "w")
    return _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up0", kernel_shape=[3, (1 << 63) - 1])],
                  [_vi("x", [1, 1, 3, 3])], [_vi("y", None)], [w])


def node_reading_its_own_output():
    """The fuzzer's find: onnx's shape inference crashed the process (SIGSEGV) on a TreeEnsemble that reads
    its own output: the graph is put in order, or refused, before inference sees it."""
    f32, u8 = (lambda v: numpy_helper.from_array(np.array(v, np.float32))), (lambda v: numpy_helper.from_array(np.array(v, np.uint8)))
    node = helper.make_node(
        "TreeEnsemble", ["y"], ["y"], name="trees", domain="ai.onnx.ml", aggregate_function=1, n_targets=4,
        leaf_targetids=[0, 1, 2, 3], leaf_weights=f32([1, 10, 1000, 100]),
        membership_values=f32([1.2, 3.7, 8, 9, np.nan, 12, 7, np.nan]), nodes_falseleafs=[1, 0, 1],
        nodes_falsenodeids=[2, 2, 3], nodes_featureids=[0, 0, 0], nodes_modes=u8([0, 6, 6]),
        nodes_splits=f32([11, 232344, np.nan]), nodes_trueleafs=[0, 1, 1], nodes_truenodeids=[1, 0, 1],
        post_transform=0, tree_roots=[0])
    return _model([node], [_vi("x", [6, 1])], [onnx.ValueInfoProto(name="y")], opset=21, domains=[helper.make_opsetid("ai.onnx.ml", 5)])


def conv_transpose_of_a_long_kernel():
    """The fuzzer's find: a W input of 2^31 rows planned a range per tap in Python (minutes)."""
    return _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up1", strides=[3, 2])],
                  [_vi("x", [1, 1, 3, 3]), _vi("w", [1, 2, 1 << 31, 3])], [_vi("y", None)])


def lp_pool_of_p_zero():
    return _model([helper.make_node("LpPool", ["x"], ["y"], name="lp0", kernel_shape=[2, 2], p=0)],
                  [_vi("x", [1, 2, 4, 4])], [_vi("y", None)])


def conv_bias_of_the_wrong_length():
    """The fuzzer's find: a bias of 2M values on a conv of M output channels reached BatchNorm folding (a numpy
    broadcast error, with a traceback)."""
    w = numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32), "w")
    b = numpy_helper.from_array(np.ones(8, np.float32), "b")
    return _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv_b")], [_vi("x", [1, 3, 4, 4])],
                  [_vi("y", None)], [w, b])


def scan_of_2_to_the_31_steps():
    """The fuzzer's find: a Scan over 2^31 elements unrolled step by step (it never ends)."""
    body = helper.make_graph([helper.make_node("Add", ["s", "n"], ["o"]), helper.make_node("Identity", ["o"], ["e"])],
                             "body", [_vi("s", []), _vi("n", [])], [_vi("o", []), _vi("e", [])])
    return _model([helper.make_node("Scan", ["init", "x"], ["y", "z"], name="scan_long", num_scan_inputs=1, body=body)],
                  [_vi("init", []), _vi("x", [1 << 31])], [_vi("y", []), _vi("z", None)], opset=9)


def resize_by_a_scalar():
    """The fuzzer's find: a 0-d scales tensor (ONNX asks for one value per axis) raised a TypeError."""
    scales = numpy_helper.from_array(np.array(2.0, np.float32), "scales")
    return _model([helper.make_node("Resize", ["x", "", "scales"], ["y"], name="grow")], [_vi("x", [1, 2, 3])],
                  [_vi("y", None)], [scales])


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
    "unknown attribute named like an input": (unknown_attribute_named_like_an_input, ["'r'", "attribute 'x'"]),
    "missing required attribute": (missing_required_attribute, ["ein", "'equation'", "missing"]),
    "operator not in the opset": (operator_not_in_opset, ["early", "opset 11", "opset 12"]),
    "opset from the future": (opset_from_the_future, ["opset 999"]),
    "required input left empty": (required_input_left_empty, ["half_add", "input 1", "required"]),
    "too few inputs": (too_few_inputs, ["short_range", "3 inputs", "has 2"]),
    "input type not taken": (input_type_not_taken, ["int_sigmoid", "tensor(int32)"]),
    "mixed input types": (mixed_input_types, ["mixed", "tensor(double)", "tensor(float)"]),
    "axis beyond any rank": (axis_beyond_any_rank, ["gnd", "batch_dims", "-100"]),
    "huge integer input": (huge_integer_input, ["sl", "compile time"]),
    "huge built constant": (huge_built_constant, ["eye", "GiB"]),
    "concat of mixed ranks": (concat_of_mixed_ranks, ["cat", "ranks"]),
    "split count mismatch": (split_count_mismatch, ["sp", "num_outputs"]),
    "external path with NUL": (external_path_with_nul, ["'w'", "relative"]),
    "conv with group 0": (conv_group_zero, ["conv0", "group 0"]),
    "scan over a scalar": (scan_over_a_scalar, ["scan0", "shapes"]),
    "LRN of size 0": (lrn_size_zero, ["norm0", "size must be at least 1"]),
    "Resize by a scalar": (resize_by_a_scalar, ["grow", "scales must have 3 values, has 1"]),
    "Scan of 2^31 steps": (scan_of_2_to_the_31_steps, ["scan_long", "2147483648 iterations", "4096"]),
    "conv bias of the wrong length": (conv_bias_of_the_wrong_length, ["conv_b", "bias", "[4]"]),
    "LpPool of p 0": (lp_pool_of_p_zero, ["lp0", "p must be at least 1"]),
    "ConvTranspose of a kernel 2^31 long": (conv_transpose_of_a_long_kernel, ["up1", "taps", "65536"]),
    "node reading its own output": (node_reading_its_own_output, ["trees", "cycle", "'y'"]),
    "ConvTranspose kernel_shape unlike W": (conv_transpose_kernel_shape_unlike_w, ["up0", "kernel_shape", "[3, 3]"]),
    "DFT of a signal whose last axis is neither 1 nor 2": (dft_of_a_wide_last_axis, ["dft0", "1 (real) or 2 (complex)"]),
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


def test_a_name_that_is_not_utf8_is_refused(tmp_path):
    m = _model([helper.make_node("Relu", ["x"], ["QQQQ"], name="r")], [_vi("x", [2])], [_vi("QQQQ", [2])])
    path = tmp_path / "bad.onnx"
    path.write_bytes(m.SerializeToString().replace(b"QQQQ", b"Q\xffQQ"))
    r = run_cli(path, "-o", tmp_path / "out")
    assert_clean_error(r, "not valid UTF-8")


def test_an_integer_attention_mask_is_added_as_scores(tmp_path):
    """Valid but unusual (the fuzzer's find): Attention's mask may be any numeric type; it is cast to the
    scores' type and added, as onnx.reference does."""
    from helpers import assert_close, compile_and_run, reference

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    mask = numpy_helper.from_array(np.array([[0, -2, 1], [3, 0, -1], [0, 0, 0]], np.int64), "mask")
    m = _model([helper.make_node("Attention", ["q", "k", "v", "mask"], ["y"], name="att")],
               [_vi("q", [1, 2, 3, 4]), _vi("k", [1, 2, 3, 4]), _vi("v", [1, 2, 3, 4])], [_vi("y", [1, 2, 3, 4])], [mask],
               opset=23)
    feeds = {"q": q, "k": k, "v": v}
    assert_close(compile_and_run(m, feeds, tmp_path / "out"), reference(m, feeds))


def test_attention_values_of_another_type_than_the_queries(tmp_path):
    """Valid but unusual (the fuzzer's find): Attention's V (T2) may differ from Q and K (T1); the result has
    Q's type, and the generated C builds (it multiplied float probabilities by a double pointer)."""
    from helpers import assert_close, compile_and_run, reference

    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(2))
    v, past_v = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((1, 2, 2, 4))
    past_k = rng.standard_normal((1, 2, 2, 4)).astype(np.float32)
    m = _model([helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y", "present_k", "present_v"], name="att")],
               [_vi("q", [1, 2, 3, 4]), _vi("k", [1, 2, 3, 4]), _vi("v", [1, 2, 3, 4], TensorProto.DOUBLE),
                _vi("pk", [1, 2, 2, 4]), _vi("pv", [1, 2, 2, 4], TensorProto.DOUBLE)],
               [_vi("y", [1, 2, 3, 4]), _vi("present_k", [1, 2, 5, 4]), _vi("present_v", [1, 2, 5, 4], TensorProto.DOUBLE)],
               opset=23)
    feeds = {"q": q, "k": k, "v": v, "pk": past_k, "pv": past_v}
    got = compile_and_run(m, feeds, tmp_path / "out")
    assert [g.dtype for g in got] == [np.float32, np.float32, np.float64]
    assert_close(got, reference(m, feeds))


def test_a_grid_of_another_type_than_the_image(tmp_path):
    """Valid but unusual (the fuzzer's find): GridSample's grid (T2) may be double over a float image (T1); the
    kernel read it through a float pointer and did not build."""
    from helpers import assert_close, compile_and_run, reference

    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    grid = rng.uniform(-1.1, 1.1, (1, 3, 2, 2))
    m = _model([helper.make_node("GridSample", ["x", "g"], ["y"], name="gs", align_corners=0)],
               [_vi("x", [1, 2, 4, 5]), _vi("g", [1, 3, 2, 2], TensorProto.DOUBLE)], [_vi("y", [1, 2, 3, 2])], opset=20)
    feeds = {"x": x, "g": grid}
    assert_close(compile_and_run(m, feeds, tmp_path / "out"), reference(m, feeds))


def test_erf_of_integers_as_opset_9_allows(tmp_path):
    """Valid but unusual (the fuzzer's find): Erf-9 takes integer tensors (erf in double, truncated back)."""
    from helpers import assert_close, compile_and_run, reference

    x = np.array([-7, -1, 0, 1, 2, 6, 100], np.int32)
    m = _model([helper.make_node("Erf", ["x"], ["y"], name="e")], [_vi("x", [7], TensorProto.INT32)],
               [_vi("y", [7], TensorProto.INT32)], opset=9)
    got = compile_and_run(m, {"x": x}, tmp_path / "out")
    assert_close(got, reference(m, {"x": x}))
    assert got[0].tolist() == [-1, 0, 0, 0, 0, 1, 1]


FUZZ_MEMORY = 6 << 30  # the address space one fuzz case's compile may take, beyond what the test worker holds


def _address_space() -> int:
    """This process's virtual memory size in bytes (Linux), 0 where unknown."""
    try:
        line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmSize:"))
        return int(line.split()[1]) << 10
    except (OSError, StopIteration):
        return 0


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_fuzz(rng, tmp_path_factory):
    """tools/fuzz.py's mutations driven by hypothesis (which shrinks a failure to fewer, simpler mutations):
    the compiler accepts each mutated model or refuses it with one clean line. `make fuzz` runs the same
    mutations for minutes in a worker process."""
    import fuzz

    seeds = fuzz.seed_models()
    seed = seeds[rng.randrange(len(seeds))]
    source = fuzz.mutate(onnx.load(str(seed), load_external_data=False), rng)
    # as in make fuzz, the compile gets a bounded address space: a case that would take the machine's memory
    # (the kernel's OOM killer then ends the whole test worker) fails here, shrunk, with its seed
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + FUZZ_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        problem = fuzz.run_case(source, tmp_path_factory.mktemp("fuzz"))
    except MemoryError:
        problem = f"the compiler took more than {FUZZ_MEMORY >> 30} GiB more address space"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert problem is None, f"seed {seed.name}: {problem}"


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint32])
def test_integer_division_by_zero_and_minus_one_is_defined(tmp_path, dtype):
    """Integer Div and Mod by zero give 0 (as numpy does) and by -1 wrap around: each is undefined behaviour in
    C done naively, and inputs decide the divisors. Also run through the sanitized runner when it is available."""
    import cross
    from helpers import compile_and_run

    info = np.iinfo(dtype)
    signed = info.min < 0
    a = np.array([7, info.min if signed else 7, info.max, 5, 9], dtype)
    b = np.array([0, -1 if signed else 0, 0, 2, 3], dtype)
    m = _model([helper.make_node("Div", ["a", "b"], ["q"], name="div"),
                helper.make_node("Mod", ["a", "b"], ["r"], name="mod"),
                helper.make_node("Mod", ["a", "b"], ["f"], name="fmod", fmod=1)],
               [_vi(n, [5], helper.np_dtype_to_tensor_dtype(np.dtype(dtype))) for n in "ab"],
               [_vi(n, [5], helper.np_dtype_to_tensor_dtype(np.dtype(dtype))) for n in "qrf"])
    q = np.array([0, info.min if signed else 0, 0, 2, 3], dtype)
    r = np.array([0, 0, 0, 1, 0], dtype)
    got = compile_and_run(m, {"a": a, "b": b}, tmp_path / "out")
    for g, w in zip(got, [q, r, r]):
        np.testing.assert_array_equal(g, w)
    if cross.missing("generic+asan") is None:
        res_dir = tmp_path / "asan"
        import auroragen

        res = auroragen.compile(m, out_dir=res_dir)
        cross.write_io(res_dir, res)
        got = cross.CrossModel(res_dir, "generic+asan")(a, b)
        for g, w in zip(got, [q, r, r]):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32])
def test_shrink_of_integers_matches_the_reference(tmp_path, dtype):
    """Shrink takes every numeric type (the fuzzer found integers unsupported): computed in double, then back."""
    from helpers import compile_and_run, reference

    x = np.array([0, 1, 2, 3, 5, 100, 7], dtype) if dtype == np.uint8 else np.array([-100, -3, -1, 0, 1, 3, 100], dtype)
    t = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    m = _model([helper.make_node("Shrink", ["x"], ["y"], name="s", lambd=1.5, bias=2.5)], [_vi("x", [7], t)], [_vi("y", [7], t)])
    np.testing.assert_array_equal(compile_and_run(m, {"x": x}, tmp_path / "out")[0], reference(m, {"x": x})[0])
