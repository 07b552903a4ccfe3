"""fused_attention (blocked): on vector targets a float attention computes mr query rows at a time with the
GEMM microkernel (q panel x k^T in place, then probabilities x v in place), when its stack arrays stay
small. The op is the same; the rule gives it its tile (mr, nv, nr)."""

from __future__ import annotations

from ...ir.types import DType
from ...passes.rewrite import Rewriter
from ..target import Target
from .table import Lowering

ATTENTION_STACK_FLOATS = 1 << 15  # the blocked attention's stack arrays (per thread), at most: 128 KiB

def attention_stack_floats(sk: int, d: int, dv: int, mr: int, nr: int) -> int:
    """Floats of stack the blocked fused_attention takes: scores and probabilities of mr rows, the query
    panel, a tile, and zero-padded copies of the last column panel of k^T and of v when partial."""
    return 2 * mr * sk + d * mr + mr * nr + (d * nr if sk % nr else 0) + (sk * nr if dv % nr else 0)

def lower_attention(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    """On vector targets a float attention computes mr query rows at a time with the GEMM microkernel
    (q panel x k^T in place, then probabilities x v in place), when its stack arrays stay small."""
    q, kt, v = n.inputs[:3]
    if target.vec_width == 1 or q.dtype is not DType.FLOAT or "mr" in n.attrs or 0 in q.shape + kt.shape + v.shape:
        return False
    sq, d, sk, dv = q.shape[-2], q.shape[-1], kt.shape[-1], v.shape[-1]
    mr, nv = min(target.gemm_mr, sq), target.gemm_nv
    nr = nv * target.vec_width
    if attention_stack_floats(sk, d, dv, mr, nr) > ATTENTION_STACK_FLOATS:
        return False
    y, = rw.emit("fused_attention", n.inputs, dict(n.attrs, mr=mr, nv=nv, nr=nr), n.name)
    rw.replace(n.output, y)
    return True


ROWS = [Lowering("fused_attention", "fused_attention", lower_attention)]
