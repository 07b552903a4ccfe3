"""Run an Aurora graph with numpy: the reference execution engine of the IR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import AuroraError
from . import ops
from .graph import Graph


def interpret(graph: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Evaluate an Aurora graph on inputs given in graph order or by ONNX name; returns the outputs."""
    if isinstance(inputs, Mapping):
        missing = [v.name for v in graph.inputs if v.name not in inputs]
        if missing:
            raise AuroraError(f"missing input {missing[0]!r}")
        inputs = [inputs[v.name] for v in graph.inputs]
    if len(inputs) != len(graph.inputs):
        raise AuroraError(f"{len(inputs)} inputs given, the graph takes {len(graph.inputs)}")
    env = {}
    for v, a in zip(graph.inputs, inputs):
        a = np.asarray(a)
        if a.shape != v.shape:
            raise AuroraError(f"input {v.name!r} has shape {list(a.shape)}, expected {list(v.shape)}")
        env[v] = a.astype(v.dtype.np, copy=False)
    for n in graph.nodes:
        if n.op == "constant":
            env[n.output] = n.const_value(n.output.type)
            continue
        args = [None if v is None else env[v] for v in n.inputs]
        with np.errstate(all="ignore"):
            results = ops.get(n.op).run_typed(args, [None if v is None else v.type for v in n.inputs], n.attrs,
                                              [v.type for v in n.outputs])
        for v, r in zip(n.outputs, results):
            env[v] = np.asarray(r).astype(v.dtype.np, copy=False).reshape(v.shape)
    return [env[v] for v in graph.outputs]
