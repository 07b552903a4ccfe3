"""Elementwise ONNX ops: math, activations, comparisons, logic, Cast, Where."""

from __future__ import annotations

import numpy as np

from ...ir import Splat
from ...ir.types import DType
from ..importer import converter

_UNARY = {
    "Neg": "neg", "Abs": "abs", "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Reciprocal": "reciprocal",
    "Floor": "floor", "Ceil": "ceil", "Sin": "sin", "Cos": "cos", "Relu": "relu", "Sigmoid": "sigmoid",
    "Tanh": "tanh", "Erf": "erf", "Sign": "sign", "Softplus": "softplus", "Not": "not", "Round": "round",
    "Tan": "tan", "Asin": "asin", "Acos": "acos", "Atan": "atan", "Sinh": "sinh", "Cosh": "cosh",
    "Asinh": "asinh", "Acosh": "acosh", "Atanh": "atanh", "Softsign": "softsign", "Mish": "mish",
    "BitwiseNot": "bitwise_not", "IsNaN": "is_nan",
}
_BINARY = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "And": "and", "Or": "or", "Xor": "xor",
    "Equal": "equal", "Less": "less", "Greater": "greater", "LessOrEqual": "less_or_equal",
    "GreaterOrEqual": "greater_or_equal",
    "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor",
}


def _unary(op):
    def conv(ctx, x):
        return ctx.emit(op, x)

    return conv


def _binary(op):
    def conv(ctx, a, b, *, broadcast=0, axis=None):
        """Opset < 7 spelled broadcasting with `broadcast`/`axis`: align b at axis."""
        if broadcast and axis is not None and b.type.rank and a.type.rank != b.type.rank:
            ax = axis % a.type.rank
            b = ctx.emit("reshape", b, shape=b.shape + (1,) * (a.type.rank - ax - b.type.rank))
        return ctx.emit(op, a, b)

    return conv


for _onnx, _op in _UNARY.items():
    converter(_onnx)(_unary(_op))
for _onnx, _op in _BINARY.items():
    converter(_onnx)(_binary(_op))


@converter("PRelu")
def prelu(ctx, x, slope):
    """Before opset 7 a 1-D slope of x's channel count applies per channel (axis 1), as PyTorch exported it."""
    if ctx.opset < 7 and slope.type.rank == 1 and x.type.rank > 2 and slope.shape[0] == x.shape[1] > 1:
        slope = ctx.emit("reshape", slope, shape=(x.shape[1],) + (1,) * (x.type.rank - 2))
    return ctx.emit("prelu", x, slope)


@converter("Sum", "Max", "Min", "Mean")
def variadic(ctx, *xs):
    op = {"Sum": "add", "Max": "max", "Min": "min", "Mean": "add"}[ctx.op_type]
    acc = xs[0]
    for x in xs[1:]:
        acc = ctx.emit(op, acc, x)
    if ctx.op_type == "Mean" and len(xs) > 1:
        acc = ctx.emit("div", acc, ctx.constant(np.array(len(xs), dtype=acc.dtype.np)))
    return acc


@converter("Mod")
def mod(ctx, a, b, *, fmod=0):
    return ctx.emit("mod", a, b, fmod=int(fmod))


# Activations whose attributes are floats: ONNX op -> (Aurora op, {attribute: the spec's default})
FLOAT_ATTR_ACTIVATIONS = {
    "LeakyRelu": ("leaky_relu", {"alpha": 0.01}),
    "Elu": ("elu", {"alpha": 1.0}),
    "Selu": ("selu", {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}),
    "Celu": ("celu", {"alpha": 1.0}),
    "ThresholdedRelu": ("thresholded_relu", {"alpha": 1.0}),
    "Shrink": ("shrink", {"bias": 0.0, "lambd": 0.5}),
    "Swish": ("swish", {"alpha": 1.0}),
    "HardSigmoid": ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}),
}


