"""Reductions over sorted, non-negative `axes` (the frontend resolves ONNX's
defaults and noop_with_empty_axes), softmax-like ops over one axis, arg-max/min."""

from __future__ import annotations

import numpy as np

from ..types import DType
from .registry import register


def _reduce_type(x, axes, keepdims):
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)] if keepdims else [
        d for i, d in enumerate(x.shape) if i not in axes
    ]
    return x.with_shape(shape)


def _sum_sq(x, axis, keepdims):
    return np.sum(x * x, axis=axis, keepdims=keepdims)


REDUCE = {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_l1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "reduce_l2": lambda x, axis, keepdims: np.sqrt(_sum_sq(x, axis, keepdims)),
    "reduce_sum_square": _sum_sq,
    "reduce_log_sum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "reduce_log_sum_exp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
}


def _register_reduce():
    for name, fn in REDUCE.items():
        def ev(x, axes, keepdims, _fn=fn, _name=name):
            if x.size == 0 and _name in ("reduce_max", "reduce_min"):
                raise ValueError("reduction of an empty tensor")
            with np.errstate(all="ignore"):
                return np.asarray(_fn(x, axis=tuple(axes), keepdims=bool(keepdims))).astype(x.dtype)

        register(name, infer=_reduce_type)(ev)


_register_reduce()


@register("softmax", infer=lambda x, axis: x)
def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


@register("log_softmax", infer=lambda x, axis: x)
def log_softmax(x, axis):
    m = x - np.max(x, axis=axis, keepdims=True)
    return (m - np.log(np.sum(np.exp(m), axis=axis, keepdims=True))).astype(x.dtype)


def _arg_type(x, axis, keepdims, select_last_index=0):
    return _reduce_type(x, (axis,), keepdims).with_dtype(DType.INT64)


def _arg(fn):
    def ev(x, axis, keepdims, select_last_index=0):
        if select_last_index:
            r = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
        else:
            r = fn(x, axis=axis)
        r = r.astype(np.int64)
        return np.expand_dims(r, axis) if keepdims else r

    return ev


register("arg_max", infer=_arg_type)(_arg(np.argmax))
register("arg_min", infer=_arg_type)(_arg(np.argmin))


def _nll_type(x, target, weight=None, *, reduction, ignore_index=None):
    if target.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"target shape {list(target.shape)} does not fit input {list(x.shape)}")
    return x.with_shape(target.shape if reduction == "none" else ())


@register("nll_loss", infer=_nll_type)
def nll_loss(x, target, weight=None, *, reduction, ignore_index=None):
    """-x[n, target[n, d...], d...] * weight[target], ignored targets contributing 0 (also to the mean's weight sum)."""
    c = x.shape[1]
    t = target.astype(np.int64)
    ignored = (t == ignore_index) if ignore_index is not None else np.zeros(t.shape, bool)
    safe = np.where(ignored, 0, t)
    picked = np.take_along_axis(x, np.expand_dims(safe, 1), axis=1).squeeze(1).astype(np.float64)
    w = (weight.astype(np.float64)[safe] if weight is not None else np.ones(t.shape)) * ~ignored
    if np.any((safe < 0) | (safe >= c)):
        raise IndexError("target out of range")
    loss = -picked * w
    if reduction == "none":
        return loss.astype(x.dtype)
    if reduction == "sum":
        return np.array(loss.sum(), x.dtype)
    return np.array(loss.sum() / w.sum(), x.dtype)


@register("hardmax", infer=lambda x, axis: x)
def hardmax(x, axis):
    """1 at the first maximum along axis, 0 elsewhere."""
    am = np.expand_dims(np.argmax(x, axis=axis), axis)
    return (np.arange(x.shape[axis]).reshape([-1 if d == axis else 1 for d in range(x.ndim)]) == am).astype(x.dtype)


def _topk_type(x, k, axis, largest=1, sorted=1):
    if not 0 <= k <= x.shape[axis]:
        raise ValueError(f"k={k} is out of range for axis {axis} of size {x.shape[axis]}")
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
    return [x.with_shape(shape), x.with_shape(shape).with_dtype(DType.INT64)]


@register("topk", infer=_topk_type)
def topk(x, k, axis, largest=1, sorted=1):
    """The k largest (smallest) along axis, in order; equal values keep the lower index first."""
    key = -x if largest else x
    idx = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(idx, range(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)
