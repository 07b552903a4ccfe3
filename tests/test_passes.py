"""Each graph pass on small graphs: the printed IR before and after, and the numbers unchanged."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from helpers import f32 as random_f32
from helpers import make_model
from onnx import TensorProto, helper

import auroragen
from auroragen.ir import print_graph, verify
from auroragen.passes import PIPELINE, run_pipeline, select

rng = np.random.default_rng(7)


f32 = partial(random_f32, rng)


def ops_of(g) -> list[str]:
    return [n.op for n in g.nodes if n.op != "constant"]


def run_pass(model, name):
    """The imported graph and the graph after DCE, the named pass, and DCE again."""
    before = run_pipeline(auroragen.import_onnx(model), select(names=[]))
    p = next(s.run for s in PIPELINE if s.run.name == name)
    after = run_pipeline(p.apply(before), select(names=[]))
    verify(after)
    return before, after


def same_numbers(before, after, feeds, rtol=1e-5, atol=1e-6):
    for x, y in zip(auroragen.interpret(before, feeds), auroragen.interpret(after, feeds)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def test_fold_constants_folds_what_the_importer_could_not_see():
    from auroragen.ir import DType, Graph, Node, TensorType, Value
    from auroragen.passes.fold_constants import FoldConstants

    t = TensorType(DType.FLOAT, (3,))
    a, b, s, x, y = Value(t), Value(t), Value(t), Value(t, "x"), Value(t, "y")
    g = Graph([x], [y], [
        Node("constant", (), (a,), {"value": np.array([1, 2, 3], np.float32)}),
        Node("constant", (), (b,), {"value": np.array([10, 20, 30], np.float32)}),
        Node("add", (a, b), (s,)),
        Node("mul", (x, s), (y,)),
    ])
    after = FoldConstants().apply(g)
    assert ops_of(after) == ["mul"]
    assert "dense<" in print_graph(after, full=True)
    same_numbers(g, after, {"x": f32(3)})


def test_simplify_removes_no_ops_and_merges_chains():
    nodes = [
        helper.make_node("Reshape", ["x", "same"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t1"], perm=[1, 0, 2]),
        helper.make_node("Transpose", ["t1"], ["t2"], perm=[1, 0, 2]),
        helper.make_node("Mul", ["t2", "one"], ["m"]),
        helper.make_node("Add", ["m", "zero"], ["a"]),
        helper.make_node("Transpose", ["a"], ["p1"], perm=[2, 0, 1]),
        helper.make_node("Transpose", ["p1"], ["p2"], perm=[2, 0, 1]),
        helper.make_node("Reshape", ["p2", "flat"], ["f1"]),
        helper.make_node("Reshape", ["f1", "back"], ["y"]),
    ]
    feeds = {"x": f32(2, 3, 4)}
    inits = {"same": np.array([2, 3, 4], np.int64), "one": np.ones((1, 4), np.float32), "zero": np.zeros(4, np.float32),
             "flat": np.array([-1], np.int64), "back": np.array([4, 6], np.int64)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits), "simplify")
    assert ops_of(before) == ["reshape", "transpose", "transpose", "mul", "add", "transpose", "transpose", "reshape", "reshape"]
    # two transposes cancel, x*1 and x+0 vanish; the 3-cycles compose into one transpose; the reshapes into one
    assert ops_of(after) == ["transpose", "reshape"]
    same_numbers(before, after, feeds)


def test_simplify_keeps_a_shape_preserving_pad_and_reversing_slice():
    nodes = [helper.make_node("Pad", ["x", "p"], ["a"]), helper.make_node("Slice", ["a", "s", "e", "ax", "st"], ["y"])]
    feeds = {"x": f32(4, 5)}
    inits = {"p": np.array([0, 1, 0, -1], np.int64), "s": np.array([-1], np.int64), "e": np.array([-100], np.int64),
             "ax": np.array([0], np.int64), "st": np.array([-1], np.int64)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits), "simplify")
    assert ops_of(after) == ["pad", "slice"]
    same_numbers(before, after, feeds)


def test_cse_merges_repeated_work_and_equal_constants():
    nodes = [
        helper.make_node("Add", ["x", "c1"], ["a"]),
        helper.make_node("Add", ["x", "c2"], ["b"]),
        helper.make_node("Relu", ["a"], ["ra"]),
        helper.make_node("Relu", ["b"], ["rb"]),
        helper.make_node("Mul", ["ra", "rb"], ["y"]),
    ]
    feeds = {"x": f32(3)}
    c = np.array([0.5, -1, 2], np.float32)
    before, after = run_pass(make_model(nodes, feeds, ["y"], {"c1": c, "c2": c.copy()}), "cse")
    assert ops_of(after) == ["add", "relu", "mul"]
    same_numbers(before, after, feeds)


def test_cse_when_the_kept_node_is_unused_and_two_outputs_compute_the_same():
    """v1 is kept, v3 takes its place as the node's result and v2 becomes a copy: the copy must read v3
    (it used to read v1, which no longer existed)."""
    nodes = [helper.make_node("Relu", ["x"], [n]) for n in ("v1", "v2", "v3")]
    feeds = {"x": f32(1, 2)}
    before = auroragen.import_onnx(make_model(nodes, feeds, ["v3", "v2"]))
    after = next(s.run for s in PIPELINE if s.run.name == "cse").apply(before)
    verify(after)
    assert ops_of(after) == ["relu", "identity"]
    same_numbers(before, after, feeds)


def _conv_bn_model(extra=()):
    c = 4
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["bn"], epsilon=1e-3),
        *extra,
    ]
    inits = {"w": f32(c, 3, 3, 3), "b": f32(c), "s": f32(c), "bb": f32(c), "m": f32(c),
             "v": rng.uniform(0.5, 2, c).astype(np.float32)}
    return nodes, inits


def test_fold_affine_folds_batchnorm_into_the_conv():
    nodes, inits = _conv_bn_model()
    feeds = {"x": f32(1, 3, 6, 6)}
    before, after = run_pass(make_model(nodes, feeds, ["bn"], inits), "fold-affine")
    assert ops_of(before) == ["conv", "batch_norm"]
    assert ops_of(after) == ["conv"]
    same_numbers(before, after, feeds, rtol=1e-4, atol=1e-5)


def test_fold_affine_leaves_a_division_by_zero_alone(tmp_path):
    """x / 0 after a conv is +-inf (nan where the sum is 0); folded into the weights as 1/0 it would be inf - inf
    sums, nan (the fuzzer's find): a factor or shift that is not finite is not folded."""
    from helpers import compile_and_run, reference

    feeds = {"x": f32(1, 2, 5, 5)}
    inits = {"w": f32(3, 2, 3, 3), "d": np.array([2.0, 0.0, -0.5], np.float32).reshape(1, 3, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Div", ["c", "d"], ["y"])]
    model = make_model(nodes, feeds, ["y"], inits)
    before, after = run_pass(model, "fold-affine")
    assert ops_of(after) == ops_of(before) == ["conv", "div"]
    got = compile_and_run(model, feeds, tmp_path / "out")[0]
    with np.errstate(divide="ignore"):
        want = reference(model, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.isinf(got[0, 1]).all()


def test_fold_affine_folds_per_channel_scale_and_shift_after_the_batchnorm():
    extra = [helper.make_node("Mul", ["bn", "k"], ["mu"]), helper.make_node("Add", ["mu", "q"], ["y"])]
    nodes, inits = _conv_bn_model(extra)
    inits.update(k=f32(4, 1, 1), q=f32(1, 4, 1, 1))
    feeds = {"x": f32(2, 3, 5, 5)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits), "fold-affine")
    assert ops_of(after) == ["conv"]
    same_numbers(before, after, feeds, rtol=1e-4, atol=1e-5)


def test_fold_affine_turns_a_lone_batchnorm_into_scale_and_shift():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("BatchNormalization", ["r", "s", "bb", "m", "v"], ["y"])]
    inits = {"s": f32(3), "bb": f32(3), "m": f32(3), "v": rng.uniform(0.5, 2, 3).astype(np.float32)}
    feeds = {"x": f32(2, 3, 4)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits), "fold-affine")
    assert ops_of(after) == ["relu", "mul", "add"]
    same_numbers(before, after, feeds, rtol=1e-5, atol=1e-5)


def test_fuse_epilogue_takes_residual_and_activation_into_the_conv():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    feeds = {"x": f32(1, 3, 5, 5)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], {"w": f32(3, 3, 3, 3)}), "fuse-epilogue")
    assert ops_of(after) == ["conv"]
    text = print_graph(after)
    assert 'activation = "relu"' in text and "aurora.conv(%0, %1, _, %0)" in text
    same_numbers(before, after, feeds)


