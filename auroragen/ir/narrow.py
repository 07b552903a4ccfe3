"""The narrow element types as numpy: bits in, numbers out, and back.

Narrow floats (float8 in five kinds, float4) and 4-/2-bit integers travel
through the IR, the generated C and the ABI one element per byte, holding the
value's bits in the low end: the layout of numpy's ml_dtypes arrays, which
onnx.numpy_helper returns. bfloat16 travels as its uint16 bits. Ops compute on
them decoded (narrow floats and bfloat16 as float32, narrow integers as int8 /
uint8) and store results encoded, with ONNX Cast's rounding: to nearest even,
saturating or not as the `saturate` attribute says, float8e8m0 by `round_mode`.
The C runtime (aurora_rt.h) implements the same conversions; a test holds the
two to each other over every code and a sweep of float32 values.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import numpy_helper

from .types import DType

ML_NAMES = {
    DType.BFLOAT16: "bfloat16", DType.FLOAT8E4M3FN: "float8_e4m3fn", DType.FLOAT8E4M3FNUZ: "float8_e4m3fnuz",
    DType.FLOAT8E5M2: "float8_e5m2", DType.FLOAT8E5M2FNUZ: "float8_e5m2fnuz", DType.FLOAT8E8M0: "float8_e8m0fnu",
    DType.FLOAT4E2M1: "float4_e2m1fn", DType.INT4: "int4", DType.UINT4: "uint4", DType.INT2: "int2", DType.UINT2: "uint2",
}
_FROM_ML = {v: k for k, v in ML_NAMES.items()}
_WIDTH = {DType.INT4: 4, DType.UINT4: 4, DType.INT2: 2, DType.UINT2: 2, DType.FLOAT4E2M1: 4}


def ml_dtype(dt: DType) -> np.dtype:
    """The ml_dtypes numpy type of an encoded type."""
    return np.dtype(getattr(ml_dtypes, ML_NAMES[dt]))


def encoded_type(np_dtype) -> DType | None:
    """The encoded Aurora type of an ml_dtypes numpy type, else None."""
    return _FROM_ML.get(np.dtype(np_dtype).name)


def typed(dt: DType, bits: np.ndarray) -> np.ndarray:
    """Storage bits as the ml_dtypes array they stand for (what the importer types constants by)."""
    return np.asarray(bits, dt.np).view(ml_dtype(dt))


def to_bits(a: np.ndarray) -> np.ndarray:
    """An ml_dtypes array as its storage bits (uint16 for bfloat16, else uint8)."""
    dt = encoded_type(a.dtype)
    return np.ascontiguousarray(a).view(dt.np).reshape(a.shape)  # ascontiguousarray makes 0-d arrays 1-d


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x: np.ndarray) -> np.ndarray:
    """Round to nearest even; NaN stays a quiet NaN."""
    x = np.asarray(x, dtype=np.float32)
    u = np.ascontiguousarray(x).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), r).reshape(x.shape)


def int_range(dt: DType) -> tuple[int, int]:
    """The smallest and largest value of an integer type, the narrow ones included."""
    if dt.is_narrow_int:
        bits = _WIDTH[dt]
        return (-(1 << bits - 1), (1 << bits - 1) - 1) if dt in (DType.INT4, DType.INT2) else (0, (1 << bits) - 1)
    info = np.iinfo(dt.np)
    return int(info.min), int(info.max)


def compute_type(dt: DType) -> np.dtype:
    """What an encoded type computes in: float32, or int8 / uint8 for the narrow integers."""
    if dt.is_narrow_int:
        return np.dtype(np.int8 if dt in (DType.INT4, DType.INT2) else np.uint8)
    return np.dtype(np.float32)


def decode(dt: DType, bits: np.ndarray) -> np.ndarray:
    """Storage bits -> numbers (float32, or int8 / uint8 for narrow integers)."""
    if dt is DType.BFLOAT16:
        return bf16_to_f32(bits)
    bits = np.asarray(bits, dt.np)
    if dt in _WIDTH:
        bits = bits & np.uint8((1 << _WIDTH[dt]) - 1)  # readers ignore the unused high bits
    return bits.view(ml_dtype(dt)).astype(compute_type(dt))


def encode(dt: DType, x: np.ndarray, saturate: int = 1, round_mode: str = "up") -> np.ndarray:
    """Numbers -> storage bits, with ONNX Cast's rounding: nearest even; float8 kinds clamp to their
    largest finite value when saturating (NaN stays NaN); float8e8m0 rounds by round_mode. Narrow integers
    keep the low bits of the integer, of a float truncated toward zero (NaN and |x| >= 2^31 give 0): ONNX
    leaves a float out of range undefined, and this is what the generated C does (whatever ml_dtypes does)."""
    x = np.asarray(x)
    if dt is DType.BFLOAT16:
        return f32_to_bf16(x)
    if dt is DType.FLOAT8E8M0:
        y = numpy_helper.to_float8e8m0(x.astype(np.float32), bool(saturate), round_mode)
    elif dt.is_narrow_int:  # wraps: the low bits of the integer (two's complement)
        if x.dtype.kind == "f":  # truncated toward zero through int32; NaN and beyond int32 give 0
            with np.errstate(invalid="ignore"):
                x = np.where(np.abs(x) < 2.0**31, np.trunc(np.nan_to_num(x)), 0)
        return (np.asarray(x).astype(np.int64) & ((1 << _WIDTH[dt]) - 1)).astype(np.uint8)
    elif dt is DType.FLOAT4E2M1 or not saturate:
        y = x.astype(np.float32).astype(ml_dtype(dt))
    else:
        y = numpy_helper.saturate_cast(x.astype(np.float32), ml_dtype(dt))
    return np.ascontiguousarray(y).view(dt.np).reshape(np.shape(y))


def storage_scalar(dt: DType, x: float) -> int | float:
    """The number x as one element of dt's IR storage: bits for bfloat16 and the narrow types (as their
    arrays hold them), the value itself otherwise."""
    if dt.is_encoded:
        return int(encode(dt, np.array([x], np.float32))[0])
    return float(x) if dt.is_float else int(x)
