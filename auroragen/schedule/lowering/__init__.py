"""Target lowering: after the graph passes, rewrite ops into the kernels that run them fastest on the target.

The kernel-selection table is LOWERINGS: one row per (op, kernel), tried in order for each node until a
row's rule takes it; a node no rule takes keeps its op and its portable kernel. Each row's module holds
all that the kernel's choice needs: the rule (when, with which tiles and workspace), the kernel op's
registration (type rule, numpy semantics, parallel work) and its weight packing. The plan that prints
it is in emit/kernels, its C in templates/kernels.

    op               kernel           module          tuned tiles  rank
    matmul, gemm     dense            dense.py        mr, nv, mc
    rnn              rnn_packed       rnn.py          -
    conv             conv_direct      conv_direct.py  mr, nv       1
    conv             conv_gemm        conv_gemm.py    mr, nv       2
    conv             conv_flat        conv_flat.py    -            3
    fused_attention  fused_attention  attention.py    -  (blocked: the rule sets its tile)

Every module of this package but `table` gives its rows as ROWS; the table is gathered from them (a new
module needs no edit here), ordered by op, then rank. CONTRIBUTING.md walks through adding one.
"""

from __future__ import annotations

import importlib
import pkgutil

from ...ir import Graph
from ...ir.graph import map_regions
from ...passes.dce import DeadCodeElimination
from ...passes.rewrite import Rewriter
from ..target import Target
from .conv_direct import keep_channels_last
from .table import Lowering, micro_shapes, tuning_key


def _gather() -> list[Lowering]:
    rows = []
    for info in pkgutil.iter_modules(__path__):
        if info.name != "table":
            rows += importlib.import_module(f"{__name__}.{info.name}").ROWS
    return sorted(rows, key=lambda row: (row.op, row.rank, row.kernel))


LOWERINGS: list[Lowering] = _gather()
TUNABLE = tuple(dict.fromkeys(row.op for row in LOWERINGS if row.tunes))  # ops whose tiles a tuning file may choose
KERNEL_TUNES = {row.kernel: row.tunes for row in LOWERINGS if row.tunes}  # ... the kernels they become, and what
TUNED_KERNELS = tuple(KERNEL_TUNES)  # may be chosen of theirs
_BY_OP: dict[str, list[Lowering]] = {}
for _row in LOWERINGS:
    _BY_OP.setdefault(_row.op, []).append(_row)

__all__ = ["KERNEL_TUNES", "LOWERINGS", "TUNABLE", "TUNED_KERNELS", "Lowering", "lower", "micro_shapes", "tuning_key"]


def lower(g: Graph, target: Target, parallel: bool = False, tuning: dict | None = None) -> Graph:
    """parallel: the code is built with --openmp (kernels whose parallel form needs more workspace).
    tuning: tuning_key -> the tile choices to use instead of the heuristics' (auroragen.tune)."""
    g = map_regions(g, lambda r: lower(r, target, parallel, tuning))
    rw = Rewriter(g)
    changed = False
    for n in g.nodes:
        choice = tuning.get(tuning_key(n, target, parallel), {}) if tuning and n.op in TUNABLE else {}
        if any(row.rule(rw, n, target, parallel, choice) for row in _BY_OP.get(n.op, ())):
            changed = True
        else:
            rw.keep(n)
    if not changed:
        return g
    g = DeadCodeElimination().apply(rw.graph())
    return keep_channels_last(g) if target.vec_width > 1 else g
