"""Check a graph's invariants; run between passes so a broken pass is caught where it broke."""

from __future__ import annotations

from . import ops
from .graph import Graph, Splat, Value


class VerifyError(Exception):
    pass


def verify(g: Graph) -> None:
    """Every value defined once before use, every op known, every type what its op infers;
    regions likewise (each sees only its own inputs)."""
    defined: set[Value] = set(g.inputs)
    if len(defined) != len(g.inputs):
        raise VerifyError("a graph input is listed twice")
    for n in g.nodes:
        where = f"aurora.{n.op} {n.name!r}"
        if n.op not in ops.OPS:
            raise VerifyError(f"{where}: unknown op")
        for v in n.inputs:
            if v is not None and v not in defined:
                raise VerifyError(f"{where}: uses a value before it is defined")
        for v in n.outputs:
            if v in defined:
                raise VerifyError(f"{where}: redefines a value")
            defined.add(v)
        if n.op == "constant":
            val = n.attrs["value"]
            if not isinstance(val, Splat) and (
                val.shape != n.output.shape or val.dtype != n.output.dtype.np
            ):
                raise VerifyError(f"{where}: value {val.dtype}{list(val.shape)} is not {n.output.type}")
            continue
        try:
            want = ops.get(n.op).infer_types([None if v is None else v.type for v in n.inputs], n.attrs)
        except (ValueError, TypeError, KeyError, IndexError) as e:
            raise VerifyError(f"{where}: {e}") from None
        got = [v.type for v in n.outputs]
        if want != got:
            raise VerifyError(f"{where}: infers {', '.join(map(str, want))}, has {', '.join(map(str, got))}")
        for key, region in n.regions.items():
            try:
                verify(region)
            except VerifyError as e:
                raise VerifyError(f"{where}, {key}: {e}") from None
    for v in g.outputs:
        if v not in defined:
            raise VerifyError(f"graph output {v.name!r} is never defined")

