"""conv -> conv_gemm: a float convolution with constant weights and at least a few output channels per
group runs as a GEMM over weights packed here, once, at compile time. On vector targets a 2-D stride-1
one (but a plain 1x1) is an implicit GEMM: the input is copied into zero-padded planes in the arena's
workspace and read there in place; the others pack im2col panels of the input at run time into the
workspace, long reductions in chunks.

The weights of each group, [M/g, C/g * kernel], are padded to a multiple of mr rows and stored panel by
panel: [group][row panel][k][mr], so a microkernel reads mr weights per k contiguously."""

from __future__ import annotations

from math import prod

import numpy as np

from ...geometry import conv_flat_geometry
from ...ir.ops.nn import conv, conv_type
from ...ir.ops.registry import register
from ...ir.types import DType, TensorType
from ...passes.rewrite import Rewriter
from ..target import Target
from .table import B_BLOCK_FLOATS, Lowering, const_weights, packed

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


def pack_conv_weights(w: np.ndarray, group: int, mr: int) -> np.ndarray:
    mg, k = w.shape[0] // group, int(np.prod(w.shape[1:]))
    panels = -(-mg // mr)
    a = np.zeros((group, panels * mr, k), w.dtype)
    a[:, :mg] = w.reshape(group, mg, k)
    return np.ascontiguousarray(a.reshape(group, panels, mr, k).transpose(0, 1, 3, 2)).reshape(-1)

def unpack_conv_weights(wp: np.ndarray, wshape, group: int, mr: int) -> np.ndarray:
    mg, k = wshape[0] // group, int(np.prod(wshape[1:]))
    panels = -(-mg // mr)
    a = wp.reshape(group, panels, k, mr).transpose(0, 1, 3, 2).reshape(group, panels * mr, k)
    return np.ascontiguousarray(a[:, :mg]).reshape(wshape)

def _conv_gemm_type(x, wp, b=None, residual=None, *, wshape, mr, nv, nr, nc, work, kc=None, implicit=0, **conv_attrs):
    return [conv_type(x, TensorType(x.dtype, tuple(wshape)), b, residual, **conv_attrs), TensorType(x.dtype, (work,))]

@register("conv_gemm", infer=_conv_gemm_type, work=lambda n: n.outputs[0].type.numel * prod(n.attrs["wshape"][1:]))
def conv_gemm(x, wp, b=None, residual=None, *, wshape, mr, nv, nr, nc, work, kc=None, implicit=0, **conv_attrs):
    """conv with its weights packed for the GEMM microkernel (see pack_conv_weights): tiles of mr rows by
    nr = nv vectors of columns; nc input columns (output pixels) are packed at a time into the workspace
    output, which holds nothing afterwards; with kc, kc rows of the reduction at a time, the partial
    tiles summed in the workspace too. With implicit (2-D, stride 1), the workspace holds the input's
    zero-padded planes instead, read in place through a table of tap offsets (no im2col)."""
    w = unpack_conv_weights(wp, wshape, conv_attrs["group"], mr)
    return conv(x, w, b, residual, **conv_attrs), np.zeros(work, x.dtype)


def lower_conv_gemm(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
    w = const_weights(rw, n.inputs[1])
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
    ins = (x, rw.constant(pack_conv_weights(w, group, mr), name=packed(n.inputs[1])), *n.inputs[2:])
    attrs = dict(a, wshape=tuple(w.shape), mr=mr, nv=nv, nr=nr, nc=nc, kc=kc, work=work, implicit=int(implicit))
    y, _work = rw.emit("conv_gemm", ins, attrs, n.name)
    rw.replace(n.output, y)
    return True


ROWS = [Lowering("conv", "conv_gemm", lower_conv_gemm, tunes=("mr", "nv"), rank=2)]
