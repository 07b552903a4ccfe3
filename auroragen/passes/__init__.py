"""Graph passes and the pipeline. One pass per file: a frozen dataclass with a
`name` and `apply(graph) -> graph`; the verifier runs after each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..errors import AuroraError
from ..ir import Graph, print_graph, verify
from ..ir.graph import map_regions
from .cse import CommonSubexpressions
from .dce import DeadCodeElimination
from .fold_affine import FoldAffine
from .fold_constants import FoldConstants
from .fuse_elementwise import FuseElementwise
from .fuse_epilogue import FuseEpilogue
from .legalize_half import LegalizeHalf
from .pattern_attention import PatternAttention
from .pattern_gelu import PatternGelu
from .pattern_layernorm import PatternLayerNorm
from .simplify import Simplify


class Pass(Protocol):
    name: str

    def apply(self, g: Graph) -> Graph: ...


@dataclass(frozen=True)
class Stage:
    run: Pass
    level: int  # the lowest -O level that runs it; 0: always (needed for correct C)
    why: str


# The pipeline, in order, with why each stage is where it is.
PIPELINE: list[Stage] = [
    Stage(FoldConstants(), 1, "folds what the importer left (ops on constants that only passes expose)"),
    Stage(Simplify(), 1, "drops no-op reshapes, casts, transposes, x*1, x+0 and merges transpose/reshape chains"),
    Stage(CommonSubexpressions(), 1, "merges equal constants and repeated computations"),
    Stage(PatternLayerNorm(), 2, "a spelled-out layer normalisation becomes one op (before fusion takes its Add apart)"),
    Stage(PatternGelu(), 2, "GELU in its Erf and Tanh forms, and x*sigmoid(x), become one op each"),
    Stage(PatternAttention(), 2, "q k^T scale, mask, softmax, v become one attention op that never stores the scores"),
    Stage(FoldAffine(), 2, "BatchNorm and per-channel Mul/Add fold into the Conv/Gemm before them"),
    Stage(FuseEpilogue(), 2, "bias, residual add and activation run inside the Conv/Gemm/MatMul loop"),
    Stage(FuseElementwise(), 2, "what elementwise work is left runs as one loop per chain, intermediates never stored"),
    Stage(DeadCodeElimination(), 0, "removes what folding and fusion left unused, and unused initializers"),
    Stage(LegalizeHalf(), 0, "the C kernels compute float16/bfloat16 in float: cast around every op that is not a move"),
]
DEFAULT_LEVEL = 2


def select(level: int = DEFAULT_LEVEL, names: list[str] | None = None) -> list[Pass]:
    """The passes of an -O level, or exactly the named ones (plus those C needs) in pipeline order."""
    known = {s.run.name for s in PIPELINE}
    for n in names or []:
        if n not in known:
            raise AuroraError(f"--passes: no pass named {n!r} (passes: {', '.join(s.run.name for s in PIPELINE)})")
    if names is not None:
        return [s.run for s in PIPELINE if s.level == 0 or s.run.name in names]
    return [s.run for s in PIPELINE if s.level <= level]


def run_pipeline(g: Graph, passes: list[Pass] | None = None, *, dump_after: str | None = None,
                 dump: Callable[[str], None] | None = None) -> Graph:
    verify(g)
    for p in select() if passes is None else passes:
        g = apply_nested(p, g)
        verify(g)
        if dump_after == p.name and dump is not None:
            dump(print_graph(g))
    return g


def apply_nested(p: Pass, g: Graph) -> Graph:
    """A pass over a graph and, first, over every region inside it (each region on its own)."""
    return p.apply(map_regions(g, lambda r: apply_nested(p, r)))


def names() -> list[str]:
    return [s.run.name for s in PIPELINE]
