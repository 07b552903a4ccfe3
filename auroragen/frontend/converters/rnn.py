"""RNN, GRU and LSTM."""

from __future__ import annotations

from ...ir.ops.rnn import ACT_DEFAULTS, ALPHA_BETA, N_ACT
from ..importer import converter

KNOWN = {"Sigmoid", "Tanh", "Relu", "HardSigmoid", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "Affine", "Elu",
         "Softsign", "Softplus"}


def _convert(ctx, kind, x, w, r, b, seq_lens, h0, c0, p, *, activation_alpha, activation_beta, activations, clip, direction,
             hidden_size, layout, linear_before_reset=0, input_forget=0):
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.error(f"direction {direction!r} is not forward, reverse or bidirectional")
    dirs = 2 if direction == "bidirectional" else 1
    for name, v in (("X", x), ("W", w), ("R", r)):
        if v.type.rank != 3:
            raise ctx.error(f"{name} has shape {list(v.shape)}; it must have 3 axes")
    n = N_ACT[kind]
    names = list(activations) if activations else list(ACT_DEFAULTS[kind]) * dirs
    if len(names) != n * dirs:
        raise ctx.error(f"{len(names)} activations given, {n * dirs} expected")
    acts = []
    for k, name in enumerate(names):
        canon = {a.lower(): a for a in KNOWN}.get(name.lower())
        if canon is None:
            raise ctx.error(f"activation {name!r} is not supported")
        a0, b0 = ALPHA_BETA.get(canon, (0.0, 0.0))
        alpha = activation_alpha[k] if activation_alpha and k < len(activation_alpha) else a0
        beta = activation_beta[k] if activation_beta and k < len(activation_beta) else b0
        acts.append((canon, float(alpha), float(beta)))
    hidden = int(hidden_size) if hidden_size else r.shape[-1]
    return ctx.emit_multi("rnn", x, w, r, b, seq_lens, h0, c0, p, kind=kind, direction=direction, hidden=hidden,
                          activations=tuple(acts), clip=None if clip is None else float(clip),
                          linear_before_reset=int(linear_before_reset), input_forget=int(input_forget), layout=int(layout))


@converter("RNN")
def rnn(ctx, x, w, r, b=None, seq_lens=None, h0=None, *, activation_alpha=None, activation_beta=None, activations=None,
        clip=None, direction="forward", hidden_size=None, layout=0):
    return _convert(ctx, "rnn", x, w, r, b, seq_lens, h0, None, None, activation_alpha=activation_alpha,
                    activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                    hidden_size=hidden_size, layout=layout)


@converter("GRU")
def gru(ctx, x, w, r, b=None, seq_lens=None, h0=None, *, activation_alpha=None, activation_beta=None, activations=None,
        clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0):
    return _convert(ctx, "gru", x, w, r, b, seq_lens, h0, None, None, activation_alpha=activation_alpha,
                    activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                    hidden_size=hidden_size, layout=layout, linear_before_reset=linear_before_reset)


@converter("LSTM")
def lstm(ctx, x, w, r, b=None, seq_lens=None, h0=None, c0=None, p=None, *, activation_alpha=None, activation_beta=None,
         activations=None, clip=None, direction="forward", hidden_size=None, input_forget=0, layout=0):
    return _convert(ctx, "lstm", x, w, r, b, seq_lens, h0, c0, p, activation_alpha=activation_alpha,
                    activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                    hidden_size=hidden_size, layout=layout, input_forget=input_forget)
