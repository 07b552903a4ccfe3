"""ONNX op converters, one file per op family. Importing registers them all."""

from . import elementwise, nn, reduce, tensor  # noqa: F401  (registration)
