"""Compute float16 and bfloat16 ops in float32: cast inputs up, cast results back.

The C kernels store half types as their bits; ops that only move or select
data (reshape, slice, gather, concat, where, ...) run on the bits unchanged,
every other op runs in float and rounds once to the storage type.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType, Graph, Node, Value
from ..ir.ops.registry import BITWISE_OPS

HALF = (DType.FLOAT16, DType.BFLOAT16)
ON_BITS = BITWISE_OPS


@dataclass(frozen=True)
class LegalizeHalf:
    name: str = "legalize-half"

    def apply(self, g: Graph) -> Graph:
        repl: dict[Value, Value] = {}
        up_cast: dict[Value, Value] = {}  # a half value -> its float copy, made once
        nodes: list[Node] = []

        def get(v):
            return None if v is None else repl.get(v, v)

        for n in g.nodes:
            ins = [get(v) for v in n.inputs]
            touches = any(v is not None and v.dtype in HALF for v in [*ins, *n.outputs])
            if n.op in ON_BITS or not touches:
                nodes.append(n if ins == list(n.inputs) else Node(n.op, tuple(ins), n.outputs, n.attrs, n.name))
                continue
            up = []
            for v in ins:
                if v is not None and v.dtype in HALF:
                    if v not in up_cast:
                        up_cast[v] = Value(v.type.with_dtype(DType.FLOAT))
                        nodes.append(Node("cast", (v,), (up_cast[v],), {"to": DType.FLOAT.value, "src": v.dtype.value}, n.name))
                    v = up_cast[v]
                up.append(v)
            outs = [Value(v.type.with_dtype(DType.FLOAT)) if v.dtype in HALF else v for v in n.outputs]
            nodes.append(Node(n.op, tuple(up), tuple(outs), n.attrs, n.name))
            for old, new in zip(n.outputs, outs):
                if old is not new:
                    back = Value(old.type, old.name)
                    nodes.append(Node("cast", (new,), (back,), {"to": old.dtype.value, "src": DType.FLOAT.value}, n.name))
                    repl[old] = back
        return Graph(g.inputs, [get(v) for v in g.outputs], nodes, g.name)
