"""The Attention op (opset 23+), decomposed into Aurora ops.

Y = softmax(Q K^T * scale (softcapped) + bias) V per head, where the bias
gathers the attention mask, the causal and sliding-window limits and the
padding given by nonpad_kv_seqlen. A row that every bias entry masks gives 0,
not NaN. Grouped-query attention repeats each K/V head for its group of
query heads. Biases built from compile-time values fold to constants.
"""

from __future__ import annotations

import numpy as np

from ...ir.narrow import storage_scalar
from ...ir.types import DType
from ..importer import converter


def _heads_4d(ctx, x, heads):
    """[B, S, H*D] -> [B, H, S, D]."""
    b, s, hidden = x.shape
    if heads is None or heads <= 0 or hidden % heads:
        raise ctx.error(f"hidden size {hidden} does not split into {heads} heads (set q_num_heads/kv_num_heads)")
    return ctx.emit("transpose", ctx.emit("reshape", x, shape=(b, s, heads, hidden // heads)), perm=(0, 2, 1, 3))


def _neg_inf(ctx, dt):
    return ctx.scalar(-np.inf, dt)


def _zero(ctx, dt):
    return ctx.scalar(0.0, dt)


def _offset_mask(q, kv, offset, left=-1, right=-1, causal=True):
    """allowed[i, j] for query i at absolute position offset + i and key j."""
    diff = (np.arange(q).reshape(q, 1) + offset) - np.arange(kv).reshape(1, kv)
    allowed = diff >= 0 if causal else np.ones((q, kv), bool)
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    return allowed


def _group_heads(ctx, k, v, qh: int):
    """Grouped-query attention: each K/V head serves qh / kv_heads consecutive query heads."""
    kvh = k.shape[1]
    if kvh == qh:
        return k, v
    if qh % kvh:
        raise ctx.error(f"{qh} query heads do not group over {kvh} key/value heads")
    reps = qh // kvh

    def repeat(t):
        b_, h_, s_, d_ = t.shape
        t = ctx.emit("expand", ctx.emit("reshape", t, shape=(b_, h_, 1, s_, d_)), shape=(b_, h_, reps, s_, d_))
        return ctx.emit("reshape", t, shape=(b_, h_ * reps, s_, d_))

    return repeat(k), repeat(v)


@converter("Attention")
def attention(ctx, q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
              is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
              softmax_precision=None, left_window_size=-1, right_window_size=-1):
    if not q.type.rank == k.type.rank == v.type.rank or q.type.rank not in (3, 4):
        raise ctx.error("Q, K and V must all be 3-D or all 4-D")
    dt = q.dtype
    three_d = q.type.rank == 3
    if three_d:
        q, k, v = _heads_4d(ctx, q, q_num_heads), _heads_4d(ctx, k, kv_num_heads), _heads_4d(ctx, v, kv_num_heads)
    batch, qh, q_len, head = q.shape
    if scale is None:
        scale = 1.0 / np.sqrt(head) if head else 1.0  # heads of no features: empty scores, any scale
    s = ctx.scalar(np.sqrt(scale), dt)  # as the reference: sqrt(scale) on Q and on K
    if (past_key is None) != (past_value is None):
        raise ctx.error("past_key and past_value must be given together")
    if past_key is not None:
        k = ctx.emit("concat", past_key, k, axis=2)
        v = ctx.emit("concat", past_value, v, axis=2)
    present_k, present_v = k, v
    kv_len = k.shape[2]
    past_len = past_key.shape[2] if past_key is not None else 0

    # -- the additive bias, [q, kv] or broadcastable to [B, H, q, kv] --
    ninf = _neg_inf(ctx, dt)
    bias = None
    if attn_mask is not None:
        if attn_mask.dtype is not DType.BOOL and attn_mask.dtype is not dt:  # an integer mask: added as scores are
            attn_mask = ctx.emit("cast", attn_mask, to=dt.value, src=attn_mask.dtype.value)
        pad = kv_len - attn_mask.shape[-1]
        if pad > 0:
            r = attn_mask.type.rank
            pads = (0,) * (2 * r - 1) + (pad,)
            attn_mask = ctx.emit("pad", attn_mask, pads=pads, mode="constant",
                                 value=0 if attn_mask.dtype is DType.BOOL else storage_scalar(attn_mask.dtype, -np.inf))
        if attn_mask.dtype is DType.BOOL:
            attn_mask = ctx.emit("where", attn_mask, _zero(ctx, dt), ninf)
        bias = attn_mask
    windowed = left_window_size >= 0 or right_window_size >= 0
    if nonpad_kv_seqlen is not None and past_key is None and (is_causal or windowed):
        # per-batch offset nonpad[b] - q_len: allowed iff 0 <= (i - j) + nonpad[b] - q_len (and the window)
        diff = np.arange(q_len).reshape(q_len, 1) - np.arange(kv_len).reshape(1, kv_len) - q_len
        d = ctx.constant(diff.astype(np.int64).reshape(1, 1, q_len, kv_len))
        off = ctx.emit("reshape", ctx.emit("cast", nonpad_kv_seqlen, to=DType.INT64.value, src=nonpad_kv_seqlen.dtype.value),
                       shape=(batch, 1, 1, 1))
        rel = ctx.emit("add", d, off)  # = (i + offset) - j
        zero_i = ctx.constant(np.array(0, np.int64))
        allowed = ctx.emit("greater_or_equal", rel, zero_i) if is_causal else None
        if left_window_size >= 0:
            c = ctx.emit("less_or_equal", rel, ctx.constant(np.array(left_window_size, np.int64)))
            allowed = c if allowed is None else ctx.emit("and", allowed, c)
        if right_window_size >= 0:
            c = ctx.emit("greater_or_equal", rel, ctx.constant(np.array(-right_window_size, np.int64)))
            allowed = c if allowed is None else ctx.emit("and", allowed, c)
        limit = ctx.emit("where", allowed, _zero(ctx, dt), ninf)
        bias = limit if bias is None else ctx.emit("add", bias, limit)
    elif is_causal or windowed:
        ctx.check_constant_size((q_len, kv_len), 8, "the attention mask")
        allowed = _offset_mask(q_len, kv_len, past_len, left_window_size, right_window_size, causal=bool(is_causal))
        limit = ctx.emit("where", ctx.constant(allowed), _zero(ctx, dt), _neg_inf(ctx, dt))
        bias = limit if bias is None else ctx.emit("add", bias, limit)
    if nonpad_kv_seqlen is not None:
        n = ctx.emit("reshape", ctx.emit("cast", nonpad_kv_seqlen, to=DType.INT64.value, src=nonpad_kv_seqlen.dtype.value),
                     shape=(batch, 1, 1, 1))
        j = ctx.constant(np.arange(kv_len, dtype=np.int64).reshape(1, 1, 1, kv_len))
        padding = ctx.emit("where", ctx.emit("less", j, n), _zero(ctx, dt), ninf)
        bias = padding if bias is None else ctx.emit("add", bias, padding)

    k, v = _group_heads(ctx, k, v, qh)
    if v.dtype is not dt:  # V may have its own type (T2); Y has Q's (T1), and so has the product's left side
        v = ctx.emit("cast", v, to=dt.value, src=v.dtype.value)

    qs, ks = ctx.emit("mul", q, s), ctx.emit("mul", k, s)
    out_dt = dt
    if dt in (DType.FLOAT16, DType.BFLOAT16):  # the rest in float, rounded once at the end
        f = DType.FLOAT.value
        qs, ks, v = (ctx.emit("cast", t, to=f, src=dt.value) for t in (qs, ks, v))
        if bias is not None:
            bias = ctx.emit("cast", bias, to=f, src=dt.value)
        dt = DType.FLOAT
    qk = ctx.emit("matmul", qs, ctx.emit("transpose", ks, perm=(0, 1, 3, 2)))
    if softcap and softcap > 0:
        c = ctx.scalar(softcap, dt)
        qk = ctx.emit("mul", ctx.emit("tanh", ctx.emit("div", qk, c)), c)
    qk_out = qk
    scores = qk if bias is None else ctx.emit("add", qk, bias)
    if qk_matmul_output_mode == 2:
        qk_out = scores
    work = dt
    if softmax_precision is not None and DType(softmax_precision) is not dt:
        work = DType(softmax_precision)
        scores = ctx.emit("cast", scores, to=work.value, src=dt.value)
    probs = ctx.emit("softmax", scores, axis=3)
    if bias is not None:  # a row the bias masks entirely attends nothing: 0, not NaN
        bias_w = bias if work is dt else ctx.emit("cast", bias, to=work.value, src=dt.value)
        row_max = ctx.emit("reduce_max", bias_w, axes=(bias_w.type.rank - 1,), keepdims=1)
        masked = ctx.emit("equal", row_max, ctx.scalar(-np.inf, work))
        probs = ctx.emit("where", masked, ctx.scalar(0.0, work), probs)
    if work is not dt:
        probs = ctx.emit("cast", probs, to=dt.value, src=work.value)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    y = ctx.emit("matmul", probs, v)
    if out_dt is not dt:
        y, qk_out = (ctx.emit("cast", t, to=out_dt.value, src=dt.value) for t in (y, qk_out))
    if three_d:
        y = ctx.emit("reshape", ctx.emit("transpose", y, perm=(0, 2, 1, 3)), shape=(batch, q_len, qh * v.shape[3]))
    return y, present_k, present_v, qk_out


@converter("FlexAttention", domain="ai.onnx.preview")
def flex_attention(ctx, q, k, v, *, scale=None, score_mod=None, prob_mod=None, softmax_precision=None):
    """softmax(score_mod((Q s)(K s)^T)) then prob_mod, times V, with s = sqrt(scale) in Q's type; the
    scores onwards in softmax_precision (float for half types); K/V heads repeat for grouped queries."""
    if not q.type.rank == k.type.rank == v.type.rank == 4:
        raise ctx.error("Q, K and V must be 4-D [batch, heads, sequence, head size]")
    dt = q.dtype
    k, v = _group_heads(ctx, k, v, q.shape[1])
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[3])
    s = ctx.scalar(float(np.sqrt(np.float32(scale))), dt)
    scores = ctx.emit("matmul", ctx.emit("mul", q, s), ctx.emit("transpose", ctx.emit("mul", k, s), perm=(0, 1, 3, 2)))
    if softmax_precision is not None:
        work = DType.from_onnx(softmax_precision)
    else:
        work = DType.FLOAT if dt in (DType.FLOAT16, DType.BFLOAT16) else dt
    if work is not dt:
        scores = ctx.emit("cast", scores, to=work.value, src=dt.value)

    def modify(graph, x, what):
        if graph is None:
            return x
        if len(graph.input) != 1 or len(graph.output) != 1:
            raise ctx.error(f"{what} must take one input and give one output")
        name = (ctx.node_name, ctx.op_type)
        (y,) = ctx.subgraph(graph, {graph.input[0].name: x})
        ctx.node_name, ctx.op_type = name
        if y.shape != x.shape:
            y = ctx.emit("expand", y, shape=x.shape)
        return y if y.dtype is work else ctx.emit("cast", y, to=work.value, src=y.dtype.value)

    scores = modify(score_mod, scores, "score_mod")
    probs = modify(prob_mod, ctx.emit("softmax", scores, axis=3), "prob_mod")
    vw = v if v.dtype is work else ctx.emit("cast", v, to=work.value, src=v.dtype.value)
    y = ctx.emit("matmul", probs, vw)
    return y if work is v.dtype else ctx.emit("cast", y, to=v.dtype.value, src=work.value)
