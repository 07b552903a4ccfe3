"""Kernel plans: what each kernel template needs, computed from a scheduled node.

A plan builder is registered once per op: `@kernel("conv")` on a function
`(node, step) -> Plan`. Templates receive only plans (ints, strings, lists),
never graphs. Every op of the IR must have a builder (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...geometry import broadcast_strides, collapse, contiguous_strides, numel  # noqa: F401 - the kernels' toolkit
from ...ir import Node
from ...ir.types import DType

BUILDERS: dict[str, Callable[..., Plan]] = {}


@dataclass
class Plan:
    template: str  # templates/kernels/<template>.c.j2
    params: dict[str, Any]
    can_fail: bool = False  # the kernel returns an AURORA_* code
    inputs: list[int] | None = None  # which node inputs it reads (default: all present ones)
    what: str = ""  # a one-line description for the comment above the kernel
    helpers: list[tuple[str, dict]] = field(default_factory=list)  # (template, params) rendered once per file, above
    names: dict[str, str] = field(default_factory=dict)  # kernel parameter names instead of in<k> / out<k>


def kernel(*ops: str):
    def wrap(fn):
        for op in ops:
            if op in BUILDERS:
                raise RuntimeError(f"kernel for {op} registered twice")
            BUILDERS[op] = fn
        return fn

    return wrap


def fn_suffix(node: Node) -> str:
    """The C math-function suffix for the node's output type: f for float, none for double."""
    return "" if node.outputs[0].dtype is DType.DOUBLE else "f"


def get_builder(op: str):
    return BUILDERS[op]


# the builder modules register themselves (they import Plan and kernel from here, so they come last)
from . import elementwise, index, movement, nn, reduce, rnn  # noqa: E402, F401
