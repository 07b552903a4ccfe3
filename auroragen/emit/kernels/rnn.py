"""The plan of the recurrent kernel (RNN, GRU, LSTM)."""

from __future__ import annotations

from ...ir import Node
from ...ir.ops.rnn import GATES, N_ACT
from ...ir.types import DType
from ..affine import Loop
from ..cformat import literal
from . import Plan, kernel
from .nn import gemm_micro

# C for each activation of the pre-activation `v` ({F}: math suffix, {a}/{b}: alpha/beta literals)
ACT_C = {
    "Sigmoid": "1 / (1 + exp{F}(-v))",
    "Tanh": "tanh{F}(v)",
    "Relu": "(v < 0 ? 0 : v)",
    "HardSigmoid": "({a} * v + {b} < 0 ? 0 : ({a} * v + {b} > 1 ? 1 : {a} * v + {b}))",
    "LeakyRelu": "(v >= 0 ? v : {a} * v)",
    "ThresholdedRelu": "(v > {a} ? v : 0)",
    "ScaledTanh": "{a} * tanh{F}({b} * v)",
    "Affine": "({a} * v + {b})",
    "Elu": "(v >= 0 ? v : {a} * (exp{F}(v) - 1))",
    "Softsign": "v / (1 + fabs{F}(v))",
    "Softplus": "log1p{F}(exp{F}(v))",
}

# The same over a vector `v` of floats (aurora_vec.h); an activation missing here keeps the scalar loop
ACT_V = {
    "Sigmoid": "av_sigmoid(v)",
    "Tanh": "av_tanh(v)",
    "Relu": "av_max(av_zero(), v)",
    "Affine": "av_fma(av_set1({a}), v, av_set1({b}))",
    "ScaledTanh": "av_mul(av_set1({a}), av_tanh(av_mul(av_set1({b}), v)))",
}


INPUTS = ("X", "W", "R", "B", "L", "H0", "C0", "P")


@kernel("rnn", "rnn_packed")
def plan_rnn(node: Node, step) -> Plan:
    """rnn: the input projection and the recurrence, plain loops. rnn_packed: the recurrence over X W^T
    computed beforehand, h R^T by the 1-row GEMM microkernel over R's packed column panels."""
    a = node.attrs
    x = node.inputs[0]
    kind, hsz, layout = a["kind"], a["hidden"], a["layout"]
    g = GATES[kind]
    dirs = 2 if a["direction"] == "bidirectional" else 1
    seq, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
    isz = x.shape[2]
    packed = None
    names = INPUTS
    if node.op == "rnn_packed":
        packed = dict(NR=a["nr"], NV=a["nv"], Q=-(-g * hsz // a["nr"]))
        names = ("X",) + INPUTS[2:]
    inp = {n: f"in{k}" for k, n in enumerate(names)}
    dt = x.dtype
    F = "" if dt is DType.DOUBLE else "f"
    n_act = N_ACT[kind]

    def present(k):  # k: the input's position in rnn's own input list
        k = k - 1 if packed and k > 1 else k
        return len(node.inputs) > k and node.inputs[k] is not None

    directions = []
    for d in range(dirs):
        mine = a["activations"][d * n_act:(d + 1) * n_act]
        acts = [ACT_C[name].format(F=F, a=literal(al, dt), b=literal(be, dt)) for name, al, be in mine]
        vector = (dt is DType.FLOAT and a.get("clip") is None and all(name in ACT_V for name, _, _ in mine)
                  and not (kind == "gru" and not a.get("linear_before_reset", 0)))
        vacts = [ACT_V[name].format(a=literal(al, dt), b=literal(be, dt)) for name, al, be in mine] if vector else None
        directions.append(dict(
            index=d, reverse=d == 1 or a["direction"] == "reverse", act=acts, vact=vacts,
            w_base=d * g * hsz * isz, r_base=d * g * hsz * hsz, b_base=d * 2 * g * hsz, p_base=d * 3 * hsz,
            yh_base=d * hsz if layout else d * batch * hsz,
        ))
    clip = a.get("clip")
    return Plan("rnn", dict(
        packed=packed, inp=inp, kind=kind, dirs=directions, B=batch, b=Loop("b", batch), S=seq, I=isz, H=hsz, G=g, ctype=dt.ctype,
        x_tstride=batch * isz if layout == 0 else isz, x_bstride=isz if layout == 0 else seq * isz,
        y_tstride=dirs * batch * hsz if layout == 0 else dirs * hsz, y_dstride=batch * hsz if layout == 0 else hsz,
        y_bstride=hsz if layout == 0 else seq * dirs * hsz, yh_bstride=hsz if layout == 0 else dirs * hsz,
        y_size=seq * dirs * batch * hsz, clip=None if clip is None else literal(clip, dt),
        linear_before_reset=a.get("linear_before_reset", 0), input_forget=a.get("input_forget", 0),
        has=dict(b=present(3), lens=present(4), h0=present(5), c0=present(6), p=present(7)),
    ), what=f"{kind} {a['direction']}, hidden {hsz}, {seq} steps" + (" (recurrence; input projected by one GEMM)" if packed else ""),
        helpers=[gemm_micro(1, packed["NV"])] if packed else [])