def test_fuse_epilogue_takes_bias_and_gelu_into_the_matmul():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Gelu", ["a"], ["y"]),
    ]
    feeds = {"x": f32(2, 5, 8)}
    model = make_model(nodes, feeds, ["y"], {"w": f32(8, 6), "b": f32(6)}, opset=20)
    before, after = run_pass(model, "fuse-epilogue")
    assert ops_of(after) == ["matmul"]
    same_numbers(before, after, feeds)


def test_fusion_stops_where_a_value_has_other_readers():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Relu", ["c"], ["y"]),
        helper.make_node("Sigmoid", ["c"], ["z"]),
    ]
    feeds = {"x": f32(1, 2, 4, 4)}
    before, after = run_pass(make_model(nodes, feeds, ["y", "z"], {"w": f32(2, 2, 1, 1)}), "fuse-epilogue")
    assert ops_of(after) == ["conv", "relu", "sigmoid"]


def test_legalize_half_computes_in_float():
    nodes = [helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("Reshape", ["a", "s"], ["y"])]
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float16)}
    model = make_model(nodes, {"x": np.zeros((2, 3), np.float32)}, ["y"], {"s": np.array([6], np.int64)})
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    before = auroragen.import_onnx(model)
    after = select(names=[])[-1].apply(before)
    assert ops_of(after) == ["cast", "add", "cast", "reshape"]
    same_numbers(before, after, feeds, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_levels_select_passes(level):
    names = [p.name for p in select(level)]
    assert "legalize-half" in names and "dce" in names
    assert ("fold-affine" in names) == (level >= 2)
    assert ("simplify" in names) == (level >= 1)


def test_fuse_elementwise_makes_one_loop_of_a_chain():
    nodes = [
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["sq"]),
        helper.make_node("Sigmoid", ["sq"], ["s"]),
        helper.make_node("Where", ["c", "s", "x"], ["w"]),
        helper.make_node("Neg", ["w"], ["y"]),
        helper.make_node("Exp", ["d"], ["z"]),  # d has a second reader: it stays a value of its own
    ]
    feeds = {"x": f32(3, 4), "c": rng.random((3, 4)) > 0.5}
    before, after = run_pass(make_model(nodes, feeds, ["y", "z"], {"m": f32(4)}), "fuse-elementwise")
    assert ops_of(after) == ["sub", "fused_elementwise", "exp"]
    assert '"sigmoid"' in print_graph(after) and '"where"' in print_graph(after)
    same_numbers(before, after, feeds)


