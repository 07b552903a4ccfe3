"""Common subexpression elimination: two nodes with the same op, inputs and attributes
compute the same values; the later one reads the earlier one's. Equal constants merge."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Splat
from ..ir.printer import format_attr
from .rewrite import Rewriter


def _attr_key(v) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{v.shape}:{hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_attr_key(x) for x in v) + "]"
    if isinstance(v, Splat):
        return f"splat({v.value!r})"
    return format_attr(v, True)


@dataclass(frozen=True)
class CommonSubexpressions:
    name: str = "cse"

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        seen: dict[tuple, tuple] = {}
        for n in g.nodes:
            ins = tuple(rw.get(v) for v in n.inputs)
            key = (n.op, tuple(None if v is None else v.uid for v in ins),
                   tuple((k, _attr_key(n.attrs[k])) for k in sorted(n.attrs)), tuple(v.type for v in n.outputs))
            if key in seen:
                for old, new in zip(n.outputs, seen[key]):
                    rw.replace(old, new)
                continue
            seen[key] = rw.keep(n).outputs
        return rw.graph()
