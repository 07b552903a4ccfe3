"""Helpers for pattern passes: walk producers, read scalar constants, check that a
matched subgraph's intermediate values are read only inside it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir import Graph, Node, Value
from .rewrite import Rewriter


def replace_matches(g: Graph, rw: Rewriter, found: dict[Node, tuple[list[Node], Callable[[], Value]]]) -> Graph:
    """Rebuild g with every match replaced: at its last node `build()` makes the new value,
    and the other matched nodes are dropped."""
    drop = {k for nodes, _ in found.values() for k in nodes}
    for n in g.nodes:
        if n in found:
            rw.replace(n.outputs[0], found[n][1]())
        elif n not in drop:
            rw.keep(n)
    return rw.graph()


class Matcher:
    def __init__(self, g: Graph, rw: Rewriter):
        self.rw = rw
        self.producer: dict[Value, Node] = {v: n for n in g.nodes for v in n.outputs}
        self.users = g.users()
        self.outputs = set(g.outputs)

    def op(self, v: Value | None, *ops: str) -> Node | None:
        """v's producer when it is one of ops."""
        n = self.producer.get(v) if v is not None else None
        return n if n is not None and n.op in ops else None

    def scalar(self, v: Value | None) -> float | None:
        """The value of a constant whose elements are all equal."""
        a = self.rw.array(v)
        if a is None or a.size == 0 or not np.all(a == a.reshape(-1)[0]):
            return None
        return float(a.reshape(-1)[0])

    def near(self, v: Value | None, x: float, rel: float = 1e-3) -> bool:
        s = self.scalar(v)
        return s is not None and abs(s - x) <= rel * abs(x)

    def other(self, n: Node, v: Value) -> Value:
        a, b = n.inputs[:2]
        return b if a is v else a

    def internal(self, nodes: list[Node], last: Node) -> bool:
        """Every value the matched nodes make, but the last one's, is read only by matched nodes."""
        inside = set(nodes)
        for n in nodes:
            if n is last:
                continue
            for v in n.outputs:
                if v in self.outputs or any(u not in inside for u in self.users.get(v, [])):
                    return False
        return True
