"""Neural-network ops: linear algebra, convolution, pooling, normalisation,
resize. Spatial attributes are canonical: explicit per-axis kernel, strides,
dilations and pads (all begins, then all ends), as ONNX spells them. The kernels
these lower to on a target (dense, conv_gemm, ...) are registered with their
lowering rules, in schedule/lowering."""

from __future__ import annotations

import math

import numpy as np

from ..types import DType, TensorType
from .elementwise import broadcast_shape
from .registry import get, register

# -- epilogues ---------------------------------------------------------------------
# conv, gemm and matmul may carry an epilogue fused into them by a pass:
#   y = activation(y [+ bias] [+ residual]),  activation an op of the registry with act_params.


def epilogue(y, residual=None, activation=None, act_params=()):
    if residual is not None:
        y = y + residual
    if activation:
        y = get(activation).evaluate(y, **dict(act_params))
    return y


def check_residual(t, residual):
    if residual is not None and residual.shape != t.shape:
        raise ValueError(f"residual {list(residual.shape)} differs from the result {list(t.shape)}")
    return t


# -- linear algebra ------------------------------------------------------------


def _matmul_type(a, b):
    if a.rank == 0 or b.rank == 0:
        raise ValueError("matmul operands must have rank >= 1")
    if a.dtype is not b.dtype:
        raise ValueError(f"matmul operands of different types: {a.dtype.name.lower()} and {b.dtype.name.lower()}")
    sa = a.shape if a.rank > 1 else (1,) + a.shape
    sb = b.shape if b.rank > 1 else b.shape + (1,)
    if sa[-1] != sb[-2]:
        raise ValueError(f"inner dimensions differ: {list(a.shape)} @ {list(b.shape)}")
    batch = broadcast_shape(sa[:-2], sb[:-2])
    shape = batch + (sa[-2] if a.rank > 1 else None, sb[-1] if b.rank > 1 else None)
    return a.with_shape([d for d in shape if d is not None])


def _matmul_epi_type(a, b, bias=None, residual=None, *, activation=None, act_params=()):
    t = _matmul_type(a, b)
    if bias is not None and broadcast_shape(t.shape, bias.shape) != t.shape:
        raise ValueError(f"bias {list(bias.shape)} does not broadcast to {list(t.shape)}")
    return check_residual(t, residual)


@register("matmul", infer=_matmul_epi_type, work=lambda n: n.outputs[0].type.numel * (n.inputs[0].shape[-1] if n.inputs[0].shape else 1))
def matmul(a, b, bias=None, residual=None, *, activation=None, act_params=()):
    y = np.matmul(a, b)
    if bias is not None:
        y = y + bias
    return epilogue(y, residual, activation, act_params).astype(a.dtype)


def _gemm_type(a, b, c=None, residual=None, *, alpha=1.0, beta=1.0, trans_a=0, trans_b=0, activation=None, act_params=()):
    m, k = a.shape[::-1] if trans_a else a.shape
    k2, n = b.shape[::-1] if trans_b else b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: {k} and {k2}")
    if c is not None:
        broadcast_shape(c.shape, (m, n))
    return check_residual(a.with_shape((m, n)), residual)


@register("gemm", infer=_gemm_type)
def gemm(a, b, c=None, residual=None, *, alpha=1.0, beta=1.0, trans_a=0, trans_b=0, activation=None, act_params=()):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    y = np.float32(alpha) * (a @ b) if alpha != 1.0 else a @ b
    if c is not None:
        y = y + (np.float32(beta) * c if beta != 1.0 else c)
    return epilogue(y, residual, activation, act_params).astype(a.dtype)


# -- convolution ---------------------------------------------------------------


def conv_out_dim(n, k, s, d, p0, p1, ceil_mode=0):
    eff = d * (k - 1) + 1
    span = n + p0 + p1 - eff
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p0:  # the last window must start inside input or left pad
        out -= 1
    return out


