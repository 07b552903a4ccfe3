"""Ops that are compositions of Aurora ops: each converter spells its ONNX definition out."""

from __future__ import annotations

import numpy as np

from ...ir import Splat
from ...ir.types import DType, TensorType
from ..importer import converter
from .tensor import _axis


def _last(ctx, x, lo, hi):
    r = x.type.rank
    return ctx.emit("slice", x, starts=(0,) * (r - 1) + (lo,), ends=x.shape[:-1] + (hi,), steps=(1,) * r)


def _take(ctx, x, axis, i):
    """x[..., i, ...] along axis, the axis removed."""
    r = x.type.rank
    starts = tuple(i if d == axis else 0 for d in range(r))
    ends = tuple(i + 1 if d == axis else n for d, n in enumerate(x.shape))
    part = ctx.emit("slice", x, starts=starts, ends=ends, steps=(1,) * r)
    return ctx.emit("reshape", part, shape=x.shape[:axis] + x.shape[axis + 1:])


@converter("CausalConvWithState")
def causal_conv_with_state(ctx, x, weight, bias=None, past_state=None, *, activation="none"):
    """Depthwise 1-D convolution over [past_state, x] (zeros without one); the new state is the last k-1 steps."""
    b, c, _ = x.shape
    k = weight.shape[2]
    if activation not in ("none", "silu", "swish"):
        raise ctx.error(f"activation {activation!r} is not one of none, silu, swish")
    past = past_state if past_state is not None else ctx.constant(np.zeros((b, c, k - 1), x.dtype.np))
    padded = ctx.emit("concat", past, x, axis=2) if k > 1 else x
    y = ctx.emit("conv", padded, weight, bias, kernel=(k,), strides=(1,), dilations=(1,), pads=(0, 0), group=c)
    if activation != "none":
        y = ctx.emit("swish", y, alpha=1.0)
    n = padded.shape[2]
    state = ctx.emit("slice", padded, starts=(0, 0, n - (k - 1)), ends=padded.shape, steps=(1, 1, 1))
    return y, state


