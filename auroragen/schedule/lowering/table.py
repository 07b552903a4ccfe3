"""The row type of the kernel-selection table, and what every lowering rule shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...ir import Node
from ...passes.rewrite import Rewriter
from ..target import Target

B_BLOCK_FLOATS = 32768  # input panels packed per block: 128 KiB, to stay in L2 beside a weight panel

Rule = Callable[[Rewriter, Node, Target, bool, dict], bool]


@dataclass(frozen=True)
class Lowering:
    """One row of the kernel-selection table: `op` becomes `kernel` where `rule` accepts the node.

    rule(rw, node, target, parallel, choice) checks the target, types and shapes, and when it takes the
    node emits the kernel's node(s) through rw (packing constant weights there, once) and returns True;
    parallel: the code is built with --openmp. tunes: the tile attributes a tuning file may choose for
    the kernel (passed in as choice; see auroragen.tune), none when its tiles are not tuned. rank: where
    the row is tried among the rows of its op, lowest first."""

    op: str
    kernel: str
    rule: Rule
    tunes: tuple[str, ...] = ()
    rank: int = 0


def packed(v) -> str:
    """The name of a constant packed from v: v's own, so that the generated code still says whose it is."""
    return f"{v.name}, packed" if v.name else "packed"


def const_weights(rw: Rewriter, v):
    """A constant's array, unless it is a splat (packing would turn a one-number constant into a full one)."""
    c = rw.const(v)
    return c if isinstance(c, np.ndarray) else None


def tuning_key(n, target: Target, parallel: bool) -> str:
    """What a tuning file records a node's choices under: target, threading, op, input types and
    attributes (so every node computing the same thing shares one entry; names play no part)."""
    ins = ",".join("-" if v is None else f"{v.dtype.name}{list(v.shape)}" for v in n.inputs)
    attrs = ",".join(f"{k}={v!r}" for k, v in sorted(n.attrs.items()))
    return f"{target.name}{'+openmp' if parallel else ''} {n.op}({ins}) {{{attrs}}}"

def micro_shapes(target: Target) -> list[tuple[int, int]]:
    """The microkernel tiles (mr pixels or rows, nv vectors) worth timing on a target: for each nv up to 4 the
    largest mr (at most 16) whose accumulators, nv weight vectors and a broadcast fit the vector registers, and one less,
    keeping those with at least half the registers as accumulators (fewer cannot hide the FMA latency).
    Scalar targets keep theirs (the compiler allocates their registers)."""
    regs = target.vec_regs
    if not regs:
        return [(target.gemm_mr, target.gemm_nv)]
    out = []
    for nv in range(1, 5):
        top = min(16, (regs - nv - 1) // nv)
        out += [(mr, nv) for mr in (top, top - 1) if mr >= 2 and mr * nv >= regs // 2]
    return out
