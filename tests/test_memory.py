"""The arena planner's invariants (hypothesis) and the schedule's aliasing."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, compile_and_run, host_targets, make_model, reference
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

import auroragen
from auroragen.passes import run_pipeline
from auroragen.schedule import build_schedule
from auroragen.schedule.memory import ALIGN, Buffer, align_up, peak_live, plan_memory
from auroragen.schedule.target import TARGETS


@st.composite
def buffers(draw):
    n = draw(st.integers(0, 40))
    out = []
    for k in range(n):
        start = draw(st.integers(0, 30))
        end = start + draw(st.integers(0, 10))
        out.append(Buffer(k, draw(st.integers(1, 5000)), start, end))
    return out


@settings(max_examples=300, deadline=None)
@given(buffers())
def test_plan_is_valid(bufs):
    plan = plan_memory(bufs)
    for b in bufs:
        off = plan.offsets[b.key]
        assert off % ALIGN == 0
        assert off + b.size <= plan.arena_bytes
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a.overlaps(b):
                oa, ob = plan.offsets[a.key], plan.offsets[b.key]
                assert oa + a.size <= ob or ob + b.size <= oa, f"{a} and {b} share bytes"
    assert plan.lower_bound == peak_live(bufs)
    assert plan.arena_bytes >= plan.lower_bound


def test_lower_bound_is_reached_on_a_chain():
    bufs = [Buffer(k, 1000, k, k + 1) for k in range(10)]
    plan = plan_memory(bufs)
    assert plan.arena_bytes == plan.lower_bound == 2 * align_up(1000)


def test_reshape_is_an_alias_and_outputs_are_not_in_the_arena():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Unsqueeze", ["f", "ax"], ["u"]),
        helper.make_node("Sigmoid", ["u"], ["y"]),
    ]
    feeds = {"x": np.zeros((2, 3, 4), np.float32)}
    model = make_model(nodes, feeds, ["y"], {"ax": np.array([0], np.int64)}, opset=13)
    g = run_pipeline(auroragen.import_onnx(model))
    s = build_schedule(g, TARGETS["generic"])
    assert [st.node.op for st in s.steps] == ["relu", "sigmoid"]
    relu_out = s.steps[0].node.output
    sig_in = s.steps[1].node.inputs[0]
    assert s.where(sig_in) == s.where(relu_out)
    assert s.where(g.outputs[0]).kind == "output"
    assert s.memory.arena_bytes == align_up(2 * 3 * 4 * 4)


# -- the schedule executed on bytes ---------------------------------------------------------------

def simulate(s, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run a schedule as the generated C does, but with numpy: every tensor is read from and written to the
    bytes its Storage names (arena offsets, views, concat slices, in-place writes), so a plan that lets a live
    tensor be overwritten gives wrong outputs here."""
    from auroragen.ir import ops as irops

    arena = bytearray(s.memory.arena_bytes)
    outs = [bytearray(v.type.nbytes) for v in s.graph.outputs]
    ins = [np.ascontiguousarray(a, v.dtype.np).tobytes() for a, v in zip(inputs, s.graph.inputs)]
    consts = s.graph.all_constants()

    def buffer(st):
        return {"arena": arena, "output": outs[st.index] if st.kind == "output" else None,
                "input": ins[st.index] if st.kind == "input" else None}[st.kind]

    def read(v):
        st = s.where(v)
        if st.kind == "const":
            r, _ = s.owner(v)
            data = np.ascontiguousarray(consts[r].const_value(r.type), r.dtype.np).tobytes()
            base = st.offset
        else:
            data, base = buffer(st), st.offset + (st.index if st.kind == "arena" else 0)
        return np.frombuffer(bytes(data[base:base + v.type.nbytes]), v.dtype.np).reshape(v.shape)

    def write(v, a, lo=0, hi=None):
        st = s.where(v)
        assert st.kind in ("arena", "output"), f"{v} written to {st}"
        base = st.offset + (st.index if st.kind == "arena" else 0)
        raw = np.ascontiguousarray(a, v.dtype.np).reshape(v.shape).tobytes()
        hi = len(raw) if hi is None else hi
        buffer(st)[base + lo:base + hi] = raw[lo:hi]

    for step in s.steps:
        n = step.node
        assert not step.kind.startswith("if."), "simulate: no control flow"
        if step.kind == "fill":
            write(n.output, n.const_value(n.output.type))
            continue
        args = [None if v is None else read(v) for v in n.inputs]
        res = irops.get(n.op).run_typed(args, [None if v is None else v.type for v in n.inputs], n.attrs,
                                        [v.type for v in n.outputs])
        if n.op == "concat" and step.placed:  # the copy of the inputs not already in their slices
            at = 0
            for k, x in enumerate(n.inputs):
                if k not in step.placed:
                    write(n.output, res[0], at, at + x.type.nbytes)
                at += x.type.nbytes
            continue
        for v, r in zip(n.outputs, res):
            write(v, r)
    return [np.frombuffer(bytes(b), v.dtype.np).reshape(v.shape) for b, v in zip(outs, s.graph.outputs)]