def _float_attr_activation(op, defaults):
    def conv(ctx, x, **attrs):
        unknown = sorted(set(attrs) - set(defaults))
        if unknown:
            raise ctx.error(f"unsupported attribute {unknown[0]!r}")
        return ctx.emit(op, x, **{k: float(attrs.get(k, d)) for k, d in defaults.items()})

    return conv


for _onnx, (_op, _defaults) in FLOAT_ATTR_ACTIVATIONS.items():
    converter(_onnx)(_float_attr_activation(_op, _defaults))


@converter("Gelu")
def gelu(ctx, x, *, approximate="none"):
    return ctx.emit("gelu", x, approximate=int(approximate == "tanh"))


@converter("IsInf")
def is_inf(ctx, x, *, detect_negative=1, detect_positive=1):
    return ctx.emit("is_inf", x, detect_negative=int(detect_negative), detect_positive=int(detect_positive))


@converter("BitShift")
def bit_shift(ctx, a, b, *, direction):
    return ctx.emit("shift_left" if direction == "LEFT" else "shift_right", a, b)


@converter("HardSwish")
def hard_swish(ctx, x):
    return ctx.emit("hard_swish", x)


@converter("Clip")
def clip(ctx, x, lo=None, hi=None, *, min=None, max=None):
    """Before opset 11 the bounds are attributes, from 11 optional inputs."""
    info = np.finfo(x.dtype.np) if x.dtype.is_float else np.iinfo(x.dtype.np)
    lo_v = min if ctx.opset < 11 else (ctx.const(lo, "min").item() if lo is not None else None)
    hi_v = max if ctx.opset < 11 else (ctx.const(hi, "max").item() if hi is not None else None)
    lo_v = float(info.min) if lo_v is None else lo_v
    hi_v = float(info.max) if hi_v is None else hi_v
    if x.dtype.is_float:
        lo_v, hi_v = float(lo_v), float(hi_v)
    else:
        lo_v, hi_v = int(lo_v), int(hi_v)
    return ctx.emit("clip", x, min=lo_v, max=hi_v)


def _cast(ctx, x, to: DType, saturate, round_mode):
    if to is x.dtype:
        return x
    attrs = {}
    if to.is_narrow_float:  # the only results these attributes change
        attrs["saturate"] = int(saturate)
        if to is DType.FLOAT8E8M0:
            if round_mode not in ("up", "down", "nearest"):
                raise ctx.error(f"round_mode {round_mode!r} is not one of up, down, nearest")
            attrs["round_mode"] = round_mode
    return ctx.emit("cast", x, to=to.value, src=x.dtype.value, **attrs)


@converter("Cast")
def cast(ctx, x, *, to, saturate=1, round_mode="up"):
    try:
        dt = DType.from_onnx(to)
    except ValueError as e:
        raise ctx.error(str(e)) from None
    return _cast(ctx, x, dt, saturate, round_mode)


@converter("CastLike")
def cast_like(ctx, x, like, *, saturate=1, round_mode="up"):
    return _cast(ctx, x, like.dtype, saturate, round_mode)


@converter("Where")
def where(ctx, c, x, y):
    return ctx.emit("where", c, x, y)


@converter("Identity")
def identity(ctx, x):
    return x


@converter("Dropout")
def dropout(ctx, x, ratio=None, training_mode=None, *, seed=None, **legacy):
    """Inference, or training with ratio 0: the identity; the mask output, if asked for, is all true.
    Training mode with a ratio above 0 draws random numbers and is refused."""
    if training_mode is not None and bool(ctx.const(training_mode, "training_mode").item()):
        r = float(ctx.const(ratio, "ratio").item()) if ratio is not None else 0.5
        if r != 0:
            raise ctx.error(f"training-mode Dropout with ratio {r:g} draws random numbers (only ratio 0 is deterministic)")

    mask = ctx.constant(Splat(True), x.type.with_dtype(DType.BOOL))
    return x, mask
