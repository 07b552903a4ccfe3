"""Neural-network ONNX ops: Conv, pooling, Gemm/MatMul, normalisation, softmax, resize."""

from __future__ import annotations

import math

import numpy as np

from ...ir.types import DType
from ..importer import converter

# The most taps a window may have along one axis: the kernels' C carries per-tap tables (longer 1-D filters
# are rare in models, and the fuzzer's 2^31 took minutes to plan)
MAX_TAPS = 1 << 16


def _check_taps(ctx, kernel) -> None:
    if any(k > MAX_TAPS for k in kernel):
        raise ctx.error(f"a window of {list(kernel)} taps: at most {MAX_TAPS} along an axis are supported")


def _spatial(ctx, x, kernel, strides, dilations, pads, auto_pad, ceil_mode=0):
    """Resolve ONNX's optional spatial attributes to explicit per-axis lists."""
    r = len(kernel)
    _check_taps(ctx, kernel)
    strides = list(strides) if strides else [1] * r
    dilations = list(dilations) if dilations else [1] * r
    if len(strides) != r or len(dilations) != r:
        raise ctx.error(f"strides/dilations do not have {r} entries")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(r):
            n = x.shape[2 + i]
            out = -(-n // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n)
            small = total // 2
            pads.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
        pads = [p[0] for p in pads] + [p[1] for p in pads]
    elif auto_pad == "VALID" or not pads:
        pads = [0] * (2 * r)
    elif auto_pad not in ("NOTSET", ""):
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    if len(pads) != 2 * r:
        raise ctx.error(f"pads has {len(pads)} entries, expected {2 * r}")
    if any(p < 0 for p in pads) or any(s <= 0 for s in strides) or any(d <= 0 for d in dilations):
        raise ctx.error("pads must be >= 0, strides and dilations > 0")
    return dict(kernel=tuple(kernel), strides=tuple(strides), dilations=tuple(dilations), pads=tuple(int(p) for p in pads))


def _check_rank(ctx, x, low=3):
    if x.type.rank < low:
        raise ctx.error(f"input must have rank >= {low}, has {x.type.rank}")


@converter("Conv")
def conv(ctx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    _check_rank(ctx, x)
    kernel = list(kernel_shape) if kernel_shape else list(w.shape[2:])
    if tuple(kernel) != tuple(w.shape[2:]):
        raise ctx.error(f"kernel_shape {kernel} differs from the weight's {list(w.shape[2:])}")
    sp = _spatial(ctx, x, kernel, strides, dilations, pads, auto_pad)
    return ctx.emit("conv", x, w, b, group=int(group), **sp)


@converter("ConvTranspose")
def conv_transpose(ctx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None):
    _check_rank(ctx, x)
    r = x.type.rank - 2
    if w.type.rank != r + 2:
        raise ctx.error(f"W has rank {w.type.rank}, expected {r + 2}")
    kernel = list(w.shape[2:])
    if kernel_shape and list(kernel_shape) != kernel:
        raise ctx.error(f"kernel_shape {list(kernel_shape)} differs from W's spatial shape {kernel}")
    _check_taps(ctx, kernel)
    strides = list(strides) if strides else [1] * r
    dilations = list(dilations) if dilations else [1] * r
    output_padding = list(output_padding) if output_padding else [0] * r
    if len(strides) != r or len(dilations) != r or len(output_padding) != r:
        raise ctx.error(f"strides, dilations and output_padding need {r} entries each")
    if any(s <= 0 for s in strides) or any(d <= 0 for d in dilations) or any(p < 0 for p in output_padding):
        raise ctx.error("strides and dilations must be > 0, output_padding >= 0")
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # the spec: total = stride*(in-1) + output_padding + (k-1)*d + 1 - out; SAME_UPPER puts the odd pad at the end
        out_sp = list(output_shape)[-r:] if output_shape else [x.shape[2 + i] * strides[i] for i in range(r)]
        begin, end = [], []
        for i in range(r):
            total = strides[i] * (x.shape[2 + i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 - out_sp[i]
            if total < 0:  # the output is larger than the full result: extend it at the end
                output_padding[i] -= total
                total = 0
            lo = total // 2 if auto_pad != "SAME_LOWER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        pads = begin + end
    elif not pads or auto_pad == "VALID":
        pads = [0] * (2 * r)
    elif len(pads) != 2 * r or any(p < 0 for p in pads):
        raise ctx.error(f"pads {list(pads)} must be {2 * r} entries >= 0")
    return ctx.emit("conv_transpose", x, w, b, kernel=tuple(kernel), strides=tuple(strides), dilations=tuple(dilations),
                    pads=tuple(pads), group=int(group), output_padding=tuple(output_padding))


@converter("Gemm")
def gemm(ctx, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0):
    if a.type.rank != 2 or b.type.rank != 2:
        raise ctx.error(f"A and B must be matrices, got ranks {a.type.rank} and {b.type.rank}")
    if c is not None and beta == 0.0:
        c = None
    return ctx.emit("gemm", a, b, c, alpha=float(alpha), beta=float(beta), trans_a=int(transA), trans_b=int(transB))


@converter("MatMul")
def matmul(ctx, a, b):
    return ctx.emit("matmul", a, b)


@converter("MaxPool")
def max_pool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None, storage_order=0, strides=None):
    _check_rank(ctx, x)
    sp = _spatial(ctx, x, kernel_shape, strides, dilations, pads, auto_pad)
    if ctx.n_outputs > 1:
        return ctx.emit_multi("max_pool", x, ceil_mode=int(ceil_mode), indices=1, storage_order=int(storage_order), **sp)
    return ctx.emit("max_pool", x, ceil_mode=int(ceil_mode), **sp)


def _check_p(ctx, p) -> None:
    if int(p) < 1:
        raise ctx.error(f"p must be at least 1, is {int(p)}")


@converter("LpPool")
def lp_pool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, p=2, pads=None, strides=None):
    _check_rank(ctx, x)
    _check_p(ctx, p)
    sp = _spatial(ctx, x, kernel_shape, strides, dilations, pads, auto_pad)
    return ctx.emit("lp_pool", x, ceil_mode=int(ceil_mode), p=int(p), **sp)


@converter("GlobalLpPool")
def global_lp_pool(ctx, x, *, p=2):
    _check_rank(ctx, x)
    _check_p(ctx, p)
    return ctx.emit("lp_pool", x, kernel=tuple(x.shape[2:]), strides=(1,) * (x.type.rank - 2),
                    dilations=(1,) * (x.type.rank - 2), pads=(0,) * (2 * x.type.rank - 4), p=int(p))


@converter("AveragePool")
def average_pool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape, pads=None, strides=None):
    _check_rank(ctx, x)
    sp = _spatial(ctx, x, kernel_shape, strides, dilations, pads, auto_pad)
    return ctx.emit("average_pool", x, ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad), **sp)


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx, x):
    _check_rank(ctx, x)
    op = "reduce_mean" if ctx.op_type == "GlobalAveragePool" else "reduce_max"
    return ctx.emit(op, x, axes=tuple(range(2, x.type.rank)), keepdims=1)


