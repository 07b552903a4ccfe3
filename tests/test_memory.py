"""The arena planner's invariants (hypothesis) and the schedule's aliasing."""

from __future__ import annotations

import numpy as np
from helpers import make_model
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
