"""Data movement ops. Attributes are canonical: every index list is resolved
to non-negative, per-axis values by the frontend."""

from __future__ import annotations

import numpy as np

from ..graph import Splat
from ..types import DType, TensorType
from .elementwise import broadcast_shape
from .registry import register


def _constant_type(*, value, type):
    if isinstance(value, Splat):
        return type
    return TensorType(DType.from_numpy(value.dtype), value.shape) if type is None else type


@register("constant", infer=lambda *, value, type=None: _constant_type(value=value, type=type), bitwise=True)
def constant(*, value, type=None):
    """A compile-time tensor; a Splat stands for a tensor of one repeated value."""
    return value.materialize(type) if isinstance(value, Splat) else value


@register("identity", infer=lambda x: x, bitwise=True, elementwise=True)
def identity(x):
    """A copy: used where a graph output must be a buffer of its own."""
    return x.copy()


def _reshape_type(x, shape):
    t = x.with_shape(shape)
    if t.numel != x.numel:
        raise ValueError(f"cannot reshape {list(x.shape)} to {list(shape)}")
    return t


@register("reshape", infer=_reshape_type, view=True, bitwise=True)
def reshape(x, shape):
    """Same bytes, new shape: Reshape, Flatten, Squeeze and Unsqueeze all become this."""
    return x.reshape(shape)


def _transpose_type(x, perm):
    if sorted(perm) != list(range(x.rank)):
        raise ValueError(f"perm {list(perm)} is not a permutation of {x.rank} axes")
    return x.with_shape([x.shape[p] for p in perm])


@register("transpose", infer=_transpose_type, bitwise=True)
def transpose(x, perm):
    return np.ascontiguousarray(np.transpose(x, perm))


def _concat_type(*xs, axis):
    base = xs[0]
    for t in xs[1:]:
        if t.dtype != base.dtype or t.rank != base.rank or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, base.shape)) if i != axis
        ):
            raise ValueError("inputs " + ", ".join(str(x) for x in xs) + f" do not concatenate on axis {axis}")
    shape = list(base.shape)
    shape[axis] = sum(t.shape[axis] for t in xs)
    return base.with_shape(shape)


@register("concat", infer=_concat_type, bitwise=True)
def concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _split_type(x, axis, split):
    if sum(split) != x.shape[axis]:
        raise ValueError(f"split {list(split)} does not sum to dimension {x.shape[axis]}")
    return [x.with_shape(x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in split]


@register("split", infer=_split_type, bitwise=True)
def split(x, axis, split):
    return tuple(np.split(x, np.cumsum(split)[:-1], axis=axis))


def slice_len(start: int, end: int, step: int) -> int:
    return max(0, (end - start + (step - (1 if step > 0 else -1))) // step)


def _slice_type(x, starts, ends, steps):
    return x.with_shape([slice_len(s, e, st) for s, e, st in zip(starts, ends, steps)])


@register("slice", infer=_slice_type, bitwise=True)
def slice_(x, starts, ends, steps):
    """Per axis: start, end (exclusive; -1 means before index 0 for negative steps), step."""
    idx = tuple(slice(s, None if e < 0 else e, st) for s, e, st in zip(starts, ends, steps))
    return np.ascontiguousarray(x[idx])


def _gather_type(x, idx, axis):
    if not idx.dtype.is_int:
        raise ValueError("indices must be integers")
    return x.with_shape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


@register("gather", infer=_gather_type, bitwise=True)
def gather(x, idx, axis):
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    if np.any((idx < 0) | (idx >= x.shape[axis])):
        raise IndexError("gather index out of range")
    return np.take(x, idx, axis=axis)


def _pad_type(x, pads, mode="constant", value=0.0):
    r = x.rank
    return x.with_shape([x.shape[i] + pads[i] + pads[i + r] for i in range(r)])


@register("pad", infer=_pad_type, bitwise=True)
def pad(x, pads, mode="constant", value=0.0):
    """pads: begin of every axis, then end of every axis (may be negative: crops)."""
    r = x.ndim
    crop = tuple(slice(max(0, -pads[i]), x.shape[i] - max(0, -pads[i + r])) for i in range(r))
    x = x[crop]
    width = [(max(0, pads[i]), max(0, pads[i + r])) for i in range(r)]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=np.array(value).astype(x.dtype))
    return np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])


