"""Dead code elimination: drop nodes none of whose outputs reach a graph output."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph


@dataclass(frozen=True)
class DeadCodeElimination:
    name: str = "dce"

    def apply(self, g: Graph) -> Graph:
        live = set(g.outputs)
        kept = []
        for n in reversed(g.nodes):
            if any(v in live for v in n.outputs):
                kept.append(n)
                live.update(v for v in n.inputs if v is not None)
        return Graph(g.inputs, g.outputs, kept[::-1], g.name)
