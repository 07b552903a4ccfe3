"""BatchNormalization, and Mul/Add by per-channel constants, folded into the preceding
Conv or Gemm's weights and bias; a BatchNormalization with no Conv or Gemm to fold into
becomes a per-channel scale and shift (Mul, Add) that later passes fuse.

    conv(x, w, b) -> batch_norm(scale, bias, mean, var)
    =  conv(x, w * s, (b - mean) * s + bias),   s = scale / sqrt(var + eps) per output channel
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node, Splat, Value
from .rewrite import Rewriter

FOLDABLE = ("conv", "gemm")


def channel_vector(c: np.ndarray, out_shape: tuple[int, ...], axis: int) -> np.ndarray | None:
    """c as one value per channel of `axis`, when c broadcasts to out_shape varying only along that axis."""
    r = len(out_shape)
    if c.ndim > r:
        return None
    full = c.reshape((1,) * (r - c.ndim) + c.shape)
    if any(d != 1 for i, d in enumerate(full.shape) if i != axis) or full.shape[axis] not in (1, out_shape[axis]):
        return None
    return np.broadcast_to(full.reshape(-1), (out_shape[axis],)).astype(np.float64)


def _scaled(rw: Rewriter, n: Node, s: np.ndarray, shift: np.ndarray) -> Value | None:
    """A copy of conv/gemm n computing n * s + shift per output channel, or None when n's weights are not constant."""
    dt = n.output.dtype
    if n.op == "conv":
        x, w, b = (list(n.inputs) + [None])[:3]
        wc = rw.const(w)
        ba = rw.array(b) if b is not None else np.zeros(w.shape[0])
        if wc is None or ba is None:
            return None
        b2 = rw.constant((ba.astype(np.float64) * s + shift).astype(dt.np))
        if isinstance(wc, Splat):  # keep a one-value weight one value (the ONNX "light" models): uniform scales only
            if not np.all(s == s[0]):
                return None
            w2 = rw.constant(Splat(float(np.float64(wc.value) * s[0])), w.type)
        else:
            w2 = rw.constant((wc.astype(np.float64) * s.reshape((-1,) + (1,) * (wc.ndim - 1))).astype(dt.np))
        (y,) = rw.emit("conv", [x, w2, b2], dict(n.attrs), n.name)
        return y
    a, bm, c = (list(n.inputs) + [None])[:3]
    if isinstance(rw.const(bm), Splat):
        return None
    ba = rw.array(bm)
    if ba is None:
        return None
    at = n.attrs
    w2 = ba.astype(np.float64) * (s.reshape(1, -1) if not at["trans_b"] else s.reshape(-1, 1))
    rows, cols = n.output.shape
    if c is not None:
        ca = rw.array(c)
        if ca is None:
            return None
        c2 = np.broadcast_to(ca.astype(np.float64) * at["beta"], (rows, cols)) * s.reshape(1, -1) + shift.reshape(1, -1)
        if np.all(c2 == c2[:1]):
            c2 = c2[0]
    else:
        c2 = shift
    attrs = dict(at, beta=1.0)
    (y,) = rw.emit("gemm", [a, rw.constant(w2.astype(dt.np)), rw.constant(np.ascontiguousarray(c2).astype(dt.np))], attrs, n.name)
    return y


@dataclass(frozen=True)
class FoldAffine:
    name: str = "fold-affine"

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        producer: dict[Value, Node] = {}
        origin: dict[Value, Value] = {}  # a folded value -> the original value it stands for (whose users count)
        for n in g.nodes:
            folded = self._fold(rw, n, producer, origin)
            if folded is not None:
                rw.replace(n.outputs[0], folded)
                producer[folded] = rw.nodes[-1]
                origin[folded] = n.outputs[0]
                continue
            kept = rw.keep(n)
            for v in kept.outputs:
                producer[v] = kept
        return rw.graph()

    def _fold(self, rw: Rewriter, n: Node, producer, origin) -> Value | None:
        if len(n.outputs) != 1 or not n.outputs[0].dtype.is_float:
            return None
        if n.op == "batch_norm":
            params = [rw.array(v) for v in n.inputs[1:5]]
            if any(p is None for p in params):
                return None
            scale, bias, mean, var = (p.astype(np.float64) for p in params)
            with np.errstate(divide="ignore", invalid="ignore"):
                s = scale / np.sqrt(var + n.attrs["epsilon"])
                shift = bias - mean * s
            x = rw.get(n.inputs[0])
        elif n.op in ("mul", "div", "add", "sub") and len(n.inputs) == 2:
            x, c = rw.get(n.inputs[0]), rw.get(n.inputs[1])
            if x not in producer or c not in rw.consts or x.type != n.output.type:
                return None
            vec = channel_vector(rw.array(c), n.output.shape, 1) if n.output.type.rank >= 2 else None
            if vec is None:
                return None
            ones, zeros = np.ones_like(vec), np.zeros_like(vec)
            with np.errstate(divide="ignore", invalid="ignore"):
                s, shift = {"mul": (vec, zeros), "div": (1 / vec, zeros), "add": (ones, vec), "sub": (ones, -vec)}[n.op]
        else:
            return None
        with np.errstate(invalid="ignore"):
            if not (np.isfinite(s).all() and np.isfinite(shift).all()):
                return None  # a division by zero or an infinite factor: folded into the weights it would turn sums into inf - inf
        p = producer.get(x)
        if p is not None and p.op in FOLDABLE and not p.attrs.get("activation") and len(p.inputs) <= 3 \
                and rw.only_user(origin.get(x, x)) is not None:
            y = _scaled(rw, p, s, shift)
            if y is not None:
                return y
        if n.op != "batch_norm":
            return None
        # standalone: x * s + shift, per channel of axis 1
        r = x.type.rank
        shape = (x.shape[1],) + (1,) * (r - 2) if r >= 2 else (1,)
        dt = x.dtype.np
        (m,) = rw.emit("mul", [x, rw.constant(s.reshape(shape).astype(dt))], {}, n.name)
        (y,) = rw.emit("add", [m, rw.constant(shift.reshape(shape).astype(dt))], {}, n.name)
        return y
