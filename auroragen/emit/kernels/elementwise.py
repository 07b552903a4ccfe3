"""C expressions of the elementwise ops: the renderer's half of each op's definition.

In an expression, a0, a1, a2 are the loaded inputs; {F} is the math-function
suffix (f for float), {T} the computation type, and other {names} are the
op's attributes rendered as C literals of the output type.
"""

from __future__ import annotations

import re

import numpy as np

from ...ir import Node, TensorType, Value
from ...ir.types import DType
from ..cformat import literal
from . import Plan, broadcast_strides, collapse, contiguous_strides, kernel

FLOAT_EXPR = {
    "neg": "-a0",
    "abs": "fabs{F}(a0)",
    "sqrt": "sqrt{F}(a0)",
    "exp": "exp{F}(a0)",
    "log": "log{F}(a0)",
    "reciprocal": "({T})1 / a0",
    "floor": "floor{F}(a0)",
    "ceil": "ceil{F}(a0)",
    "sin": "sin{F}(a0)",
    "cos": "cos{F}(a0)",
    "relu": "a0 < 0 ? ({T})0 : a0",
    "sigmoid": "({T})1 / (({T})1 + exp{F}(-a0))",
    "tanh": "tanh{F}(a0)",
    "erf": "erf{F}(a0)",
    "sign": "(a0 > 0) - (a0 < 0)",
    "softplus": "log1p{F}(exp{F}(a0))",
    "hard_swish": "a0 * (a0 / 6 + ({T})0.5 < 0 ? ({T})0 : (a0 / 6 + ({T})0.5 > 1 ? ({T})1 : a0 / 6 + ({T})0.5))",
    "leaky_relu": "a0 >= 0 ? a0 : a0 * {alpha}",
    "elu": "a0 >= 0 ? a0 : {alpha} * (exp{F}(a0) - 1)",
    "hard_sigmoid": "{alpha} * a0 + {beta} < 0 ? ({T})0 : ({alpha} * a0 + {beta} > 1 ? ({T})1 : {alpha} * a0 + {beta})",
    "clip": "a0 < {min} ? {min} : (a0 > {max} ? {max} : a0)",
    "pow": "pow{F}(a0, ({T})a1)",
    "prelu": "a0 < 0 ? a0 * a1 : a0",
    "max": "(a0 > a1 || a0 != a0) ? a0 : a1",
    "round": "nearbyint{F}(a0)",
    "tan": "tan{F}(a0)", "asin": "asin{F}(a0)", "acos": "acos{F}(a0)", "atan": "atan{F}(a0)",
    "sinh": "sinh{F}(a0)", "cosh": "cosh{F}(a0)", "asinh": "asinh{F}(a0)", "acosh": "acosh{F}(a0)", "atanh": "atanh{F}(a0)",
    "softsign": "a0 / (1 + fabs{F}(a0))",
    "mish": "a0 * tanh{F}(log1p{F}(exp{F}(a0)))",
    "selu": "{gamma} * (a0 > 0 ? a0 : {alpha} * (exp{F}(a0) - 1))",
    "celu": "(a0 > 0 ? a0 : ({T})0) + ({alpha} * (exp{F}(a0 / {alpha}) - 1) < 0 ? {alpha} * (exp{F}(a0 / {alpha}) - 1) : ({T})0)",
    "thresholded_relu": "a0 > {alpha} ? a0 : ({T})0",
    "shrink": "a0 < -{lambd} ? a0 + {bias} : (a0 > {lambd} ? a0 - {bias} : ({T})0)",
    "swish": "a0 / (1 + exp{F}(-{alpha} * a0))",
    "is_inf": "isinf(a0) && ((a0 < 0 && {detect_negative}) || (a0 > 0 && {detect_positive}))",
    "is_nan": "isnan(a0)",
    "min": "(a0 < a1 || a0 != a0) ? a0 : a1",
}
INT_EXPR = {
    "neg": "-a0",
    "abs": "a0 < 0 ? -a0 : a0",
    "relu": "a0 < 0 ? 0 : a0",
    "sign": "(a0 > 0) - (a0 < 0)",
    "clip": "a0 < {min} ? {min} : (a0 > {max} ? {max} : a0)",
    "max": "a0 > a1 ? a0 : a1",
    "min": "a0 < a1 ? a0 : a1",
    "pow": "pow((double)a0, (double)a1)",
    "prelu": "a0 < 0 ? a0 * a1 : a0",
    "leaky_relu": "a0 >= 0 ? a0 : a0 * {alpha}",
}
ANY_EXPR = {
    "add": "a0 + a1",
    "sub": "a0 - a1",
    "mul": "a0 * a1",
    "div": "a0 / a1",
    "equal": "a0 == a1",
    "less": "a0 < a1",
    "greater": "a0 > a1",
    "less_or_equal": "a0 <= a1",
    "greater_or_equal": "a0 >= a1",
    "and": "a0 && a1",
    "or": "a0 || a1",
    "xor": "!a0 != !a1",
    "bitwise_and": "a0 & a1",
    "bitwise_or": "a0 | a1",
    "bitwise_xor": "a0 ^ a1",
    "bitwise_not": "~a0",

    "not": "!a0",
    "where": "a0 ? a1 : a2",
    "identity": "a0",
}
# The float ops over vectors of floats (aurora_vec.h), for kernels that run whole vectors where the target
# has them; {name}s are attributes as float literals. Ops missing here keep the scalar expression.
VECTOR_EXPR = {
    "add": "av_add(a0, a1)",
    "sub": "av_sub(a0, a1)",
    "mul": "av_mul(a0, a1)",
    "div": "av_div(a0, a1)",
    "neg": "av_mul(a0, av_set1(-1.0f))",
    "abs": "av_abs(a0)",
    "sqrt": "av_sqrt(a0)",
    "exp": "av_exp(a0)",
    "log": "av_log(a0)",
    "tanh": "av_tanh(a0)",
    "sigmoid": "av_sigmoid(a0)",
    "erf": "av_erf(a0)",
    "reciprocal": "av_div(av_set1(1.0f), a0)",
    "relu": "av_max(av_zero(), a0)",  # a NaN a0 is the second operand: it stays
    "leaky_relu": "av_select(av_lt(a0, av_zero()), av_mul(a0, av_set1({alpha})), a0)",
    "hard_sigmoid": "av_min(av_set1(1.0f), av_max(av_zero(), av_fma(a0, av_set1({alpha}), av_set1({beta}))))",
    "swish": "av_mul(a0, av_sigmoid(av_mul(av_set1({alpha}), a0)))",
    "identity": "a0",
}
ELEMENTWISE_OPS = sorted(set(FLOAT_EXPR) | set(INT_EXPR) | set(ANY_EXPR) | {"cast", "mod", "gelu", "shift_left", "shift_right"})


