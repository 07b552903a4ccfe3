"""Layer normalisation spelled out (as exporters write it below opset 17) becomes one op.

    m = ReduceMean(x, trailing axes);  d = x - m
    v = ReduceMean(d^2 or d*d);        y = d / Sqrt(v + eps)   [* gamma] [+ beta]
    -> aurora.layernorm(x, gamma, beta) {axis, epsilon}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node, Value
from .match import Matcher, replace_matches
from .rewrite import Rewriter


def _trailing(n: Node, rank: int) -> int | None:
    """The first normalised axis when n reduces exactly the trailing axes with keepdims."""
    axes = sorted(n.attrs["axes"])
    if not n.attrs["keepdims"] or axes != list(range(rank - len(axes), rank)):
        return None
    return axes[0]


@dataclass(frozen=True)
class PatternLayerNorm:
    name: str = "pattern-layernorm"

    def _match(self, m: Matcher, div: Node):
        d, s = div.inputs
        sub, sq = m.op(d, "sub"), m.op(s, "sqrt")
        if sub is None or sq is None:
            return None
        x, mean = sub.inputs
        rm = m.op(mean, "reduce_mean")
        if rm is None or rm.inputs[0] is not x or x.type != d.type:
            return None
        axis = _trailing(rm, x.type.rank)
        add = m.op(sq.inputs[0], "add")
        if axis is None or add is None:
            return None
        var, eps_v = add.inputs if m.scalar(add.inputs[1]) is not None else add.inputs[::-1]
        eps = m.scalar(eps_v)
        rv = m.op(var, "reduce_mean")
        if eps is None or rv is None or _trailing(rv, x.type.rank) != axis:
            return None
        p = m.op(rv.inputs[0], "pow", "mul")
        if p is None or p.inputs[0] is not d or not (p.op == "mul" and p.inputs[1] is d or p.op == "pow" and m.near(p.inputs[1], 2.0)):
            return None
        nodes = [rm, sub, p, rv, add, sq, div]
        out, gamma, beta = div, None, None
        for op in ("mul", "add"):
            us = m.users.get(out.output, [])
            if len(us) == 1 and us[0].op == op:
                c = m.other(us[0], out.output)
                a = m.rw.array(c)
                if a is not None and a.ndim <= x.type.rank - axis and us[0].output.type == x.type:
                    if op == "mul":
                        gamma = c
                    else:
                        beta = c
                    nodes.append(us[0])
                    out = us[0]
        if not m.internal(nodes, out):
            return None
        return x, axis, float(eps), gamma, beta, nodes, out

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        m = Matcher(g, rw)
        found = {}
        for n in g.nodes:
            r = self._match(m, n) if n.op == "div" and n.output.dtype.is_float else None
            if r is not None:
                found[r[-1]] = (r[5], lambda r=r: self._build(rw, *r))
        return replace_matches(g, rw, found)

    def _build(self, rw: Rewriter, x: Value, axis: int, eps: float, gamma, beta, nodes, last: Node) -> Value:
        norm = x.shape[axis:]

        def full(c: Value | None, fill: float) -> Value:
            a = np.full(norm, fill, x.dtype.np) if c is None else np.broadcast_to(rw.array(c), norm).astype(x.dtype.np)
            return rw.constant(np.ascontiguousarray(a))

        return rw.emit("layernorm", [x, full(gamma, 1.0), full(beta, 0.0)], {"axis": axis, "epsilon": eps}, last.name)[0]