@converter("LinearAttention")
def linear_attention(ctx, q, k, v, past_state=None, decay=None, beta=None, *, chunk_size=None, kv_num_heads, q_num_heads,
                     scale=0.0, update_rule="gated_delta"):
    """The recurrence over time steps, unrolled: S <- S * exp(g); v <- beta (v - S^T k); S <- S + k v^T; y = scale q S."""
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ctx.error(f"update_rule {update_rule!r} is not supported")
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if (decay is None) == gated or (beta is None) == delta:
        raise ctx.error(f"update_rule {update_rule!r} does not match the decay/beta inputs given")
    f32 = DType.FLOAT
    if kv_num_heads <= 0 or q_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ctx.error(f"q_num_heads {q_num_heads} is not a positive multiple of kv_num_heads {kv_num_heads}")
    b, t, _ = q.shape
    dk, dv = q.shape[2] // q_num_heads, v.shape[2] // kv_num_heads
    group = q_num_heads // kv_num_heads

    def heads(x, h, d):  # [B, T, H*D] -> [B, H, T, D] in float
        x = x if x.dtype is f32 else ctx.emit("cast", x, to=f32.value, src=x.dtype.value)
        return ctx.emit("transpose", ctx.emit("reshape", x, shape=(b, t, h, d)), perm=(0, 2, 1, 3))

    q4, k4, v4 = heads(q, q_num_heads, dk), heads(k, kv_num_heads, dk), heads(v, kv_num_heads, dv)
    g4 = heads(decay, kv_num_heads, decay.shape[2] // kv_num_heads) if decay is not None else None
    b4 = heads(beta, beta.shape[2], 1) if beta is not None else None
    state_dt = past_state.dtype if past_state is not None else q.dtype
    if past_state is not None:
        state = past_state if past_state.dtype is f32 else ctx.emit("cast", past_state, to=f32.value, src=past_state.dtype.value)
    else:
        state = ctx.constant(Splat(0.0), TensorType(f32, (b, kv_num_heads, dk, dv)))
    sc = ctx.scalar(float(scale) if scale else 1.0 / np.sqrt(dk), f32)
    outs = []
    for i in range(t):
        qt, kt, vt = _take(ctx, q4, 2, i), _take(ctx, k4, 2, i), _take(ctx, v4, 2, i)
        if gated:
            g = ctx.emit("exp", _take(ctx, g4, 2, i))  # [B, H, 1 or dk]
            state = ctx.emit("mul", state, ctx.emit("reshape", g, shape=g.shape + (1,)))
        if delta:
            retrieved = ctx.emit("einsum", state, kt, equation="bhdm,bhd->bhm")
            vt = ctx.emit("mul", _take(ctx, b4, 2, i), ctx.emit("sub", vt, retrieved))
        outer = ctx.emit("mul", ctx.emit("reshape", kt, shape=kt.shape + (1,)), ctx.emit("reshape", vt, shape=vt.shape[:2] + (1, dv)))
        state = ctx.emit("add", state, outer)
        read = state
        if group > 1:
            read = ctx.emit("reshape", state, shape=(b, kv_num_heads, 1, dk, dv))
            read = ctx.emit("expand", read, shape=(b, kv_num_heads, group, dk, dv))
            read = ctx.emit("reshape", read, shape=(b, q_num_heads, dk, dv))
        y = ctx.emit("mul", sc, ctx.emit("einsum", qt, read, equation="bhd,bhdm->bhm"))
        outs.append(ctx.emit("reshape", y, shape=(b, q_num_heads, 1, dv)))
    y = outs[0] if len(outs) == 1 else ctx.emit("concat", *outs, axis=2)
    y = ctx.emit("reshape", ctx.emit("transpose", y, perm=(0, 2, 1, 3)), shape=(b, t, q_num_heads * dv))
    if q.dtype is not f32:
        y = ctx.emit("cast", y, to=q.dtype.value, src=f32.value)
    if state_dt is not f32:
        state = ctx.emit("cast", state, to=state_dt.value, src=f32.value)
    return y, state


@converter("TensorScatter")
def tensor_scatter(ctx, past, update, write_indices=None, *, mode="linear", axis=-2):
    """Write update into past along axis from each batch's write index (wrapping around in circular mode)."""
    r = past.type.rank
    ax = _axis(ctx, axis, r)
    seq, length = update.shape[ax], past.shape[ax]
    steps = np.arange(seq, dtype=np.int64).reshape([seq if d == ax else 1 for d in range(r)])
    pos = ctx.constant(steps)
    if write_indices is not None:
        w = ctx.emit("cast", write_indices, to=DType.INT64.value, src=write_indices.dtype.value)
        pos = ctx.emit("add", pos, ctx.emit("reshape", w, shape=(past.shape[0],) + (1,) * (r - 1)))
    if mode == "circular":
        pos = ctx.emit("mod", pos, ctx.constant(np.array(length, np.int64)), fmod=0)
    pos = ctx.emit("expand", pos, shape=update.shape)
    return ctx.emit("scatter_elements", past, pos, update, axis=ax, reduction="none")


@converter("AffineGrid")
def affine_grid(ctx, theta, size, *, align_corners=0):
    """grid[n, ...] = theta[n] @ (x, y[, z], 1) over the base grid of normalised coordinates."""
    dims = ctx.ints(size, "size")
    n, spatial = dims[0], dims[2:]

    def coords(m):
        return np.linspace(-1.0, 1.0, m) if align_corners else (2 * np.arange(m) + 1) / m - 1

    axes = np.meshgrid(*[coords(m) for m in spatial], indexing="ij")  # per spatial axis, in D, H, W order
    base = np.stack([a.reshape(-1) for a in axes[::-1]] + [np.ones(int(np.prod(spatial)))], axis=1)  # [P, r+1]: x, y[, z], 1
    g = ctx.emit("matmul", ctx.constant(base.astype(theta.dtype.np)), ctx.emit("transpose", theta, perm=(0, 2, 1)))
    return ctx.emit("reshape", g, shape=(n, *spatial, len(spatial)))


@converter("ReverseSequence")
def reverse_sequence(ctx, x, sequence_lens, *, batch_axis=1, time_axis=0):
    """Reverse the first sequence_lens[b] steps of every batch entry; the rest stay."""
    r = x.type.rank
    t_len = x.shape[time_axis]
    shape = [1] * r
    shape[time_axis] = t_len
    t = ctx.constant(np.arange(t_len, dtype=np.int64).reshape(shape))
    lshape = [1] * r
    lshape[batch_axis] = x.shape[batch_axis]
    lens = ctx.emit("reshape", ctx.emit("cast", sequence_lens, to=DType.INT64.value, src=sequence_lens.dtype.value), shape=tuple(lshape))
    rev = ctx.emit("sub", ctx.emit("sub", lens, ctx.constant(np.array(1, np.int64))), t)
    idx = ctx.emit("where", ctx.emit("less", t, lens), rev, ctx.emit("add", t, ctx.emit("mul", lens, ctx.constant(np.array(0, np.int64)))))
    return ctx.emit("gather_elements", x, ctx.emit("expand", idx, shape=x.shape), axis=time_axis)


@converter("MaxUnpool")
def max_unpool(ctx, x, indices, output_shape=None, *, kernel_shape, pads=None, strides=None):
    """x written at its max-pool indices (flat positions in the unpooled shape the attributes give) over zeros;
    an output_shape larger than that shape is zero-padded at the end of each axis."""
    r = len(kernel_shape)
    strides = list(strides) if strides else [1] * r
    pads = list(pads) if pads else [0] * (2 * r)
    shape = x.shape[:2] + tuple((x.shape[2 + i] - 1) * strides[i] - pads[i] - pads[i + r] + kernel_shape[i] for i in range(r))
    flat = ctx.constant(np.zeros(int(np.prod(shape)), x.dtype.np))
    upd = ctx.emit("reshape", x, shape=(x.type.numel,))
    idx = ctx.emit("reshape", indices, shape=(indices.type.numel,))
    y = ctx.emit("reshape", ctx.emit("scatter_elements", flat, idx, upd, axis=0, reduction="none"), shape=shape)
    if output_shape is not None:
        out = ctx.ints(output_shape, "output_shape")
        if any(o < s for o, s in zip(out, shape)):
            raise ctx.error(f"output_shape {out} is smaller than the unpooled shape {list(shape)}")
        if tuple(out) != shape:
            y = ctx.emit("pad", y, pads=(0,) * len(out) + tuple(o - s for o, s in zip(out, shape)), mode="constant", value=0.0)
    return y


@converter("Col2Im")
def col2im(ctx, x, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    """Sum the column blocks back into the image: a scatter-add to constant positions (padding goes to a spare slot)."""
    img = ctx.ints(image_shape, "image_shape")
    blk = ctx.ints(block_shape, "block_shape")
    r = len(img)
    dil = list(dilations) if dilations else [1] * r
    pad = list(pads) if pads else [0] * (2 * r)
    st = list(strides) if strides else [1] * r
    n, ck, length = x.shape
    k = int(np.prod(blk))
    c = ck // k
    outs = [(img[i] + pad[i] + pad[i + r] - dil[i] * (blk[i] - 1) - 1) // st[i] + 1 for i in range(r)]
    if int(np.prod(outs)) != length:
        raise ctx.error(f"{length} blocks do not fit image {img} with these strides and pads")
    size = int(np.prod(img))
    pos = np.full((k, length), size, np.int64)  # a position in the padding goes to slot `size`, dropped below
    istr = [int(np.prod(img[i + 1:])) for i in range(r)]
    for kk, koff in enumerate(np.ndindex(*blk)):
        for ll, loff in enumerate(np.ndindex(*outs)):
            coord = [loff[i] * st[i] - pad[i] + koff[i] * dil[i] for i in range(r)]
            if all(0 <= coord[i] < img[i] for i in range(r)):
                pos[kk, ll] = sum(coord[i] * istr[i] for i in range(r))
    idx = ctx.constant(np.broadcast_to(pos.reshape(1, 1, k * length), (n, c, k * length)).copy())
    base = ctx.constant(np.zeros((n, c, size + 1), x.dtype.np))
    upd = ctx.emit("reshape", x, shape=(n, c, k * length))
    y = ctx.emit("scatter_elements", base, idx, upd, axis=2, reduction="add")
    y = ctx.emit("slice", y, starts=(0, 0, 0), ends=(n, c, size), steps=(1, 1, 1))
    return ctx.emit("reshape", y, shape=(n, c, *img))


@converter("MelWeightMatrix")
def mel_weight_matrix(ctx, num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *, output_datatype=1):
    """Triangular filters evenly spaced on the mel scale (mel = 2595 log10(1 + f / 700)), as the spec defines them."""
    bins = int(ctx.const_scalar(num_mel_bins))
    n_fft = int(ctx.const_scalar(dft_length))
    rate = int(ctx.const_scalar(sample_rate))
    lo, hi = (float(ctx.const_scalar(v)) for v in (lower_edge_hertz, upper_edge_hertz))

    def mel(f):
        return 2595 * np.log1p(f / 700) / np.log(10)

    step = (mel(hi) - mel(lo)) / (bins + 2)
    edges_mel = np.arange(bins + 2) * step + mel(lo)
    edges = (((n_fft + 1) * (700 * np.expm1(edges_mel / 2595 * np.log(10)))) // rate).astype(int)
    w = np.zeros((n_fft // 2 + 1, bins))
    for i in range(bins):
        left, centre, right = edges[i], edges[i + 1], edges[i + 2]
        if centre == left:
            w[centre, i] = 1
        else:
            for j in range(left, centre + 1):
                w[j, i] = (j - left) / (centre - left)
        for j in range(centre, right):
            w[j, i] = (right - j) / (right - centre)
    return ctx.constant(w.astype(DType.from_onnx(output_datatype).np))


@converter("TfIdfVectorizer")
def tfidf_vectorizer(ctx, x, *, max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts, ngram_indexes,
                     pool_int64s=None, pool_strings=None, weights=None):
    if pool_int64s is None:
        raise ctx.error("string pools are not supported (string tensors)")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ctx.error(f"mode {mode!r} is not TF, IDF or TFIDF")
    if not 1 <= min_gram_length <= max_gram_length <= len(ngram_counts):
        raise ctx.error(f"gram lengths {min_gram_length}..{max_gram_length} are not within 1..{len(ngram_counts)}")
    if not 0 <= max_skip_count <= max(x.shape[-1] if x.shape else 0, 0):
        raise ctx.error(f"max_skip_count {max_skip_count} is not within 0..{x.shape[-1] if x.shape else 0}")
    starts = list(ngram_counts) + [len(pool_int64s)]
    if starts != sorted(starts) or starts[0] != 0:
        raise ctx.error("ngram_counts must start at 0 and not decrease within the pool")
    grams, k = [], 0
    for n in range(1, len(ngram_counts) + 1):
        for at in range(starts[n - 1], starts[n], n):
            if k >= len(ngram_indexes):
                raise ctx.error(f"ngram_indexes has {len(ngram_indexes)} entries, fewer than the pool's grams")
            grams.append((tuple(int(v) for v in pool_int64s[at:at + n]), int(ngram_indexes[k])))
            k += 1
    if not ngram_indexes or min(ngram_indexes) < 0 or max(ngram_indexes) >= 1 << 31:
        raise ctx.error("ngram_indexes must be in 0..2^31")
    out_len = max(ngram_indexes) + 1
    return ctx.emit("tfidf", x, mode=mode, min_n=int(min_gram_length), max_n=int(max_gram_length), max_skip=int(max_skip_count),
                    grams=tuple(grams), weights=tuple(float(w) for w in weights) if weights else (), out_len=int(out_len))


@converter("DeformConv")
def deform_conv(ctx, x, w, offset, b=None, mask=None, *, dilations=None, group=1, kernel_shape=None, offset_group=1,
                pads=None, strides=None):
    """Each kernel tap reads the input bilinearly (zeros outside) at its position moved by the offset, times the mask:
    a GridSample per offset group over all taps, then the weights as one matmul per group."""
    if x.type.rank != 4:
        raise ctx.error("only 2-D DeformConv is supported")
    n, c, ih, iw = x.shape
    m = w.shape[0]
    kh, kw = kernel_shape or w.shape[2:]
    dh, dw = dilations or (1, 1)
    sh, sw = strides or (1, 1)
    pt, pl = (pads or (0, 0, 0, 0))[:2]
    oh, ow = offset.shape[2:]
    taps, pix = kh * kw, oh * ow
    f32 = x.dtype
    # pixel coordinates of every tap before the offset: [kh*kw, oh*ow]
    base_y = (np.arange(kh).reshape(kh, 1, 1, 1) * dh + np.arange(oh).reshape(1, 1, oh, 1) * sh - pt) + np.zeros((1, kw, 1, ow))
    base_x = (np.arange(kw).reshape(1, kw, 1, 1) * dw + np.arange(ow).reshape(1, 1, 1, ow) * sw - pl) + np.zeros((kh, 1, oh, 1))
    off = ctx.emit("reshape", offset, shape=(n, offset_group, taps, 2, pix))
    cg = c // offset_group
    sampled = []
    for g in range(offset_group):
        def part(k):
            s = ctx.emit("slice", off, starts=(0, g, 0, k, 0), ends=(n, g + 1, taps, k + 1, pix), steps=(1,) * 5)
            return ctx.emit("reshape", s, shape=(n, taps * oh, ow, 1))
        # normalised as GridSample with align_corners=1 expects: coordinate / (size - 1) * 2 - 1
        gy = ctx.emit("add", part(0), ctx.constant((base_y.reshape(1, taps * oh, ow, 1)).astype(f32.np)))
        gx = ctx.emit("add", part(1), ctx.constant((base_x.reshape(1, taps * oh, ow, 1)).astype(f32.np)))
        ny = ctx.emit("sub", ctx.emit("mul", gy, ctx.scalar(2.0 / max(ih - 1, 1), f32)), ctx.scalar(1.0, f32))
        nx = ctx.emit("sub", ctx.emit("mul", gx, ctx.scalar(2.0 / max(iw - 1, 1), f32)), ctx.scalar(1.0, f32))
        grid = ctx.emit("concat", nx, ny, axis=3)
        xg = ctx.emit("slice", x, starts=(0, g * cg, 0, 0), ends=(n, (g + 1) * cg, ih, iw), steps=(1, 1, 1, 1))
        s = ctx.emit("grid_sample", xg, grid, mode="linear", padding="zeros", align_corners=1)  # [n, cg, taps*oh, ow]
        s = ctx.emit("reshape", s, shape=(n, cg, taps, pix))
        if mask is not None:
            mk = ctx.emit("slice", mask, starts=(0, g * taps, 0, 0), ends=(n, (g + 1) * taps, oh, ow), steps=(1, 1, 1, 1))
            s = ctx.emit("mul", s, ctx.emit("reshape", mk, shape=(n, 1, taps, pix)))
        sampled.append(s)
    cols = sampled[0] if offset_group == 1 else ctx.emit("concat", *sampled, axis=1)  # [n, c, taps, pix]
    ci = c // group
    mo = m // group
    outs = []
    for gi in range(group):
        cols_g = ctx.emit("slice", cols, starts=(0, gi * ci, 0, 0), ends=(n, (gi + 1) * ci, taps, pix), steps=(1, 1, 1, 1))
        cols_g = ctx.emit("reshape", cols_g, shape=(n, ci * taps, pix))
        wg = ctx.emit("slice", w, starts=(gi * mo, 0, 0, 0), ends=((gi + 1) * mo, ci, kh, kw), steps=(1, 1, 1, 1))
        outs.append(ctx.emit("matmul", ctx.emit("reshape", wg, shape=(mo, ci * taps)), cols_g))  # [n, mo, pix]
    y = outs[0] if group == 1 else ctx.emit("concat", *outs, axis=1)
    if b is not None:
        y = ctx.emit("add", y, ctx.emit("reshape", b, shape=(m, 1)))
    return ctx.emit("reshape", y, shape=(n, m, oh, ow))