_DECODE = {
    DType.FLOAT16: "aurora_f16_to_f32", DType.BFLOAT16: "aurora_bf16_to_f32",
    DType.FLOAT8E4M3FN: "aurora_f8e4m3fn_to_f32", DType.FLOAT8E4M3FNUZ: "aurora_f8e4m3fnuz_to_f32",
    DType.FLOAT8E5M2: "aurora_f8e5m2_to_f32", DType.FLOAT8E5M2FNUZ: "aurora_f8e5m2fnuz_to_f32",
    DType.FLOAT8E8M0: "aurora_f8e8m0_to_f32", DType.FLOAT4E2M1: "aurora_f4e2m1_to_f32",
    DType.INT4: "aurora_i4_value", DType.INT2: "aurora_i2_value",
}
_NARROW_MASK = {DType.INT4: "0xFu", DType.UINT4: "0xFu", DType.INT2: "0x3u", DType.UINT2: "0x3u"}
_E8M0_MODE = {"up": 0, "down": 1, "nearest": 2}


def cast_expression(src: DType, out: DType, saturate: int = 1, round_mode: str = "up") -> str:
    """The C expression converting a0 (of type src) to out, with ONNX Cast's semantics."""
    if src in _DECODE:  # encoded: compute on the number it stands for
        val = f"{_DECODE[src]}(a0)"
        src = DType.INT32 if src.is_narrow_int else DType.FLOAT
    elif src in (DType.UINT4, DType.UINT2):
        val, src = f"(int32_t)(a0 & {_NARROW_MASK[src]})", DType.INT32
    else:
        val = "a0"
    sat = 1 if saturate else 0
    if out is DType.BOOL:
        return f"{val} != 0"
    if out is DType.FLOAT16:
        return f"aurora_f32_to_f16((float){val})"
    if out is DType.BFLOAT16:
        return f"aurora_f32_to_bf16((float){val})"
    if out is DType.FLOAT8E8M0:
        return f"aurora_f32_to_f8e8m0((float){val}, {sat}, {_E8M0_MODE[round_mode]})"
    if out is DType.FLOAT4E2M1:
        return f"aurora_f32_to_f4e2m1((float){val})"
    if out.is_narrow_float:
        return f"aurora_f32_to_{out.short}((float){val}, {sat})"
    if out.is_narrow_int:  # wraps; a float goes through int32 as ml_dtypes does
        whole = f"aurora_f32_trunc_i32({val})" if src.is_float else val
        return f"(uint8_t)((uint64_t){whole} & {_NARROW_MASK[out]})"
    if src.is_float and out.is_int and not out.is_signed_int and out is not DType.UINT64:
        return f"(int64_t){val}"  # float -> small unsigned: through int64, as numpy does
    return val