def conv_type(x, w, b=None, residual=None, *, kernel, strides, dilations, pads, group, activation=None, act_params=()):
    r = len(kernel)
    if x.rank != r + 2 or w.rank != r + 2:
        raise ValueError(f"input rank {x.rank} and weight rank {w.rank} do not fit a {r}-d kernel")
    if group < 1 or min((*strides, *dilations), default=1) < 1:
        raise ValueError(f"group {group}, strides {list(strides)} and dilations {list(dilations)} must be positive")
    if x.shape[1] != w.shape[1] * group:
        raise ValueError(f"input has {x.shape[1]} channels, weight expects {w.shape[1]} x group {group}")
    if w.shape[0] % group:
        raise ValueError(f"{w.shape[0]} output channels do not divide into {group} groups")
    _check_bias(b, w.shape[0])
    spatial = [conv_out_dim(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + r]) for i in range(r)]
    if any(s <= 0 for s in spatial):
        raise ValueError(f"output would be empty: {spatial}")
    return check_residual(x.with_shape((x.shape[0], w.shape[0], *spatial)), residual)


def _check_bias(b, channels: int) -> None:
    if b is not None and tuple(b.shape) != (channels,):
        raise ValueError(f"bias has shape {list(b.shape)}, expected [{channels}]: one value per output channel")


def _windows(xp, out_shape, kernel, strides, dilations):
    """Yield (kernel offset tuple, strided view of xp's spatial dims)."""
    r = len(kernel)
    for off in np.ndindex(*kernel):
        idx = tuple(
            slice(off[i] * dilations[i], off[i] * dilations[i] + (out_shape[i] - 1) * strides[i] + 1, strides[i])
            for i in range(r)
        )
        yield off, xp[(Ellipsis,) + idx]


@register("conv", infer=conv_type, work=lambda n: n.outputs[0].type.numel * math.prod(n.inputs[1].shape[1:]))
def conv(x, w, b=None, residual=None, *, kernel, strides, dilations, pads, group, activation=None, act_params=()):
    r = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + r]) for i in range(r)])
    out_sp = [conv_out_dim(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + r]) for i in range(r)]
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    y = np.zeros((n, group, mg, *out_sp), dtype=np.float64)
    xg = xp.reshape(n, group, cg, *xp.shape[2:])
    wg = w.reshape(group, mg, cg, *kernel).astype(np.float64)
    for off, win in _windows(xg, out_sp, kernel, strides, dilations):
        y += np.einsum("ngc...,gmc->ngm...", win, wg[(Ellipsis,) + off])
    y = y.reshape(n, m, *out_sp)
    if b is not None:
        y += b.reshape((1, m) + (1,) * r)
    return epilogue(y, residual, activation, act_params).astype(x.dtype)


# -- transposed convolution ---------------------------------------------------------


