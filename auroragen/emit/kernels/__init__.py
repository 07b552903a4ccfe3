"""Kernel plans: what each kernel template needs, computed from a scheduled node.

A plan builder is registered once per op: `@kernel("conv")` on a function
`(node, step) -> Plan`. Templates receive only plans (ints, strings, lists),
never graphs. Every op of the IR must have a builder (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

from ...ir import Node

BUILDERS: dict[str, Callable[..., Plan]] = {}


@dataclass
class Plan:
    template: str  # templates/kernels/<template>.c.j2
    params: dict[str, Any]
    can_fail: bool = False  # the kernel returns an AURORA_* code
    inputs: list[int] | None = None  # which node inputs it reads (default: all present ones)
    what: str = ""  # a one-line description for the comment above the kernel
    helpers: list[tuple[str, dict]] = field(default_factory=list)  # (template, params) rendered once per file, above


def kernel(*ops: str):
    def wrap(fn):
        for op in ops:
            if op in BUILDERS:
                raise RuntimeError(f"kernel for {op} registered twice")
            BUILDERS[op] = fn
        return fn

    return wrap


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


def fn_suffix(node: Node) -> str:
    """The C math-function suffix for the node's output type: f for float, none for double."""
    from ...ir.types import DType

    return "" if node.outputs[0].dtype is DType.DOUBLE else "f"


def get_builder(op: str):
    from . import elementwise, index, movement, nn, reduce, rnn  # noqa: F401  (registration)

    return BUILDERS[op]
