"""All Aurora ops. Importing this package registers every op family."""

from . import control, elementwise, nn, reduce, rnn, tensor  # noqa: F401  (registration)
from .registry import OPS, OpDef, get, register

__all__ = ["OPS", "OpDef", "get", "register"]
