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
    FLOAT8E4M3FN = 17
    FLOAT8E4M3FNUZ = 18
    FLOAT8E5M2 = 19
    FLOAT8E5M2FNUZ = 20
    UINT4 = 21
    INT4 = 22
    FLOAT4E2M1 = 23
    FLOAT8E8M0 = 24
    UINT2 = 25
    INT2 = 26

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
    def is_narrow(self) -> bool:
        """An 8-bit-or-narrower float or a 4-/2-bit integer: one element per byte, its bits in the low
        end (the layout of numpy's ml_dtypes arrays); every op but cast and the data movers computes on
        it in float32 or int32."""
        return self.value >= 17

    @property
    def is_narrow_float(self) -> bool:
        return self.is_narrow and self not in _NARROW_INTS

    @property
    def is_narrow_int(self) -> bool:
        return self in _NARROW_INTS

    @property
    def is_encoded(self) -> bool:
        """Stored as bits that numpy cannot compute on directly (bfloat16 and the narrow types)."""
        return self is DType.BFLOAT16 or self.is_narrow

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
            if v == dt and not k.is_encoded:
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
    DType.FLOAT8E4M3FN: "f8e4m3fn", DType.FLOAT8E4M3FNUZ: "f8e4m3fnuz", DType.FLOAT8E5M2: "f8e5m2",
    DType.FLOAT8E5M2FNUZ: "f8e5m2fnuz", DType.FLOAT8E8M0: "f8e8m0", DType.FLOAT4E2M1: "f4e2m1",
    DType.INT4: "i4", DType.UINT4: "ui4", DType.INT2: "i2", DType.UINT2: "ui2",
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
    **{d: np.dtype(np.uint8) for d in DType if d.value >= 17},
}
_NARROW_INTS = frozenset({DType.INT4, DType.UINT4, DType.INT2, DType.UINT2})
_CTYPE = {
    DType.FLOAT: "float", DType.DOUBLE: "double", DType.FLOAT16: "uint16_t",
    DType.BFLOAT16: "uint16_t", DType.INT8: "int8_t", DType.INT16: "int16_t",
    DType.INT32: "int32_t", DType.INT64: "int64_t", DType.UINT8: "uint8_t",
    DType.UINT16: "uint16_t", DType.UINT32: "uint32_t", DType.UINT64: "uint64_t",
    DType.BOOL: "uint8_t",
    **{d: "uint8_t" for d in DType if d.value >= 17},
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
