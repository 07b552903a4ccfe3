"""Reductions and arg-max/min."""

from __future__ import annotations

import math

import numpy as np

from ...ir.types import DType
from ..importer import converter
from .tensor import _axes, _axis

_REDUCE = {
    "ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max", "ReduceMin": "reduce_min",
    "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1", "ReduceL2": "reduce_l2",
    "ReduceSumSquare": "reduce_sum_square", "ReduceLogSum": "reduce_log_sum", "ReduceLogSumExp": "reduce_log_sum_exp",
}


@converter(*_REDUCE)
def reduce(ctx, x, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    """Axes moved from attribute to input (ReduceSum at 13, the others at 18)."""
    r = x.type.rank
    ax = ctx.ints(axes_in, "axes") if axes_in is not None else (list(axes) if axes is not None else [])
    if not ax:
        if noop_with_empty_axes:
            return x
        ax = list(range(r))
    return ctx.emit(_REDUCE[ctx.op_type], x, axes=tuple(_axes(ctx, ax, r)), keepdims=int(keepdims))


@converter("ArgMax", "ArgMin")
def arg(ctx, x, *, axis=0, keepdims=1, select_last_index=0):
    op = "arg_max" if ctx.op_type == "ArgMax" else "arg_min"
    return ctx.emit(op, x, axis=_axis(ctx, axis, x.type.rank), keepdims=int(keepdims), select_last_index=int(select_last_index))


@converter("NegativeLogLikelihoodLoss")
def nll_loss(ctx, x, target, weight=None, *, ignore_index=None, reduction="mean"):
    if reduction not in ("none", "sum", "mean"):
        raise ctx.error(f"reduction {reduction!r} is not one of none, sum, mean")
    return ctx.emit("nll_loss", x, target, weight, reduction=reduction, ignore_index=ignore_index)


@converter("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(ctx, scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    """log-softmax over the class axis, then the negative log-likelihood; the second output is the log-softmax."""
    if reduction not in ("none", "sum", "mean"):
        raise ctx.error(f"reduction {reduction!r} is not one of none, sum, mean")
    log_prob = ctx.emit("log_softmax", scores, axis=1)
    return ctx.emit("nll_loss", log_prob, labels, weights, reduction=reduction, ignore_index=ignore_index), log_prob


@converter("Hardmax")
def hardmax(ctx, x, *, axis=None):
    """From opset 13 one axis; before it, the input is coerced to 2-D at `axis`."""
    r = x.type.rank
    axis = (-1 if ctx.opset >= 13 else 1) if axis is None else axis
    ax = _axis(ctx, axis, r)
    if ctx.opset >= 13 or ax == r - 1:
        return ctx.emit("hardmax", x, axis=ax)
    rows = math.prod(x.shape[:ax])
    flat = ctx.emit("reshape", x, shape=(rows, x.type.numel // max(rows, 1)))
    return ctx.emit("reshape", ctx.emit("hardmax", flat, axis=1), shape=x.shape)


@converter("TopK")
def topk(ctx, x, k=None, *, axis=-1, largest=1, sorted=1, **legacy):
    kk = int(ctx.const_scalar(k, "k")) if k is not None else int(legacy["k"])
    ax = _axis(ctx, axis, x.type.rank)
    if not 0 <= kk <= x.shape[ax]:
        raise ctx.error(f"k={kk} is out of range for axis {ax} of size {x.shape[ax]}")
    return ctx.emit_multi("topk", x, k=kk, axis=ax, largest=int(largest), sorted=int(sorted))


@converter("LpNormalization")
def lp_normalization(ctx, x, *, axis=-1, p=2):
    ax = _axis(ctx, axis, x.type.rank)
    if p not in (1, 2):
        raise ctx.error(f"p={p} is not 1 or 2")

    norm = ctx.emit("reduce_l1" if p == 1 else "reduce_l2", x, axes=(ax,), keepdims=1)
    zero, one = ctx.constant(np.array(0, x.dtype.np)), ctx.constant(np.array(1, x.dtype.np))
    safe = ctx.emit("where", ctx.emit("equal", norm, zero), one, norm)  # a zero vector stays zero
    return ctx.emit("div", x, safe)


@converter("RMSNormalization")
def rms_normalization(ctx, x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """x / sqrt(mean(x^2 over axis..) + epsilon) * scale, computed in float."""

    r = x.type.rank
    ax = _axis(ctx, axis, r)
    xf = x if x.dtype is DType.FLOAT else ctx.emit("cast", x, to=DType.FLOAT.value, src=x.dtype.value)
    ms = ctx.emit("reduce_mean", ctx.emit("mul", xf, xf), axes=tuple(range(ax, r)), keepdims=1)
    inv = ctx.emit("reciprocal", ctx.emit("sqrt", ctx.emit("add", ms, ctx.constant(np.array(epsilon, np.float32)))))
    y = ctx.emit("mul", xf, inv)
    if x.dtype is not DType.FLOAT:
        y = ctx.emit("cast", y, to=x.dtype.value, src=DType.FLOAT.value)
    return ctx.emit("mul", y, scale)