def expression(node: Node) -> str:
    out = node.outputs[0].dtype
    src = node.inputs[0].dtype
    if node.op == "cast":
        return cast_expression(src, out, node.attrs.get("saturate", 1), node.attrs.get("round_mode", "up"))
    table_key = src if node.op not in ("where",) else node.inputs[1].dtype
    unsigned = table_key.is_int and not table_key.is_signed_int
    if node.op == "clip":  # leave out a bound at the type's limit: no always-true comparisons
        lo, hi = node.attrs["min"], node.attrs["max"]
        info = np.iinfo(table_key.np) if table_key.is_int else np.finfo(table_key.np)
        expr = "a0"  # min(max(x, lo), hi): with lo > hi every element is hi
        if lo > info.min:
            expr = f"(a0 < {literal(lo, out)} ? {literal(lo, out)} : a0)"
        if hi < info.max:
            expr = f"{expr} > {literal(hi, out)} ? {literal(hi, out)} : {expr}"
        return expr
    if node.op in ("shift_left", "shift_right"):
        width = table_key.itemsize * 8
        ok = f"a1 < {width}" if unsigned else f"a1 >= 0 && a1 < {width}"
        if node.op == "shift_left":  # through unsigned: shifting a negative value left is undefined in C
            return f"({ok}) ? ({table_key.ctype})((uint64_t)a0 << a1) : 0"
        fill = "0" if unsigned else "(a0 < 0 ? -1 : 0)"
        return f"({ok}) ? a0 >> a1 : {fill}"
    if node.op == "gelu":
        F, T = ("" if table_key is DType.DOUBLE else "f"), table_key.ctype
        if node.attrs["approximate"]:  # sqrt(2/pi) and 1/sqrt(2)
            return f"({T})0.5 * a0 * (1 + tanh{F}(({T})0.7978845608028654 * (a0 + ({T})0.044715 * a0 * a0 * a0)))"
        return f"({T})0.5 * a0 * (1 + erf{F}(a0 * ({T})0.7071067811865476))"
    if node.op == "mod":
        if table_key.is_float:
            r = f"fmod{'' if table_key is DType.DOUBLE else 'f'}(a0, a1)"
            if node.attrs.get("fmod"):
                return r
            return f"({r} != 0 && (({r} < 0) != (a1 < 0))) ? {r} + a1 : {r}"  # the divisor's sign
        if unsigned:
            return "a1 ? a0 % a1 : 0"
        # x % 0 is 0 (as numpy gives it) and x % -1 is 0: both are undefined in C (INT_MIN % -1 overflows)
        if node.attrs.get("fmod"):
            return "(a1 == 0 || a1 == -1) ? 0 : a0 % a1"
        return "(a1 == 0 || a1 == -1) ? 0 : (a0 % a1 != 0 && ((a0 % a1 < 0) != (a1 < 0))) ? a0 % a1 + a1 : a0 % a1"
    if node.op == "div" and table_key.is_int:  # x / 0 is 0 (as numpy gives it); x / -1 negates with wraparound
        if unsigned:
            return "a1 ? a0 / a1 : 0"
        return f"a1 == 0 ? 0 : a1 == -1 ? ({table_key.ctype})(0 - (uint64_t)a0) : a0 / a1"
    if node.op == "shrink" and table_key.is_int:  # in double, then back (as onnx.reference computes it)
        lambd, bias = (literal(float(node.attrs[k]), DType.DOUBLE) for k in ("lambd", "bias"))
        return (f"({table_key.ctype})(int64_t)(a0 < -{lambd} ? (double)a0 + {bias} : "  # through int64: in range
                f"(a0 > {lambd} ? (double)a0 - {bias} : 0))")
    if node.op == "erf" and table_key.is_int:  # Erf-9 takes integers: in double, truncated back (within [-1, 1])
        return f"({table_key.ctype})erf((double)a0)"
    if unsigned and node.op in ("abs", "relu"):
        return "a0"
    if unsigned and node.op == "sign":
        return "a0 > 0"
    if node.op in ANY_EXPR:
        expr = ANY_EXPR[node.op]
    elif table_key.is_float and node.op in FLOAT_EXPR:
        expr = FLOAT_EXPR[node.op]
    elif node.op in INT_EXPR:
        expr = INT_EXPR[node.op]
    else:
        raise NotImplementedError(f"aurora.{node.op} has no C expression for {table_key.short}")
    attrs = {k: literal(v, table_key) for k, v in node.attrs.items() if isinstance(v, (int, float))}
    return expr.format(F="" if table_key is DType.DOUBLE else "f", T=table_key.ctype, **attrs)


