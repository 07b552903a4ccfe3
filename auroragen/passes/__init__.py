"""Graph passes and the pipeline. One pass per file: a frozen dataclass with a
`name` and `apply(graph) -> graph`; the verifier runs after each one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..ir import Graph, print_graph, verify
from .dce import DeadCodeElimination
from .legalize_half import LegalizeHalf


class Pass(Protocol):
    name: str

    def apply(self, g: Graph) -> Graph: ...


# The pipeline, in order, with why each stage is where it is.
PIPELINE: list[Pass] = [
    DeadCodeElimination(),  # import leaves folded shape arithmetic and unused initializers behind
    LegalizeHalf(),  # the C kernels compute float16/bfloat16 in float: cast around every op that is not a move
]


def run_pipeline(g: Graph, passes: list[Pass] | None = None, *, dump_after: str | None = None,
                 dump: Callable[[str], None] | None = None) -> Graph:
    verify(g)
    for p in PIPELINE if passes is None else passes:
        g = p.apply(g)
        verify(g)
        if dump_after == p.name and dump is not None:
            dump(print_graph(g))
    return g


def names() -> list[str]:
    return [p.name for p in PIPELINE]
