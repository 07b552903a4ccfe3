"""Window functions (constants once their size is known) and small composite ops."""

from __future__ import annotations

import numpy as np

from ...ir.types import DType
from ..importer import converter


def _window(ctx, size, output_datatype, periodic, fn):
    n = int(ctx.const_scalar(size, "size"))
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


# -- DFT and STFT as matmuls with constant matrices --------------------------------------------


def _parts(ctx, x):
    """Real and imaginary parts of a [..., 1] (real) or [..., 2] (complex) signal; imag None when real."""
    if x.type.rank < 2 or x.shape[-1] not in (1, 2):
        raise ctx.error(f"the signal's last axis must be 1 (real) or 2 (complex), the shape is {list(x.shape)}")
    take = [ctx.emit("reshape", _cut(ctx, x, k, k + 1), shape=x.shape[:-1]) for k in range(x.shape[-1])]
    return take[0], (take[1] if len(take) > 1 else None)


def _along(ctx, v, axis, mat):
    """Apply mat [out, n] along `axis` of v."""
    r = v.type.rank
    perm = [i for i in range(r) if i != axis] + [axis]
    t = ctx.emit("transpose", v, perm=tuple(perm)) if axis != r - 1 else v
    t = ctx.emit("matmul", t, ctx.constant(np.ascontiguousarray(mat.T).astype(v.dtype.np)))
    if axis == r - 1:
        return t
    inv = [perm.index(i) for i in range(r)]
    return ctx.emit("transpose", t, perm=tuple(inv))


def dft_matrices(n_in: int, length: int, inverse: bool, onesided: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Real and imaginary parts of the matrix taking n_in samples (zero-padded or cut to length) to the output bins."""
    k = np.arange(length // 2 + 1 if onesided and not inverse else length).reshape(-1, 1)
    n = np.arange(min(n_in, length)).reshape(1, -1)
    sign = 1.0 if inverse else -1.0
    ang = sign * 2 * np.pi * k * n / length
    fr, fi = np.cos(ang), np.sin(ang)
    if inverse:
        fr, fi = fr / length, fi / length
    pad = np.zeros((fr.shape[0], n_in - n.shape[1]))
    return np.concatenate([fr, pad], 1), np.concatenate([fi, pad], 1), fr.shape[0]


def _dft(ctx, xr, xi, axis, length, inverse, onesided):
    n_in = xr.shape[axis]
    if inverse and onesided:  # one-sided spectrum in, real signal out (numpy's irfft)
        k = np.arange(n_in).reshape(1, -1)
        t = np.arange(length).reshape(-1, 1)
        w = np.where((k == 0) | ((length % 2 == 0) & (k == length // 2)), 1.0, 2.0) * (k <= length // 2)
        ang = 2 * np.pi * t * k / length
        yr = _along(ctx, xr, axis, w * np.cos(ang) / length)
        if xi is not None:
            yr = ctx.emit("sub", yr, _along(ctx, xi, axis, w * np.sin(ang) / length))
        return yr, None
    fr, fi, _ = dft_matrices(n_in, length, inverse, onesided)
    yr, yi = _along(ctx, xr, axis, fr), _along(ctx, xr, axis, fi)
    if xi is not None:
        yr = ctx.emit("sub", yr, _along(ctx, xi, axis, fi))
        yi = ctx.emit("add", yi, _along(ctx, xi, axis, fr))
    return yr, yi


def _complex(ctx, yr, yi):
    parts = [ctx.emit("reshape", p, shape=p.shape + (1,)) for p in ((yr,) if yi is None else (yr, yi))]
    return parts[0] if len(parts) == 1 else ctx.emit("concat", *parts, axis=yr.type.rank)


@converter("DFT")
def dft(ctx, x, dft_length=None, axis_in=None, *, axis=None, inverse=0, onesided=0):
    r = x.type.rank
    if axis_in is not None:
        ax = int(ctx.const_scalar(axis_in, "axis"))
    else:
        ax = axis if axis is not None else (1 if ctx.opset < 20 else -2)
    ax %= r
    if ax == r - 1:
        raise ctx.error("the DFT axis cannot be the last (real/imaginary) axis")
    n = x.shape[ax]
    length = int(ctx.const_scalar(dft_length, "dft_length")) if dft_length is not None else (
        2 * (n - 1) if inverse and onesided else n)
    xr, xi = _parts(ctx, x)
    yr, yi = _dft(ctx, xr, xi, ax, length, bool(inverse), bool(onesided))
    if yi is None and not (inverse and onesided):
        yi = ctx.emit("mul", yr, ctx.scalar(0.0, yr.dtype))
    return _complex(ctx, yr, yi)


@converter("STFT")
def stft(ctx, signal, frame_step, window=None, frame_length=None, *, onesided=1):
    step = int(ctx.const_scalar(frame_step, "frame_step"))
    length = int(ctx.const_scalar(frame_length, "frame_length")) if frame_length is not None else window.shape[0]
    total = signal.shape[1]
    frames = 1 + (total - length) // step
    idx = ctx.constant((np.arange(frames).reshape(-1, 1) * step + np.arange(length).reshape(1, -1)).astype(np.int64))
    xr, xi = _parts(ctx, signal)  # [batch, len]
    fr = ctx.emit("gather", xr, idx, axis=1)  # [batch, frames, length]
    fi = ctx.emit("gather", xi, idx, axis=1) if xi is not None else None
    if window is not None:
        fr = ctx.emit("mul", fr, window)
        fi = ctx.emit("mul", fi, window) if fi is not None else None
    yr, yi = _dft(ctx, fr, fi, 2, length, False, bool(onesided))
    return _complex(ctx, yr, yi)
