"""auroragen.interpret: run an ONNX model (a path or a ModelProto) or an Aurora graph with numpy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .frontend import load
from .ir import Graph
from .ir.interpret import interpret as interpret_graph


def interpret(model, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Evaluate an Aurora graph, or an ONNX model (path or ModelProto) imported first, on inputs given in
    graph order or by ONNX name; returns the outputs."""
    return interpret_graph(model if isinstance(model, Graph) else load(model), inputs)
