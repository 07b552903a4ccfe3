"""C literals and the only two ways untrusted model text reaches C: comments and strings."""

from __future__ import annotations

import math

import numpy as np

from ..ir.types import DType


def c_comment(text: str, limit: int = 80) -> str:
    """Model text made safe inside /* ... */: printable ASCII only, no comment delimiters. Text longer than
    limit is cut, at a space when one is near the end (not mid-word), and ends in "..."."""
    cut = text[:limit]
    if len(text) > limit and text[limit] != " " and cut.rfind(" ") > limit * 2 // 3:
        cut = cut[:cut.rfind(" ")]
    out = []
    for ch in cut:
        if " " <= ch <= "~" and ch != "\\":
            out.append(ch)
        else:
            out.append("?")
    s = "".join(out).replace("*/", "*?").replace("/*", "?*")
    return s + ("..." if len(text) > limit else "")


def c_string(text: str) -> str:
    """A C string literal holding `text`'s UTF-8 bytes; every byte outside plain ASCII is octal-escaped."""
    out = ['"']
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F and ch != "?":  # '?' escaped too: no trigraphs
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def float_literal(x: float, dtype: DType = DType.FLOAT) -> str:
    """An exact C literal for a float32 (suffix f) or double value."""
    x = float(np.float32(x)) if dtype is not DType.DOUBLE else float(x)
    suffix = "" if dtype is DType.DOUBLE else "f"
    if math.isnan(x):
        return "AURORA_NAN" if suffix else "((double)AURORA_NAN)"
    if math.isinf(x):
        inf = "AURORA_INF" if suffix else "((double)AURORA_INF)"
        return inf if x > 0 else f"(-{inf})"
    if x == 0.0:
        return ("-0.0" if math.copysign(1.0, x) < 0 else "0.0") + suffix
    return x.hex() + suffix


def int_literal(x: int, dtype: DType) -> str:
    x = int(x)
    if dtype in (DType.INT64,):
        if x == -(2**63):
            return "INT64_MIN"
        return f"INT64_C({x})"
    if dtype in (DType.UINT64,):
        return f"UINT64_C({x})"
    if dtype in (DType.UINT32,):
        return f"{x}u"
    if dtype is DType.INT32 and x == -(2**31):
        return "INT32_MIN"
    return str(x)


def literal(x, dtype: DType) -> str:
    """A C literal of `dtype` for the Python/numpy scalar x."""
    if dtype in (DType.FLOAT, DType.DOUBLE):
        return float_literal(x, dtype)
    if dtype is DType.BOOL:
        return "1" if bool(x) else "0"
    if dtype in (DType.FLOAT16, DType.BFLOAT16):
        return str(int(np.asarray(x).astype(dtype.np).view(np.uint16)))
    return int_literal(x, dtype)


def array_literals(a: np.ndarray, dtype: DType) -> list[str]:
    flat = a.reshape(-1)
    if dtype is DType.FLOAT:
        return [float_literal(v) for v in flat.astype(np.float32).tolist()]
    return [literal(v, dtype) for v in flat.tolist()]