def _conv_t_type(x, w, b=None, *, kernel, strides, dilations, pads, group, output_padding):
    r = len(kernel)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"input has {x.shape[1]} channels, weight expects {w.shape[0]}")
    if group < 1 or x.shape[1] % group:
        raise ValueError(f"{x.shape[1]} input channels do not divide into {group} groups")
    _check_bias(b, w.shape[1] * group)
    sp = [
        strides[i] * (x.shape[2 + i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 - pads[i] - pads[i + r]
        for i in range(r)
    ]
    if any(s <= 0 for s in sp):
        raise ValueError(f"output would be empty: {sp}")
    return x.with_shape((x.shape[0], w.shape[1] * group, *sp))


@register("conv_transpose", infer=_conv_t_type, work=lambda n: n.inputs[0].type.numel * math.prod(n.inputs[1].shape[1:]))
def conv_transpose(x, w, b=None, *, kernel, strides, dilations, pads, group, output_padding):
    r = len(kernel)
    n, c = x.shape[:2]
    mg = w.shape[1]
    cg = c // group
    full = [strides[i] * (x.shape[2 + i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(r)]
    y = np.zeros((n, group, mg, *full), dtype=np.float64)
    xg = x.reshape(n, group, cg, *x.shape[2:]).astype(np.float64)
    wg = w.reshape(group, cg, mg, *kernel).astype(np.float64)
    for off in np.ndindex(*kernel):
        idx = tuple(
            slice(off[i] * dilations[i], off[i] * dilations[i] + (x.shape[2 + i] - 1) * strides[i] + 1, strides[i])
            for i in range(r)
        )
        y[(Ellipsis,) + idx] += np.einsum("ngc...,gcm->ngm...", xg, wg[(Ellipsis,) + off])
    y = y.reshape(n, mg * group, *full)
    crop = tuple(slice(pads[i], full[i] - pads[i + r]) for i in range(r))
    y = y[(Ellipsis,) + crop]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * r)
    return y.astype(x.dtype)


# -- pooling -------------------------------------------------------------------


def _pool_type(x, *, kernel, strides, dilations, pads, ceil_mode=0, **_):
    r = len(kernel)
    if x.rank != r + 2:
        raise ValueError(f"input rank {x.rank} does not fit a {r}-d window")
    sp = [conv_out_dim(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + r], ceil_mode) for i in range(r)]
    if any(s <= 0 for s in sp):
        raise ValueError(f"output would be empty: {sp}")
    return x.with_shape((*x.shape[:2], *sp))


def _pool(x, kernel, strides, dilations, pads, ceil_mode, fill):
    """Pad x for every window; also masks of the input (valid) and input+pads (inside)."""
    r = len(kernel)
    t = _pool_type(_type_of(x), kernel=kernel, strides=strides, dilations=dilations, pads=pads, ceil_mode=ceil_mode)
    out_sp = t.shape[2:]
    right = [
        max(pads[i + r], (out_sp[i] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - x.shape[2 + i] - pads[i])
        for i in range(r)
    ]
    width = [(pads[i], right[i]) for i in range(r)]
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + width, constant_values=fill)
    valid = np.pad(np.ones(x.shape[2:]), width)
    inside = np.pad(np.ones([x.shape[2 + i] + pads[i] + pads[i + r] for i in range(r)]), [(0, right[i] - pads[i + r]) for i in range(r)])
    return xp, valid, inside, out_sp


def _type_of(a: np.ndarray) -> TensorType:
    return TensorType(DType.from_numpy(a.dtype), a.shape)


def _max_pool_type(x, *, kernel, strides, dilations, pads, ceil_mode=0, indices=0, storage_order=0):
    y = _pool_type(x, kernel=kernel, strides=strides, dilations=dilations, pads=pads, ceil_mode=ceil_mode)
    return [y, y.with_dtype(DType.INT64)] if indices else y


@register("max_pool", infer=_max_pool_type)
def max_pool(x, *, kernel, strides, dilations, pads, ceil_mode=0, indices=0, storage_order=0):
    """With indices=1 a second output: each maximum's flat position in x (row-major, or
    column-major within each plane with storage_order=1), the first one where they tie."""
    xp, valid, _, out_sp = _pool(x, kernel, strides, dilations, pads, ceil_mode, -np.inf)
    y = np.full(x.shape[:2] + tuple(out_sp), -np.inf)
    arg = np.full(x.shape[:2] + tuple(out_sp), -1, np.int64)
    r = len(kernel)
    plane = np.arange(int(np.prod(x.shape[2:]))).reshape(x.shape[2:])
    if storage_order:
        plane = np.arange(plane.size).reshape(x.shape[2:][::-1]).T.copy() if r == 2 else plane
    pos = np.pad(plane, [(pads[i], xp.shape[2 + i] - x.shape[2 + i] - pads[i]) for i in range(r)], constant_values=-1)
    for (_, win), (_, pwin), (_, vwin) in zip(_windows(xp, out_sp, kernel, strides, dilations),
                                              _windows(pos, out_sp, kernel, strides, dilations),
                                              _windows(valid, out_sp, kernel, strides, dilations)):
        better = (vwin > 0) & ((win > y) | (arg < 0))
        y = np.where(better, win, y)
        arg = np.where(better, pwin, arg)
    base = (np.arange(x.shape[0] * x.shape[1]) * plane.size).reshape(x.shape[:2] + (1,) * r)
    return (y.astype(x.dtype), arg + base) if indices else y.astype(x.dtype)


@register("average_pool", infer=_pool_type)
def average_pool(x, *, kernel, strides, dilations, pads, ceil_mode=0, count_include_pad=0):
    """Divides by the window's elements inside the input, or inside input+pads with count_include_pad."""
    xp, valid, inside, out_sp = _pool(x, kernel, strides, dilations, pads, ceil_mode, 0.0)
    mask = inside if count_include_pad else valid
    s = np.zeros(x.shape[:2] + tuple(out_sp))
    cnt = np.zeros(tuple(out_sp))
    for _, win in _windows(xp, out_sp, kernel, strides, dilations):
        s += win
    for _, win in _windows(mask, out_sp, kernel, strides, dilations):
        cnt += win
    return (s / cnt).astype(x.dtype)


@register("lp_pool", infer=_pool_type)
def lp_pool(x, *, kernel, strides, dilations, pads, ceil_mode=0, p=2):
    """(sum over the window of |x|^p)^(1/p); padding contributes 0."""
    xp, _, _, out_sp = _pool(x, kernel, strides, dilations, pads, ceil_mode, 0.0)
    s = np.zeros(x.shape[:2] + tuple(out_sp))
    for _, win in _windows(xp, out_sp, kernel, strides, dilations):
        s += np.abs(win) ** p
    return (s ** (1.0 / p)).astype(x.dtype)


# -- normalisation -------------------------------------------------------------


def _bn_type(x, scale, bias, mean, var, *, epsilon):
    c = x.shape[1] if x.rank > 1 else 1
    for t in (scale, bias, mean, var):
        if t.shape != (c,):
            raise ValueError(f"parameter shape {list(t.shape)} is not [{c}]")
    return x


@register("batch_norm", infer=_bn_type)
def batch_norm(x, scale, bias, mean, var, *, epsilon):
    sh = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + epsilon)
    return ((x - mean.reshape(sh)) * inv.reshape(sh) + bias.reshape(sh)).astype(x.dtype)


def _ln_type(x, scale, bias=None, *, axis, epsilon):
    norm = x.shape[axis:]
    broadcast_shape(norm, scale.shape)
    return x


@register("layernorm", infer=_ln_type)
def layernorm(x, scale, bias=None, *, axis, epsilon):
    """Normalise over axes axis.. (axis non-negative), then scale and shift."""
    axes = tuple(range(axis, x.ndim))
    xd = x.astype(np.float64)
    mean = xd.mean(axis=axes, keepdims=True)
    var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (xd - mean) / np.sqrt(var + epsilon) * scale
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype)


