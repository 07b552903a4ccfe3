"""Differential testing: random valid graphs, compiled for every target this CPU runs (generic at -O0
and -O2) and run through the ABI, against onnx.reference. The graphs mix what the optimizer rewrites
(convolutions with BatchNorm, bias, residual adds and activations; matmuls with bias; elementwise
chains; transposes and reshapes) and what the memory plan shares (concats whose inputs are written
into their slices, splits and slices that are views, in-place elementwise) with what must stay."""

from __future__ import annotations

import numpy as np
from helpers import STRICT, host_targets, make_model, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

import auroragen

UNARY = ["Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Softplus", "Erf"]
BINARY = ["Add", "Mul", "Sub", "Max", "Min"]


class GraphBuilder:
    def __init__(self, draw, rank4: bool):
        self.draw = draw
        self.nodes, self.inits = [], {}
        self.rng = np.random.default_rng(draw(st.integers(0, 2**31)))
        shape = [1, draw(st.integers(1, 4)), draw(st.integers(3, 6)), draw(st.integers(3, 6))] if rank4 else \
            [draw(st.integers(1, 4)) for _ in range(draw(st.integers(2, 3)))]
        self.x = self.rng.standard_normal(shape).astype(np.float32)
        self.values = [("x", tuple(shape))]
        self.k = 0

    def name(self, p="v"):
        self.k += 1
        return f"{p}{self.k}"

    def const(self, shape, lo=-1.0, hi=1.0):
        n = self.name("c")
        self.inits[n] = self.rng.uniform(lo, hi, shape).astype(np.float32)
        return n

    def ints(self, values):
        n = self.name("c")
        self.inits[n] = np.array(values, np.int64)
        return n

    def add(self, op, ins, shape, **attrs):
        out = self.name()
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        self.values.append((out, tuple(shape)))
        return out

    def step(self):
        d = self.draw
        v, shape = self.values[-1] if d(st.booleans()) else d(st.sampled_from(self.values))
        kind = d(st.sampled_from(["unary", "binary", "const", "reduce", "softmax", "transpose", "linear", "clip",
                                  "concat", "split", "slice"]))
        r = len(shape)
        if kind == "concat":  # along axis 1 of [1, C, ...] its inputs are slices of it; elsewhere copied
            ax = d(st.integers(0, r - 1))
            parts = d(st.lists(st.sampled_from([n for n, s in self.values if len(s) == r and
                                                 s[:ax] + s[ax + 1:] == shape[:ax] + shape[ax + 1:]]), min_size=1, max_size=3))
            sizes = dict(self.values)
            return self.add("Concat", [v, *parts], shape[:ax] + (shape[ax] + sum(sizes[p][ax] for p in parts),) + shape[ax + 1:],
                            axis=ax)
        if kind in ("split", "slice"):
            ax = d(st.integers(0, r - 1))
            if shape[ax] < 2:
                return self.add("Relu", [v], shape)
            k = d(st.integers(1, shape[ax] - 1))
            part = shape[:ax] + (k,) + shape[ax + 1:]
            if kind == "slice":
                lo = d(st.integers(0, shape[ax] - k))
                return self.add("Slice", [v, self.ints([lo]), self.ints([lo + k]), self.ints([ax])], part)
            rest = shape[:ax] + (shape[ax] - k,) + shape[ax + 1:]
            a, b = self.name(), self.name()
            self.nodes.append(helper.make_node("Split", [v, self.ints([k, shape[ax] - k])], [a, b], axis=ax))
            self.values += [(a, part), (b, rest)]
            return d(st.sampled_from([a, b]))
        if kind == "unary":
            return self.add(d(st.sampled_from(UNARY)), [v], shape)
        if kind == "binary":
            same = [(n, s) for n, s in self.values if s == shape]
            other = d(st.sampled_from(same))[0]
            return self.add(d(st.sampled_from(BINARY)), [v, other], shape)
        if kind == "const":  # broadcast a constant of a sub-shape
            cshape = tuple(1 if d(st.booleans()) else s for s in shape[d(st.integers(0, r)):])
            return self.add(d(st.sampled_from(BINARY)), [v, self.const(cshape)], shape)
        if kind == "clip":
            return self.add("Clip", [v, self.const(()), self.const((), 0.5, 2.0)], shape)
        if kind == "reduce":
            ax = d(st.integers(0, r - 1))
            op, out = d(st.sampled_from(["ReduceMean", "ReduceSum", "ReduceMax"])), shape[:ax] + (1,) + shape[ax + 1:]
            if op == "ReduceSum":  # at opset 17 its axes are an input (the others' an attribute until 18)
                return self.add(op, [v, self.ints([ax])], out, keepdims=1)
            return self.add(op, [v], out, axes=[ax], keepdims=1)
        if kind == "softmax":
            return self.add("Softmax", [v], shape, axis=d(st.integers(0, r - 1)))
        if kind == "transpose":
            perm = d(st.permutations(list(range(r))))
            return self.add("Transpose", [v], [shape[p] for p in perm], perm=perm)
        # linear: conv (rank 4) or matmul, with the things fusion looks for around it
        if r == 4 and d(st.booleans()):
            c, m = shape[1], d(st.integers(1, 4))
            k = d(st.sampled_from([1, 3]))
            y = self.add("Conv", [v, self.const((m, c, k, k)), self.const((m,))], (shape[0], m, shape[2], shape[3]),
                         pads=[k // 2] * 4)
            if d(st.booleans()):
                y = self.add("BatchNormalization", [y, self.const((m,)), self.const((m,)), self.const((m,)), self.const((m,), 0.5, 2)],
                             self.values[-1][1])
        else:
            n = d(st.integers(1, 5))
            y = self.add("MatMul", [v, self.const((shape[-1], n))], shape[:-1] + (n,))
            if d(st.booleans()):
                y = self.add("Add", [y, self.const((n,))], self.values[-1][1])
        out_shape = self.values[-1][1]
        same = [name for name, s in self.values[:-1] if s == out_shape]
        if same and d(st.booleans()):
            y = self.add("Add", [y, d(st.sampled_from(same))], out_shape)
        if d(st.booleans()):
            y = self.add(d(st.sampled_from(["Relu", "Sigmoid", "Tanh"])), [y], out_shape)
        return y


@st.composite
def graphs(draw):
    b = GraphBuilder(draw, rank4=draw(st.booleans()))
    for _ in range(draw(st.integers(2, 7))):
        b.step()
    outs = [b.values[-1][0]]
    extra = [n for n, _ in b.values[1:-1]]
    if extra and draw(st.booleans()):
        outs.append(draw(st.sampled_from(extra)))
    return make_model(b.nodes, {"x": b.x}, outs, b.inits, opset=17), {"x": b.x}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(graphs())
def test_random_graphs_match_the_reference_on_every_host_target(tmp_path_factory, case):
    """Each graph on generic at -O0 and -O2 and on each vector target this CPU runs, at -O2."""
    model, feeds = case
    want = reference(model, feeds)
    for target, level in [("generic", 0), *((t, 2) for t in host_targets())]:
        out = tmp_path_factory.mktemp(f"{target}-O{level}")
        auroragen.compile(model, target=target, out_dir=out / "out", opt_level=level)
        got = auroragen.load(out / "out", make_args=STRICT)(**feeds)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"{target} -O{level}")
