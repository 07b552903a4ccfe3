"""If with a condition known only at run time: `aurora.if` with two regions, one C if/else.

Each model runs through the ABI with the condition true and false and is compared with
onnx.reference; the generated C is checked to branch (not compute both and select)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import STRICT, assert_close, host_targets, make_model, reference
from onnx import TensorProto, helper, numpy_helper

import auroragen
from auroragen.errors import AuroraError
from auroragen.ir import Graph, Node, TensorType, Value, parse, print_graph, verify
from auroragen.ir.types import DType
from auroragen.ir.verifier import VerifyError
from auroragen.passes import run_pipeline
from auroragen.passes.simplify import Simplify

rng = np.random.default_rng(3)
W = np.array([1.0, -2.0, 3.0], np.float32)


def branch(nodes, outputs, inits=()):
    return helper.make_graph(nodes, "branch", [], [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None)
                                                 for o in outputs], list(inits))


def simple_if(dtype=np.float32):
    """y = sigmoid(c ? relu(x + w) : x * w)."""
    then = branch([helper.make_node("Add", ["x", "w"], ["t1"]), helper.make_node("Relu", ["t1"], ["t"])], ["t"])
    other = branch([helper.make_node("Mul", ["x", "w"], ["e"])], ["e"])
    nodes = [helper.make_node("If", ["c"], ["y0"], then_branch=then, else_branch=other),
             helper.make_node("Sigmoid", ["y0"], ["y"])]
    feeds = {"x": rng.standard_normal((2, 3)).astype(dtype), "c": np.array(True)}
    return make_model(nodes, feeds, ["y"], {"w": W.astype(dtype)}), feeds


def nested_if():
    """Two results; the outer then-branch holds another If, the else-branch passes x through
    unchanged and returns a constant and a reshape (results a branch kernel does not compute)."""
    k = numpy_helper.from_array(np.full((2, 3), 7.0, np.float32), "k")
    inner_then = branch([helper.make_node("Neg", ["x"], ["it"])], ["it"])
    inner_else = branch([helper.make_node("Abs", ["x"], ["ie"])], ["ie"])
    then = branch([helper.make_node("If", ["d"], ["inner"], then_branch=inner_then, else_branch=inner_else),
                   helper.make_node("Add", ["inner", "w"], ["t0"]),
                   helper.make_node("Mul", ["t0", "t0"], ["t1"])], ["t0", "t1"])
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "shape")
    other = branch([helper.make_node("Reshape", ["x", "shape"], ["e0"]), helper.make_node("Identity", ["k"], ["e1"])],
                   ["e0", "e1"], [k, shape])
    nodes = [helper.make_node("If", ["c"], ["a", "b"], then_branch=then, else_branch=other),
             helper.make_node("Sub", ["a", "b"], ["y"])]
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float32), "c": np.array(True), "d": np.array(True)}
    return make_model(nodes, feeds, ["y", "a"], {"w": W}), feeds


def run_all_conditions(model, feeds, out, target="generic", conds=("c",)):
    auroragen.compile(model, target=target, out_dir=out)
    m = auroragen.load(out, make_args=STRICT)
    for bits in range(1 << len(conds)):
        f = dict(feeds, **{c: np.array(bool(bits >> i & 1)) for i, c in enumerate(conds)})
        assert_close(m(**f), reference(model, f))
    return (out / "model.c").read_text()


@pytest.mark.parametrize("target", host_targets())
def test_run_time_condition_compiles_to_a_c_branch(tmp_path, target):
    model, feeds = simple_if()
    src = run_all_conditions(model, feeds, tmp_path / "out", target)
    body = src[src.index("int model_run("):]
    assert "if (" in body and "} else {" in body
    g = run_pipeline(auroragen.import_onnx(model))
    assert [n.op for n in g.nodes if n.op != "constant"] == ["if", "sigmoid"]


def test_nested_if_with_pass_through_constant_and_view_results(tmp_path):
    model, feeds = nested_if()
    src = run_all_conditions(model, feeds, tmp_path / "out", conds=("c", "d"))
    assert src.count("} else {") == 2


def test_half_precision_branches_compute_in_float(tmp_path):
    model, feeds = simple_if(np.float16)
    auroragen.compile(model, out_dir=tmp_path / "out")
    m = auroragen.load(tmp_path / "out", make_args=STRICT)
    for c in (True, False):
        f = dict(feeds, c=np.array(c))
        assert_close(m(**f), reference(model, f), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("target,lowered", [("generic", "conv_gemm"), ("avx2", "conv_direct")])
def test_convolution_inside_a_branch_is_lowered_too(tmp_path, target, lowered):
    """The target lowering (conv -> packed GEMM on generic, direct on avx2) reaches into regions."""
    if target not in host_targets():
        pytest.skip(f"this CPU does not run {target} code")
    wt = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    then = branch([helper.make_node("Conv", ["x", "wt"], ["t"], pads=[1, 1, 1, 1])], ["t"])
    other = branch([helper.make_node("Conv", ["x", "wt"], ["e"], pads=[1, 1, 1, 1], dilations=[1, 1]),
                    helper.make_node("Relu", ["e"], ["e1"])], ["e1"])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    feeds = {"x": rng.standard_normal((1, 3, 9, 9)).astype(np.float32), "c": np.array(True)}
    model = make_model(nodes, feeds, ["y"], {"wt": wt})
    src = run_all_conditions(model, feeds, tmp_path / "out", target)
    assert src.count(f"/* aurora.{lowered} */") == 2, f"both branches' convolutions become {lowered}"


def test_branches_of_different_shapes_are_refused_with_the_node_named():
    then = branch([helper.make_node("Identity", ["x"], ["t"])], ["t"])
    other = branch([helper.make_node("ReduceSum", ["x"], ["e"], keepdims=0)], ["e"])
    feeds = {"x": np.zeros((2, 3), np.float32), "c": np.array(True)}
    model = make_model([helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="pick")],
                       feeds, ["y"], output_types={"y": TensorProto.FLOAT})
    with pytest.raises(AuroraError, match="pick.*branches give"):
        auroragen.import_onnx(model)


def test_a_condition_that_folds_to_a_constant_inlines_the_branch_taken():
    x = Value(TensorType(DType.FLOAT, (3,)), "x")
    cond = Value(TensorType(DType.BOOL, ()))

    def region(op):
        a = Value(x.type, "x")
        r = Value(x.type)
        return Graph([a], [r], [Node(op, (a,), (r,))], op)

    y = Value(x.type, "y")
    g = Graph([x], [y], [Node("constant", (), (cond,), {"value": np.array(False)}),
                         Node("if", (cond, x), (y,), {"then_branch": region("neg"), "else_branch": region("abs")})])
    verify(g)
    after = Simplify().apply(g)
    verify(after)
    assert [n.op for n in after.nodes if n.op != "constant"] == ["abs"]
    v = np.array([-1.0, 2.0, -3.0], np.float32)
    np.testing.assert_array_equal(auroragen.interpret(after, [v])[0], np.abs(v))


def test_regions_print_and_parse_back():
    model, _ = nested_if()
    g = run_pipeline(auroragen.import_onnx(model))
    text = print_graph(g, full=True)
    assert text.count("aurora.graph") == 5  # main, two branches, the inner If's two
    again = parse(text)
    verify(again)
    assert print_graph(again, full=True) == text


def test_verifier_checks_what_the_branches_take():
    x = Value(TensorType(DType.FLOAT, (3,)))
    cond = Value(TensorType(DType.BOOL, ()))
    a = Value(TensorType(DType.FLOAT, (4,)))
    r = Value(a.type)
    region = Graph([a], [r], [Node("neg", (a,), (r,))])
    y = Value(a.type)
    with pytest.raises(VerifyError, match="branch takes"):
        verify(Graph([x, cond], [y], [Node("if", (cond, x), (y,), {"then_branch": region, "else_branch": region})]))