@register("lrn", infer=lambda x, *, size, alpha, beta, bias: x)
def lrn(x, *, size, alpha, beta, bias):
    c = x.shape[1]
    sq = x.astype(np.float64) ** 2
    s = np.zeros_like(sq)
    lo, hi = (size - 1) // 2, math.ceil((size - 1) / 2)
    for ch in range(c):
        s[:, ch] = sq[:, max(0, ch - lo): min(c, ch + hi + 1)].sum(axis=1)
    return (x / (bias + alpha / size * s) ** beta).astype(x.dtype)


# -- resize --------------------------------------------------------------------


def _resize_type(x, *, sizes, scales, mode, coord, nearest_mode, cubic_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
                 antialias=0, roi=None):
    if len(sizes) != x.rank:
        raise ValueError(f"{len(sizes)} output sizes for rank {x.rank}")
    return x.with_shape(sizes)


def _source(o, scale, n_in, n_out, coord, roi):
    """The input coordinate of output index o (coordinate_transformation_mode), or None outside the roi."""
    width = scale * n_in
    if coord == "align_corners":
        return 0.0 if width == 1 else o * (n_in - 1) / (width - 1)
    if coord == "asymmetric":
        return o / scale
    if coord == "tf_crop_and_resize":
        lo, hi = roi
        x = (hi - lo) * (n_in - 1) / 2 if width == 1 else o * (hi - lo) * (n_in - 1) / (width - 1)
        x += lo * (n_in - 1)
        return None if x < 0 or x > n_in - 1 else x
    if coord == "pytorch_half_pixel":
        return -0.5 if width == 1 else (o + 0.5) / scale - 0.5
    if coord == "half_pixel_symmetric":
        return n_in / 2 * (1 - n_out / width) + (o + 0.5) / scale - 0.5
    if coord == "tf_half_pixel_for_nn":
        return (o + 0.5) / scale
    return (o + 0.5) / scale - 0.5  # half_pixel