def schedule_of(model, target="generic"):
    from auroragen.schedule.lowering import lower

    g = run_pipeline(auroragen.import_onnx(model))
    return build_schedule(lower(g, TARGETS[target]), TARGETS[target])


@st.composite
def sharing_graphs(draw):
    """Random DAGs over [1, C, H, W] tensors of the ops whose results can share bytes: elementwise chains
    (in place), concats and splits on the channel axis (slices and views) and on the last axis (copies),
    slices, reshapes; with any of the values as extra graph outputs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    h, w = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    x = rng.standard_normal((1, draw(st.integers(1, 4)), h, w)).astype(np.float32)
    values = [("x", x.shape)]
    nodes = []

    def add(op, ins, shapes, **attrs):
        names = [f"v{len(values) + k}" for k in range(len(shapes))]
        nodes.append(helper.make_node(op, ins, names, **attrs))
        values.extend(zip(names, shapes))
        return names

    def const(ints):
        name = f"k{len(nodes)}"
        nodes.append(helper.make_node("Constant", [], [name], value_ints=ints))
        return name

    for _ in range(draw(st.integers(1, 10))):
        v, shape = values[-1] if draw(st.booleans()) else draw(st.sampled_from(values))
        kind = draw(st.sampled_from(["unary", "binary", "concat", "concat_w", "split", "slice", "reshape"]))
        c = shape[1]
        if kind == "unary":
            add(draw(st.sampled_from(["Relu", "Neg", "Sigmoid", "Abs"])), [v], [shape])
        elif kind == "binary":
            other = draw(st.sampled_from([n for n, s in values if s == shape or s == (1, 1, 1, shape[3])]))
            add(draw(st.sampled_from(["Add", "Mul", "Sub"])), [v, other] if draw(st.booleans()) else [other, v], [shape])
        elif kind == "concat":
            parts = draw(st.lists(st.sampled_from([n for n, s in values if s[2:] == shape[2:]]), min_size=1, max_size=4))
            add("Concat", parts, [(1, sum(dict(values)[p][1] for p in parts), *shape[2:])], axis=1)
        elif kind == "concat_w":
            parts = draw(st.lists(st.sampled_from([n for n, s in values if s[:3] == shape[:3]]), min_size=1, max_size=3))
            add("Concat", parts, [(*shape[:3], sum(dict(values)[p][3] for p in parts))], axis=3)
        elif kind == "split" and c > 1:
            k = draw(st.integers(1, c - 1))
            sizes = const([k, c - k])
            add("Split", [v, sizes], [(1, k, *shape[2:]), (1, c - k, *shape[2:])], axis=1)
        elif kind == "slice":
            ax = draw(st.integers(1, 3))
            lo = draw(st.integers(0, shape[ax] - 1))
            hi = draw(st.integers(lo + 1, shape[ax]))
            out = list(shape)
            out[ax] = hi - lo
            add("Slice", [v, const([lo]), const([hi]), const([ax])], [tuple(out)])
        else:
            add("Reshape", [v, const([1, c * shape[2], 1, shape[3]])], [(1, c * shape[2], 1, shape[3])])
    made = [n for n, _ in values[1:]]
    outs = [made[-1]] + draw(st.lists(st.sampled_from(made), max_size=3, unique=True))
    return make_model(nodes, {"x": x}, list(dict.fromkeys(outs)), opset=17), x


@settings(max_examples=200, deadline=None)
@given(sharing_graphs())
def test_shared_bytes_never_clobber_a_live_tensor(case):
    from auroragen.ir.interpret import interpret

    model, x = case
    s = schedule_of(model)
    want = interpret(s.graph, [x])
    for g, w in zip(simulate(s, [x]), want):
        np.testing.assert_array_equal(g, w)


# -- sharing, case by case (each also compiled and run through the ABI) --------------------------

def _check(model, feeds, tmp_path, target="generic"):
    assert_close(compile_and_run(model, feeds, tmp_path / target, target), reference(model, feeds))


@pytest.mark.parametrize("target", host_targets())
def test_concat_inputs_are_computed_in_their_slices(tmp_path, target):
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["a"], perm=[0, 1, 3, 2]),
             helper.make_node("Softmax", ["a"], ["b"], axis=3),  # reads slice 0, writes slice 1
             helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
             helper.make_node("ReduceSum", ["c"], ["y"], keepdims=0)]
    model = make_model(nodes, {"x": x}, ["y"])
    s = schedule_of(model, target)
    assert "concat" not in [st.node.op for st in s.steps]
    (cat,) = [n for n in s.graph.nodes if n.op == "concat"]
    a, b = cat.inputs
    assert s.owner(a) == (cat.output, 0) and s.owner(b) == (cat.output, a.type.nbytes)
    assert s.memory.arena_bytes == s.memory.lower_bound == align_up(cat.output.type.nbytes)  # c alone
    _check(model, {"x": x}, tmp_path, target)


def test_a_concat_output_holds_its_slices_and_copies_the_rest(tmp_path):
    """The concat is a graph output: its computed inputs live in the output buffer; a graph input and a
    repeated input are copied."""
    x = np.random.default_rng(1).standard_normal((1, 2, 3)).astype(np.float32)
    nodes = [helper.make_node("Softmax", ["x"], ["a"], axis=2),
             helper.make_node("Transpose", ["x"], ["b"], perm=[0, 1, 2]),
             helper.make_node("Neg", ["x"], ["n"]),
             helper.make_node("Concat", ["a", "x", "n", "n"], ["c"], axis=1)]
    model = make_model(nodes, {"x": x}, ["c"])
    s = schedule_of(model)
    (cat,) = [st for st in s.steps if st.node.op == "concat"]
    assert cat.placed == {0}
    assert s.where(cat.node.inputs[0]).kind == "output"
    _check(model, {"x": x}, tmp_path)


def test_contiguous_splits_and_slices_are_views(tmp_path):
    x = np.random.default_rng(2).standard_normal((1, 6, 2, 3)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Constant", [], ["sz"], value_ints=[2, 4]),
             helper.make_node("Split", ["r", "sz"], ["p", "q"], axis=1),
             helper.make_node("Constant", [], ["lo"], value_ints=[1, 1]),
             helper.make_node("Constant", [], ["hi"], value_ints=[3, 2]),
             helper.make_node("Constant", [], ["ax"], value_ints=[1, 2]),
             helper.make_node("Slice", ["q", "lo", "hi", "ax"], ["z"]),  # rows 1..2 of channels: not contiguous
             helper.make_node("Constant", [], ["lo1"], value_ints=[2]),
             helper.make_node("Constant", [], ["hi1"], value_ints=[4]),
             helper.make_node("Constant", [], ["ax1"], value_ints=[1]),
             helper.make_node("Slice", ["q", "lo1", "hi1", "ax1"], ["w"]),  # channels 2..3 of q: contiguous
             helper.make_node("Sigmoid", ["p"], ["y0"]),
             helper.make_node("Sigmoid", ["z"], ["y1"]),
             helper.make_node("Sigmoid", ["w"], ["y2"])]
    model = make_model(nodes, {"x": x}, ["y0", "y1", "y2"])
    s = schedule_of(model)
    assert sorted(st.node.op for st in s.steps) == ["relu", "sigmoid", "sigmoid", "sigmoid", "slice"]
    (split,) = [n for n in s.graph.nodes if n.op == "split"]
    r = split.inputs[0]
    p, q = split.outputs
    assert s.owner(p) == (r, 0) and s.owner(q) == (r, 2 * 6 * 4)
    (w,) = [n.output for n in s.graph.nodes if n.op == "slice" and n.inputs[0] is q and n.output.shape == (1, 2, 2, 3)]
    assert s.owner(w) == (r, (2 + 2) * 6 * 4)
    _check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("target", host_targets())
def test_elementwise_writes_over_an_input_that_dies(tmp_path, target):
    x = np.random.default_rng(3).standard_normal((1, 4, 8, 16)).astype(np.float32)
    b = np.random.default_rng(4).standard_normal((8,)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Softmax", ["t"], ["u"], axis=3),
             helper.make_node("Add", ["u", "t"], ["v"]),  # v over u or t: both die here
             helper.make_node("Add", ["v", "b"], ["w"]),  # a broadcast operand; v dies
             helper.make_node("Softmax", ["w"], ["y"], axis=2)]
    model = make_model(nodes, {"x": x}, ["y"], {"b": b})
    s = schedule_of(model, target)
    ew = [st.node for st in s.steps if st.node.op in ("add", "fused_elementwise")]
    assert ew
    for n in ew:
        assert s.owner(n.output)[0] in {s.owner(v)[0] for v in n.inputs}, f"{n} not in place"
    assert s.memory.arena_bytes == 2 * align_up(x.nbytes)  # t and u; everything else over them
    _check(model, {"x": x}, tmp_path, target)


def test_an_order_with_a_lower_peak_is_chosen(tmp_path):
    """The graph's order makes both large tensors before either is reduced; finishing one branch first
    keeps one large tensor live at a time."""
    x = np.random.default_rng(5).standard_normal((1, 64)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["shape"], value_ints=[256, 64]),
             helper.make_node("Expand", ["x", "shape"], ["big1"]),
             helper.make_node("Sin", ["x"], ["s"]),
             helper.make_node("Expand", ["s", "shape"], ["big2"]),
             helper.make_node("ReduceSum", ["big1"], ["r1"], keepdims=0),
             helper.make_node("ReduceMax", ["big2"], ["r2"], keepdims=0),
             helper.make_node("Add", ["r1", "r2"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"])
    s = schedule_of(model)
    ops = [st.node.op for st in s.steps]
    assert ops.index("reduce_sum") < ops.index("expand", ops.index("expand") + 1)
    big = 256 * 64 * 4
    assert big <= s.memory.lower_bound < 2 * big
    assert s.memory.arena_bytes == s.memory.lower_bound
    _check(model, {"x": x}, tmp_path)
