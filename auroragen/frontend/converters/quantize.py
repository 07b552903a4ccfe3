"""Quantisation ops, decomposed: y = saturate(round(x / scale) + zero_point) and back.

Scales and zero points are scalars, per-axis vectors or (block_size > 0)
blocks along `axis`; they are shaped here to broadcast over x. Rounding is to
nearest, ties to even, as the spec says.
"""

from __future__ import annotations

from ...ir.narrow import int_range
from ...ir.types import DType
from ..importer import converter
from .nn import conv

F32 = DType.FLOAT


def _to_float(ctx, v, dt=F32):
    return v if v.dtype is dt else ctx.emit("cast", v, to=dt.value, src=v.dtype.value)


def _broadcastable(ctx, p, x, axis, block_size):
    """A scale or zero point shaped to broadcast over x (scalar, per-axis or blocked)."""
    r = x.type.rank
    if p.type.rank == 0 or p.type.numel == 1 and not block_size:
        return ctx.emit("reshape", p, shape=())
    ax = axis % r
    if block_size:
        # repeat every entry block_size times along the axis, then cut to x's length
        shape = p.shape
        inter = shape[: ax + 1] + (1,) + shape[ax + 1:]
        full = shape[: ax + 1] + (block_size,) + shape[ax + 1:]
        t = ctx.emit("expand", ctx.emit("reshape", p, shape=inter), shape=full)
        t = ctx.emit("reshape", t, shape=shape[:ax] + (shape[ax] * block_size,) + shape[ax + 1:])
        if t.shape[ax] != x.shape[ax]:
            t = ctx.emit("slice", t, starts=(0,) * r, ends=x.shape, steps=(1,) * r)
        return t
    return ctx.emit("reshape", p, shape=tuple(p.shape[0] if i == ax else 1 for i in range(r)))


def _limits(dt: DType):
    lo, hi = int_range(dt)
    return float(lo), float(hi)


@converter("QuantizeLinear")
def quantize_linear(ctx, x, scale, zero_point=None, *, axis=1, saturate=1, block_size=0, output_dtype=0, precision=0):
    out = zero_point.dtype if zero_point is not None else (DType.from_onnx(output_dtype) if output_dtype else DType.UINT8)
    if not (out.is_int or out.is_narrow) or out is DType.FLOAT8E8M0:
        raise ctx.error(f"quantising to {out.short} is not supported")
    work = DType.FLOAT if x.dtype is not DType.DOUBLE else DType.DOUBLE
    q = ctx.emit("div", _to_float(ctx, x, work), _to_float(ctx, _broadcastable(ctx, scale, x, axis, block_size), work))
    if out.is_narrow_float:  # x / scale + zero point, rounded once to the float type (to nearest even)
        if zero_point is not None:
            q = ctx.emit("add", q, _to_float(ctx, _broadcastable(ctx, zero_point, x, axis, block_size), work))
        if work is not DType.FLOAT:
            q = _to_float(ctx, q)
        return ctx.emit("cast", q, to=out.value, src=DType.FLOAT.value, saturate=int(saturate))
    q = ctx.emit("round", q)
    if zero_point is not None:
        q = ctx.emit("add", q, _to_float(ctx, _broadcastable(ctx, zero_point, x, axis, block_size), work))
    lo, hi = _limits(out)
    q = ctx.emit("clip", q, min=lo, max=hi)
    return ctx.emit("cast", q, to=out.value, src=work.value)


