"""The Aurora IR: typed SSA graphs of registered ops, printable and parseable."""

from . import ops
from .graph import Graph, Node, Splat, Value
from .parser import ParseError, parse
from .printer import print_graph
from .types import DType, TensorType
from .verifier import VerifyError, verify

__all__ = [
    "DType", "Graph", "Node", "ParseError", "Splat", "TensorType", "Value", "VerifyError",
    "ops", "parse", "print_graph", "verify",
]