@converter("BatchNormalization")
def batch_norm(ctx, x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9, spatial=1, training_mode=0, is_test=1, consumed_inputs=None):
    if not spatial:
        raise ctx.error("spatial=0 is not supported")
    if training_mode:
        return _batch_norm_training(ctx, x, scale, bias, mean, var, float(epsilon), float(momentum))
    return ctx.emit("batch_norm", x, scale, bias, mean, var, epsilon=float(epsilon))


def _batch_norm_training(ctx, x, scale, bias, mean, var, epsilon, momentum):
    """Normalise with the batch's statistics (population variance over every axis but 1); the other
    outputs are the running statistics blended with them: running * momentum + batch * (1 - momentum)."""
    axes = tuple(a for a in range(x.type.rank) if a != 1)
    bmean = ctx.emit("reduce_mean", x, axes=axes, keepdims=0)
    shaped = (x.shape[1],) + (1,) * (x.type.rank - 2)
    dev = ctx.emit("sub", x, ctx.emit("reshape", bmean, shape=shaped))
    bvar = ctx.emit("reduce_mean", ctx.emit("mul", dev, dev), axes=axes, keepdims=0)
    y = ctx.emit("batch_norm", x, scale, bias, bmean, bvar, epsilon=epsilon)
    m, rest = ctx.scalar(momentum, x.dtype), ctx.scalar(1.0 - momentum, x.dtype)

    def blend(running, batch):
        return ctx.emit("add", ctx.emit("mul", running, m), ctx.emit("mul", batch, rest))

    return (y, blend(mean, bmean), blend(var, bvar))[: ctx.n_outputs]