def _coeffs(ratio, scale, mode, nearest_mode, a, antialias):
    if mode == "nearest":
        if float(ratio).is_integer():
            return np.array([0.0, 1.0])
        lower = {"round_prefer_floor": ratio <= 0.5, "round_prefer_ceil": ratio < 0.5, "floor": True, "ceil": False}[nearest_mode]
        return np.array([1.0, 0.0]) if lower else np.array([0.0, 1.0])
    if mode == "linear":
        if antialias and scale < 1:
            start = int(np.floor(-1 / scale) + 1)
            args = (np.arange(start, 2 - start) - ratio) * scale
            c = np.clip(1 - np.abs(args), 0, 1)
            return c / c.sum()
        return np.array([1 - ratio, ratio])

    def cubic(d):
        d = abs(d)
        if d <= 1:
            return (a + 2) * d**3 - (a + 3) * d**2 + 1
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a if d < 2 else 0.0

    if antialias and scale < 1:
        start = int(np.floor(-2 / scale) + 1)
        c = np.array([cubic(scale * (i - ratio)) for i in range(start, 2 - start)])
        return c / c.sum()
    return np.array([cubic(ratio + 1), cubic(ratio), cubic(1 - ratio), cubic(2 - ratio)])


def resize_axis_plan(n_in, n_out, scale, mode, coord, nearest_mode, cubic_a=-0.75, exclude_outside=0, antialias=0, roi=(0.0, 1.0)):
    """Per output index along one axis: [(input index, weight), ...], or None where it extrapolates.

    As the ONNX reference: the taps are the n nearest positions of the edge-padded input
    (lower index first on ties), n being the number of coefficients of the mode."""
    plan = []
    for o in range(n_out):
        x = _source(o, scale, n_in, n_out, coord, roi)
        if x is None:
            plan.append(None)
            continue
        ratio = 1.0 if float(x).is_integer() else x - np.floor(x)
        c = _coeffs(ratio, scale, mode, nearest_mode, cubic_a, antialias)
        n = len(c)
        pad = int(np.ceil(n / 2))
        xp = x + pad
        cand = range(max(0, int(np.floor(xp)) - n - 1), min(n_in + 2 * pad, int(np.floor(xp)) + n + 2))
        idx = sorted(sorted(cand, key=lambda i: (abs(xp - i), i))[:n])
        src = [i - pad for i in idx]
        if exclude_outside:
            c = np.array([w if 0 <= i < n_in else 0.0 for w, i in zip(c, src)])
            c = c / c.sum()
        plan.append([(min(max(i, 0), n_in - 1), float(w)) for i, w in zip(src, c)])
    return plan


@register("resize", infer=_resize_type)
def resize(x, *, sizes, scales, mode, coord, nearest_mode, cubic_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
           antialias=0, roi=None):
    """nearest, linear and cubic, separable one axis at a time; a position outside
    the roi (tf_crop_and_resize) on any axis takes extrapolation_value."""
    y = x.astype(np.float64)
    outside = np.zeros(tuple(sizes), bool)
    for ax in range(x.ndim):
        if sizes[ax] == x.shape[ax] and scales[ax] == 1.0 and coord != "tf_crop_and_resize":
            continue
        r = (roi[ax], roi[ax + x.ndim]) if roi else (0.0, 1.0)
        plan = resize_axis_plan(x.shape[ax], sizes[ax], scales[ax], mode, coord, nearest_mode, cubic_a, exclude_outside,
                                antialias, r)
        mat = np.zeros((sizes[ax], x.shape[ax]))
        for o, taps in enumerate(plan):
            if taps is None:
                outside[(slice(None),) * ax + (o,)] = True
                continue
            for i, wgt in taps:
                mat[o, i] += wgt
        y = np.moveaxis(np.tensordot(mat, np.moveaxis(y, ax, 0), axes=(1, 0)), 0, ax)
    y = np.where(outside, extrapolation_value, y)
    if x.dtype.kind in "iu":
        y = np.round(y)
    return y.astype(x.dtype)


# -- einsum --------------------------------------------------------------------


