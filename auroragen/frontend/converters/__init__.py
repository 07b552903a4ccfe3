"""ONNX op converters, one file per op family. Importing registers them all."""

from . import attention, composite, control, elementwise, nn, quantize, reduce, rnn, signal, tensor  # noqa: F401  (registration)
