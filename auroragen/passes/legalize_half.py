"""Compute float16, bfloat16 and narrow-type ops in float32 (narrow integers in
int32): cast inputs up, cast results back.

The C kernels store these types as their bits; ops that only move or select
data (reshape, slice, gather, concat, where, ...) run on the bits unchanged,
every other op runs in the wide type and rounds once to the storage type.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType, Graph, Node, Value, ops

HALF = (DType.FLOAT16, DType.BFLOAT16)


def needs_widening(dt: DType) -> bool:
    return dt in HALF or dt.is_narrow


def _wide(dt: DType) -> DType:
    return DType.INT32 if dt.is_narrow_int else DType.FLOAT


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
            touches = any(v is not None and needs_widening(v.dtype) for v in [*ins, *n.outputs])
            if ops.get(n.op).bitwise or not touches:
                nodes.append(n if ins == list(n.inputs) else Node(n.op, tuple(ins), n.outputs, n.attrs, n.name))
                continue
            up = []
            for v in ins:
                if v is not None and needs_widening(v.dtype):
                    if v not in up_cast:
                        up_cast[v] = Value(v.type.with_dtype(_wide(v.dtype)))
                        nodes.append(Node("cast", (v,), (up_cast[v],), {"to": _wide(v.dtype).value, "src": v.dtype.value}, n.name))
                    v = up_cast[v]
                up.append(v)
            outs = [Value(v.type.with_dtype(_wide(v.dtype))) if needs_widening(v.dtype) else v for v in n.outputs]
            nodes.append(Node(n.op, tuple(up), tuple(outs), n.attrs, n.name))
            for old, new in zip(n.outputs, outs):
                if old is not new:
                    back = Value(old.type, old.name)
                    nodes.append(Node("cast", (new,), (back,), {"to": old.dtype.value, "src": new.dtype.value}, n.name))
                    repl[old] = back
        return Graph(g.inputs, [get(v) for v in g.outputs], nodes, g.name)
