"""conv -> conv_direct: on vector targets a 2-D float convolution with constant weights (but a 1x1
stride-1 one) and at least half a vector panel of output channels per group is computed directly from
a zero-padded channels-last copy of the input (any stride and dilation): the microkernel broadcasts the
inputs of mr output pixels against weights packed in panels of nr output channels. Between two such
convolutions the tensor stays channels-last (keep_channels_last).

The weights of each group, [M/g, C/g, KH, KW], are padded to a multiple of nr output channels and stored
panel by panel: [group][panel][kh][kw][c][nr], so that for one kernel row the (kw, c) run is contiguous
in the weights exactly as it is in a channels-last input row."""

from __future__ import annotations

from math import gcd, prod

import numpy as np

from ...geometry import conv_flat_geometry
from ...ir import Graph
from ...ir.ops.nn import conv, conv_type
from ...ir.ops.registry import register
from ...ir.types import DType, TensorType
from ...passes.rewrite import Rewriter
from ..target import Target
from .table import Lowering, const_weights, packed


def pack_conv_weights_hwc(w: np.ndarray, group: int, nr: int) -> np.ndarray:
    mg = w.shape[0] // group
    panels = -(-mg // nr)
    a = np.zeros((group, panels * nr, *w.shape[1:]), w.dtype)
    a[:, :mg] = w.reshape(group, mg, *w.shape[1:])
    a = a.reshape(group, panels, nr, *w.shape[1:])  # [g][panel][nr][c][kh][kw]
    return np.ascontiguousarray(a.transpose(0, 1, 4, 5, 3, 2)).reshape(-1)

def unpack_conv_weights_hwc(wp: np.ndarray, wshape, group: int, nr: int) -> np.ndarray:
    mg, cg, kh, kw = wshape[0] // group, *wshape[1:]
    panels = -(-mg // nr)
    a = wp.reshape(group, panels, kh, kw, cg, nr).transpose(0, 1, 5, 4, 2, 3).reshape(group, panels * nr, cg, kh, kw)
    return np.ascontiguousarray(a[:, :mg]).reshape(wshape)

def hwc_physical(t: TensorType, pads) -> TensorType:
    """The channels-last buffer of a logical [N, C, H, W] tensor, zero-padded by (top, left, bottom, right)."""
    n, c, h, w = t.shape
    return t.with_shape((n, h + pads[0] + pads[2], w + pads[1] + pads[3], c))

def hwc_logical(t: TensorType, pads) -> TensorType:
    n, ph, pw, c = t.shape
    return t.with_shape((n, c, ph - pads[0] - pads[2], pw - pads[1] - pads[3]))

def to_hwc(a: np.ndarray, pads) -> np.ndarray:
    return np.pad(a.transpose(0, 2, 3, 1), [(0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)])

def from_hwc(a: np.ndarray, pads) -> np.ndarray:
    return np.ascontiguousarray(a[:, pads[0]:a.shape[1] - pads[2], pads[1]:a.shape[2] - pads[3]].transpose(0, 3, 1, 2))

def _conv_direct_type(x, wp, b=None, residual=None, *, wshape, mr, nv, nr, work, gt=1, x_hwc=None, y_hwc=None, r_hwc=None,
                      **conv_attrs):
    xl = hwc_logical(x, x_hwc) if x_hwc else x
    rl = hwc_logical(residual, r_hwc) if residual is not None and r_hwc else residual
    y = conv_type(xl, TensorType(x.dtype, tuple(wshape)), b, rl, **conv_attrs)
    return [hwc_physical(y, y_hwc) if y_hwc else y, TensorType(x.dtype, (work,))]

@register("conv_direct", infer=_conv_direct_type, work=lambda n: n.outputs[0].type.numel * prod(n.attrs["wshape"][1:]))
def conv_direct(x, wp, b=None, residual=None, *, wshape, mr, nv, nr, work, gt=1, x_hwc=None, y_hwc=None, r_hwc=None,
                **conv_attrs):
    """A 2-D conv with its weights packed channels-last in panels of nr output channels (see
    pack_conv_weights_hwc). The second output is the workspace: one group's input planes copied
    zero-padded and channels-last, from which the microkernel broadcasts mr output pixels' inputs
    against nr = nv vectors of output channels; gt tiles (gt * mr pixels: whole vectors) are stored at
    a time. With x_hwc (y_hwc, r_hwc) the input (result, residual) is such a channels-last buffer
    already, zero-padded by those (top, left, bottom, right) pads: no copy, no transposes."""
    xl = from_hwc(x, x_hwc) if x_hwc else x
    rl = from_hwc(residual, r_hwc) if residual is not None and r_hwc else residual
    w = unpack_conv_weights_hwc(wp, wshape, conv_attrs["group"], nr)
    y = conv(xl, w, b, rl, **conv_attrs)
    return to_hwc(y, y_hwc) if y_hwc else y, np.zeros(work, x.dtype)


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

def lower_conv_direct(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    a, x = n.attrs, n.inputs[0]
    one = all(k == 1 for k in a["kernel"]) and all(s == 1 for s in a["strides"])  # a GEMM reading the input in place
    if target.vec_width == 1 or len(a["kernel"]) != 2 or one or n.output.dtype is not DType.FLOAT:
        return False
    w = const_weights(rw, n.inputs[1])
    group, nv = a["group"], choice.get("nv", target.gemm_nv)
    nr = nv * target.vec_width
    if w is None or w.shape[0] // group < nr // 2:  # a panel at least half used
        return False
    ph, pw = direct_planes(x.shape, n.output.shape, a)
    mr = choice.get("mr") or direct_tile_pixels(prod(n.output.shape[2:]), target.gemm_mr)
    attrs = dict(a, wshape=tuple(w.shape), mr=mr, nv=nv, nr=nr, work=ph * pw * (x.shape[1] // group),
                 gt=target.vec_width // gcd(mr, target.vec_width))
    wp = rw.constant(pack_conv_weights_hwc(w, group, nr), name=packed(n.inputs[1]))
    y, _work = rw.emit("conv_direct", (x, wp, *n.inputs[2:]), attrs, n.name)
    rw.replace(n.output, y)
    return True

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


ROWS = [Lowering("conv", "conv_direct", lower_conv_direct, tunes=("mr", "nv"), rank=1)]
