"""ONNX op converters, one file per op family. Importing registers them all."""

from . import attention, composite, control, elementwise, ml, nn, quantize, reduce, rnn, signal, tensor, training  # noqa: F401  (registration)