@converter("DequantizeLinear")
def dequantize_linear(ctx, x, scale, zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    out = DType.from_onnx(output_dtype) if output_dtype else scale.dtype
    work = DType.DOUBLE if out is DType.DOUBLE else F32
    v = _to_float(ctx, x, work)
    if zero_point is not None:
        v = ctx.emit("sub", v, _to_float(ctx, _broadcastable(ctx, zero_point, x, axis, block_size), work))
    y = ctx.emit("mul", v, _to_float(ctx, _broadcastable(ctx, scale, x, axis, block_size), work))
    return _to_float(ctx, y, out)


@converter("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx, x):
    """uint8 with scale = (max(0, max x) - min(0, min x)) / 255 and zero point round(-min / scale)."""
    all_axes = tuple(range(x.type.rank))
    zero = ctx.scalar(0.0, F32)
    hi = ctx.emit("max", ctx.emit("reduce_max", x, axes=all_axes, keepdims=0), zero)
    lo = ctx.emit("min", ctx.emit("reduce_min", x, axes=all_axes, keepdims=0), zero)
    scale = ctx.emit("div", ctx.emit("sub", hi, lo), ctx.scalar(255.0, F32))
    zp = ctx.emit("clip", ctx.emit("round", ctx.emit("div", ctx.emit("neg", lo), scale)), min=0.0, max=255.0)
    q = ctx.emit("clip", ctx.emit("add", ctx.emit("round", ctx.emit("div", x, scale)), zp), min=0.0, max=255.0)
    u8 = DType.UINT8.value
    return ctx.emit("cast", q, to=u8, src=F32.value), scale, ctx.emit("cast", zp, to=u8, src=F32.value)


def _int32_minus(ctx, v, zp, axis_for_zp=None):
    """v - zero point, in int32."""
    v = ctx.emit("cast", v, to=DType.INT32.value, src=v.dtype.value)
    if zp is None:
        return v
    z = ctx.emit("cast", zp, to=DType.INT32.value, src=zp.dtype.value)
    if axis_for_zp is not None and z.type.rank == 1 and z.type.numel > 1:
        z = ctx.emit("reshape", z, shape=axis_for_zp)
    return ctx.emit("sub", v, z)


@converter("MatMulInteger")
def matmul_integer(ctx, a, b, a_zero_point=None, b_zero_point=None):
    """int32 (A - a_zp) @ (B - b_zp); a_zp per row of A, b_zp per column of B."""
    za = (a.shape[-2], 1) if a_zero_point is not None and a_zero_point.type.numel > 1 else None
    return ctx.emit("matmul", _int32_minus(ctx, a, a_zero_point, za), _int32_minus(ctx, b, b_zero_point))


@converter("ConvInteger")
def conv_integer(ctx, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                 kernel_shape=None, pads=None, strides=None):
    """The integer convolution, computed exactly in float (|values| stay below 2^24) and cast to int32."""
    if x.type.rank < 3 or w.type.rank != x.type.rank:
        raise ctx.error(f"input of rank {x.type.rank} and weights of rank {w.type.rank}: both must be [N, C, ...] alike")
    xs = _to_float(ctx, _int32_minus(ctx, x, x_zero_point))
    wz = (w.shape[0],) + (1,) * (w.type.rank - 1)
    ws = _to_float(ctx, _int32_minus(ctx, w, w_zero_point, wz))
    y = conv(ctx, xs, ws, None, auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads,
             strides=strides)
    return ctx.emit("cast", ctx.emit("round", y), to=DType.INT32.value, src=F32.value)


def _requantize(ctx, acc, y_scale, y_zp):
    out = y_zp.dtype
    q = ctx.emit("add", ctx.emit("round", ctx.emit("div", acc, _to_float(ctx, y_scale))), _to_float(ctx, y_zp))
    lo, hi = _limits(out)
    return ctx.emit("cast", ctx.emit("clip", q, min=lo, max=hi), to=out.value, src=F32.value)


@converter("QLinearMatMul")
def qlinear_matmul(ctx, a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp):
    da = dequantize_linear(ctx, a, a_scale, a_zp, axis=0 if a_scale.type.numel > 1 else 1)
    bs = b_scale if b_scale.type.numel == 1 else ctx.emit("reshape", b_scale, shape=(1, b_scale.type.numel))
    bz = b_zp if b_zp.type.numel == 1 else ctx.emit("reshape", b_zp, shape=(1, b_zp.type.numel))
    db = dequantize_linear(ctx, b, bs, bz, axis=-1)
    return _requantize(ctx, ctx.emit("matmul", _to_float(ctx, da), _to_float(ctx, db)), y_scale, y_zp)


@converter("QLinearConv")
def qlinear_conv(ctx, x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias=None, *, auto_pad="NOTSET", dilations=None,
                 group=1, kernel_shape=None, pads=None, strides=None):
    dx = dequantize_linear(ctx, x, x_scale, x_zp)
    dw = dequantize_linear(ctx, w, w_scale, w_zp, axis=0)
    b = None
    if bias is not None:  # int32 bias in units of x_scale * w_scale
        unit = ctx.emit("mul", _to_float(ctx, x_scale), _to_float(ctx, w_scale))
        b = ctx.emit("mul", _to_float(ctx, bias), ctx.emit("reshape", unit, shape=(max(w_scale.type.numel, 1),)))
    y = conv(ctx, _to_float(ctx, dx), _to_float(ctx, dw), b, auto_pad=auto_pad, dilations=dilations, group=group,
             kernel_shape=kernel_shape, pads=pads, strides=strides)
    return _requantize(ctx, y, y_scale, y_zp)
