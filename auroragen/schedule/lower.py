"""Target lowering: rewrite ops into the forms the target's fast kernels take, after the graph passes.

conv -> conv_direct: on vector targets a 2-D float convolution with constant weights (but a 1x1
stride-1 one) and at least half a vector panel of output channels per group is computed directly from
a zero-padded channels-last copy of the input (any stride and dilation): the microkernel broadcasts the
inputs of mr output pixels against weights packed in panels of nr output channels. Between two such
convolutions the tensor stays channels-last (keep_channels_last).

conv -> conv_gemm: a float convolution with constant weights and at least a few output channels
per group runs as a GEMM over packed weights (packed here, once, at compile time: the microkernel's
row panels). On vector targets a 2-D stride-1 one (but a plain 1x1) is an implicit GEMM: the input is
copied into zero-padded planes in the arena's workspace and read there in place; the others pack
im2col panels of the input at run time into the workspace, long reductions in chunks.
Depthwise and other thin-group convolutions go to conv_flat or keep the direct kernel.

rnn -> dense + rnn_packed: with constant float W and R, the input projection X W^T of every step is
one dense GEMM before the recurrence, and the recurrence computes h R^T with the 1-row microkernel over
R packed in column panels (GRU with linear_before_reset=0 keeps the plain kernel: it multiplies R's
last gate by r * h, not by h).

conv -> conv_flat: a 2-D float convolution left to the direct kernel (depthwise, thin groups) runs over
each zero-padded input plane as one flat row, so every tap is one long vector loop however narrow the
plane (the padding columns are computed too and dropped); a strided one over the plane's phases (a
stride-2 plane as four planes of even/odd rows and columns), in which every tap is again contiguous.

matmul / gemm -> dense: x[..., K] @ W with constant 2-D float W packed in the microkernel's column
panels (gemm's alpha and transposed B folded in), bias along the last axis, residual and activation
in the store.
"""

from __future__ import annotations

from math import gcd, prod

import numpy as np

from ..ir import Graph
from ..ir.graph import map_regions
from ..ir.ops.nn import pack_conv_weights, pack_conv_weights_hwc, pack_dense_weights
from ..ir.ops.rnn import pack_recurrent_weights
from ..ir.types import DType
from ..passes.dce import DeadCodeElimination
from ..passes.rewrite import Rewriter
from .target import Target

B_BLOCK_FLOATS = 32768  # input panels packed per block: 128 KiB, to stay in L2 beside a weight panel


K_BLOCK_MAX = 768  # a longer reduction is split into chunks of at most K_BLOCK, packed and summed in turn
K_BLOCK = 512


