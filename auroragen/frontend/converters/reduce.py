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
