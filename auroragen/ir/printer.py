"""Print a graph as MLIR-style text; `parser.parse` reads it back.

    aurora.graph @main(%0: tensor<1x4xf32> loc("x")) -> (tensor<1x4xf32>) {
      %1 = aurora.constant() {value = dense<"0x0000803F..."> : tensor<4xf32>} : () -> tensor<4xf32>
      %2 = aurora.add(%0, %1) : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32> loc("add0")
      aurora.return %2 loc("y") : tensor<1x4xf32>
    }

Names from the model appear only inside string literals (loc, attributes). A region (an
`aurora.if` branch) prints as a nested `aurora.graph` attribute with its own value numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .graph import Graph, Splat, Value
from .types import DType, TensorType

ELIDE_BYTES = 256  # arrays larger than this print as an elided resource unless full=True


def format_attr(v: Any, full: bool) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        return repr(f)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, Splat):
        return f"splat<{format_attr(v.value, full)}>"
    if isinstance(v, TensorType):
        return str(v)
    if isinstance(v, np.ndarray):
        t = TensorType(DType.from_numpy(v.dtype), v.shape)
        if not full and v.nbytes > ELIDE_BYTES:
            return f"dense_resource<elided_{v.nbytes}_bytes> : {t}"
        return f'dense<"0x{np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<")).tobytes().hex().upper()}"> : {t}'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_attr(x, full) for x in v) + "]"
    if isinstance(v, Graph):
        return print_graph(v, full=full).rstrip("\n").replace("\n", "\n  ")
    raise TypeError(f"cannot print attribute of type {type(v).__name__}")


def _sig(types: list[TensorType]) -> str:
    return str(types[0]) if len(types) == 1 else "(" + ", ".join(map(str, types)) + ")"


def print_graph(g: Graph, *, full: bool = False) -> str:
    """The graph as text. With full=False large constants are elided (not parseable)."""
    ids: dict[Value, str] = {}

    def ref(v: Value | None) -> str:
        return "_" if v is None else ids[v]

    def name(v: Value) -> str:
        ids[v] = f"%{len(ids)}"
        return ids[v]

    args = ", ".join(f"{name(v)}: {v.type} loc({json.dumps(v.name)})" for v in g.inputs)
    lines = [f"aurora.graph @{g.name}({args}) -> ({', '.join(str(v.type) for v in g.outputs)}) {{"]
    for n in g.nodes:
        outs = ", ".join(name(v) for v in n.outputs)
        attrs = ""
        if n.attrs:
            attrs = " {" + ", ".join(f"{k} = {format_attr(n.attrs[k], full)}" for k in sorted(n.attrs)) + "}"
        ins_t = "(" + ", ".join("none" if v is None else str(v.type) for v in n.inputs) + ")"
        loc = f" loc({json.dumps(n.name)})" if n.name else ""
        lines.append(
            f"  {outs} = aurora.{n.op}({', '.join(ref(v) for v in n.inputs)}){attrs} : {ins_t} -> "
            f"{_sig([v.type for v in n.outputs])}{loc}"
        )
    rets = ", ".join(f"{ref(v)} loc({json.dumps(v.name)})" for v in g.outputs)
    lines.append(f"  aurora.return {rets} : {', '.join(str(v.type) for v in g.outputs)}")
    lines.append("}")
    return "\n".join(lines) + "\n"
