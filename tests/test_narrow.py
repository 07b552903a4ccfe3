"""The narrow element types: the C runtime's conversions (aurora_rt.h) against the numpy codec
(auroragen.ir.narrow, over ml_dtypes and onnx.numpy_helper) bit for bit, and whole models with
narrow inputs and outputs through the ABI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers import compile_and_run, reference
from onnx import TensorProto, helper

from auroragen.ir.narrow import decode, encode, ml_dtype, to_bits
from auroragen.ir.types import DType

RT = Path(__file__).resolve().parent.parent / "auroragen" / "runtime_c"
FLOATS = [DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ, DType.FLOAT8E8M0,
          DType.FLOAT4E2M1]
INTS = [DType.INT4, DType.UINT4, DType.INT2, DType.UINT2]

C_SOURCE = r"""
#include "aurora_rt.h"

void dec(const uint8_t *b, size_t n, int kind, float *out)
{
    for (size_t i = 0; i < n; ++i) {
        switch (kind) {
        case 17: out[i] = aurora_f8e4m3fn_to_f32(b[i]); break;
        case 18: out[i] = aurora_f8e4m3fnuz_to_f32(b[i]); break;
        case 19: out[i] = aurora_f8e5m2_to_f32(b[i]); break;
        case 20: out[i] = aurora_f8e5m2fnuz_to_f32(b[i]); break;
        case 24: out[i] = aurora_f8e8m0_to_f32(b[i]); break;
        case 23: out[i] = aurora_f4e2m1_to_f32(b[i]); break;
        case 22: out[i] = (float)aurora_i4_value(b[i]); break;
        case 26: out[i] = (float)aurora_i2_value(b[i]); break;
        case 21: out[i] = (float)(b[i] & 0xFu); break;
        default: out[i] = (float)(b[i] & 0x3u); break;
        }
    }
}

void enc(const float *x, size_t n, int kind, int sat, int mode, uint8_t *out)
{
    for (size_t i = 0; i < n; ++i) {
        switch (kind) {
        case 17: out[i] = aurora_f32_to_f8e4m3fn(x[i], sat); break;
        case 18: out[i] = aurora_f32_to_f8e4m3fnuz(x[i], sat); break;
        case 19: out[i] = aurora_f32_to_f8e5m2(x[i], sat); break;
        case 20: out[i] = aurora_f32_to_f8e5m2fnuz(x[i], sat); break;
        case 24: out[i] = aurora_f32_to_f8e8m0(x[i], sat, mode); break;
        case 23: out[i] = aurora_f32_to_f4e2m1(x[i]); break;
        default: out[i] = (uint8_t)((uint64_t)aurora_f32_trunc_i32(x[i]) & (kind == 21 || kind == 22 ? 0xFu : 0x3u));
        }
    }
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    import cffi

    d = tmp_path_factory.mktemp("narrow")
    (d / "conv.c").write_text(C_SOURCE)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", f"-I{RT}",
                    str(d / "conv.c"), "-o", str(d / "libconv.so")], check=True)
    ffi = cffi.FFI()
    ffi.cdef("void dec(const uint8_t *, size_t, int, float *);"
             "void enc(const float *, size_t, int, int, int, uint8_t *);")
    return ffi, ffi.dlopen(str(d / "libconv.so"))


def c_decode(lib, dt: DType, codes: np.ndarray) -> np.ndarray:
    ffi, so = lib
    out = np.empty(codes.size, np.float32)
    so.dec(ffi.from_buffer("uint8_t[]", codes), codes.size, dt.value, ffi.from_buffer("float[]", out))
    return out


def c_encode(lib, dt: DType, x: np.ndarray, sat: int, mode: int = 0) -> np.ndarray:
    ffi, so = lib
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty(x.size, np.uint8)
    so.enc(ffi.from_buffer("float[]", x), x.size, dt.value, sat, mode, ffi.from_buffer("uint8_t[]", out))
    return out


def probe_values(dt: DType) -> np.ndarray:
    """Every value of the type, the midpoints between neighbours (the ties), one float32 ulp either side
    of each, random floats over float32's whole range and the specials."""
    codes = np.arange(256 if dt.is_narrow_float else 16, dtype=np.uint8)
    vals = decode(dt, codes).astype(np.float32)
    vals = np.unique(vals[np.isfinite(vals)])
    mids = ((vals[:-1].astype(np.float64) + vals[1:]) / 2).astype(np.float32)
    base = np.concatenate([vals, mids, -vals, -mids])
    near = np.concatenate([np.nextafter(base, np.float32(np.inf)), np.nextafter(base, np.float32(-np.inf))])
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):
        wide = (rng.standard_normal(4000) * np.exp2(rng.integers(-140, 128, 4000))).astype(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 3.4e38, -3.4e38, 2.0**31, -(2.0**31) - 256,
                        1e10, -1e10, 7.5, -8.5, 15.5, 16.0], np.float32)
    return np.concatenate([base, near, wide, special]).astype(np.float32)


