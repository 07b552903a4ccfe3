"""Scaled dot-product attention as exporters write it becomes one op.

    s = (q [* c1]) @ (k^T [* c2])  [/ c or * c]  [+ mask]
    y = softmax(s, last axis) @ v
    -> aurora.fused_attention(q, k^T, v, mask) {scale = c1 c2 / c, num_heads, mask_kind}

The head Reshape/Transpose around it stay as views and copies; the kernel computes
one query row at a time, so the score matrix is never stored whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node, Value
from .match import Matcher, replace_matches
from .rewrite import Rewriter


def _unscale(m: Matcher, v: Value, nodes: list[Node]) -> tuple[Value, float]:
    """v without a multiplication by a scalar constant, and that scalar."""
    n = m.op(v, "mul")
    if n is not None:
        for x, c in (n.inputs, n.inputs[::-1]):
            s = m.scalar(c)
            if s is not None and x.type == v.type:
                nodes.append(n)
                return x, s
    return v, 1.0


@dataclass(frozen=True)
class PatternAttention:
    name: str = "pattern-attention"

    def _match(self, m: Matcher, sm: Node):
        r = sm.output.type.rank
        if sm.attrs["axis"] != r - 1 or r < 2 or not sm.output.dtype.is_float:
            return None
        us = m.users.get(sm.output, [])
        if len(us) != 1 or us[0].op != "matmul" or us[0].inputs[0] is not sm.output or len(us[0].inputs) != 2:
            return None
        m2 = us[0]
        nodes = [sm, m2]
        scores, mask, scale = sm.inputs[0], None, 1.0
        add = m.op(scores, "add")
        if add is not None:
            for x, other in (add.inputs, add.inputs[::-1]):
                if m.op(x, "matmul", "mul", "div") is not None and x.type == scores.type and other.dtype == scores.dtype:
                    scores, mask = x, other
                    nodes.append(add)
                    break
            else:
                return None
        sc = m.op(scores, "div", "mul")
        if sc is not None and m.scalar(sc.inputs[1]) is not None and sc.inputs[0].type == scores.type:
            c = m.scalar(sc.inputs[1])
            scale = 1.0 / c if sc.op == "div" else c
            scores = sc.inputs[0]
            nodes.append(sc)
        m1 = m.op(scores, "matmul")
        if m1 is None or len(m1.inputs) != 2:
            return None
        nodes.append(m1)
        q, s1 = _unscale(m, m1.inputs[0], nodes)
        kt, s2 = _unscale(m, m1.inputs[1], nodes)
        v = m2.inputs[1]
        if not (q.type.rank == kt.type.rank == v.type.rank >= 2) or not (q.shape[:-2] == kt.shape[:-2] == v.shape[:-2]):
            return None
        if not m.internal(nodes, m2):
            return None
        heads = q.shape[-3] if q.type.rank >= 3 else 1
        attrs = {"scale": float(scale * s1 * s2), "num_heads": int(heads), "mask_kind": "additive" if mask is not None else "none"}
        return [q, kt, v] + ([mask] if mask is not None else []), attrs, nodes, m2

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        m = Matcher(g, rw)
        found = {}
        for n in g.nodes:
            r = self._match(m, n) if n.op == "softmax" else None
            if r is not None:
                ins, attrs, nodes, last = r
                found[last] = (nodes, lambda ins=ins, attrs=attrs, name=last.name: rw.emit("fused_attention", ins, attrs, name)[0])
        return replace_matches(g, rw, found)
