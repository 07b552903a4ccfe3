"""conv -> conv_flat: a 2-D float convolution left to the direct kernel (depthwise, thin groups) runs over
each zero-padded input plane as one flat row, so every tap is one long vector loop however narrow the
plane (the padding columns are computed too and dropped); a strided one over the plane's phases (a
stride-2 plane as four planes of even/odd rows and columns), in which every tap is again contiguous."""

from __future__ import annotations

from math import prod

import numpy as np

from ...geometry import conv_flat_geometry
from ...ir.ops.nn import conv, conv_type
from ...ir.ops.registry import register
from ...ir.types import DType, TensorType
from ...passes.rewrite import Rewriter
from ..target import Target
from .table import Lowering


def _conv_flat_type(x, w, b=None, residual=None, *, work, parallel=0, per_group=0, stack=0, **conv_attrs):
    return [conv_type(x, w, b, residual, **conv_attrs), TensorType(x.dtype, (work,))]

@register("conv_flat", infer=_conv_flat_type, work=lambda n: n.outputs[0].type.numel * prod(n.inputs[1].shape[1:]))
def conv_flat(x, w, b=None, residual=None, *, work, parallel=0, per_group=0, stack=0, **conv_attrs):
    """A 2-D conv computed over each zero-padded input plane (or its phase planes, strided) as one flat row
    (target lowering of thin-group convs: depthwise); the second output is the workspace: one group's
    padded planes, or with parallel every group's (nothing when they go on the threads' stacks)."""
    return conv(x, w, b, residual, **conv_attrs), np.zeros(work, x.dtype)


FLAT_PER_GROUP_MIN = 8  # a parallel conv_flat with at least this many groups gives each thread whole groups

FLAT_STACK_FLOATS = 1 << 15  # ... whose planes go on the thread's stack up to this size (128 KiB)

def flat_chunk_rows(pw: int) -> int:
    """Output rows conv_flat sums at a time: about 1024 floats (in L1)."""
    return max(1, 1024 // pw)

def lower_conv_flat(rw: Rewriter, n, target: Target, parallel: bool, choice: dict) -> bool:
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


ROWS = [Lowering("conv", "conv_flat", lower_conv_flat, rank=3)]