def einsum_letters(equation: str, shapes) -> tuple[list[str], str, dict[str, int]]:
    """Inputs' subscripts, the output's, and each letter's size, for an explicit equation without '...'."""
    lhs, out = equation.split("->")
    ins = lhs.split(",")
    size: dict[str, int] = {}
    for sub, shape in zip(ins, shapes):
        if len(sub) != len(shape):
            raise ValueError(f"subscripts {sub!r} do not fit shape {list(shape)}")
        for ch, d in zip(sub, shape):
            if size.get(ch, 1) not in (1, d) and d != 1:
                raise ValueError(f"letter {ch!r} has sizes {size[ch]} and {d}")
            size[ch] = max(size.get(ch, 1), d)
    return ins, out, size


def _einsum_type(*xs, equation):
    _, out, size = einsum_letters(equation, [x.shape for x in xs])
    return xs[0].with_shape([size[c] for c in out])


@register("einsum", infer=_einsum_type)
def einsum(*xs, equation):
    return np.einsum(equation, *xs).astype(xs[0].dtype)


# -- grid sample -----------------------------------------------------------------


def gs_reflect(x: float, lo: float, hi: float) -> float:
    rng = hi - lo
    if x < lo:
        dx = lo - x
        n = int(dx / rng)
        r = dx - n * rng
        return lo + r if n % 2 == 0 else hi - r
    if x > hi:
        dx = x - hi
        n = int(dx / rng)
        r = dx - n * rng
        return hi - r if n % 2 == 0 else lo + r
    return x


def gs_cubic(t: float, a: float = -0.75) -> list[float]:
    def k(d):
        d = abs(d)
        return ((a + 2) * d - (a + 3)) * d * d + 1 if d <= 1 else ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return [k(t + 1), k(t), k(1 - t), k(2 - t)]


def _grid_sample_type(x, grid, *, mode, padding, align_corners):
    r = x.rank - 2
    if grid.rank != r + 2 or grid.shape[-1] != r or grid.shape[0] != x.shape[0]:
        raise ValueError(f"grid {list(grid.shape)} does not fit input {list(x.shape)}")
    return x.with_shape(x.shape[:2] + grid.shape[1:-1])


@register("grid_sample", infer=_grid_sample_type)
def grid_sample(x, grid, *, mode, padding, align_corners):
    """Sample x at grid's normalised coordinates (last axis x, y[, z]); nearest, linear or cubic taps,
    out-of-range taps per padding (zeros, border, reflection)."""
    dims = x.shape[2:]
    r = len(dims)
    lo = [0.0 if align_corners else -0.5] * r
    hi = [d - 1.0 if align_corners else d - 0.5 for d in dims]
    y = np.zeros(x.shape[:2] + grid.shape[1:-1])
    for n in range(x.shape[0]):
        for pos in np.ndindex(*grid.shape[1:-1]):
            g = grid[(n,) + pos][::-1].astype(np.float64)
            base, weights = [], []
            for d in range(r):
                v = (g[d] + 1) / 2 * (dims[d] - 1) if align_corners else ((g[d] + 1) * dims[d] - 1) / 2
                if mode == "nearest":
                    v = float(np.rint(v))
                if v < lo[d] or v > hi[d]:
                    if padding == "border":
                        v = min(max(v, 0.0), dims[d] - 1.0)
                    elif padding == "reflection":
                        v = gs_reflect(v, lo[d], hi[d])
                f = np.floor(v)
                if mode == "nearest":
                    base.append(int(v))
                    weights.append([1.0])
                elif mode == "linear":
                    base.append(int(f))
                    weights.append([1 - (v - f), v - f])
                else:
                    base.append(int(f) - 1)
                    weights.append(gs_cubic(v - f))
            for taps in np.ndindex(*[len(w) for w in weights]):
                idx, wgt, ok = [], 1.0, True
                for d, t in enumerate(taps):
                    j = base[d] + t
                    if padding == "zeros":
                        ok = ok and 0 <= j < dims[d]
                    elif padding == "border":
                        j = min(max(j, 0), dims[d] - 1)
                    else:
                        j = int(gs_reflect(j, lo[d], hi[d]))
                    idx.append(j)
                    wgt *= weights[d][t]
                if ok:
                    y[(n, slice(None)) + pos] += wgt * x[(n, slice(None)) + tuple(idx)]
    return y.astype(x.dtype)


