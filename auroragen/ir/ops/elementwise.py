"""Elementwise ops: one output element from the same-index elements of
numpy-broadcast inputs. The tables below are the whole definition of each op's
semantics; the C emitter has a matching table of expressions."""

from __future__ import annotations

import math

import numpy as np

from ..narrow import decode, encode
from ..types import DType, TensorType
from .registry import get, register


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """numpy's broadcasting rule on shapes alone (no arrays: any size, even one no memory holds)."""
    rank = max((len(s) for s in shapes), default=0)
    out = [1] * rank
    for s in shapes:
        for i, d in enumerate(s, rank - len(s)):
            if d != 1:
                if out[i] not in (1, d):
                    raise ValueError("shapes " + " and ".join(str(list(s)) for s in shapes) + " do not broadcast")
                out[i] = d
    return tuple(out)


def _same(x: TensorType, *rest, **_):
    return x


def _broadcast(*ts, **_):
    dtypes = {t.dtype for t in ts}
    if len(dtypes) != 1:
        raise ValueError("inputs have different element types: " + ", ".join(sorted(d.short for d in dtypes)))
    return TensorType(ts[0].dtype, broadcast_shape(*(t.shape for t in ts)))


def _compare(*ts, **_):
    return _broadcast(*ts).with_dtype(DType.BOOL)


_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


UNARY = {
    "neg": lambda x: -x,
    "abs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "reciprocal": lambda x: 1 / x,
    "floor": np.floor,
    "ceil": np.ceil,
    "sin": np.sin,
    "cos": np.cos,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "erf": lambda x: _erf(x).astype(x.dtype),
    "sign": np.sign,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "not": np.logical_not,
    "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "round": np.round,
    "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "bitwise_not": np.invert,
}
UNARY_ATTR = {
    "leaky_relu": lambda x, alpha: np.where(x >= 0, x, x * alpha),
    "elu": lambda x, alpha: np.where(x >= 0, x, alpha * (np.exp(x) - 1)),
    "hard_sigmoid": lambda x, alpha, beta: np.clip(alpha * x + beta, 0, 1),
    "clip": lambda x, min, max: np.minimum(np.maximum(x, min), max),
    "selu": lambda x, alpha, gamma: gamma * np.where(x > 0, x, alpha * (np.exp(x) - 1)),
    "celu": lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * (np.exp(x / alpha) - 1)),
    "thresholded_relu": lambda x, alpha: np.where(x > alpha, x, 0),
    "shrink": lambda x, bias, lambd: np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0)),
    "gelu": lambda x, approximate: (0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))) if approximate
    else 0.5 * x * (1 + _erf(x / np.sqrt(2)).astype(np.float64)),
    "swish": lambda x, alpha: x / (1 + np.exp(-alpha * x)),
}


def _shift(a, b, left):
    """Shifts by a negative amount or by the width or more give 0 (left) or the sign fill (right)."""
    width = a.dtype.itemsize * 8
    a, b = np.broadcast_arrays(a, b)
    ok = (b >= 0) & (b < width)
    s = np.where(ok, b, 0).astype(a.dtype)
    shifted = np.left_shift(a, s) if left else np.right_shift(a, s)
    fill = np.zeros_like(a) if left else np.where(a < 0, -1, 0).astype(a.dtype)
    return np.where(ok, shifted, fill)


def _int_div(a, b):
    if a.dtype.kind in "iu":  # C semantics: truncate toward zero
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.trunc(np.divide(a, b, dtype=np.float64)).astype(a.dtype)
    return a / b


BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _int_div,
    "min": np.minimum,
    "max": np.maximum,
    "and": np.logical_and,
    "or": np.logical_or,
    "xor": np.logical_xor,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
    "shift_left": lambda a, b: _shift(a, b, left=True),
    "shift_right": lambda a, b: _shift(a, b, left=False),
}
COMPARE = {
    "equal": np.equal,
    "less": np.less,
    "greater": np.greater,
    "less_or_equal": np.less_equal,
    "greater_or_equal": np.greater_equal,
}