@converter("LayerNormalization")
def layer_norm(ctx, x, scale, bias=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    ax = axis + x.type.rank if axis < 0 else axis
    if not 0 <= ax < x.type.rank:
        raise ctx.error(f"axis {axis} is out of range for rank {x.type.rank}")
    norm = x.shape[ax:]
    # the IR's layernorm takes scale and bias of exactly the normalised shape
    def full(p):
        if p is None or p.shape == norm:
            return p
        return ctx.emit("expand", ctx.emit("reshape", p, shape=(1,) * (len(norm) - p.type.rank) + p.shape), shape=norm)

    scale, bias = full(scale), full(bias)
    y = ctx.emit("layernorm", x, scale, bias, axis=ax, epsilon=float(epsilon))
    if ctx.n_outputs == 1:
        return y
    # Mean and InvStdDev (float, keepdims): computed apart; DCE drops them when nothing reads them

    axes = tuple(range(ax, x.type.rank))
    xf = x if x.dtype is DType.FLOAT else ctx.emit("cast", x, to=DType.FLOAT.value, src=x.dtype.value)
    mean = ctx.emit("reduce_mean", xf, axes=axes, keepdims=1)
    d = ctx.emit("sub", xf, mean)
    var = ctx.emit("reduce_mean", ctx.emit("mul", d, d), axes=axes, keepdims=1)
    eps = ctx.constant(np.array(epsilon, np.float32))
    return y, mean, ctx.emit("reciprocal", ctx.emit("sqrt", ctx.emit("add", var, eps)))


@converter("LRN")
def lrn(ctx, x, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    _check_rank(ctx, x, 2)
    if int(size) < 1:
        raise ctx.error(f"size must be at least 1, is {int(size)}")
    return ctx.emit("lrn", x, size=int(size), alpha=float(alpha), beta=float(beta), bias=float(bias))


@converter("Softmax", "LogSoftmax")
def softmax(ctx, x, *, axis=None):
    """From opset 13 one axis; before it, the input is coerced to 2-D at `axis`."""
    op = "softmax" if ctx.op_type == "Softmax" else "log_softmax"
    r = x.type.rank
    if axis is None:
        axis = -1 if ctx.opset >= 13 else 1
    ax = axis + r if axis < 0 else axis
    if not 0 <= ax < max(r, 1):
        raise ctx.error(f"axis {axis} is out of range for rank {r}")
    if ctx.opset >= 13 or ax == r - 1:
        return ctx.emit(op, x, axis=ax)
    rows = math.prod(x.shape[:ax])
    flat = ctx.emit("reshape", x, shape=(rows, x.type.numel // max(rows, 1)))
    return ctx.emit("reshape", ctx.emit(op, flat, axis=1), shape=x.shape)


_COORDS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
           "tf_half_pixel_for_nn", "tf_crop_and_resize")


def _resize(ctx, x, scales, sizes, *, mode, coord, nearest_mode, cubic_coeff_a=-0.75, exclude_outside=0,
            extrapolation_value=0.0, antialias=0, roi=None):
    if mode not in ("nearest", "linear", "bilinear", "cubic", "bicubic"):
        raise ctx.error(f"mode {mode!r} is not one of nearest, linear, cubic")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if coord not in _COORDS:
        raise ctx.error(f"coordinate_transformation_mode {coord!r} is not supported")
    shape = x.shape
    if sizes is not None and scales is not None:  # both decided (keep_aspect_ratio_policy)
        sizes, scales = [int(s) for s in sizes], [float(s) for s in scales]
    elif sizes is not None:
        sizes = [int(s) for s in sizes]
        scales = [s / n if n else 1.0 for s, n in zip(sizes, shape)]
    else:
        scales = [float(s) for s in scales]
        if len(scales) != len(shape):
            raise ctx.error(f"{len(scales)} scales for rank {len(shape)}")
        sizes = [int(math.floor(n * s)) for n, s in zip(shape, scales)]
    if coord == "tf_crop_and_resize" and roi is None:
        raise ctx.error("tf_crop_and_resize needs roi")
    return ctx.emit("resize", x, sizes=tuple(sizes), scales=tuple(scales), mode=mode, coord=coord, nearest_mode=nearest_mode,
                    cubic_a=float(cubic_coeff_a), exclude_outside=int(exclude_outside),
                    extrapolation_value=float(extrapolation_value), antialias=int(antialias),
                    roi=tuple(float(r) for r in roi) if roi is not None else ())


@converter("Resize")
def resize(ctx, x, roi=None, scales=None, sizes=None, *, mode="nearest", coordinate_transformation_mode=None,
           nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
           antialias=0, axes=None, keep_aspect_ratio_policy="stretch"):
    if ctx.opset == 10:  # Resize-10: (X, scales), asymmetric coordinates, nearest rounds down
        scales, roi = roi, None
        coordinate_transformation_mode = coordinate_transformation_mode or "asymmetric"
        nearest_mode = "floor" if nearest_mode == "round_prefer_floor" else nearest_mode
    coord = coordinate_transformation_mode or "half_pixel"
    r = x.type.rank
    sc = ctx.const(scales, "scales").astype(float).reshape(-1).tolist() if scales is not None and scales.type.numel else None
    sz = ctx.ints(sizes, "sizes") if sizes is not None and sizes.type.numel else None
    crop = coord == "tf_crop_and_resize"  # the only mode that reads roi
    rois = ctx.const(roi, "roi").astype(float).reshape(-1).tolist() if crop and roi is not None and roi.type.numel else None
    n_axes = len(axes) if axes is not None else r
    for name, v, want in (("scales", sc, n_axes), ("sizes", sz, n_axes), ("roi", rois, 2 * n_axes)):
        if v is not None and len(v) != want:
            raise ctx.error(f"{name} must have {want} values, has {len(v)}")
    if sc is None and sz is None:
        raise ctx.error("neither scales nor sizes is given")
    if axes is not None:
        ax = [a % r for a in axes]
        full_sc, full_sz, full_roi = [1.0] * r, list(x.shape), [0.0] * r + [1.0] * r
        for k, a in enumerate(ax):
            if sc is not None:
                full_sc[a] = sc[k]
            if sz is not None:
                full_sz[a] = sz[k]
            if rois is not None:
                full_roi[a], full_roi[a + r] = rois[k], rois[k + len(ax)]
        sc = full_sc if sc is not None else None
        sz = full_sz if sz is not None else None
        rois = full_roi if rois is not None else None
    else:
        ax = list(range(r))
    if sz is not None and keep_aspect_ratio_policy != "stretch":
        pick = min if keep_aspect_ratio_policy == "not_larger" else max
        f = pick(sz[i] / x.shape[i] for i in ax)
        sc = [f if i in ax else 1.0 for i in range(r)]
        sz = [int(round(n * f)) if i in ax else n for i, n in enumerate(x.shape)]
    return _resize(ctx, x, sc, sz, mode=mode, coord=coord, nearest_mode=nearest_mode, cubic_coeff_a=cubic_coeff_a,
                   exclude_outside=exclude_outside, extrapolation_value=extrapolation_value, antialias=antialias, roi=rois)


@converter("Upsample")
def upsample(ctx, x, scales=None, *, mode="nearest", height_scale=None, width_scale=None):
    """Upsample-7 has a `scales` attribute, Upsample-9 a `scales` input."""
    if isinstance(scales, (list, tuple)):
        sc = [float(s) for s in scales]
    else:
        sc = ctx.const(scales, "scales").astype(float).tolist() if scales is not None else None
    if sc is None:
        raise ctx.error("scales is missing")
    return _resize(ctx, x, sc, None, mode=mode, coord="asymmetric", nearest_mode="floor")



def _normalize(ctx, x, axes, epsilon):
    """(x - mean) / sqrt(var + epsilon) over `axes`, computed in float."""
    xf = x if x.dtype is DType.FLOAT or x.dtype is DType.DOUBLE else ctx.emit("cast", x, to=DType.FLOAT.value, src=x.dtype.value)
    mean = ctx.emit("reduce_mean", xf, axes=tuple(axes), keepdims=1)
    d = ctx.emit("sub", xf, mean)
    var = ctx.emit("reduce_mean", ctx.emit("mul", d, d), axes=tuple(axes), keepdims=1)
    y = ctx.emit("div", d, ctx.emit("sqrt", ctx.emit("add", var, ctx.scalar(epsilon, xf.dtype))))
    return y if xf is x else ctx.emit("cast", y, to=x.dtype.value, src=xf.dtype.value)


def _per_channel(ctx, p, rank):
    """A [C] parameter shaped to broadcast over [N, C, spatial...]."""
    return ctx.emit("reshape", p, shape=(p.shape[0],) + (1,) * (rank - 2))


@converter("InstanceNormalization")
def instance_norm(ctx, x, scale, bias, *, epsilon=1e-5):
    r = x.type.rank
    y = _normalize(ctx, x, range(2, r), epsilon)
    return ctx.emit("add", ctx.emit("mul", y, _per_channel(ctx, scale, r)), _per_channel(ctx, bias, r))


@converter("GroupNormalization")
def group_norm(ctx, x, scale, bias, *, num_groups, epsilon=1e-5, stash_type=1):
    """Statistics over each group of C/num_groups channels; scale and bias per channel (per group before opset 21)."""
    n, c = x.shape[:2]
    r = x.type.rank
    if c % num_groups:
        raise ctx.error(f"{c} channels do not split into {num_groups} groups")
    g = ctx.emit("reshape", x, shape=(n, num_groups, x.type.numel // (n * num_groups)))
    y = ctx.emit("reshape", _normalize(ctx, g, [2], epsilon), shape=x.shape)
    def per_channel(p):  # opset 18 gives one scale and bias per group
        if p.shape[0] == c:
            return p
        p = ctx.emit("expand", ctx.emit("reshape", p, shape=(num_groups, 1)), shape=(num_groups, c // num_groups))
        return ctx.emit("reshape", p, shape=(c,))

    scale, bias = per_channel(scale), per_channel(bias)
    return ctx.emit("add", ctx.emit("mul", y, _per_channel(ctx, scale, r)), _per_channel(ctx, bias, r))


@converter("MeanVarianceNormalization")
def mean_variance_norm(ctx, x, *, axes=(0, 2, 3)):
    """As the spec's function body: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)."""
    ax = tuple(a % x.type.rank for a in axes)
    mean = ctx.emit("reduce_mean", x, axes=ax, keepdims=1)
    ex2 = ctx.emit("reduce_mean", ctx.emit("mul", x, x), axes=ax, keepdims=1)
    std = ctx.emit("sqrt", ctx.emit("sub", ex2, ctx.emit("mul", mean, mean)))
    return ctx.emit("div", ctx.emit("sub", x, mean), ctx.emit("add", std, ctx.scalar(1e-9, x.dtype)))


@converter("Einsum")
def einsum(ctx, *xs, equation):
    """Made explicit: '...' becomes letters of its own and an implicit output is spelled out."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(xs):
        raise ctx.error(f"equation {equation!r} names {len(subs)} inputs, the node has {len(xs)}")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    ell = max((x.type.rank - (len(s) - 3) for s, x in zip(subs, xs) if "..." in s), default=0)
    fill = "".join(spare[:ell])
    subs = [s.replace("...", fill[len(fill) - (x.type.rank - (len(s) - 3)):] if x.type.rank - (len(s) - 3) else "")
            for s, x in zip(subs, xs)]
    if arrow:
        out = out.replace("...", fill)
    else:
        counts = {c: sum(s.count(c) for s in subs) for c in set("".join(subs))}
        out = fill + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in fill))
    return ctx.emit("einsum", *xs, equation=",".join(subs) + "->" + out)


@converter("GridSample")
def grid_sample(ctx, x, grid, *, align_corners=0, mode=None, padding_mode="zeros"):
    mode = mode or ("linear" if ctx.opset >= 20 else "bilinear")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if mode not in ("nearest", "linear", "cubic") or padding_mode not in ("zeros", "border", "reflection"):
        raise ctx.error(f"mode {mode!r} / padding_mode {padding_mode!r} is not supported")
    return ctx.emit("grid_sample", x, grid, mode=mode, padding=padding_mode, align_corners=int(align_corners))


@converter("Det")
def det(ctx, x):
    return ctx.emit("det", x)


@converter("RoiAlign")
def roi_align(ctx, x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg", output_height=1,
              output_width=1, sampling_ratio=0, spatial_scale=1.0):
    if mode not in ("avg", "max") or x.type.rank != 4:
        raise ctx.error(f"mode {mode!r} on a rank-{x.type.rank} input is not supported (avg or max on NCHW)")
    return ctx.emit("roi_align", x, rois, batch_indices, mode=mode, out_h=int(output_height), out_w=int(output_width),
                    sampling_ratio=int(sampling_ratio), spatial_scale=float(spatial_scale),
                    half_pixel=int(coordinate_transformation_mode == "half_pixel"))