def _expand_type(x, shape):
    return x.with_shape(broadcast_shape(x.shape, tuple(shape)))


@register("expand", infer=_expand_type, bitwise=True)
def expand(x, shape):
    return np.ascontiguousarray(np.broadcast_to(x, broadcast_shape(x.shape, tuple(shape))))


# -- index ops: gather and scatter by index tensors ------------------------------------------


def _wrap(idx, n):
    idx = np.where(idx < 0, idx + n, idx)
    if np.any((idx < 0) | (idx >= n)):
        raise IndexError("index out of range")
    return idx


def _gather_elements_type(x, idx, axis):
    if idx.rank != x.rank:
        raise ValueError(f"indices rank {idx.rank} differs from data rank {x.rank}")
    return x.with_shape(idx.shape)


@register("gather_elements", infer=_gather_elements_type, bitwise=True)
def gather_elements(x, idx, axis):
    return np.take_along_axis(x, _wrap(idx, x.shape[axis]), axis=axis)


_REDUCE_FN = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


@register("scatter_elements", infer=lambda x, idx, upd, axis, reduction="none": x)
def scatter_elements(x, idx, upd, axis, reduction="none"):
    out = x.copy()
    idx = _wrap(idx, x.shape[axis])
    fn = _REDUCE_FN[reduction]
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[axis] = idx[pos]
        tgt = tuple(tgt)
        out[tgt] = upd[pos] if fn is None else fn(out[tgt], upd[pos])
    return out


@register("scatter_nd", infer=lambda x, idx, upd, reduction="none": x)
def scatter_nd(x, idx, upd, reduction="none"):
    out = x.copy()
    k = idx.shape[-1]
    fn = _REDUCE_FN[reduction]
    for pos in np.ndindex(*idx.shape[:-1]):
        tgt = tuple(int(_wrap(np.array(i), n)) for i, n in zip(idx[pos], x.shape[:k]))
        out[tgt] = upd[pos] if fn is None else fn(out[tgt], upd[pos])
    return out


def _gather_nd_type(x, idx, batch_dims=0):
    k = idx.shape[-1]
    if batch_dims + k > x.rank:
        raise ValueError(f"index depth {k} with {batch_dims} batch dims exceeds data rank {x.rank}")
    return x.with_shape(idx.shape[:-1] + x.shape[batch_dims + k:])


@register("gather_nd", infer=_gather_nd_type, bitwise=True)
def gather_nd(x, idx, batch_dims=0):
    k = idx.shape[-1]
    bshape = x.shape[:batch_dims]
    xb = x.reshape((-1,) + x.shape[batch_dims:])
    ib = idx.reshape((-1,) + idx.shape[batch_dims:])
    out = []
    for b in range(xb.shape[0]):
        rows = ib[b].reshape(-1, k)
        out.append(np.stack([xb[b][tuple(int(_wrap(np.array(i), n)) for i, n in zip(r, x.shape[batch_dims:]))] for r in rows]))
    res = np.stack(out) if out else np.zeros((0,), x.dtype)
    return res.reshape(bshape + idx.shape[batch_dims:-1] + x.shape[batch_dims + k:])


@register("trilu", infer=lambda x, upper, k: x, bitwise=True)
def trilu(x, upper, k):
    """Keep the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes."""
    return np.triu(x, k) if upper else np.tril(x, k)


def _scan(fn, identity):
    def run(x, axis, exclusive=0, reverse=0):
        y = np.flip(x, axis) if reverse else x
        s = fn(y, axis=axis, dtype=x.dtype)
        if exclusive:
            first = np.full_like(np.take(s, [0], axis=axis), identity)
            s = np.concatenate([first, np.take(s, range(s.shape[axis] - 1), axis=axis)], axis=axis)
        return np.flip(s, axis) if reverse else s

    return run


register("cumsum", infer=lambda x, axis, exclusive=0, reverse=0: x)(_scan(np.cumsum, 0))
register("cumprod", infer=lambda x, axis, exclusive=0, reverse=0: x)(_scan(np.cumprod, 1))


def _one_hot_type(idx, values, depth, axis):
    shape = list(idx.shape)
    shape.insert(axis, depth)
    return values.with_shape(shape)