def _register_all():
    for name, fn in UNARY.items():
        def ev(x, _fn=fn):
            with np.errstate(all="ignore"):
                return np.asarray(_fn(x)).astype(x.dtype, copy=False)

        register(name, infer=_same, elementwise=True)(ev)
    for name, fn in UNARY_ATTR.items():
        def ev(x, _fn=fn, **kw):
            with np.errstate(all="ignore"):
                return np.asarray(_fn(x, **kw)).astype(x.dtype, copy=False)

        register(name, infer=_same, elementwise=True)(ev)
    for name, fn in BINARY.items():
        def ev(a, b, _fn=fn):
            with np.errstate(all="ignore"):
                return np.asarray(_fn(a, b)).astype(a.dtype, copy=False)

        register(name, infer=_broadcast, elementwise=True)(ev)
    for name, fn in COMPARE.items():
        register(name, infer=_compare, elementwise=True)(lambda a, b, _fn=fn: np.asarray(_fn(a, b)))


_register_all()


def _is_type(x, **_):
    return x.with_dtype(DType.BOOL)


@register("is_inf", infer=_is_type, elementwise=True)
def is_inf(x, detect_negative=1, detect_positive=1):
    return np.isinf(x) & (((x < 0) & bool(detect_negative)) | ((x > 0) & bool(detect_positive)))


@register("is_nan", infer=_is_type, elementwise=True)
def is_nan(x):
    return np.isnan(x)


def _pow_type(a, b):
    """The exponent may have another numeric type; the result has the base's."""
    return TensorType(a.dtype, broadcast_shape(a.shape, b.shape))


@register("pow", infer=_pow_type, elementwise=True)
def pow_(a, b):
    with np.errstate(all="ignore"):
        return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)


@register("mod", infer=_broadcast, elementwise=True)
def mod(a, b, fmod=0):
    """fmod=1: the remainder has the dividend's sign (C fmod); fmod=0: the divisor's."""
    with np.errstate(all="ignore"):
        return (np.fmod(a, b) if fmod else np.mod(a, b)).astype(a.dtype)


def _prelu_type(x, slope):
    """Slope broadcasts to x, one way only."""
    if broadcast_shape(x.shape, slope.shape) != x.shape:
        raise ValueError(f"slope shape {list(slope.shape)} does not broadcast to {list(x.shape)}")
    return _broadcast(x, slope)


@register("prelu", infer=_prelu_type, elementwise=True)
def prelu(x, slope):
    return np.where(x < 0, x * slope, x).astype(x.dtype)


def _where_type(c, x, y):
    if c.dtype is not DType.BOOL:
        raise ValueError("condition must be bool")
    _broadcast(x, y)
    return TensorType(x.dtype, broadcast_shape(c.shape, x.shape, y.shape))


@register("where", infer=_where_type, bitwise=True, elementwise=True)
def where(c, x, y):
    return np.where(c, x, y)


def _cast_type(x, to, src=None, saturate=1, round_mode="up"):
    return x.with_dtype(DType(to))


@register("cast", infer=_cast_type, bitwise=True, elementwise=True)
def cast(x, to, src=None, saturate=1, round_mode="up"):
    """src names the input's type where numpy cannot (bfloat16 and the narrow types travel as bits).
    saturate and round_mode matter for narrow float results only (ONNX Cast's attributes)."""
    dt = DType(to)
    if src is not None and DType(src).is_encoded:
        x = decode(DType(src), x)
    if dt.is_encoded:
        return encode(dt, x, saturate, round_mode)
    if dt is DType.BOOL:
        return x != 0
    if x.dtype.kind == "f" and dt.is_int:
        with np.errstate(invalid="ignore"):
            return np.trunc(x).astype(dt.np)
    return x.astype(dt.np)


# -- fused chains ---------------------------------------------------------------------
# A program of elementwise steps over shared broadcast inputs, made by the fusion pass:
# each step is (op, attributes, operands, element type); operand k >= 0 is input k,
# operand -1 - j is step j's result. The last step's result is the output.


def _fused_type(*ins, program):
    types = []
    for op, attrs, operands, _ in program:
        args = [ins[k] if k >= 0 else types[-1 - k] for k in operands]
        types.append(get(op).infer_types(args, dict(attrs))[0])
    return types[-1]


@register("fused_elementwise", infer=_fused_type, elementwise=True)
def fused_elementwise(*ins, program):
    vals: list[np.ndarray] = []
    for op, attrs, operands, dtype in program:
        args = [ins[k] if k >= 0 else vals[-1 - k] for k in operands]
        vals.append(np.asarray(get(op).evaluate(*args, **dict(attrs))).astype(DType(dtype).np, copy=False))
    return vals[-1]
