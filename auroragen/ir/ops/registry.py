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
from typing import Any

import numpy as np

from ..types import TensorType


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: Callable[..., Any]
    evaluate: Callable[..., Any]
    view: bool = False  # the output is input 0's bytes under another shape: no copy
    doc: str = ""

    def infer_types(self, in_types: list[TensorType | None], attrs: dict) -> list[TensorType]:
        out = self.infer(*in_types, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def run(self, inputs: list[np.ndarray | None], attrs: dict) -> list[np.ndarray]:
        out = self.evaluate(*inputs, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]


OPS: dict[str, OpDef] = {}


def register(name: str, *, infer: Callable[..., Any], view: bool = False):
    def wrap(fn):
        if name in OPS:
            raise RuntimeError(f"op {name} registered twice")
        OPS[name] = OpDef(name, infer, fn, view, (fn.__doc__ or "").strip())
        return fn

    return wrap


def get(name: str) -> OpDef:
    return OPS[name]