@register("one_hot", infer=_one_hot_type, bitwise=True)
def one_hot(idx, values, depth, axis):
    """values = [off, on]; negative indices count from depth; out-of-range ones give all off."""
    i = idx.astype(np.int64)
    i = np.where(i < 0, i + depth, i)
    hot = np.expand_dims(i, axis) == np.arange(depth).reshape([-1 if d == axis else 1 for d in range(idx.ndim + 1)])
    return np.where(hot, values[1], values[0]).astype(values.dtype)


@register("bitcast", infer=lambda x, to: x.with_dtype(DType(to)), bitwise=True)
def bitcast(x, to):
    """The same bytes read as another type of the same width."""
    return x.view(DType(to).np)


# -- n-gram counting ----------------------------------------------------------------------


def _tfidf_type(x, *, mode, min_n, max_n, max_skip, grams, weights, out_len):
    return TensorType(DType.FLOAT, (out_len,) if x.rank == 1 else (x.shape[0], out_len))


@register("tfidf", infer=_tfidf_type)
def tfidf(x, *, mode, min_n, max_n, max_skip, grams, weights, out_len):
    """Counts of the pool's n-grams (grams: (n-gram, output index) pairs) in each row, items of an n-gram
    taken 1 to max_skip + 1 apart (unigrams once); then TF (counts), IDF (weight where seen) or TFIDF."""
    table = {tuple(g): i for g, i in grams}
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    out = np.zeros((rows.shape[0], out_len))
    for r, row in enumerate(rows):
        for n in range(min_n, max_n + 1):
            for step in range(1, (max_skip if n > 1 else 0) + 2):
                for i in range(len(row) - (n - 1) * step):
                    k = table.get(tuple(int(row[i + j * step]) for j in range(n)))
                    if k is not None:
                        out[r, k] += 1
    w = np.array(weights if weights else [1.0] * out_len)
    if mode == "IDF":
        out = np.where(out > 0, w, 0.0)
    elif mode == "TFIDF":
        out = out * w
    return out.reshape(_tfidf_type(TensorType(DType.INT64, x.shape), mode=mode, min_n=min_n, max_n=max_n, max_skip=max_skip,
                                   grams=grams, weights=weights, out_len=out_len).shape).astype(np.float32)


# -- tree ensembles (ai.onnx.ml TreeEnsemble) -----------------------------------------------
# nodes: (mode, feature, split, true, false, missing_true, member_start, member_count) per branch node,
# where a child >= 0 is a node and -1 - k is leaf k; roots: one child reference per tree;
# leaves: (target, weight); members: the MEMBER nodes' sets, concatenated.
TREE_MODES = ("leq", "lt", "gte", "gt", "eq", "neq", "member")
TREE_AGGREGATES = ("average", "sum", "min", "max")


def _tree_type(x, *, nodes, roots, leaves, members, aggregate, n_targets):
    if x.rank != 2:
        raise ValueError(f"X must be 2-D [rows, features], got rank {x.rank}")
    return TensorType(x.dtype, (x.shape[0], n_targets))


def tree_goes_true(mode: str, v: float, split: float, member_set) -> bool:
    return {"leq": v <= split, "lt": v < split, "gte": v >= split, "gt": v > split, "eq": v == split, "neq": v != split,
            "member": v in member_set}[mode]


@register("tree_ensemble", infer=_tree_type)
def tree_ensemble(x, *, nodes, roots, leaves, members, aggregate, n_targets):
    """Each tree walks from its root to a leaf (a branch goes true when its comparison of the row's
    feature with the split holds, or the feature is NaN and missing values go true); leaf weights
    land on their targets, combined by `aggregate`."""
    out = np.zeros((x.shape[0], n_targets))
    if aggregate in ("min", "max"):
        out[:] = np.finfo(x.dtype).max if aggregate == "min" else np.finfo(x.dtype).min
    for r, row in enumerate(x.astype(np.float64)):
        for ref in roots:
            while ref >= 0:
                mode, feat, split, t, f, miss, m0, mn = nodes[ref]
                v = row[feat]
                ref = t if tree_goes_true(TREE_MODES[mode], v, split, set(members[m0:m0 + mn])) or (miss and np.isnan(v)) else f
            target, w = leaves[-1 - ref]
            if aggregate == "sum":
                out[r, target] += w
            elif aggregate == "average":
                out[r, target] += w / len(roots)
            elif aggregate == "min":
                out[r, target] = min(out[r, target], w)
            else:
                out[r, target] = max(out[r, target], w)
    return out.astype(x.dtype)