@pytest.mark.parametrize("dt", FLOATS + INTS, ids=lambda d: d.short)
def test_decode_every_code(lib, dt):
    codes = np.arange(256, dtype=np.uint8)
    got, want = c_decode(lib, dt, codes), decode(dt, codes).astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok], want[ok])
    assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok])), "the sign of zero differs"


@pytest.mark.parametrize("sat", [1, 0])
@pytest.mark.parametrize("dt", FLOATS + INTS, ids=lambda d: d.short)
def test_encode_matches_numpy(lib, dt, sat):
    x = probe_values(dt)
    modes = {"up": 0, "down": 1, "nearest": 2} if dt is DType.FLOAT8E8M0 else {"up": 0}
    for name, mode in modes.items():
        with np.errstate(all="ignore"):
            want = encode(dt, x, sat, name)
        got = c_encode(lib, dt, x, sat, mode)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{dt.short} sat={sat} {name}: x={x[bad[:5]]} C={got[bad[:5]]} numpy={want[bad[:5]]}"


def test_bits_round_trip():
    x = np.array([0.5, -6, 448, 3], np.float32).astype(ml_dtype(DType.FLOAT8E4M3FN))
    assert to_bits(x).dtype == np.uint8
    assert np.array_equal(decode(DType.FLOAT8E4M3FN, to_bits(x)), x.astype(np.float32))
    i4 = np.array([-8, -1, 0, 7]).astype(ml_dtype(DType.INT4))
    assert np.array_equal(decode(DType.INT4, to_bits(i4)), [-8, -1, 0, 7])
    assert np.array_equal(decode(DType.INT4, np.array([0xFF, 0xF8], np.uint8)), [-1, -8])  # high bits ignored


def _qdq_model(qtype: int):
    """x -> QuantizeLinear(qtype) -> y (narrow output) and DequantizeLinear(y) -> z; a narrow graph input too."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"]),
        helper.make_node("DequantizeLinear", ["y", "s", "zp"], ["z"]),
        helper.make_node("DequantizeLinear", ["w", "s", "zp"], ["v"]),
        helper.make_node("Transpose", ["y"], ["yt"]),
    ]
    zp = helper.make_tensor("zp", qtype, (), [0])
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (3, 4)),
                                         helper.make_tensor_value_info("w", qtype, (3, 4))],
                          [helper.make_tensor_value_info(n, t, None) for n, t in
                           [("y", qtype), ("z", TensorProto.FLOAT), ("v", TensorProto.FLOAT), ("yt", qtype)]],
                          [helper.make_tensor("s", TensorProto.FLOAT, (), [0.5]), zp])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 11
    return onnx.shape_inference.infer_shapes(m)


@pytest.mark.parametrize("qtype", [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2, TensorProto.INT4, TensorProto.UINT4,
                                   TensorProto.FLOAT4E2M1], ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize("opt", [0, 2])
def test_qdq_through_the_abi(tmp_path, qtype, opt):
    dt = DType(qtype)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((3, 4)) * 4).astype(np.float32)
    w = encode(dt, rng.standard_normal((3, 4)) * 3)  # bits
    got = compile_and_run(_qdq_model(qtype), {"x": x, "w": w}, tmp_path, opt_level=opt)
    want = reference(_qdq_model(qtype), {"x": x, "w": w.view(ml_dtype(dt))})
    assert np.array_equal(got[0], to_bits(want[0])), "quantised bits differ"
    assert np.array_equal(got[3], to_bits(want[3]))
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])


# A float cast to a narrow integer out of its range: ONNX leaves it undefined (and ml_dtypes changed its answer
# in 0.7.0, from wrapping to 0); auroragen truncates toward zero through int32 and keeps the low bits.
OUT_OF_RANGE = np.array([-9.0, -8.5, 7.9, 8.0, 15.7, -100.5, 3e9, np.nan, np.inf], np.float32)
WRAPPED = {
    DType.INT4: [7, -8, 7, -8, -1, -4, 0, 0, 0],
    DType.UINT4: [7, 8, 7, 8, 15, 12, 0, 0, 0],
    DType.INT2: [-1, 0, -1, 0, -1, 0, 0, 0, 0],
    DType.UINT2: [3, 0, 3, 0, 3, 0, 0, 0, 0],
}


@pytest.mark.parametrize("dt", INTS, ids=lambda d: d.short)
def test_a_float_out_of_range_wraps_in_a_narrow_integer(tmp_path, dt):
    g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=dt.value)], "cast",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [OUT_OF_RANGE.size])],
                          [helper.make_tensor_value_info("y", dt.value, [OUT_OF_RANGE.size])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 25)])
    m.ir_version = 11
    (got,) = compile_and_run(m, {"x": OUT_OF_RANGE}, tmp_path / "out")
    assert decode(dt, got).tolist() == WRAPPED[dt]
    assert decode(dt, encode(dt, OUT_OF_RANGE)).tolist() == WRAPPED[dt], "the numpy codec agrees"
