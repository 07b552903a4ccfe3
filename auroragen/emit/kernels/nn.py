"""Plans for linear algebra, convolution, pooling and normalisation."""

from __future__ import annotations

import numpy as np

from ...geometry import conv_flat_geometry
from ...ir import Node
from ...ir.ops.nn import einsum_letters
from ...ir.types import DType
from ...schedule.lowering.conv_direct import direct_planes, direct_subsamples, hwc_logical
from ...schedule.lowering.conv_flat import flat_chunk_rows
from ..affine import Loop
from ..cformat import literal
from . import Plan, broadcast_strides, contiguous_strides, fn_suffix, kernel, numel
from .elementwise import activation_expr, activation_vector
from .reduce import limits

KERNEL_NAMES = {"in1": "weights", "out1": "work"}  # the GEMM-shaped kernels' parameters: weights and workspace


def gemm_micro(mr: int, nv: int, ind: bool = False) -> tuple[str, dict]:
    """The GEMM microkernel helper of an mr x nv-vector tile (ind: rows of b at a table of offsets). One row
    splits the reduction into `split` interleaved k-steps, each into its own accumulators (up to 8 vectors
    in all): nv chains of dependent FMAs alone would wait on the FMA latency."""
    split = max(1, min(4, 8 // nv)) if mr == 1 and not ind else 1
    return "gemm_micro", dict(mr=mr, nv=nv, ind=ind, split=split)


def _valid_range(n_out, n_in, stride, pad, off):
    """Output indices o with 0 <= o*stride - pad + off < n_in, as [lo, hi) (stride > 0)."""
    lo = min(max(0, -((off - pad) // stride)), n_out)  # the first o with o*stride >= pad - off
    hi = min(max(lo, -((off - pad - n_in) // stride)), n_out)  # the first o with o*stride >= n_in + pad - off
    return lo, hi


def _act(node: Node) -> str:
    """The C of the node's fused activation over `a0` (just `a0` without one)."""
    act = node.attrs.get("activation")
    return activation_expr(act, node.attrs.get("act_params", ()), node.outputs[0].dtype) if act else "a0"


def _vact(node: Node) -> str | None:
    """The vector form of the node's fused epilogue activation over av_f32 `a0` (None: scalar only)."""
    act = node.attrs.get("activation")
    return activation_vector(act, node.attrs.get("act_params", ())) if act else "a0"


def _epi_text(node: Node) -> str:
    act = node.attrs.get("activation")
    return (" + residual" if _present(node, 3) else "") + (f" -> {act}" if act else "")


def _present(node: Node, k: int) -> bool:
    return len(node.inputs) > k and node.inputs[k] is not None


def _conv_params(node: Node, transposed: bool, x_shape=None, y_shape=None) -> dict:
    """Shape and window parameters of conv / conv_transpose as 3-D (1-D and 2-D get leading spatial axes of
    size 1), and per axis and kernel tap the range of loop indices (output for conv, input for the
    transposed one) whose other index lies inside its tensor. x_shape / y_shape: the logical NCHW shapes
    of an input / result stored otherwise (channels-last)."""
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    r = len(a["kernel"])
    if r > 3:
        raise NotImplementedError(f"{r}-D aurora.{node.op} is not supported yet")

    def full(v, fill):
        return [fill] * (3 - r) + list(v)

    k, s, d, pad = full(a["kernel"], 1), full(a["strides"], 1), full(a["dilations"], 1), full(a["pads"][:r], 0)
    x_shape, y_shape = x_shape or x.shape, y_shape or y.shape
    i, o = full(x_shape[2:], 1), full(y_shape[2:], 1)
    loop, other = (i, o) if transposed else (o, i)
    ranges = [[_valid_range(loop[ax], other[ax], s[ax], pad[ax], t * d[ax]) for t in range(k[ax])] for ax in range(3)]
    g = a["group"]
    n, c, m = x_shape[0], x_shape[1], y_shape[1]
    return dict(N=n, C=c, M=m, CG=c // g, MG=m // g, K=k, S=s, Dl=d, P=pad, I=i, O=o,
                lo=[[lo for lo, _ in rr] for rr in ranges], hi=[[hi for _, hi in rr] for rr in ranges],
                has_bias=_present(node, 2), ctype=x.dtype.ctype)


def _what(node: Node) -> str:
    a = node.attrs
    return (f"{node.op} {'x'.join(map(str, a['kernel']))} stride {'x'.join(map(str, a['strides']))} group {a['group']}: "
            f"{list(node.inputs[0].shape)} -> {list(node.outputs[0].shape)}")


@kernel("conv")
def plan_conv(node: Node, step) -> Plan:
    p = _conv_params(node, transposed=False)
    residual = _present(node, 3)
    act = _act(node)
    p.update(residual=residual, epilogue=act if residual or act != "a0" else "")
    p["WLO"] = max(p["lo"][2])  # output columns where every kernel column's tap is inside the input
    p["WHI"] = max(min(p["hi"][2]), p["WLO"])
    return Plan("conv", p, what=_what(node) + _epi_text(node))


@kernel("conv_flat")
def plan_conv_flat(node: Node, step) -> Plan:
    a = node.attrs
    p = _conv_params(node, transposed=False)
    ph, pw, slack = conv_flat_geometry(node.inputs[0].shape, a["kernel"], a["dilations"], a["pads"], a["strides"])
    (sh, sw), (dh, dw) = p["S"][1:], p["Dl"][1:]
    # tap (kh, kw) reads phase plane ((kh dh) % sh, (kw dw) % sw) shifted by ((kh dh) // sh, (kw dw) // sw)
    rowoff = [(i * dh % sh * sw * ph + i * dh // sh) * pw for i in range(p["K"][1])]
    coloff = [j * dw % sw * ph * pw + j * dw // sw for j in range(p["K"][2])]
    # column phase cp holds padded columns j * sw + cp: input columns j * sw + cp - pad, inside for j in [lo, hi)
    iw, pad = p["I"][2], p["P"][2]
    phase_cols = [(cp, max(0, -(-(pad - cp) // sw)), max(0, -(-(pad + iw - cp) // sw))) for cp in range(sw)]
    p.update(PH=ph, PW=pw, SLACK=slack, G=a["group"], residual=_present(node, 3), act=_act(node), rowoff=rowoff, coloff=coloff,
             phase_cols=phase_cols, parallel=bool(a.get("parallel")), CR=flat_chunk_rows(pw),
             per_group=bool(a.get("per_group")), stack=bool(a.get("stack")), n=Loop("n", p["N"]), g=Loop("g", a["group"]),
             c=Loop("c", p["CG"]), mm=Loop("mm", p["MG"]), r0=Loop("r0", p["O"][1], step=flat_chunk_rows(pw)))
    strided = "" if sh == sw == 1 else f", {sh * sw} phases"
    return Plan("conv_flat", p, names=KERNEL_NAMES, what=_what(node) + _epi_text(node) + f", over flat padded planes{strided}")


@kernel("conv_transpose")
def plan_conv_transpose(node: Node, step) -> Plan:
    return Plan("conv_transpose", _conv_params(node, transposed=True), what=_what(node))


@kernel("max_pool", "average_pool", "lp_pool")
def plan_pool(node: Node, step) -> Plan:
    x = node.inputs[0]
    a = node.attrs
    r = len(a["kernel"])
    out = node.outputs[0].shape
    kind = {"max_pool": "max", "average_pool": "avg", "lp_pool": "lp"}[node.op]
    indices = len(node.outputs) > 1
    in_st = contiguous_strides(x.shape[2:])
    if indices and a.get("storage_order"):  # column-major positions within each plane
        col = contiguous_strides(x.shape[2:][::-1])[::-1]
        index_expr = " + ".join(f"i{d} * {col[d]}" for d in range(r))
    else:
        index_expr = " + ".join(f"i{d} * {in_st[d]}" for d in range(r))
    pval = float(a.get("p", 2))
    row_max = kind == "max" and not indices and r == 2
    ranges = [_valid_range(out[3], x.shape[3], a["strides"][1], a["pads"][1], kw * a["dilations"][1])
              for kw in range(a["kernel"][1])] if row_max else []
    return Plan("pool", dict(
        row_max=row_max, vrow=row_max and x.dtype is DType.FLOAT and a["strides"][1] in (1, 2) and a["dilations"][1] == 1,
        ow_lo=[lo for lo, _ in ranges], ow_hi=[hi for _, hi in ranges],
        planes=x.shape[0] * x.shape[1], in_dims=list(x.shape[2:]), out_dims=list(out[2:]), in_size=numel(x.shape[2:]),
        out_size=numel(out[2:]), in_strides=in_st, out_strides=contiguous_strides(out[2:]), kernel=list(a["kernel"]),
        strides=list(a["strides"]), dilations=list(a["dilations"]), pads=list(a["pads"]), kind=kind,
        count_pad=kind == "avg" and bool(a.get("count_include_pad")), ctype=x.dtype.ctype,
        acc_ctype=x.dtype.ctype, init=limits(x.dtype)[0] if kind == "max" else "0", is_float=x.dtype.is_float,
        indices=indices, index_expr=index_expr, fs=fn_suffix(node),
        p_lit=literal(pval, x.dtype) if x.dtype.is_float else "2", inv_p_lit=literal(1.0 / pval, x.dtype) if x.dtype.is_float else "1",
    ), what=f"{kind} pool {'x'.join(map(str, a['kernel']))} stride {'x'.join(map(str, a['strides']))}")


def _matmul_plan(node: Node, a_shape, b_shape, trans_a, trans_b, epilogue):
    """A 1-D operand is a row (A) or column (B) vector; batch axes broadcast."""
    a2 = tuple(a_shape) if len(a_shape) > 1 else (1,) + tuple(a_shape)
    b2 = tuple(b_shape) if len(b_shape) > 1 else tuple(b_shape) + (1,)
    batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
    m, k = (a2[-1], a2[-2]) if trans_a else (a2[-2], a2[-1])
    n = b2[-2] if trans_b else b2[-1]
    a_si, a_sk = (1, a2[-1]) if trans_a else (a2[-1], 1)
    b_sk, b_sj = (1, b2[-1]) if trans_b else (b2[-1], 1)
    return dict(
        batch_dims=list(batch),
        a_batch=[s * a2[-2] * a2[-1] for s in broadcast_strides(a2[:-2], batch)],
        b_batch=[s * b2[-2] * b2[-1] for s in broadcast_strides(b2[:-2], batch)],
        c_batch=[s * m * n for s in contiguous_strides(batch)],
        M=m, N=n, K=k, a_si=a_si, a_sk=a_sk, b_sk=b_sk, b_sj=b_sj, order="ikj" if b_sj == 1 else "ijk",
        ctype=node.output.dtype.ctype, epilogue=epilogue,
    )


def _rest(node: Node, plan: dict, y: str, bias_index: int | None, residual_index: int) -> dict:
    """Finish the epilogue: y (+ bias) (+ residual), then the activation."""
    n = plan["N"]
    if bias_index is not None and _present(node, bias_index):  # a bias of N values along the last axis
        y += f" + in{bias_index}[j]"
    if _present(node, residual_index):
        y += f" + in{residual_index}[co + i * {n} + j]"
    act = _act(node)
    plan.update(epilogue="" if y == "crow[j]" and act == "a0" else y, activation=act)
    return plan


@kernel("matmul")
def plan_matmul(node: Node, step) -> Plan:
    a, b = node.inputs[:2]
    plan = _matmul_plan(node, a.shape, b.shape, False, False, "")
    return Plan("matmul", _rest(node, plan, "crow[j]", 2, 3), what=f"matmul {list(a.shape)} @ {list(b.shape)}" + _epi_text(node))


@kernel("gemm")
def plan_gemm(node: Node, step) -> Plan:
    a, b = node.inputs[0], node.inputs[1]
    c = node.inputs[2] if len(node.inputs) > 2 else None
    at = node.attrs
    dt = node.output.dtype
    y = "crow[j]" if at["alpha"] == 1.0 else f"{literal(at['alpha'], dt)} * crow[j]"
    if c is not None:
        m, n = node.output.shape
        cs = broadcast_strides(c.shape, (m, n))
        term = f"in2[i * {cs[0]} + j * {cs[1]}]"
        y += f" + {term}" if at["beta"] == 1.0 else f" + {literal(at['beta'], dt)} * {term}"
    plan = _rest(node, _matmul_plan(node, a.shape, b.shape, at["trans_a"], at["trans_b"], ""), y, None, 3)
    flags = ("A^T " if at["trans_a"] else "") + ("B^T" if at["trans_b"] else "")
    return Plan("matmul", plan, what=f"gemm {list(a.shape)} x {list(b.shape)} {flags}".rstrip())


@kernel("batch_norm")
def plan_batch_norm(node: Node, step) -> Plan:
    x = node.inputs[0]
    n, c = x.shape[0], (x.shape[1] if x.type.rank > 1 else 1)
    return Plan("batch_norm", dict(N=n, C=c, inner=numel(x.shape[2:]), ctype=x.dtype.ctype, fs=fn_suffix(node),
                                   eps=literal(node.attrs["epsilon"], x.dtype)), what=f"batch norm over {c} channels")


@kernel("layernorm")
def plan_layernorm(node: Node, step) -> Plan:
    x = node.inputs[0]
    ax = node.attrs["axis"]
    return Plan("layernorm", dict(rows=numel(x.shape[:ax]), n=numel(x.shape[ax:]), ctype=x.dtype.ctype, fs=fn_suffix(node),
                                  eps=literal(node.attrs["epsilon"], x.dtype),
                                  has_bias=len(node.inputs) > 2 and node.inputs[2] is not None),
                what=f"layer norm over {list(x.shape[ax:])}")


@kernel("lrn")
def plan_lrn(node: Node, step) -> Plan:
    x = node.inputs[0]
    a = node.attrs
    size = a["size"]
    dt = x.dtype
    return Plan("lrn", dict(N=x.shape[0], C=x.shape[1], inner=numel(x.shape[2:]), lo=(size - 1) // 2, hi=size // 2,
                            bias=literal(a["bias"], dt), alpha_over_size=literal(a["alpha"] / size, dt),
                            beta=literal(a["beta"], dt), ctype=dt.ctype, fs=fn_suffix(node)), what=f"LRN size {size}")


@kernel("einsum")
def plan_einsum(node: Node, step) -> Plan:
    ins, out, size = einsum_letters(node.attrs["equation"], [v.shape for v in node.inputs])
    summed = sorted({c for s in ins for c in s} - set(out))

    def strides(sub, shape, letters):
        st = contiguous_strides(shape)
        return [sum(st[i] for i, c in enumerate(sub) if c == letter and shape[i] != 1) for letter in letters]

    return Plan("einsum", dict(
        out_dims=[size[c] for c in out], sum_dims=[size[c] for c in summed], n_in=len(ins), ctype=node.output.dtype.ctype,
        in_out_strides=[strides(s, v.shape, out) for s, v in zip(ins, node.inputs)],
        in_sum_strides=[strides(s, v.shape, summed) for s, v in zip(ins, node.inputs)],
        out_strides=contiguous_strides([size[c] for c in out]),
    ), what=f"einsum {node.attrs['equation']}")


@kernel("grid_sample")
def plan_grid_sample(node: Node, step) -> Plan:
    x, grid = node.inputs
    a = node.attrs
    dims = list(x.shape[2:])
    out = list(grid.shape[1:-1])
    ac = a["align_corners"]
    return Plan("grid_sample", dict(
        N=x.shape[0], C=x.shape[1], dims=dims, out_dims=out, out_size=numel(out), out_strides=contiguous_strides(out),
        in_size=numel(dims), in_strides=contiguous_strides(dims), mode=a["mode"], padding=a["padding"], align_corners=ac,
        lo=[repr(0.0 if ac else -0.5)] * len(dims), hi=[repr(d - 1.0 if ac else d - 0.5) for d in dims],
        taps={"nearest": 1, "linear": 2, "cubic": 4}[a["mode"]], ctype=x.dtype.ctype, gtype=grid.dtype.ctype,
    ), what=f"grid sample ({a['mode']}, {a['padding']})")


@kernel("fused_attention")
def plan_fused_attention(node: Node, step) -> Plan:
    q, kt, v = node.inputs[:3]
    a = node.attrs
    batch = list(q.shape[:-2])
    sq, d, sk, dv = q.shape[-2], q.shape[-1], kt.shape[-1], v.shape[-1]
    cs = contiguous_strides(batch)
    mask = node.inputs[3] if _present(node, 3) else None
    ms = broadcast_strides(mask.shape, tuple(batch) + (sq, sk)) if mask is not None else [0] * (len(batch) + 2)
    mr, nv = a.get("mr"), a.get("nv")
    keep = [k for k, n in enumerate(batch) if n > 1]  # batch axes of one entry are no loop

    def axes(strides):
        return [strides[k] for k in keep]

    p = dict(batch_dims=axes(batch), q_batch=axes([s * sq * d for s in cs]), k_batch=axes([s * d * sk for s in cs]),
             v_batch=axes([s * sk * dv for s in cs]), y_batch=axes([s * sq * dv for s in cs]), mask_batch=axes(ms[:-2]),
             mask_si=ms[-2], mask_sj=ms[-1], has_mask=mask is not None, SQ=sq, SK=sk, D=d, DV=dv,
             scale=literal(a["scale"], q.dtype), ctype=q.dtype.ctype, fs=fn_suffix(node), MR=mr, NV=nv, NR=a.get("nr"),
             e0=Loop("e0", dv, step=a["nr"]) if mr else None)
    what = f"fused attention, {a['num_heads']} heads, {sq}x{sk} scores, mask {a['mask_kind']}"
    if not mr:
        return Plan("fused_attention", p, what=what)
    return Plan("fused_attention", p, helpers=[gemm_micro(mr, nv)],
                what=what + f", {mr} query rows at a time, {mr}x{nv}-vector tiles")


@kernel("det")
def plan_det(node: Node, step) -> Plan:
    x = node.inputs[0]
    n = x.shape[-1]
    return Plan("det", dict(batch=numel(x.shape[:-2]), n=n, ctype=x.dtype.ctype), what=f"determinant of {n}x{n}")


@kernel("roi_align")
def plan_roi_align(node: Node, step) -> Plan:
    x, rois = node.inputs[:2]
    a = node.attrs
    return Plan("roi_align", dict(R=rois.shape[0], N=x.shape[0], C=x.shape[1], H=x.shape[2], W=x.shape[3], OH=a["out_h"], OW=a["out_w"],
                                  sampling=a["sampling_ratio"], scale=repr(float(a["spatial_scale"])), half_pixel=a["half_pixel"],
                                  mode=a["mode"], ctype=x.dtype.ctype), can_fail=True, what=f"roi align ({a['mode']})")


IMPLICIT_A_BLOCK = 256 * 1024  # bytes of weight panels an implicit conv runs over each pixel panel (L2)
IMPLICIT_TILES = 4096  # floats of tiles those panels accumulate (a stack array)
IMPLICIT_K_CHUNK = 128  # reduction rows per chunk: NR input floats each, kept in L1


@kernel("conv_gemm")
def plan_conv_gemm(node: Node, step) -> Plan:
    """The microkernel over every (weight row panel, pixel panel) pair, with bias, residual and activation
    applied as each tile is stored. Pixel panels are im2col panels packed into the workspace nc pixels at
    a time, or with `implicit` read in place from zero-padded copies of the input planes."""
    a = node.attrs
    p = _conv_params(node, transposed=False)
    mr, nv, nr = a["mr"], a["nv"], a["nr"]
    taps = numel(p["K"])
    kk = p["CG"] * taps
    one = p["K"] == [1, 1, 1] and p["S"] == [1, 1, 1] and p["P"] == [0, 0, 0]
    p.update(KK=kk, KC=a.get("kc") or kk, MR=mr, NR=nr, NV=nv, NC=a["nc"], MP=-(-p["MG"] // mr), G=a["group"], one=one,
             residual=_present(node, 3), TAPS=taps, act=_act(node), vact=_vact(node), implicit=bool(a.get("implicit")))
    p.update(n=Loop("n", p["N"]), g=Loop("g", p["G"]))
    if p["implicit"]:
        ph, pw, slack = conv_flat_geometry(node.inputs[0].shape, a["kernel"], a["dilations"], a["pads"])
        kh, kw = p["K"][1], p["K"][2]
        offsets = [c * ph * pw + i * p["Dl"][1] * pw + j * p["Dl"][2] for c in range(p["CG"]) for i in range(kh) for j in range(kw)]
        mb = max(1, min(p["MP"], IMPLICIT_A_BLOCK // (kk * mr * 4), IMPLICIT_TILES // (mr * nr)))
        kci, flat = min(kk, IMPLICIT_K_CHUNK), p["O"][1] * pw
        p.update(PH=ph, PW=pw, PP=ph * pw, FLAT=flat, SLACK=slack, offsets=offsets, MB=mb, KCI=kci, f0=Loop("f0", flat, step=p["NC"]),
                 mb=Loop("mb", p["MP"], step=mb), kc0=Loop("kc0", kk, step=kci))
        return Plan("conv_implicit", p, names=KERNEL_NAMES, helpers=[gemm_micro(mr, nv, ind=True)],
                    what=_what(node) + _epi_text(node) + f" as implicit GEMM over padded planes, {mr}x{nr} tiles")
    pix = numel(p["O"])
    p.update(PIX=pix, IPIX=numel(p["I"]), p0=Loop("p0", pix, step=p["NC"]), kc0=Loop("kc0", kk, step=p["KC"]),
             kd=Loop("kd", p["K"][0]), kh=Loop("kh", p["K"][1]), kw=Loop("kw", p["K"][2]), c=Loop("c", p["CG"]), mp=Loop("mp", p["MP"]),
             deep=p["K"][0] > 1 or p["I"][0] > 1 or p["O"][0] > 1 or p["P"][0] > 0)  # 3-D: the depth axis is indexed
    return Plan("conv_gemm", p, names=KERNEL_NAMES, helpers=[gemm_micro(mr, nv)],
                what=_what(node) + _epi_text(node) + f" as GEMM, {mr}x{nr} tiles")


@kernel("conv_direct")
def plan_conv_direct(node: Node, step) -> Plan:
    """(Output-channel panel, pixel tiles) work items over a channels-last zero-padded copy of the input
    (or the input itself, already channels-last), with bias, residual and activation applied as each
    group of tiles is stored (transposed back to NCHW, or channels-last as it is)."""

    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    xh, yh, rh = a.get("x_hwc"), a.get("y_hwc"), a.get("r_hwc")
    xs = hwc_logical(x.type, xh).shape if xh else x.shape
    ys = hwc_logical(y.type, yh).shape if yh else y.shape
    p = _conv_params(node, transposed=False, x_shape=xs, y_shape=ys)
    mr, nv, nr = a["mr"], a["nv"], a["nr"]
    ph, pw = direct_planes(xs, ys, a)
    cg, (kh, kw), (dh, dw) = p["CG"], p["K"][1:], p["Dl"][1:]
    sub = direct_subsamples(a)  # the copy keeps only the pixels read: planes of the output's size, stride 1
    row = x.shape[2] if xh else pw  # floats per row of the planes read, over cg
    if dw == 1:  # a kernel row is one run of kw pixels' channels
        roff, run = [i * dh * row * cg for i in range(kh)], kw * cg
    else:
        roff, run = [(i * dh * row + j * dw) * cg for i in range(kh) for j in range(kw)], cg
    pads = a["pads"]
    p.update(MR=mr, NV=nv, NR=nr, GT=a.get("gt", 1), G=a["group"], PH=ph, PW=pw, KK=cg * kh * kw, roff=roff, L=run,
             TILES=-(-p["O"][1] * p["O"][2] // mr), residual=_present(node, 3), act=_act(node), vact=_vact(node),
             ROW=row, x_hwc=bool(xh), y_hwc=yh, r_hwc=rh, SUB=sub, PS=(1, 1) if sub else tuple(p["S"][1:]),
             n=Loop("n", p["N"]), g=Loop("g", a["group"]))
    if xh:  # the planes start inside the input's own padding, as far in as it exceeds this conv's
        p.update(XB=int(np.prod(x.shape[1:])), XOFF=((xh[0] - pads[0]) * x.shape[2] + xh[1] - pads[1]) * cg)
    if yh:
        p.update(YH=y.shape[1], YW=y.shape[2])
    if rh:  # the residual's channels-last buffer: pixels per row, floats per image
        r = node.inputs[3].shape
        p.update(RW=r[2], RB=int(np.prod(r[1:])))
    layout = "".join(f", {w} channels-last" for w, h in (("input", xh), ("residual", rh), ("result", yh)) if h)
    return Plan("conv_direct", p, names=KERNEL_NAMES, helpers=[("conv_micro", dict(mr=mr, nv=nv))],
                what=_what(node) + _epi_text(node) + f", direct over channels-last padded planes, {mr}x{nr} tiles{layout}")


@kernel("dense")
def plan_dense(node: Node, step) -> Plan:
    """Blocks of mc rows of x packed into the workspace as mr-row panels; each column panel of W times
    every one of them with the mr-row microkernel; leftover rows one at a time with the 1-row
    microkernel (x read in place)."""
    a = node.attrs
    x = node.inputs[0]
    rows = numel(x.shape[:-1])
    mr, nv, nr = a["mr"], a["nv"], a["nr"]
    mc = a.get("mc") or mr
    blocks = (rows - mr) // mc + 1 if rows >= mr else 0  # blocks of mc rows (the last may be shorter) ...
    first = (rows // mr * mr if rows < mc else mc) if blocks else 0  # ... the first block's rows
    leftover = blocks > 1 or first < rows  # rows for the 1-row microkernel
    p = dict(M=rows, K=a["k"], N=a["n"], MR=mr, MC=mc, NV=nv, NR=nr, Q=-(-a["n"] // nr), has_bias=_present(node, 2),
             residual=_present(node, 3), act=_act(node), vact=_vact(node), blocks=blocks, BR=first if blocks <= 1 else None,
             r0=Loop("r0", rows - mr + 1, step=mc), leftover=leftover)
    helpers = ([gemm_micro(1, nv)] if leftover else []) + \
        ([gemm_micro(mr, nv)] if blocks else [])
    return Plan("dense", p, names=KERNEL_NAMES, helpers=helpers,
                what=f"dense {list(x.shape)} x [{a['k']}, {a['n']}]" + _epi_text(node) + f", {mr}x{nr} tiles")