# -- fused attention ---------------------------------------------------------------


def _attention_work(n) -> int:
    q, kt, v = n.inputs[:3]
    return q.type.numel * kt.shape[-1] + n.outputs[0].type.numel * v.shape[-2]


def _attention_type(q, k_t, v, mask=None, *, scale, num_heads, mask_kind, mr=None, nv=None, nr=None):
    if q.shape[:-2] != k_t.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"batch dims differ: q {list(q.shape)}, k^T {list(k_t.shape)}, v {list(v.shape)}")
    if q.shape[-1] != k_t.shape[-2] or k_t.shape[-1] != v.shape[-2]:
        raise ValueError(f"q {list(q.shape)}, k^T {list(k_t.shape)} and v {list(v.shape)} do not chain")
    if mask is not None:
        broadcast_shape(mask.shape, q.shape[:-1] + (k_t.shape[-1],))
    return q.with_shape(q.shape[:-1] + (v.shape[-1],))


@register("fused_attention", infer=_attention_type, work=_attention_work)
def fused_attention(q, k_t, v, mask=None, *, scale, num_heads, mask_kind, mr=None, nv=None, nr=None):
    """softmax(q @ k_t * scale [+ mask]) @ v over the last two axes (k given transposed). With mr and nv
    (target lowering) the kernel computes mr query rows at a time with the GEMM microkernel of mr rows by
    nr = nv vectors of columns, for the scores and for the values."""
    s = np.matmul(q.astype(np.float64), k_t.astype(np.float64)) * scale
    if mask is not None:
        s = s + mask
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return np.matmul(p, v.astype(np.float64)).astype(q.dtype)


# -- determinant ---------------------------------------------------------------------


def _det_type(x):
    if x.rank < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"input {list(x.shape)} is not a stack of square matrices")
    return x.with_shape(x.shape[:-2])


@register("det", infer=_det_type)
def det(x):
    return np.linalg.det(x.astype(np.float64)).astype(x.dtype)


# -- roi align -------------------------------------------------------------------------


def roi_sample(plane: np.ndarray, y: float, x: float):
    """The four bilinear taps (weight, value) of point (y, x), or None outside [-1, size]."""
    h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return None
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return [((1 - ly) * (1 - lx), plane[y0, x0]), ((1 - ly) * lx, plane[y0, x1]), (ly * (1 - lx), plane[y1, x0]), (ly * lx, plane[y1, x1])]


def _roi_type(x, rois, idx, *, mode, out_h, out_w, sampling_ratio, spatial_scale, half_pixel):
    return x.with_shape((rois.shape[0], x.shape[1], out_h, out_w))


@register("roi_align", infer=_roi_type)
def roi_align(x, rois, idx, *, mode, out_h, out_w, sampling_ratio, spatial_scale, half_pixel):
    """Each bin averages (or takes the largest weighted tap of) a grid of bilinear samples."""
    n_rois, c = rois.shape[0], x.shape[1]
    y = np.zeros((n_rois, c, out_h, out_w))
    off = 0.5 if half_pixel else 0.0
    for r in range(n_rois):
        x0, y0, x1, y1 = (float(v) * spatial_scale - off for v in rois[r])
        rw, rh = x1 - x0, y1 - y0
        if not half_pixel:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / out_h, rw / out_w
        gh = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rh / out_h))
        gw = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rw / out_w))
        count = max(gh * gw, 1)
        for ch in range(c):
            plane = x[int(idx[r]), ch].astype(np.float64)
            for ph in range(out_h):
                for pw in range(out_w):
                    acc, best = 0.0, None
                    for iy in range(gh):
                        for ix in range(gw):
                            taps = roi_sample(plane, y0 + ph * bh + (iy + 0.5) * bh / gh, x0 + pw * bw + (ix + 0.5) * bw / gw)
                            taps = taps or [(0.0, 0.0)] * 4
                            if mode == "avg":
                                acc += sum(wt * v for wt, v in taps)
                            else:
                                m = max(wt * v for wt, v in taps)
                                best = m if best is None else max(best, m)
                    y[r, ch, ph, pw] = acc / count if mode == "avg" else (best if best is not None else 0.0)
    return y.astype(x.dtype)
