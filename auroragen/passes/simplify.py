"""No-op elimination and algebraic simplification.

Removed: Identity that is not a graph output's own copy, Reshape/Expand/Slice/Pad that
change nothing, identity Transpose, Cast to the same type, Concat of one input,
x * 1, x / 1, x + 0, x - 0 (where the other operand leaves shape and type alone).
Merged: Transpose of Transpose (one transpose, or none), Reshape of Reshape.
Inlined: the branch an `aurora.if` takes when its condition has become a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node, Value
from .rewrite import Rewriter


def _all(rw: Rewriter, v: Value | None, x: float) -> bool:
    a = rw.array(v)
    return a is not None and a.size > 0 and bool(np.all(a == x))


def _noop(rw: Rewriter, n: Node) -> Value | None:
    """The value n's output equals, when n changes nothing."""
    ins = [rw.get(v) for v in n.inputs]
    out = n.outputs[0] if n.outputs else None
    x = ins[0] if ins else None
    if out is None or x is None:
        return None
    same = x.type == out.type
    if n.op in ("reshape", "expand") and same:
        return x
    if n.op == "pad" and not any(n.attrs["pads"]):
        return x
    if n.op == "slice" and same and all(s == 1 for s in n.attrs["steps"]) and not any(n.attrs["starts"]):
        return x
    if n.op == "identity" and out not in rw.outputs:
        return x
    if n.op == "transpose" and list(n.attrs["perm"]) == sorted(n.attrs["perm"]):
        return x
    if n.op == "cast" and same:
        return x
    if n.op == "concat" and len(ins) == 1:
        return x
    if n.op in ("mul", "add", "sub", "div") and len(ins) == 2:
        unit = 1.0 if n.op in ("mul", "div") else 0.0
        if ins[0].type == out.type and _all(rw, ins[1], unit):
            return ins[0]
        if n.op in ("mul", "add") and ins[1].type == out.type and _all(rw, ins[0], unit):
            return ins[1]
    return None


def _inline_branch(rw: Rewriter, n: Node) -> list[Node]:
    """An `aurora.if` whose condition became a constant: the branch taken, in its place."""
    taken = bool(rw.array(n.inputs[0]).reshape(-1)[0])
    branch = n.attrs["then_branch" if taken else "else_branch"]
    for formal, actual in zip(branch.inputs, n.inputs[1:]):
        rw.replace(formal, rw.get(actual))
    kept = [rw.keep(b) for b in branch.nodes]
    for out, res in zip(n.outputs, branch.outputs):
        rw.replace(out, rw.get(res))
    return kept


@dataclass(frozen=True)
class Simplify:
    name: str = "simplify"

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        producer: dict[Value, Node] = {}
        for n in g.nodes:
            if n.op == "if" and rw.array(n.inputs[0]) is not None:
                for kept in _inline_branch(rw, n):
                    producer.update(dict.fromkeys(kept.outputs, kept))
                continue
            same = _noop(rw, n)
            if same is not None:
                rw.replace(n.outputs[0], same)
                continue
            ins = [rw.get(v) for v in n.inputs]
            src = producer.get(ins[0]) if ins else None
            if n.op == "transpose" and src is not None and src.op == "transpose":
                p1, p2 = src.attrs["perm"], n.attrs["perm"]
                perm = tuple(p1[i] for i in p2)
                base = src.inputs[0]
                if list(perm) == sorted(perm):
                    rw.replace(n.output, base)
                else:
                    (y,) = rw.emit("transpose", [base], {"perm": perm}, n.name)
                    rw.replace(n.output, y)
                    producer[y] = rw.nodes[-1]
                continue
            if n.op == "reshape" and src is not None and src.op == "reshape":
                base = src.inputs[0]
                if base.shape == n.output.shape:
                    rw.replace(n.output, base)
                else:
                    (y,) = rw.emit("reshape", [base], dict(n.attrs), n.name)
                    rw.replace(n.output, y)
                    producer[y] = rw.nodes[-1]
                continue
            kept = rw.keep(n)
            for v in kept.outputs:
                producer[v] = kept
        return rw.graph()
