"""GELU and SiLU as torch's exporters spell them, recognised as one op each.

    x * 0.5 * (1 + erf(x / sqrt(2)))                                 -> aurora.gelu {approximate = 0}
    x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))          -> aurora.gelu {approximate = 1}
    x * sigmoid(x)                                                   -> aurora.swish {alpha = 1.0}

The factors 0.5 and x may come in any order and grouping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import Graph, Node, Value
from .match import Matcher, replace_matches
from .rewrite import Rewriter


def _inner(m: Matcher, n: Node) -> tuple[Value, list[Node], int] | None:
    """For erf/tanh node n: (x, the nodes of its argument, approximate) when it is GELU's."""
    arg = n.inputs[0]
    if n.op == "erf":
        d = m.op(arg, "div", "mul")
        if d is None:
            return None
        x, c = d.inputs
        if (d.op == "div" and m.near(c, math.sqrt(2))) or (d.op == "mul" and m.near(c, 1 / math.sqrt(2))):
            return x, [d], 0
        if d.op == "mul" and m.near(x, 1 / math.sqrt(2)):
            return c, [d], 0
        return None
    # tanh(c1 * (x + c2 * x^3))
    s = m.op(arg, "mul")
    if s is None:
        return None
    a, b = s.inputs
    inner, c1 = (b, a) if m.scalar(a) is not None else (a, b)
    if not m.near(c1, math.sqrt(2 / math.pi)):
        return None
    add = m.op(inner, "add")
    if add is None:
        return None
    for x, cube_term in (add.inputs, add.inputs[::-1]):
        t = m.op(cube_term, "mul")
        if t is None:
            continue
        p, k = t.inputs if m.scalar(t.inputs[1]) is not None else t.inputs[::-1]
        if not m.near(k, 0.044715):
            continue
        pw = m.op(p, "pow")
        if pw is not None and pw.inputs[0] is x and m.near(pw.inputs[1], 3.0):
            return x, [s, add, t, pw], 1
    return None


@dataclass(frozen=True)
class PatternGelu:
    name: str = "pattern-gelu"

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        m = Matcher(g, rw)
        found: dict[Node, tuple[Value, list[Node], str, dict]] = {}  # last node -> (x, nodes, op, attrs)
        for n in g.nodes:
            if n.op in ("erf", "tanh"):
                self._gelu(m, n, found)
            elif n.op == "sigmoid":
                u = m.users.get(n.output, [])
                if len(u) == 1 and u[0].op == "mul" and m.other(u[0], n.output) is n.inputs[0] and m.internal([n, u[0]], u[0]):
                    found[u[0]] = (n.inputs[0], [n, u[0]], "swish", {"alpha": 1.0})
        return replace_matches(g, rw, {last: (nodes, lambda x=x, op=op, attrs=attrs, name=last.name: rw.emit(op, [x], attrs, name)[0])
                                       for last, (x, nodes, op, attrs) in found.items()})

    def _gelu(self, m: Matcher, n: Node, found) -> None:
        inner = _inner(m, n)
        if inner is None:
            return
        x, nodes, approximate = inner
        add = m.users.get(n.output, [])
        if len(add) != 1 or add[0].op != "add" or not m.near(m.other(add[0], n.output), 1.0):
            return
        nodes = nodes + [n, add[0]]
        cur, need_x, need_half = add[0].output, True, True
        while need_x or need_half:
            us = m.users.get(cur, [])
            if len(us) != 1 or us[0].op != "mul":
                return
            mul = us[0]
            f = m.other(mul, cur)
            if f is x and need_x:
                need_x = False
            elif m.near(f, 0.5) and need_half:
                need_half = False
            else:
                h = m.op(f, "mul")  # x * 0.5 made apart
                if h is None or not (need_x and need_half) or x not in h.inputs or not m.near(m.other(h, x), 0.5):
                    return
                nodes.append(h)
                need_x = need_half = False
            nodes.append(mul)
            cur = mul.output
        if m.internal(nodes, nodes[-1]):
            found[nodes[-1]] = (x, nodes, "gelu", {"approximate": approximate})
