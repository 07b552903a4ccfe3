"""Window functions (constants once their size is known) and small composite ops."""

from __future__ import annotations

import numpy as np

from ...ir.types import DType
from ..importer import converter


def _window(ctx, size, output_datatype, periodic, fn):
    n = int(ctx.const(size, "size").reshape(-1)[0])
    den = n if periodic else n - 1
    i = np.arange(n, dtype=np.float64)
    return ctx.constant(fn(i, den).astype(DType.from_onnx(output_datatype).np))


@converter("HannWindow")
def hann(ctx, size, *, output_datatype=1, periodic=1):
    return _window(ctx, size, output_datatype, periodic, lambda i, d: 0.5 - 0.5 * np.cos(2 * np.pi * i / d))


@converter("HammingWindow")
def hamming(ctx, size, *, output_datatype=1, periodic=1):
    alpha = 25.0 / 46.0
    return _window(ctx, size, output_datatype, periodic, lambda i, d: alpha - (1 - alpha) * np.cos(2 * np.pi * i / d))


@converter("BlackmanWindow")
def blackman(ctx, size, *, output_datatype=1, periodic=1):
    return _window(ctx, size, output_datatype, periodic,
                   lambda i, d: 0.42 - 0.5 * np.cos(2 * np.pi * i / d) + 0.08 * np.cos(4 * np.pi * i / d))


@converter("SwiGLU")
def swiglu(ctx, a, b, *, alpha=1.0):
    if a.shape != b.shape:
        raise ctx.error(f"A {list(a.shape)} and B {list(b.shape)} must have the same shape")
    return ctx.emit("mul", ctx.emit("swish", a, alpha=float(alpha)), b)


def _cut(ctx, x, lo, hi, step=1):
    """x[..., lo:hi:step] on the last axis."""
    r = x.type.rank
    return ctx.emit("slice", x, starts=(0,) * (r - 1) + (lo,), ends=x.shape[:-1] + (hi,), steps=(1,) * (r - 1) + (step,))


@converter("RotaryEmbedding")
def rotary_embedding(ctx, x, cos, sin, position_ids=None, *, interleaved=0, num_heads=0, rotary_embedding_dim=0):
    """Rotate pairs of the first rotary_embedding_dim features of each head by the cached angles."""
    orig = x.shape
    if x.type.rank == 4:  # [B, H, S, D] -> [B, S, H, D]
        x = ctx.emit("transpose", x, perm=(0, 2, 1, 3))
    b, s = x.shape[:2]
    if x.type.rank == 3:
        if not num_heads or x.shape[2] % num_heads:
            raise ctx.error(f"hidden size {x.shape[2]} does not split into num_heads={num_heads}")
        x = ctx.emit("reshape", x, shape=(b, s, num_heads, x.shape[2] // num_heads))
    d = x.shape[3]
    rd = rotary_embedding_dim or d
    half = rd // 2
    if position_ids is not None:
        cos, sin = ctx.emit("gather", cos, position_ids, axis=0), ctx.emit("gather", sin, position_ids, axis=0)
    cos = ctx.emit("reshape", cos, shape=cos.shape[:-1] + (1, cos.shape[-1]))
    sin = ctx.emit("reshape", sin, shape=sin.shape[:-1] + (1, sin.shape[-1]))
    xr = _cut(ctx, x, 0, rd) if rd < d else x
    if interleaved:
        x1, x2 = _cut(ctx, xr, 0, rd, 2), _cut(ctx, xr, 1, rd, 2)
    else:
        x1, x2 = _cut(ctx, xr, 0, half), _cut(ctx, xr, half, rd)
    real = ctx.emit("sub", ctx.emit("mul", cos, x1), ctx.emit("mul", sin, x2))
    imag = ctx.emit("add", ctx.emit("mul", sin, x1), ctx.emit("mul", cos, x2))
    if interleaved:
        pairs = [ctx.emit("reshape", t, shape=t.shape + (1,)) for t in (real, imag)]
        rot = ctx.emit("reshape", ctx.emit("concat", *pairs, axis=4), shape=xr.shape)
    else:
        rot = ctx.emit("concat", real, imag, axis=3)
    y = ctx.emit("concat", rot, _cut(ctx, x, rd, d), axis=3) if rd < d else rot
    if len(orig) == 3:
        return ctx.emit("reshape", y, shape=orig)
    return ctx.emit("transpose", y, perm=(0, 2, 1, 3))