def conv_block_depth(k: int) -> int:
    """Reduction rows packed at once: all of them up to K_BLOCK_MAX, else equal chunks of at most K_BLOCK,
    so that deep layers still pack many output pixels per block and stream their weights once."""
    if k <= K_BLOCK_MAX:
        return k
    chunks = -(-k // K_BLOCK)
    return -(-k // chunks)


def implicit_block_columns(cg: int, pw: int, kh: int, dh: int, flat: int, nr: int) -> int:
    """Flat output positions per block of an implicit conv: the input rows they read (the block and its
    halo of (kh - 1) * dh rows, in every channel) fit the packing budget twice over (L2)."""
    per_channel = 2 * B_BLOCK_FLOATS // max(cg, 1) - (kh - 1) * dh * pw
    return max(nr, min(-(-flat // nr) * nr, per_channel // nr * nr))


def conv_block_columns(k: int, pixels: int, nr: int) -> int:
    """Output pixels whose input panels are packed at once: a multiple of nr, at most the padded pixel count."""
    full = -(-pixels // nr) * nr
    return max(nr, min(full, B_BLOCK_FLOATS // max(k, 1) // nr * nr))


DENSE_A_FLOATS = 1 << 18  # rows of x a dense kernel packs at once on vector targets: up to 1 MiB of panels


def dense_block_rows(k: int, rows: int, mr: int, budget: int = B_BLOCK_FLOATS) -> int:
    """Rows of x packed at once: a multiple of mr whose panels fit the budget, at most the whole mr-row
    blocks of x; every weight panel is then used on all of them. On vector targets the budget is
    DENSE_A_FLOATS: packing all of a transformer's 128 to 200 rows (up to 786 KB) beat blocks that stay
    in L2 by 3-6% on AVX2, each weight panel then streamed once."""
    return max(mr, min(rows // mr * mr, budget // max(k, 1) // mr * mr))


def _dense_weights(rw: Rewriter, v):
    """A constant's array, unless it is a splat (packing would turn a one-number constant into a full one)."""
    c = rw.const(v)
    return c if isinstance(c, np.ndarray) else None


TUNABLE = ("conv", "matmul", "gemm")  # the ops whose tiles a tuning file may choose (auroragen.tune)


def tuning_key(n, target: Target, parallel: bool) -> str:
    """What a tuning file records a node's choices under: target, threading, op, input types and
    attributes (so every node computing the same thing shares one entry; names play no part)."""
    ins = ",".join("-" if v is None else f"{v.dtype.name}{list(v.shape)}" for v in n.inputs)
    attrs = ",".join(f"{k}={v!r}" for k, v in sorted(n.attrs.items()))
    return f"{target.name}{'+openmp' if parallel else ''} {n.op}({ins}) {{{attrs}}}"


def micro_shapes(target: Target) -> list[tuple[int, int]]:
    """The microkernel tiles (mr pixels or rows, nv vectors) worth timing on a target: for each nv up to 4 the
    largest mr (at most 16) whose accumulators, nv weight vectors and a broadcast fit the vector registers, and one less,
    keeping those with at least half the registers as accumulators (fewer cannot hide the FMA latency).
    Scalar targets keep theirs (the compiler allocates their registers)."""
    regs = target.vec_regs
    if not regs:
        return [(target.gemm_mr, target.gemm_nv)]
    out = []
    for nv in range(1, 5):
        top = min(16, (regs - nv - 1) // nv)
        out += [(mr, nv) for mr in (top, top - 1) if mr >= 2 and mr * nv >= regs // 2]
    return out


def lower(g: Graph, target: Target, parallel: bool = False, tuning: dict | None = None) -> Graph:
    """parallel: the code is built with --openmp (kernels whose parallel form needs more workspace).
    tuning: tuning_key -> the tile choices to use instead of the heuristics' (auroragen.tune)."""
    g = map_regions(g, lambda r: lower(r, target, parallel, tuning))
    rw = Rewriter(g)
    changed = False
    for n in g.nodes:
        choice = tuning.get(tuning_key(n, target, parallel), {}) if tuning and n.op in TUNABLE else {}
        if any(f(rw, n, target, parallel, choice) for f in LOWERINGS.get(n.op, ())):
            changed = True
        else:
            rw.keep(n)
    if not changed:
        return g
    g = DeadCodeElimination().apply(rw.graph())
    return keep_channels_last(g) if target.vec_width > 1 else g


def keep_channels_last(g: Graph) -> Graph:
    """A conv_direct result read only by other conv_directs (group 1, as their input or residual) is
    written channels-last, zero-padded for the largest padding its readers need, and read that way: no
    copy into the workspace before the readers, no transposes after the writer (ResNet's blocks)."""
    users = g.users()
    outputs = set(g.outputs)

    def direct(n):
        return n.op == "conv_direct" and n.attrs["group"] == 1

    pads: dict = {}
    for n in g.nodes:
        v = n.outputs[0] if direct(n) else None
        if v is None or v in outputs or not users.get(v):
            continue
        need = (0, 0, 0, 0)
        for u in users[v]:
            roles = {k for k, x in enumerate(u.inputs) if x is v}
            if not direct(u) or roles - {0, 3}:
                break
            if 0 in roles:
                need = tuple(max(a, b) for a, b in zip(need, u.attrs["pads"]))
        else:
            pads[v] = need
    if not pads:
        return g
    rw = Rewriter(g)
    for n in g.nodes:
        ins = n.inputs
        hwc = {k: pads[ins[k]] for k in (0, 3) if n.op == "conv_direct" and len(ins) > k and ins[k] in pads}
        if not hwc and n.outputs[0] not in pads:
            rw.keep(n)
            continue
        a = dict(n.attrs)
        if 0 in hwc:
            a.update(x_hwc=hwc[0], work=0)
        if 3 in hwc:
            a["r_hwc"] = hwc[3]
        if n.outputs[0] in pads:
            a["y_hwc"] = pads[n.outputs[0]]
        y, _work = rw.emit("conv_direct", ins, a, n.name)
        rw.replace(n.outputs[0], y)
    return rw.graph()


def direct_tile_pixels(pixels: int, mr: int) -> int:
    """Output pixels per tile of a direct conv: the target's mr, or one fewer when that computes at least 5%
    fewer padded pixels (a 7x7 map: 50 in tiles of 5 against 54 in tiles of 6; a tile of mr - 1 pixels
    does a little less arithmetic per load and per loop step)."""
    def padded(m):
        return -(-pixels // m) * m
    return mr - 1 if mr > 2 and padded(mr - 1) * 1.05 <= padded(mr) else mr


def direct_subsamples(a: dict) -> bool:
    """Whether a conv_direct copying its input copies only every stride-th pixel: an unpadded 1x1 kernel."""
    return all(k == 1 for k in a["kernel"]) and not any(a["pads"]) and not a.get("x_hwc")


def direct_planes(x_shape, y_shape, a: dict) -> tuple[int, int]:
    """(rows, pixels per row) of the channels-last planes a conv_direct copies its input into: the padded
    input, or for a subsampling one (direct_subsamples) the output's size."""
    if direct_subsamples(a):
        return tuple(y_shape[2:])
    ph, pw, _slack = conv_flat_geometry(x_shape, a["kernel"], a["dilations"], a["pads"])
    return ph, pw


def _lower_conv_direct(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    a, x = n.attrs, n.inputs[0]
    one = all(k == 1 for k in a["kernel"]) and all(s == 1 for s in a["strides"])  # a GEMM reading the input in place
    if target.vec_width == 1 or len(a["kernel"]) != 2 or one or n.output.dtype is not DType.FLOAT:
        return False
    w = _dense_weights(rw, n.inputs[1])
    group, nv = a["group"], choice.get("nv", target.gemm_nv)
    nr = nv * target.vec_width
    if w is None or w.shape[0] // group < nr // 2:  # a panel at least half used
        return False
    ph, pw = direct_planes(x.shape, n.output.shape, a)
    mr = choice.get("mr") or direct_tile_pixels(prod(n.output.shape[2:]), target.gemm_mr)
    attrs = dict(a, wshape=tuple(w.shape), mr=mr, nv=nv, nr=nr, work=ph * pw * (x.shape[1] // group),
                 gt=target.vec_width // gcd(mr, target.vec_width))
    y, _work = rw.emit("conv_direct", (x, rw.constant(pack_conv_weights_hwc(w, group, nr)), *n.inputs[2:]), attrs, n.name)
    rw.replace(n.output, y)
    return True


def _lower_conv_gemm(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    w = _dense_weights(rw, n.inputs[1])
    if w is None or n.output.dtype is not DType.FLOAT or w.shape[0] // n.attrs["group"] < min(4, target.gemm_mr):
        return False
    group, mr, nv = n.attrs["group"], choice.get("mr", target.gemm_mr), choice.get("nv", target.gemm_nv)
    nr = nv * target.vec_width
    k = prod(w.shape[1:])
    a, x = n.attrs, n.inputs[0]
    implicit = (len(a["kernel"]) == 2 and all(s == 1 for s in a["strides"]) and target.vec_width > 1
                and not (all(t == 1 for t in a["kernel"]) and not any(a["pads"])))
    if implicit:  # read in place from zero-padded planes: no im2col
        ph, pw, slack = conv_flat_geometry(x.shape, a["kernel"], a["dilations"], a["pads"])
        cg = x.shape[1] // group
        kc, nc = k, implicit_block_columns(cg, pw, a["kernel"][0], a["dilations"][0], n.output.shape[2] * pw, nr)
        work = cg * ph * pw + slack + nr
    else:
        kc = conv_block_depth(k)
        nc = conv_block_columns(kc, prod(n.output.shape[2:]), nr)
        work = kc * nc
        if kc < k:  # partial tiles of every weight row panel of a group, summed over the chunks
            work += -(-w.shape[0] // group // mr) * mr * nc
    ins = (x, rw.constant(pack_conv_weights(w, group, mr)), *n.inputs[2:])
    attrs = dict(a, wshape=tuple(w.shape), mr=mr, nv=nv, nr=nr, nc=nc, kc=kc, work=work, implicit=int(implicit))
    y, _work = rw.emit("conv_gemm", ins, attrs, n.name)
    rw.replace(n.output, y)
    return True


def _lower_dense(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    a, b = n.inputs[0], n.inputs[1]
    w = _dense_weights(rw, b)
    if w is None or w.ndim != 2 or n.output.dtype is not DType.FLOAT or a.type.rank < 1:
        return False
    bias = n.inputs[2] if len(n.inputs) > 2 else None
    residual = n.inputs[3] if len(n.inputs) > 3 else None
    if n.op == "gemm":
        at = n.attrs
        if at["trans_a"]:
            return False
        w = (w.T if at["trans_b"] else w) * np.float32(at["alpha"])
        if bias is not None:
            c = rw.array(bias)
            kn = w.shape[1]
            if c is not None and c.size in (1, kn) and (c.ndim < 2 or c.shape[0] == 1):
                bias = rw.constant((np.broadcast_to(c.reshape(-1), (kn,)) * np.float32(at["beta"])).astype(np.float32))
            elif at["beta"] == 1.0 and bias.shape in ((kn,), (1, kn)):
                bias = rw.emit("reshape", (bias,), {"shape": (kn,)})[0] if bias.type.rank == 2 else bias
            else:
                return False
    elif a.type.rank == 1:
        return False  # a vector times a matrix drops an axis: the plain kernel handles it
    k, cols = w.shape
    mr, nv = target.dense_tile or (target.gemm_mr, target.gemm_nv)
    mr, nv = choice.get("mr", mr), choice.get("nv", nv)
    nr = nv * target.vec_width
    wp = rw.constant(pack_dense_weights(np.ascontiguousarray(w, np.float32), nr))
    budget = DENSE_A_FLOATS if target.vec_width > 1 else B_BLOCK_FLOATS
    mc = choice.get("mc") or dense_block_rows(k, prod(a.shape[:-1]), mr, budget)
    attrs = dict(k=k, n=cols, mr=mr, nv=nv, nr=nr, mc=mc,
                 activation=n.attrs.get("activation"), act_params=n.attrs.get("act_params", ()))
    y, _work = rw.emit("dense", (a, wp, bias, residual), attrs, n.name)
    rw.replace(n.output, y)
    return True


def _lower_rnn(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    x, w, r = n.inputs[:3]
    a = n.attrs
    w, r = _dense_weights(rw, w), _dense_weights(rw, r)
    if w is None or r is None or x.dtype is not DType.FLOAT or (a["kind"] == "gru" and not a["linear_before_reset"]):
        return False
    dirs, gh, isz = w.shape
    nr = target.gemm_nr
    wt = np.ascontiguousarray(w.transpose(2, 0, 1).reshape(isz, dirs * gh), np.float32)  # [I, dirs * G*H]
    mr = target.gemm_mr
    dense_attrs = dict(k=isz, n=dirs * gh, mr=mr, nv=target.gemm_nv, nr=nr, mc=dense_block_rows(isz, prod(x.shape[:2]), mr),
                       activation=None, act_params=())
    xw, _work = rw.emit("dense", (x, rw.constant(pack_dense_weights(wt, nr)), None, None), dense_attrs, n.name)
    rp = rw.constant(pack_recurrent_weights(np.asarray(r, np.float32), nr))
    outs = rw.emit("rnn_packed", (xw, rp, *n.inputs[3:]), dict(a, rshape=tuple(r.shape), nr=nr, nv=target.gemm_nv), n.name)
    for old, new in zip(n.outputs, outs):
        rw.replace(old, new)
    return True


def conv_flat_geometry(x_shape, kernel, dilations, pads, strides=(1, 1)) -> tuple[int, int, int]:
    """(rows, row length, slack) of each zero-padded input plane of a flat convolution: with strides
    (sh, sw) the padded plane is split into sh * sw phase planes (rows r = i * sh + phase, columns likewise),
    each ceil(padded / stride) long per axis, so that every tap reads a contiguous run of each; the flat
    loop reads up to slack elements past a plane."""
    ph = -(-(x_shape[2] + pads[0] + pads[2]) // strides[0])
    pw = -(-(x_shape[3] + pads[1] + pads[3]) // strides[1])
    return ph, pw, (kernel[1] - 1) * dilations[1] // strides[1]


FLAT_PER_GROUP_MIN = 8  # a parallel conv_flat with at least this many groups gives each thread whole groups
FLAT_STACK_FLOATS = 1 << 15  # ... whose planes go on the thread's stack up to this size (128 KiB)


def flat_chunk_rows(pw: int) -> int:
    """Output rows conv_flat sums at a time: about 1024 floats (in L1)."""
    return max(1, 1024 // pw)


def _lower_conv_flat(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    a = n.attrs
    x, y = n.inputs[0], n.output
    if len(a["kernel"]) != 2 or x.dtype is not DType.FLOAT:
        return False
    if any(s != 1 for s in a["strides"]) and y.shape[1] // a["group"] >= 4:
        return False  # strided, only thin groups (depthwise): wide ones with unpacked weights keep the direct kernel
    ph, pw, slack = conv_flat_geometry(x.shape, a["kernel"], a["dilations"], a["pads"], a["strides"])
    # serial: one group's planes and slack (a slot) and a chunk of the result. Parallel (each chunk on its
    # thread's stack): with many groups each is written and convolved by one thread, its slot on the
    # thread's stack when small enough (the arena then holds nothing); else every group's slot in the arena
    slot = x.shape[1] // a["group"] * prod(a["strides"]) * ph * pw + slack
    per_group = parallel and a["group"] >= FLAT_PER_GROUP_MIN
    stack = per_group and slot <= FLAT_STACK_FLOATS
    if stack:
        work = 1
    elif parallel:
        work = a["group"] * slot
    else:
        work = slot + flat_chunk_rows(pw) * pw
    attrs = dict(a, work=work, parallel=int(parallel), per_group=int(per_group), stack=int(stack))
    out, _work = rw.emit("conv_flat", n.inputs, attrs, n.name)
    rw.replace(y, out)
    return True


ATTENTION_STACK_FLOATS = 1 << 15  # the blocked attention's stack arrays (per thread), at most: 128 KiB


def attention_stack_floats(sk: int, d: int, dv: int, mr: int, nr: int) -> int:
    """Floats of stack the blocked fused_attention takes: scores and probabilities of mr rows, the query
    panel, a tile, and zero-padded copies of the last column panel of k^T and of v when partial."""
    return 2 * mr * sk + d * mr + mr * nr + (d * nr if sk % nr else 0) + (sk * nr if dv % nr else 0)


def _lower_attention(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    """On vector targets a float attention computes mr query rows at a time with the GEMM microkernel
    (q panel x k^T in place, then probabilities x v in place), when its stack arrays stay small."""
    q, kt, v = n.inputs[:3]
    if target.vec_width == 1 or q.dtype is not DType.FLOAT or "mr" in n.attrs or 0 in q.shape + kt.shape + v.shape:
        return False
    sq, d, sk, dv = q.shape[-2], q.shape[-1], kt.shape[-1], v.shape[-1]
    mr, nv = min(target.gemm_mr, sq), target.gemm_nv
    nr = nv * target.vec_width
    if attention_stack_floats(sk, d, dv, mr, nr) > ATTENTION_STACK_FLOATS:
        return False
    y, = rw.emit("fused_attention", n.inputs, dict(n.attrs, mr=mr, nv=nv, nr=nr), n.name)
    rw.replace(n.output, y)
    return True


# What each op may become, tried in order (conv: the GEMM when it has enough output channels per group).
LOWERINGS = {"matmul": [_lower_dense], "gemm": [_lower_dense], "rnn": [_lower_rnn],
             "conv": [_lower_conv_direct, _lower_conv_gemm, _lower_conv_flat], "fused_attention": [_lower_attention]}
