"""matmul / gemm -> dense: x[..., K] @ W with constant 2-D float W packed in the microkernel's column
panels (gemm's alpha and transposed B folded in), bias along the last axis, residual and activation in
the store. The kernel packs mc rows of x at a time into its workspace and multiplies every weight panel
by all of them."""

from __future__ import annotations

from math import prod

import numpy as np

from ...ir.ops.nn import check_residual, epilogue
from ...ir.ops.registry import register
from ...ir.types import DType, TensorType
from ...passes.rewrite import Rewriter
from ..target import Target
from .table import B_BLOCK_FLOATS, Lowering, const_weights, packed

DENSE_A_FLOATS = 1 << 18  # rows of x a dense kernel packs at once on vector targets: up to 1 MiB of panels

def dense_block_rows(k: int, rows: int, mr: int, budget: int = B_BLOCK_FLOATS) -> int:
    """Rows of x packed at once: a multiple of mr whose panels fit the budget, at most the whole mr-row
    blocks of x; every weight panel is then used on all of them. On vector targets the budget is
    DENSE_A_FLOATS: packing all of a transformer's 128 to 200 rows (up to 786 KB) beat blocks that stay
    in L2 by 3-6% on AVX2, each weight panel then streamed once."""
    return max(mr, min(rows // mr * mr, budget // max(k, 1) // mr * mr))


def pack_dense_weights(w: np.ndarray, nr: int) -> np.ndarray:
    """W [K, N] as ceil(N / nr) panels of [K][nr] (zero columns pad the last)."""
    k, n = w.shape
    panels = -(-n // nr)
    p = np.zeros((k, panels * nr), w.dtype)
    p[:, :n] = w
    return np.ascontiguousarray(p.reshape(k, panels, nr).transpose(1, 0, 2)).reshape(-1)

def unpack_dense_weights(wp: np.ndarray, k: int, n: int, nr: int) -> np.ndarray:
    panels = -(-n // nr)
    return np.ascontiguousarray(wp.reshape(panels, k, nr).transpose(1, 0, 2).reshape(k, panels * nr)[:, :n])

def _dense_type(x, wp, bias=None, residual=None, *, k, n, mr, nv, nr, mc=None, activation=None, act_params=()):
    if x.shape[-1] != k:
        raise ValueError(f"input's last dimension {x.shape[-1]} is not {k}")
    y = x.with_shape(x.shape[:-1] + (n,))
    return [check_residual(y, residual), TensorType(x.dtype, (max(k * (mc or mr), 1),))]

@register("dense", infer=_dense_type, work=lambda n: n.outputs[0].type.numel * n.attrs["k"])
def dense(x, wp, bias=None, residual=None, *, k, n, mr, nv, nr, mc=None, activation=None, act_params=()):
    """x @ W (+ bias over the last axis) (+ residual), activation; W packed by pack_dense_weights for a
    microkernel of mr rows by nr = nv vectors; the second output is the workspace (mc rows of x, a
    multiple of mr, packed; mr without mc)."""
    y = x.astype(np.float64) @ unpack_dense_weights(wp, k, n, nr).astype(np.float64)
    if bias is not None:
        y = y + bias
    return epilogue(y, residual, activation, act_params).astype(x.dtype), np.zeros(max(k * (mc or mr), 1), x.dtype)


def lower_dense(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    a, b = n.inputs[0], n.inputs[1]
    w = const_weights(rw, b)
    if w is None or w.ndim != 2 or n.output.dtype is not DType.FLOAT or a.type.rank < 1:
        return False
    bias = n.inputs[2] if len(n.inputs) > 2 else None
    residual = n.inputs[3] if len(n.inputs) > 3 else None
    if n.op == "gemm":
        at = n.attrs
        if at["trans_a"]:
            return False
        w = (w.T if at["trans_b"] else w) * np.float32(at["alpha"])
        if bias is not None:
            c = rw.array(bias)
            kn = w.shape[1]
            if c is not None and c.size in (1, kn) and (c.ndim < 2 or c.shape[0] == 1):
                bias = rw.constant((np.broadcast_to(c.reshape(-1), (kn,)) * np.float32(at["beta"])).astype(np.float32))
            elif at["beta"] == 1.0 and bias.shape in ((kn,), (1, kn)):
                bias = rw.emit("reshape", (bias,), {"shape": (kn,)})[0] if bias.type.rank == 2 else bias
            else:
                return False
    elif a.type.rank == 1:
        return False  # a vector times a matrix drops an axis: the plain kernel handles it
    k, cols = w.shape
    mr, nv = target.dense_tile or (target.gemm_mr, target.gemm_nv)
    mr, nv = choice.get("mr", mr), choice.get("nv", nv)
    nr = nv * target.vec_width
    wp = rw.constant(pack_dense_weights(np.ascontiguousarray(w, np.float32), nr), name=packed(b))
    budget = DENSE_A_FLOATS if target.vec_width > 1 else B_BLOCK_FLOATS
    mc = choice.get("mc") or dense_block_rows(k, prod(a.shape[:-1]), mr, budget)
    attrs = dict(k=k, n=cols, mr=mr, nv=nv, nr=nr, mc=mc,
                 activation=n.attrs.get("activation"), act_params=n.attrs.get("act_params", ()))
    y, _work = rw.emit("dense", (a, wp, bias, residual), attrs, n.name)
    rw.replace(n.output, y)
    return True


ROWS = [Lowering("matmul", "dense", lower_dense, tunes=("mr", "nv", "mc")),
        Lowering("gemm", "dense", lower_dense, tunes=("mr", "nv", "mc"))]
