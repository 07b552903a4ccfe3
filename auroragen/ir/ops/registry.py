"""The op registry: each Aurora op declares its type rule and numpy semantics once.

    @register("relu", infer=same_as_input)
    def relu(x):
        return np.maximum(x, 0)

`infer(*input_types, **attrs)` returns the output types; `evaluate(*inputs,
**attrs)` returns an array or a tuple of arrays. Both take the op's canonical
attributes (what the frontend resolved from ONNX) as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from ..narrow import decode, encode
from ..types import TensorType


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: Callable[..., Any]
    evaluate: Callable[..., Any]
    view: bool = False  # the output is input 0's bytes under another shape: no copy
    doc: str = ""
    control: bool = False  # holds regions: emitted as C control flow around their kernels, not as a kernel
    bitwise: bool = False  # only moves or selects elements: works on any element's bits as they are
    elementwise: bool = False  # each result element from the same element of each (broadcast) input: one loop,
    # which may write over an input that dies with it
    work: Callable[[Any], int] | None = None  # node -> about how many multiply-adds (or window steps) its kernel
    # does: what decides whether it runs on more than one thread. None: window_work

    def work_of(self, node) -> int:
        return (self.work or window_work)(node)

    def infer_types(self, in_types: list[TensorType | None], attrs: dict) -> list[TensorType]:
        out = self.infer(*in_types, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def run(self, inputs: list[np.ndarray | None], attrs: dict) -> list[np.ndarray]:
        out = self.evaluate(*inputs, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def run_typed(self, inputs: list[np.ndarray | None], in_types: list[TensorType | None], attrs: dict,
                  out_types: list[TensorType]) -> list[np.ndarray]:
        """run() for arrays of known IR types: bfloat16 and the narrow types travel as their bits, so every
        op that does arithmetic sees them decoded and its results in those types re-encoded."""
        if self.bitwise or not any(t is not None and t.dtype.is_encoded for t in [*in_types, *out_types]):
            return self.run(inputs, attrs)

        args = [decode(t.dtype, a) if t is not None and t.dtype.is_encoded else a for a, t in zip(inputs, in_types)]
        outs = self.run(args, attrs)
        return [encode(t.dtype, r) if t.dtype.is_encoded else r for r, t in zip(outs, out_types)]


OPS: dict[str, OpDef] = {}


def window_work(node) -> int:
    """The default work of a kernel: a step per result element, times its window's taps where it has one
    (pools)."""
    out = node.outputs[0].type.numel if node.outputs else 0
    return out * prod(node.attrs["kernel"]) if "kernel" in node.attrs else out


def register(name: str, *, infer: Callable[..., Any], view: bool = False, control: bool = False, bitwise: bool = False,
             elementwise: bool = False, work: Callable[[Any], int] | None = None):
    def wrap(fn):
        if name in OPS:
            raise RuntimeError(f"op {name} registered twice")
        OPS[name] = OpDef(name, infer, fn, view, (fn.__doc__ or "").strip(), control, bitwise, elementwise, work)
        return fn

    return wrap


def get(name: str) -> OpDef:
    return OPS[name]
