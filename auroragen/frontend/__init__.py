"""ONNX -> Aurora IR: load, fix shapes, import."""

from __future__ import annotations

from ..ir import Graph
from . import converters  # noqa: F401 - the converters register themselves with the importer
from .importer import import_model
from .onnx_file import load_model


def load(src, *, dims=None, input_shapes=None, bind=None) -> Graph:
    """Read an ONNX model (path or ModelProto) and import it as an Aurora graph."""
    return import_model(load_model(src, dims=dims, input_shapes=input_shapes, bind=bind))


__all__ = ["import_model", "load", "load_model"]
