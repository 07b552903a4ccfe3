"""Rebuilding a graph in one walk: keep nodes, add new ones, replace values.

Nodes and values are frozen, so a pass walks the old node list and appends to a
new one; `replace(old, new)` makes every later use of `old` read `new`. A graph
output that ends up replaced is copied into its own value again at the end, so
outputs keep their ONNX names and their own buffers.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Splat, TensorType, Value, ops
from ..ir.types import DType


class Rewriter:
    def __init__(self, g: Graph):
        self.g = g
        self.nodes: list[Node] = []
        self.repl: dict[Value, Value] = {}
        self.consts: dict[Value, np.ndarray | Splat] = {n.output: n.attrs["value"] for n in g.nodes if n.op == "constant"}
        self.users = g.users()
        self.outputs = set(g.outputs)

    # -- values ----------------------------------------------------------------
    def get(self, v: Value | None) -> Value | None:
        while v is not None and v in self.repl:
            v = self.repl[v]
        return v

    def replace(self, old: Value, new: Value) -> None:
        if old is not new:
            self.repl[old] = new

    def const(self, v: Value | None) -> np.ndarray | Splat | None:
        return None if v is None else self.consts.get(self.get(v))

    def array(self, v: Value | None) -> np.ndarray | None:
        """The dense value of a constant, or None."""
        c = self.const(v)
        if c is None:
            return None
        return c.materialize(v.type) if isinstance(c, Splat) else c

    def only_user(self, v: Value) -> Node | None:
        """The one node reading v, when v is read by exactly one node and is not a graph output."""
        users = self.users.get(v, [])
        return users[0] if len(users) == 1 and v not in self.outputs else None

    # -- nodes -----------------------------------------------------------------
    def keep(self, n: Node) -> Node:
        ins = tuple(self.get(v) for v in n.inputs)
        if ins != n.inputs:
            n = Node(n.op, ins, n.outputs, n.attrs, n.name)
        self.nodes.append(n)
        if n.op == "constant":
            self.consts[n.output] = n.attrs["value"]
        return n

    def emit(self, op: str, inputs, attrs: dict, name: str = "") -> list[Value]:
        inputs = tuple(self.get(v) for v in inputs)
        types = ops.get(op).infer_types([None if v is None else v.type for v in inputs], attrs)
        outs = tuple(Value(t) for t in types)
        self.nodes.append(Node(op, inputs, outs, attrs, name))
        return list(outs)

    def constant(self, value: np.ndarray | Splat, t: TensorType | None = None, name: str = "") -> Value:
        """A new constant; name: what the generated code calls it (the source of packed weights, say)."""
        if isinstance(value, np.ndarray):
            t = t or TensorType(DType.from_numpy(value.dtype), value.shape)
            value = np.ascontiguousarray(value).reshape(t.shape).astype(t.dtype.np, copy=False)
        v = Value(t, name)
        self.nodes.append(Node("constant", (), (v,), {"value": value}))
        self.consts[v] = value
        return v

    def graph(self) -> Graph:
        """The new graph. A replaced graph output is written by the node that now computes it
        (that node's result becomes the output value); only an input or constant is copied."""
        produced = {v for n in self.nodes if n.op != "constant" for v in n.outputs}
        subst: dict[Value, Value] = {}
        copies = []
        for o in self.g.outputs:
            v = self.get(o)
            if v is o:
                continue
            if v in produced and v not in subst and v not in self.outputs:
                subst[v] = o
            else:
                copies.append(Node("identity", (v,), (o,), {}, o.name))
        nodes = self.nodes + copies  # a copy may read a value that became another output
        if subst:
            nodes = [n if not any(v in subst for v in (*n.inputs, *n.outputs)) else
                     Node(n.op, tuple(subst.get(v, v) if v is not None else None for v in n.inputs),
                          tuple(subst.get(v, v) for v in n.outputs), n.attrs, n.name) for n in nodes]
        return Graph(self.g.inputs, list(self.g.outputs), nodes, self.g.name)
