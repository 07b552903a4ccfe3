"""Element types and static tensor types of the Aurora IR."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from math import prod

import numpy as np


class DType(enum.Enum):
    """An element type; the value is the ONNX TensorProto.DataType number."""

    FLOAT = 1
    UINT8 = 2
    INT8 = 3
    UINT16 = 4
    INT16 = 5
    INT32 = 6
    INT64 = 7
    BOOL = 9
    FLOAT16 = 10
    DOUBLE = 11
    UINT32 = 12
    UINT64 = 13
    BFLOAT16 = 16

    @property
    def short(self) -> str:
        return _SHORT[self]

    @property
    def np(self) -> np.dtype:
        return _NUMPY[self]

    @property
    def ctype(self) -> str:
        """The C storage type of one element (ABI: bool is one byte, halves are bits)."""
        return _CTYPE[self]

    @property
    def itemsize(self) -> int:
        return _NUMPY[self].itemsize

    @property
    def is_float(self) -> bool:
        return self in (DType.FLOAT, DType.DOUBLE, DType.FLOAT16, DType.BFLOAT16)

    @property
    def is_signed_int(self) -> bool:
        return self in (DType.INT8, DType.INT16, DType.INT32, DType.INT64)

    @property
    def is_int(self) -> bool:
        return self.is_signed_int or self in (DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64)

    @classmethod
    def from_short(cls, s: str) -> DType:
        try:
            return _FROM_SHORT[s]
        except KeyError:
            raise ValueError(f"unknown element type {s!r}") from None

    @classmethod
    def from_numpy(cls, dt) -> DType:
        dt = np.dtype(dt)
        for k, v in _NUMPY.items():
            if v == dt and k is not DType.BFLOAT16:
                return k
        raise ValueError(f"numpy type {dt} has no Aurora element type")

    @classmethod
    def from_onnx(cls, code: int) -> DType:
        try:
            return cls(code)
        except ValueError:
            raise ValueError(f"ONNX element type {code} is not supported") from None


_SHORT = {
    DType.FLOAT: "f32", DType.DOUBLE: "f64", DType.FLOAT16: "f16", DType.BFLOAT16: "bf16",
    DType.INT8: "i8", DType.INT16: "i16", DType.INT32: "i32", DType.INT64: "i64",
    DType.UINT8: "ui8", DType.UINT16: "ui16", DType.UINT32: "ui32", DType.UINT64: "ui64",
    DType.BOOL: "i1",
}
_FROM_SHORT = {v: k for k, v in _SHORT.items()}
_NUMPY = {
    DType.FLOAT: np.dtype(np.float32), DType.DOUBLE: np.dtype(np.float64),
    DType.FLOAT16: np.dtype(np.float16), DType.BFLOAT16: np.dtype(np.uint16),
    DType.INT8: np.dtype(np.int8), DType.INT16: np.dtype(np.int16),
    DType.INT32: np.dtype(np.int32), DType.INT64: np.dtype(np.int64),
    DType.UINT8: np.dtype(np.uint8), DType.UINT16: np.dtype(np.uint16),
    DType.UINT32: np.dtype(np.uint32), DType.UINT64: np.dtype(np.uint64),
    DType.BOOL: np.dtype(np.bool_),
}
_CTYPE = {
    DType.FLOAT: "float", DType.DOUBLE: "double", DType.FLOAT16: "uint16_t",
    DType.BFLOAT16: "uint16_t", DType.INT8: "int8_t", DType.INT16: "int16_t",
    DType.INT32: "int32_t", DType.INT64: "int64_t", DType.UINT8: "uint8_t",
    DType.UINT16: "uint16_t", DType.UINT32: "uint32_t", DType.UINT64: "uint64_t",
    DType.BOOL: "uint8_t",
}


@dataclass(frozen=True)
class TensorType:
    """A tensor's element type and static shape."""

    dtype: DType
    shape: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def with_shape(self, shape) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.dtype.short}>"
