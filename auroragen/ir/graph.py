"""Values, nodes and graphs of the Aurora IR.

A graph is a list of nodes in execution order over SSA values. Each value is
made by exactly one node (constants by an `aurora.constant` node) or is a
graph input. Values and nodes are frozen; passes build new node lists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import DType, TensorType

_ids = itertools.count()


@dataclass(frozen=True, eq=False)
class Value:
    """One SSA tensor value. `name` is the ONNX name it came from (untrusted text)."""

    type: TensorType
    name: str = ""
    uid: int = field(default_factory=lambda: next(_ids))

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    def __repr__(self) -> str:
        return f"Value({self.uid}: {self.type} {self.name!r})"


@dataclass(frozen=True)
class Splat:
    """A constant whose every element is `value`: kept small however large its shape."""

    value: float | int | bool

    def materialize(self, t: TensorType) -> np.ndarray:
        return np.full(t.shape, self.value, dtype=t.dtype.np)


@dataclass(frozen=True, eq=False)
class Node:
    """One operation: `op` is the registry name (printed as `aurora.<op>`)."""

    op: str
    inputs: tuple[Value | None, ...]
    outputs: tuple[Value, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the ONNX node name, for messages

    @property
    def output(self) -> Value:
        assert len(self.outputs) == 1, self
        return self.outputs[0]

    @property
    def regions(self) -> dict[str, Graph]:
        """The graphs this node holds (an `aurora.if`'s branches), by attribute name."""
        return {k: v for k, v in self.attrs.items() if isinstance(v, Graph)}

    def const_value(self, t: TensorType) -> np.ndarray:
        """For an `aurora.constant`: its value as a dense array."""
        v = self.attrs["value"]
        return v.materialize(t) if isinstance(v, Splat) else v

    def __repr__(self) -> str:
        ins = ", ".join("_" if v is None else str(v.uid) for v in self.inputs)
        outs = ", ".join(str(v.uid) for v in self.outputs)
        return f"Node({outs} = {self.op}({ins}) {self.name!r})"


@dataclass(eq=False)
class Graph:
    inputs: list[Value]
    outputs: list[Value]
    nodes: list[Node]
    name: str = "main"

    def producers(self) -> dict[Value, Node]:
        return {v: n for n in self.nodes for v in n.outputs}

    def users(self) -> dict[Value, list[Node]]:
        out: dict[Value, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v is not None:
                    out.setdefault(v, []).append(n)
        return out

    def constants(self) -> dict[Value, Node]:
        return {n.output: n for n in self.nodes if n.op == "constant"}

    def values(self) -> list[Value]:
        seen: dict[Value, None] = dict.fromkeys(self.inputs)
        for n in self.nodes:
            seen.update(dict.fromkeys(n.outputs))
        return list(seen)

    def walk(self):
        """Every node, those inside regions too (a region's nodes right after the node holding it)."""
        for n in self.nodes:
            yield n
            for r in n.regions.values():
                yield from r.walk()

    def all_constants(self) -> dict[Value, Node]:
        """constants(), regions included."""
        return {n.output: n for n in self.walk() if n.op == "constant"}


def map_regions(g: Graph, fn) -> Graph:
    """g with every region of its nodes replaced by fn(region); g itself when nothing changes."""
    nodes = []
    changed = False
    for n in g.nodes:
        regions = n.regions
        if regions:
            new = {k: fn(r) for k, r in regions.items()}
            if any(new[k] is not r for k, r in regions.items()):
                n = Node(n.op, n.inputs, n.outputs, {**n.attrs, **new}, n.name)
                changed = True
        nodes.append(n)
    return Graph(g.inputs, g.outputs, nodes, g.name) if changed else g
