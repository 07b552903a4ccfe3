"""Constant folding: an op whose inputs are all constants becomes a constant, by the
op's own numpy semantics (the same rule the importer folds with)."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from ..ir.fold import fold
from .rewrite import Rewriter


@dataclass(frozen=True)
class FoldConstants:
    name: str = "fold-constants"

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        for n in g.nodes:
            ins = [rw.get(v) for v in n.inputs]
            if n.op != "constant" and ins and all(v is None or v in rw.consts for v in ins) and any(ins):
                out = fold(n.op, [rw.const(v) for v in ins], [None if v is None else v.type for v in ins], n.attrs,
                           [v.type for v in n.outputs])
                if out is not None:
                    for v, value in zip(n.outputs, out):
                        rw.replace(v, rw.constant(value, v.type))
                    continue
            rw.keep(n)
        return rw.graph()