def test_fused_chain_runs_through_the_abi(tmp_path):
    from helpers import assert_close, compile_and_run, reference

    nodes = [helper.make_node("Mul", ["x", "k"], ["a"]), helper.make_node("Add", ["a", "b"], ["s"]),
             helper.make_node("Tanh", ["s"], ["t"]), helper.make_node("Mul", ["t", "x"], ["y"])]
    feeds = {"x": f32(2, 3, 5)}
    model = make_model(nodes, feeds, ["y"], {"k": f32(5), "b": f32(3, 1)})
    res = auroragen.compile(model, out_dir=tmp_path / "out")
    assert [n.op for n in res.graph.nodes if n.op != "constant"] == ["fused_elementwise"]
    assert_close(compile_and_run(model, feeds, tmp_path / "out2"), reference(model, feeds))


def test_pattern_gelu_erf_and_tanh_forms_and_silu():
    import math

    nodes = [
        helper.make_node("Div", ["x", "r2"], ["e0"]), helper.make_node("Erf", ["e0"], ["e1"]),
        helper.make_node("Add", ["e1", "one"], ["e2"]), helper.make_node("Mul", ["x", "e2"], ["e3"]),
        helper.make_node("Mul", ["e3", "half"], ["g1"]),
        helper.make_node("Pow", ["g1", "three"], ["t0"]), helper.make_node("Mul", ["k", "t0"], ["t1"]),
        helper.make_node("Add", ["g1", "t1"], ["t2"]), helper.make_node("Mul", ["t2", "c"], ["t3"]),
        helper.make_node("Tanh", ["t3"], ["t4"]), helper.make_node("Add", ["one", "t4"], ["t5"]),
        helper.make_node("Mul", ["g1", "half"], ["t6"]), helper.make_node("Mul", ["t6", "t5"], ["g2"]),
        helper.make_node("Sigmoid", ["g2"], ["s0"]), helper.make_node("Mul", ["g2", "s0"], ["y"]),
    ]
    sc = lambda v: np.array(v, np.float32)  # noqa: E731
    inits = {"r2": sc(math.sqrt(2)), "one": sc(1.0), "half": sc(0.5), "three": sc(3.0), "k": sc(0.044715),
             "c": sc(math.sqrt(2 / math.pi))}
    feeds = {"x": f32(4, 6)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits), "pattern-gelu")
    assert ops_of(after) == ["gelu", "gelu", "swish"]
    assert "approximate = 0" in print_graph(after) and "approximate = 1" in print_graph(after)
    same_numbers(before, after, feeds, rtol=1e-5, atol=1e-6)


def test_pattern_layernorm_from_its_spelled_out_form():
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]), helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["p"]), helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
        helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"]),
        helper.make_node("Div", ["d", "s"], ["n"]), helper.make_node("Mul", ["n", "g"], ["ng"]),
        helper.make_node("Add", ["ng", "b"], ["y"]),
    ]
    feeds = {"x": f32(2, 5, 8)}
    inits = {"two": np.array(2.0, np.float32), "eps": np.array(1e-5, np.float32), "g": f32(8), "b": f32(8)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], inits, opset=13), "pattern-layernorm")
    assert ops_of(after) == ["layernorm"]
    same_numbers(before, after, feeds, rtol=1e-4, atol=1e-5)


def test_pattern_attention_with_scale_and_mask():
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Div", ["s", "r"], ["ss"]),
        helper.make_node("Add", ["ss", "mask"], ["sm"]), helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    feeds = {"q": f32(2, 4, 6, 8), "k": f32(2, 4, 7, 8), "v": f32(2, 4, 7, 5), "mask": f32(2, 1, 1, 7)}
    before, after = run_pass(make_model(nodes, feeds, ["y"], {"r": np.array(8 ** 0.5, np.float32)}, opset=13),
                             "pattern-attention")
    assert ops_of(after) == ["transpose", "fused_attention"]
    text = print_graph(after)
    assert "num_heads = 4" in text and 'mask_kind = "additive"' in text
    same_numbers(before, after, feeds, rtol=1e-5, atol=1e-6)
