"""rnn -> dense + rnn_packed: with constant float W and R, the input projection X W^T of every step is
one dense GEMM before the recurrence, and the recurrence computes h R^T with the 1-row microkernel over
R packed in column panels (GRU with linear_before_reset=0 keeps the plain kernel: it multiplies R's last
gate by r * h, not by h)."""

from __future__ import annotations

from math import prod

import numpy as np

from ...ir.ops.registry import register
from ...ir.ops.rnn import output_types, recur
from ...ir.types import DType
from ...passes.rewrite import Rewriter
from ..target import Target
from .dense import dense_block_rows, pack_dense_weights, unpack_dense_weights
from .table import Lowering, const_weights, packed


def pack_recurrent_weights(r: np.ndarray, nr: int) -> np.ndarray:
    """R [dirs, G*H, H] as, per direction, R^T [H, G*H] in the dense microkernel's column panels."""

    return np.concatenate([pack_dense_weights(np.ascontiguousarray(rd.T), nr) for rd in r])

def unpack_recurrent_weights(rp: np.ndarray, rshape, nr: int) -> np.ndarray:

    dirs, gh, h = rshape
    parts = rp.reshape(dirs, -1)
    return np.stack([unpack_dense_weights(parts[d], h, gh, nr).T for d in range(dirs)])

def _rnn_packed_type(xw, rp, b=None, seq_lens=None, h0=None, c0=None, p=None, *, rshape, nr, nv, kind, direction,
                     hidden, activations, clip=None, linear_before_reset=0, input_forget=0, layout=0):
    dirs, gh, _ = rshape
    if xw.shape[-1] != dirs * gh:
        raise ValueError(f"projected input's last dimension {xw.shape[-1]} is not {dirs * gh}")
    seq, batch = (xw.shape[0], xw.shape[1]) if layout == 0 else (xw.shape[1], xw.shape[0])
    return output_types(xw, seq, batch, dirs, hidden, layout, kind)

@register("rnn_packed", infer=_rnn_packed_type)
def rnn_packed(xw, rp, b=None, seq_lens=None, h0=None, c0=None, p=None, *, rshape, nr, nv, kind, direction, hidden,
               activations, clip=None, linear_before_reset=0, input_forget=0, layout=0):
    """rnn after its input projection: xw [seq, batch, dirs*G*H] (layout 1: batch first) is X W^T for every
    step, computed beforehand as one GEMM; R packed by pack_recurrent_weights for the 1-row microkernel."""
    dirs, gh, _ = rshape
    xf = xw.astype(np.float64)
    if layout:
        xf = xf.transpose(1, 0, 2)
    seq, batch, _ = xf.shape
    xwd = xf.reshape(seq, batch, dirs, gh).transpose(2, 0, 1, 3)
    return recur(xwd, xw.dtype, unpack_recurrent_weights(rp, rshape, nr), b, seq_lens, h0, c0, p, kind=kind,
                  direction=direction, hidden=hidden, activations=activations, clip=clip,
                  linear_before_reset=linear_before_reset, input_forget=input_forget, layout=layout)


def lower_rnn(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    x, w, r = n.inputs[:3]
    a = n.attrs
    w, r = const_weights(rw, w), const_weights(rw, r)
    if w is None or r is None or x.dtype is not DType.FLOAT or (a["kind"] == "gru" and not a["linear_before_reset"]):
        return False
    dirs, gh, isz = w.shape
    nr = target.gemm_nr
    wt = np.ascontiguousarray(w.transpose(2, 0, 1).reshape(isz, dirs * gh), np.float32)  # [I, dirs * G*H]
    mr = target.gemm_mr
    dense_attrs = dict(k=isz, n=dirs * gh, mr=mr, nv=target.gemm_nv, nr=nr, mc=dense_block_rows(isz, prod(x.shape[:2]), mr),
                       activation=None, act_params=())
    xw, _work = rw.emit("dense", (x, rw.constant(pack_dense_weights(wt, nr), name=packed(n.inputs[1])), None, None), dense_attrs, n.name)
    rp = rw.constant(pack_recurrent_weights(np.asarray(r, np.float32), nr), name=packed(n.inputs[2]))
    outs = rw.emit("rnn_packed", (xw, rp, *n.inputs[3:]), dict(a, rshape=tuple(r.shape), nr=nr, nv=target.gemm_nv), n.name)
    for old, new in zip(n.outputs, outs):
        rw.replace(old, new)
    return True


ROWS = [Lowering("rnn", "rnn_packed", lower_rnn)]
