"""Index arithmetic over shapes and strides: plain integers in, plain integers out (no internal imports,
so every layer may use it)."""

from __future__ import annotations

from math import prod


def contiguous_strides(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def broadcast_strides(in_shape, out_shape) -> list[int]:
    """Strides of an input read at every index of a broadcast output (0 on broadcast axes)."""
    pad = len(out_shape) - len(in_shape)
    full = (1,) * pad + tuple(in_shape)
    st = contiguous_strides(full)
    return [0 if full[i] == 1 and out_shape[i] != 1 else st[i] for i in range(len(out_shape))]


def collapse(dims, *stride_lists):
    """Drop size-1 axes and merge neighbours that every stride list walks contiguously."""
    keep = [i for i, d in enumerate(dims) if d != 1]
    dims = [dims[i] for i in keep]
    lists = [[s[i] for i in keep] for s in stride_lists]
    i = len(dims) - 2
    while i >= 0:
        if all(s[i] == s[i + 1] * dims[i + 1] for s in lists):
            dims[i] *= dims[i + 1]
            for s in lists:
                s[i] = s[i + 1]
                del s[i + 1]
            del dims[i + 1]
        i -= 1
    return dims, lists


def numel(shape) -> int:
    return prod(shape)


def conv_flat_geometry(x_shape, kernel, dilations, pads, strides=(1, 1)) -> tuple[int, int, int]:
    """(rows, row length, slack) of each zero-padded input plane of a flat convolution: with strides
    (sh, sw) the padded plane is split into sh * sw phase planes (rows r = i * sh + phase, columns likewise),
    each ceil(padded / stride) long per axis, so that every tap reads a contiguous run of each; the flat
    loop reads up to slack elements past a plane."""
    ph = -(-(x_shape[2] + pads[0] + pads[2]) // strides[0])
    pw = -(-(x_shape[3] + pads[1] + pads[3]) // strides[1])
    return ph, pw, (kernel[1] - 1) * dilations[1] // strides[1]
