"""Recurrent ops (RNN, GRU, LSTM) as the ONNX spec writes their equations.

One op, `aurora.rnn`, with `kind` = rnn | gru | lstm. Attributes are canonical:
`direction` is forward | reverse | bidirectional; `activations` holds
(name, alpha, beta) per activation and direction, in the
spec's order (f[, g[, h]] for the forward direction, then for the reverse one).
Outputs are always all present: Y, Y_h (and Y_c for lstm).
"""

from __future__ import annotations

import numpy as np

from .registry import register

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
N_ACT = {"rnn": 1, "gru": 2, "lstm": 3}
ACT_DEFAULTS = {"rnn": ("Tanh",), "gru": ("Sigmoid", "Tanh"), "lstm": ("Sigmoid", "Tanh", "Tanh")}
ALPHA_BETA = {  # an activation's (alpha, beta) defaults
    "HardSigmoid": (0.2, 0.5), "LeakyRelu": (0.01, 0.0), "ThresholdedRelu": (1.0, 0.0), "ScaledTanh": (1.0, 1.0),
    "Affine": (1.0, 0.0), "Elu": (1.0, 0.0),
}


def activation(name: str, alpha: float, beta: float):
    return {
        "Sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "Tanh": np.tanh,
        "Relu": lambda v: np.maximum(v, 0),
        "HardSigmoid": lambda v: np.clip(alpha * v + beta, 0, 1),
        "LeakyRelu": lambda v: np.where(v >= 0, v, alpha * v),
        "ThresholdedRelu": lambda v: np.where(v > alpha, v, 0),
        "ScaledTanh": lambda v: alpha * np.tanh(beta * v),
        "Affine": lambda v: alpha * v + beta,
        "Elu": lambda v: np.where(v >= 0, v, alpha * (np.exp(v) - 1)),
        "Softsign": lambda v: v / (1 + np.abs(v)),
        "Softplus": lambda v: np.log1p(np.exp(v)),
    }[name]


def _rnn_type(x, w, r, b=None, seq_lens=None, h0=None, c0=None, p=None, *, kind, direction, hidden, activations,
              clip=None, linear_before_reset=0, input_forget=0, layout=0):
    directions = 2 if direction == "bidirectional" else 1
    seq, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
    if w.shape != (directions, GATES[kind] * hidden, x.shape[2]):
        raise ValueError(f"W has shape {list(w.shape)}, expected {[directions, GATES[kind] * hidden, x.shape[2]]}")
    return output_types(x, seq, batch, directions, hidden, layout, kind)


def output_types(t, seq, batch, dirs, hidden, layout, kind):
    """Y, Y_h (and Y_c for lstm) in t's element type."""
    y = (seq, dirs, batch, hidden) if layout == 0 else (batch, seq, dirs, hidden)
    yh = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    return [t.with_shape(y), t.with_shape(yh)] + ([t.with_shape(yh)] if kind == "lstm" else [])


@register("rnn", infer=_rnn_type)
def rnn(x, w, r, b=None, seq_lens=None, h0=None, c0=None, p=None, *, kind, direction, hidden, activations,
        clip=None, linear_before_reset=0, input_forget=0, layout=0):
    xf = x.astype(np.float64)
    if layout:
        xf = xf.transpose(1, 0, 2)
    xw = np.einsum("sbi,dgi->dsbg", xf, w.astype(np.float64))
    return recur(xw, x.dtype, r, b, seq_lens, h0, c0, p, kind=kind, direction=direction, hidden=hidden,
                  activations=activations, clip=clip, linear_before_reset=linear_before_reset, input_forget=input_forget,
                  layout=layout)


def recur(xw_all, dtype, r, b, seq_lens, h0, c0, p, *, kind, direction, hidden, activations, clip,
           linear_before_reset, input_forget, layout):
    """The recurrence over xw_all [dirs, seq, batch, G*H] = X W^T per direction (bias not yet added)."""
    directions = 2 if direction == "bidirectional" else 1
    if layout:
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    _, seq, batch, _ = xw_all.shape
    g, hsz = GATES[kind], hidden
    lens = np.full(batch, seq) if seq_lens is None else seq_lens.astype(np.int64)
    y = np.zeros((seq, directions, batch, hsz))
    yh = np.zeros((directions, batch, hsz))
    yc = np.zeros((directions, batch, hsz))
    n_act = N_ACT[kind]

    def cl(v):
        return np.clip(v, -clip, clip) if clip is not None else v

    for d in range(directions):
        acts = [activation(*a) for a in activations[d * n_act:(d + 1) * n_act]]
        rd = r[d].astype(np.float64)
        bd = b[d].astype(np.float64) if b is not None else np.zeros(2 * g * hsz)
        wb, rb = bd[: g * hsz], bd[g * hsz:]
        pd = p[d].astype(np.float64) if p is not None else np.zeros(3 * hsz)
        reverse = d == 1 or direction == "reverse"
        for bi in range(batch):
            h = h0[d, bi].astype(np.float64) if h0 is not None else np.zeros(hsz)
            c = c0[d, bi].astype(np.float64) if c0 is not None else np.zeros(hsz)
            n = int(lens[bi])
            for step in range(n):
                t = n - 1 - step if reverse else step
                xw = xw_all[d, t, bi] + wb
                hr = rd @ h + rb
                if kind == "rnn":
                    h = acts[0](cl(xw + hr))
                elif kind == "gru":
                    z = acts[0](cl(xw[:hsz] + hr[:hsz]))
                    rg = acts[0](cl(xw[hsz:2 * hsz] + hr[hsz:2 * hsz]))
                    if linear_before_reset:
                        hh = acts[1](cl(xw[2 * hsz:] + rg * hr[2 * hsz:]))
                    else:
                        hh = acts[1](cl(xw[2 * hsz:] + rd[2 * hsz:] @ (rg * h) + rb[2 * hsz:]))
                    h = (1 - z) * hh + z * h
                else:
                    gi = acts[0](cl(xw[:hsz] + hr[:hsz] + pd[:hsz] * c))
                    gf = 1 - gi if input_forget else acts[0](cl(xw[2 * hsz:3 * hsz] + hr[2 * hsz:3 * hsz] + pd[2 * hsz:] * c))
                    gc = acts[1](cl(xw[3 * hsz:] + hr[3 * hsz:]))
                    c = gf * c + gi * gc
                    go = acts[0](cl(xw[hsz:2 * hsz] + hr[hsz:2 * hsz] + pd[hsz:2 * hsz] * c))
                    h = go * acts[2](c)
                y[t, d, bi] = h
            yh[d, bi], yc[d, bi] = h, c
    if layout:
        y, yh, yc = y.transpose(2, 0, 1, 3), yh.transpose(1, 0, 2), yc.transpose(1, 0, 2)
    outs = [y.astype(dtype), yh.astype(dtype)]
    return outs + [yc.astype(dtype)] if kind == "lstm" else outs

