"""Reductions and arg-max/min."""

from __future__ import annotations

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
