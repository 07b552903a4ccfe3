"""Shape and data-movement ONNX ops. Shape-valued inputs must be known at
compile time; ops on them fold as they are imported."""

from __future__ import annotations

import math

import numpy as np

from ...ir import Splat
from ...ir.narrow import decode, encode, storage_scalar, typed
from ...ir.ops.elementwise import broadcast_shape
from ...ir.types import DType, TensorType
from ..importer import converter


def _axis(ctx, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def _axes(ctx, axes, rank: int) -> list[int]:
    out = sorted({_axis(ctx, int(a), rank) for a in axes})
    if len(out) != len(list(axes)):
        raise ctx.error(f"axes {list(axes)} repeat an axis")
    return out


def _ints_or_attr(ctx, v, attr, what):
    """A list given as an attribute (older opsets) or a constant input (newer)."""
    if v is not None:
        return ctx.ints(v, what)
    return None if attr is None else [int(a) for a in attr]


@converter("Reshape")
def reshape(ctx, x, shape=None, *, allowzero=0, **legacy):
    want = ctx.ints(shape, "shape") if shape is not None else [int(d) for d in legacy.get("shape", [])]
    out = []
    for i, d in enumerate(want):
        if d == 0 and not allowzero:
            if i >= x.type.rank:
                raise ctx.error(f"shape {want}: 0 at axis {i} copies a dimension the input does not have")
            d = x.shape[i]
        out.append(d)
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise ctx.error(f"shape {want} is not a valid target shape")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or x.type.numel % known:
            raise ctx.error(f"cannot reshape {list(x.shape)} to {want}")
        out[out.index(-1)] = x.type.numel // known
    return ctx.emit("reshape", x, shape=tuple(out))


@converter("Flatten")
def flatten(ctx, x, *, axis=1):
    r = x.type.rank
    if not -r <= axis <= r:
        raise ctx.error(f"axis {axis} is out of range for rank {r}")
    ax = axis + r if axis < 0 else axis
    rows = math.prod(x.shape[:ax])
    return ctx.emit("reshape", x, shape=(rows, math.prod(x.shape[ax:])))


@converter("Squeeze")
def squeeze(ctx, x, axes_in=None, *, axes=None):
    axes = _ints_or_attr(ctx, axes_in, axes, "axes")
    r = x.type.rank
    if axes is None:
        drop = [i for i, d in enumerate(x.shape) if d == 1]
    else:
        drop = _axes(ctx, axes, r)
        for a in drop:
            if x.shape[a] != 1:
                raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return ctx.emit("reshape", x, shape=tuple(d for i, d in enumerate(x.shape) if i not in drop))


@converter("Unsqueeze")
def unsqueeze(ctx, x, axes_in=None, *, axes=None):
    axes = _ints_or_attr(ctx, axes_in, axes, "axes")
    if axes is None:
        raise ctx.error("axes is missing")
    r = x.type.rank + len(axes)
    new = _axes(ctx, axes, r)
    it = iter(x.shape)
    return ctx.emit("reshape", x, shape=tuple(1 if i in new else next(it) for i in range(r)))


@converter("Transpose")
def transpose(ctx, x, *, perm=None):
    perm = list(perm) if perm is not None else list(range(x.type.rank))[::-1]
    if sorted(perm) != list(range(x.type.rank)):
        raise ctx.error(f"perm {perm} is not a permutation of {x.type.rank} axes")
    if perm == sorted(perm):
        return x
    return ctx.emit("transpose", x, perm=tuple(perm))


@converter("Concat")
def concat(ctx, *xs, axis=None):
    if axis is None:
        if ctx.opset >= 4:
            raise ctx.error("axis is missing")
        axis = 1
    if not xs:
        raise ctx.error("no inputs")
    if any(x.type.rank != xs[0].type.rank for x in xs):
        raise ctx.error(f"inputs of ranks {[x.type.rank for x in xs]}: all must have the same")
    ax = _axis(ctx, axis, xs[0].type.rank)
    parts = [x for x in xs if x.shape[ax] != 0] or list(xs[:1])
    if len(parts) == 1:
        return parts[0]
    return ctx.emit("concat", *parts, axis=ax)


@converter("Split")
def split(ctx, x, split_in=None, *, axis=0, split=None, num_outputs=None):
    if x.type.rank == 0:
        raise ctx.error("cannot split a scalar")
    ax = _axis(ctx, axis, x.type.rank)
    sizes = _ints_or_attr(ctx, split_in, split, "split")
    n = x.shape[ax]
    if num_outputs is not None and num_outputs != ctx.n_outputs:
        raise ctx.error(f"num_outputs is {num_outputs} but the node has {ctx.n_outputs} outputs")
    if sizes is None:
        k = num_outputs or ctx.n_outputs
        if num_outputs is not None:  # Split-18: chunks of ceil(n/k), the last one smaller
            chunk = -(-n // k)
            sizes = [min(chunk, n - i * chunk) for i in range(k)]
        else:
            if n % k:
                raise ctx.error(f"dimension {n} does not split evenly into {k} outputs")
            sizes = [n // k] * k
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise ctx.error(f"split {sizes} does not sum to dimension {n}")
    return ctx.emit_multi("split", x, axis=ax, split=tuple(sizes))


def canonical_slice(shape, starts, ends, axes, steps):
    """Per-axis (start, end, step) with ONNX's clamping, for every axis of `shape`."""
    r = len(shape)
    st, en, sp = [0] * r, list(shape), [1] * r
    for s, e, a, k in zip(starts, ends, axes, steps):
        d = shape[a]
        if k == 0:
            raise ValueError("slice step cannot be 0")
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if k > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
        st[a], en[a], sp[a] = s, e, k
    return tuple(st), tuple(en), tuple(sp)


@converter("Slice")
def slice_(ctx, x, starts_in=None, ends_in=None, axes_in=None, steps_in=None, *, starts=None, ends=None, axes=None):
    r = x.type.rank
    starts = _ints_or_attr(ctx, starts_in, starts, "starts")
    ends = _ints_or_attr(ctx, ends_in, ends, "ends")
    axes = _ints_or_attr(ctx, axes_in, axes, "axes")
    steps = ctx.ints(steps_in, "steps") if steps_in is not None else [1] * len(starts)
    axes = list(range(len(starts))) if axes is None else [_axis(ctx, a, r) for a in axes]
    if not (len(starts) == len(ends) == len(axes) == len(steps)) or len(set(axes)) != len(axes):
        raise ctx.error("starts, ends, axes and steps do not match")
    try:
        s, e, k = canonical_slice(x.shape, starts, ends, axes, steps)
    except ValueError as err:
        raise ctx.error(str(err)) from None
    if s == (0,) * r and e == x.shape and k == (1,) * r:
        return x
    return ctx.emit("slice", x, starts=s, ends=e, steps=k)


@converter("Gather")
def gather(ctx, x, idx, *, axis=0):
    ax = _axis(ctx, axis, x.type.rank)
    if ctx.is_const(idx):
        bad = [int(i) for i in ctx.const(idx).reshape(-1) if not -x.shape[ax] <= i < x.shape[ax]]
        if bad:
            raise ctx.error(f"index {bad[0]} is out of range for axis {ax} of size {x.shape[ax]}")
    return ctx.emit("gather", x, idx, axis=ax)


@converter("Pad")
def pad(ctx, x, pads_in=None, value_in=None, axes_in=None, *, mode="constant", pads=None, value=0.0, paddings=None):
    r = x.type.rank
    p = _ints_or_attr(ctx, pads_in, pads if pads is not None else paddings, "pads")
    if p is None:
        raise ctx.error("pads is missing")
    if axes_in is not None:
        axes = [_axis(ctx, a, r) for a in ctx.ints(axes_in, "axes")]
        if len(p) != 2 * len(axes):
            raise ctx.error(f"pads has {len(p)} entries for {len(axes)} axes, expected {2 * len(axes)}")
        full = [0] * (2 * r)
        for k, a in enumerate(axes):
            full[a], full[a + r] = p[k], p[k + len(axes)]
        p = full
    if len(p) != 2 * r:
        raise ctx.error(f"pads has {len(p)} entries, expected {2 * r}")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ctx.error(f"mode {mode!r} is not supported")
    if value_in is not None and ctx.opset >= 11:
        v = ctx.const(value_in, "constant_value").item()  # already in x's storage (bits for bfloat16)
    else:
        v = storage_scalar(x.dtype, value)
    if mode == "reflect" and any(p[i] >= x.shape[i] or p[i + r] >= x.shape[i] for i in range(r) if p[i] or p[i + r]):
        raise ctx.error("reflect padding must be smaller than the padded dimension")
    if not any(p):
        return x
    v = float(v) if x.dtype.is_float and not x.dtype.is_encoded else int(v)
    return ctx.emit("pad", x, pads=tuple(p), mode=mode, value=v)


@converter("Expand")
def expand(ctx, x, shape):
    want = tuple(ctx.ints(shape, "shape"))
    try:
        out = broadcast_shape(x.shape, want)
    except ValueError:
        raise ctx.error(f"shape {list(x.shape)} does not broadcast to {list(want)}") from None
    if out == x.shape:
        return x
    return ctx.emit("expand", x, shape=want)


@converter("Tile")
def tile(ctx, x, repeats):
    reps = ctx.ints(repeats, "repeats")
    if len(reps) != x.type.rank:
        raise ctx.error(f"{len(reps)} repeats for rank {x.type.rank}")
    # Tile = expand on interleaved axes, then merge: [d] * r -> [r, d] -> [r*d]
    inter = tuple(s for d in x.shape for s in (1, d))
    want = tuple(s for d, k in zip(x.shape, reps) for s in (k, d))
    y = ctx.emit("expand", ctx.emit("reshape", x, shape=inter), shape=want)
    return ctx.emit("reshape", y, shape=tuple(d * k for d, k in zip(x.shape, reps)))


@converter("Shape")
def shape(ctx, x, *, start=0, end=None):
    dims = list(x.shape)
    r = len(dims)
    s = min(max(start + r if start < 0 else start, 0), r)
    e = r if end is None else min(max(end + r if end < 0 else end, 0), r)
    return ctx.constant(np.array(dims[s:e], dtype=np.int64))


@converter("Size")
def size(ctx, x):
    return ctx.constant(np.array(x.type.numel, dtype=np.int64))


@converter("ConstantOfShape")
def constant_of_shape(ctx, shape, *, value=None):
    dims = ctx.ints(shape, "shape")
    if any(d < 0 for d in dims):
        raise ctx.error(f"negative dimension in shape {dims}")
    val = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    t = TensorType(DType.from_numpy(val.dtype), tuple(dims))
    if t.numel <= 16:
        return ctx.constant(np.full(dims, val[0], dtype=val.dtype))
    return ctx.constant(Splat(val[0].item()), t)


@converter("Constant")
def constant(ctx, *, value=None, value_float=None, value_floats=None, value_int=None, value_ints=None,
             sparse_value=None, value_string=None, value_strings=None):
    if value is not None:
        return ctx.constant(np.asarray(value))
    if value_float is not None:
        return ctx.constant(np.array(value_float, np.float32))
    if value_floats is not None:
        return ctx.constant(np.array(value_floats, np.float32))
    if value_int is not None:
        return ctx.constant(np.array(value_int, np.int64))
    if value_ints is not None:
        return ctx.constant(np.array(value_ints, np.int64))
    raise ctx.error("only tensor, float and int constants are supported")


@converter("Range")
def range_(ctx, start, limit, delta):
    dt = start.dtype

    def num(v, what):
        a = ctx.const(v, what)
        return (decode(dt, a) if dt.is_encoded else a).item()

    s, lim, d = num(start, "start"), num(limit, "limit"), num(delta, "delta")
    if d == 0:
        raise ctx.error("delta is 0")
    n = max(int(math.ceil((lim - s) / d)), 0)
    values = s + np.arange(n) * d
    if dt.is_encoded:
        return ctx.constant(typed(dt, encode(dt, values.astype(np.float32))))
    return ctx.constant(values.astype(start.dtype.np))


@converter("GatherElements")
def gather_elements(ctx, x, idx, *, axis=0):
    return ctx.emit("gather_elements", x, idx, axis=_axis(ctx, axis, x.type.rank))


@converter("ScatterElements", "Scatter")
def scatter_elements(ctx, x, idx, upd, *, axis=0, reduction="none"):
    if reduction not in ("none", "add", "mul", "max", "min"):
        raise ctx.error(f"reduction {reduction!r} is not supported")
    return ctx.emit("scatter_elements", x, idx, upd, axis=_axis(ctx, axis, x.type.rank), reduction=reduction)


@converter("ScatterND")
def scatter_nd(ctx, x, idx, upd, *, reduction="none"):
    if reduction not in ("none", "add", "mul", "max", "min"):
        raise ctx.error(f"reduction {reduction!r} is not supported")
    return ctx.emit("scatter_nd", x, idx, upd, reduction=reduction)


@converter("GatherND")
def gather_nd(ctx, x, idx, *, batch_dims=0):
    return ctx.emit("gather_nd", x, idx, batch_dims=int(batch_dims))


@converter("Trilu")
def trilu(ctx, x, k=None, *, upper=1):
    if x.type.rank < 2:
        raise ctx.error("input must have rank >= 2")
    kk = int(ctx.const(k, "k").item()) if k is not None else 0
    return ctx.emit("trilu", x, upper=int(upper), k=kk)


@converter("CumSum", "CumProd")
def cumsum(ctx, x, axis, *, exclusive=0, reverse=0):
    ax = _axis(ctx, int(ctx.const(axis, "axis").item()), x.type.rank)
    op = "cumsum" if ctx.op_type == "CumSum" else "cumprod"
    return ctx.emit(op, x, axis=ax, exclusive=int(exclusive), reverse=int(reverse))


@converter("OneHot")
def one_hot(ctx, idx, depth, values, *, axis=-1):
    d = int(ctx.const_scalar(depth, "depth"))
    if d < 0:
        raise ctx.error(f"depth {d} is negative")
    ax = _axis(ctx, axis, idx.type.rank + 1)
    return ctx.emit("one_hot", idx, values, depth=d, axis=ax)


@converter("DepthToSpace")
def depth_to_space(ctx, x, *, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    if c % (b * b):
        raise ctx.error(f"{c} channels do not divide by blocksize^2 = {b * b}")
    if mode == "DCR":
        t = ctx.emit("reshape", x, shape=(n, b, b, c // (b * b), h, w))
        t = ctx.emit("transpose", t, perm=(0, 3, 4, 1, 5, 2))
    else:
        t = ctx.emit("reshape", x, shape=(n, c // (b * b), b, b, h, w))
        t = ctx.emit("transpose", t, perm=(0, 1, 4, 2, 5, 3))
    return ctx.emit("reshape", t, shape=(n, c // (b * b), h * b, w * b))


@converter("SpaceToDepth")
def space_to_depth(ctx, x, *, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    if h % b or w % b:
        raise ctx.error(f"spatial size {h}x{w} does not divide by blocksize {b}")
    t = ctx.emit("reshape", x, shape=(n, c, h // b, b, w // b, b))
    t = ctx.emit("transpose", t, perm=(0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4))
    return ctx.emit("reshape", t, shape=(n, c * b * b, h // b, w // b))


@converter("CenterCropPad")
def center_crop_pad(ctx, x, shape, *, axes=None):
    """Per axis: crop the centre (extra element at the end) or pad around it (extra at the end)."""
    r = x.type.rank
    want = ctx.ints(shape, "shape")
    axes = list(range(r)) if axes is None else [_axis(ctx, a, r) for a in axes]
    starts, ends, pads = [0] * r, list(x.shape), [0] * (2 * r)
    for a, s in zip(axes, want):
        d = x.shape[a]
        if s < d:
            starts[a] = (d - s) // 2
            ends[a] = starts[a] + s
        elif s > d:
            pads[a] = (s - d) // 2
            pads[a + r] = s - d - pads[a]
    y = x
    if starts != [0] * r or ends != list(x.shape):
        y = ctx.emit("slice", y, starts=tuple(starts), ends=tuple(ends), steps=(1,) * r)
    if any(pads):
        y = ctx.emit("pad", y, pads=tuple(pads), mode="constant", value=0.0 if x.dtype.is_float else 0)
    return y


@converter("EyeLike")
def eye_like(ctx, x, *, dtype=None, k=0):
    dt = DType(dtype) if dtype is not None else x.dtype
    if x.type.rank != 2:
        raise ctx.error("input must be 2-D")
    ctx.check_constant_size(x.shape, dt.np.itemsize)
    return ctx.constant(np.eye(x.shape[0], x.shape[1], k, dtype=dt.np))


@converter("BitCast")
def bitcast(ctx, x, *, to):
    dt = DType.from_onnx(to)
    if dt.itemsize != x.dtype.itemsize:
        raise ctx.error(f"BitCast needs equal widths: {x.dtype.short} and {dt.short}")
    return ctx.emit("bitcast", x, to=int(to))