def vector_expression(node: Node) -> str | None:
    """The vector form of a float32 elementwise node over av_f32 a0, a1 (None: scalar only)."""
    if any(v.dtype is not DType.FLOAT for v in (*node.inputs, *node.outputs)):
        return None
    a = node.attrs
    if node.op == "gelu":
        if a["approximate"]:
            inner = "av_mul(av_set1(0.7978845608028654f), av_fma(av_mul(av_mul(a0, a0), a0), av_set1(0.044715f), a0))"
            return f"av_mul(av_mul(av_set1(0.5f), a0), av_add(av_set1(1.0f), av_tanh({inner})))"
        return "av_mul(av_mul(av_set1(0.5f), a0), av_add(av_set1(1.0f), av_erf(av_mul(a0, av_set1(0.7071067811865476f)))))"
    if node.op == "clip":  # the NaN of a0 stays (second operand)
        return f"av_min(av_set1({literal(a['max'], DType.FLOAT)}), av_max(av_set1({literal(a['min'], DType.FLOAT)}), a0))"
    expr = VECTOR_EXPR.get(node.op)
    if expr is None:
        return None
    return expr.format(**{k: literal(v, DType.FLOAT) for k, v in a.items() if isinstance(v, (int, float))})


def _unary(op: str, params, dtype: DType) -> Node:
    """A one-input node of the op on scalars of dtype: what a fused activation is, as a node."""
    t = TensorType(dtype, ())
    return Node(op, (Value(t),), (Value(t),), dict(params))


def activation_vector(op: str, params) -> str | None:
    """The vector form of a fused float activation over `a0`, or None."""
    return vector_expression(_unary(op, params, DType.FLOAT))


def activation_expr(op: str, params, dtype: DType) -> str:
    """The C expression of a unary activation applied to the local `a0` (for fused epilogues)."""
    return expression(_unary(op, params, dtype))


def _vectorisable(dims, in_strides) -> bool:
    """Whether the innermost axis can run whole vectors: each input contiguous or broadcast along it."""
    return bool(dims) and dims[-1] > 1 and all(s[-1] in (0, 1) for s in in_strides)


@kernel(*ELEMENTWISE_OPS)
def plan_elementwise(node: Node, step) -> Plan:
    out = node.outputs[0]
    ins = [v for v in node.inputs]
    in_strides = [broadcast_strides(v.shape, out.shape) for v in ins]
    dims, lists = collapse(list(out.shape), contiguous_strides(out.shape), *in_strides)
    return Plan(
        "elementwise",
        dict(
            dims=dims, out_strides=lists[0], in_strides=lists[1:], expr=expression(node),
            in_ctypes=[v.dtype.ctype for v in ins], out_ctype=out.dtype.ctype,
            vexpr=vector_expression(node) if _vectorisable(dims, lists[1:]) else None,
        ),
        what=f"{node.op} over {'x'.join(map(str, out.shape)) or 'scalar'}",
    )


@kernel("fused_elementwise")
def plan_fused(node: Node, step) -> Plan:

    out = node.outputs[0]
    ins = list(node.inputs)
    in_strides = [broadcast_strides(v.shape, out.shape) for v in ins]
    dims, lists = collapse(list(out.shape), contiguous_strides(out.shape), *in_strides)
    types: list[DType] = []
    steps = []
    for op, attrs, operands, dtype in node.attrs["program"]:
        arg_types = [ins[k].dtype if k >= 0 else types[-1 - k] for k in operands]
        fake = Node(op, tuple(Value(TensorType(t, ())) for t in arg_types), (Value(TensorType(DType(dtype), ())),), dict(attrs))
        names = [f"a{k}" if k >= 0 else f"t{-1 - k}" for k in operands]
        expr = re.sub(r"\ba(\d+)\b", lambda m: names[int(m.group(1))], expression(fake))
        vexpr = vector_expression(fake)
        if vexpr is not None:
            vexpr = re.sub(r"\ba(\d+)\b", lambda m: names[int(m.group(1))], vexpr)
        types.append(DType(dtype))
        steps.append(dict(expr=expr, ctype=DType(dtype).ctype, vexpr=vexpr))
    vector = _vectorisable(dims, lists[1:]) and all(st["vexpr"] for st in steps)
    return Plan("fused_elementwise", dict(dims=dims, out_strides=lists[0], in_strides=lists[1:],
                                          in_ctypes=[v.dtype.ctype for v in ins], steps=steps, vector=vector),
                what=" -> ".join(p[0] for p in node.attrs["program"]) + f" over {'x'.join(map(str, out.shape)) or 'scalar'}")
