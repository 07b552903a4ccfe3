"""Compile-time evaluation of one op on constant inputs: the one folding rule that
both the importer (as it reads the model) and the constant-folding pass use."""

from __future__ import annotations

import numpy as np

from . import ops
from .graph import Splat
from .types import TensorType

FOLD_LIMIT = 1 << 16  # fold ops on constants up to this many output elements

# ops that only move data: on splats of one value they give that splat again
MOVES = {"reshape", "transpose", "slice", "expand", "gather", "split", "concat", "identity", "gather_elements", "gather_nd"}
def fold(op: str, values: list[np.ndarray | Splat | None], in_types: list[TensorType | None], attrs: dict,
         out_types: list[TensorType]) -> list[np.ndarray | Splat] | None:
    """The outputs of `op` on constant inputs (arrays or splats), or None when it is not worth folding.

    Splats stay splats through ops that move data or act elementwise, so a huge
    ConstantOfShape stays one value however it is reshaped or scaled."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    opdef = ops.get(op)
    splats = [v for v in present if isinstance(v, Splat)]
    if splats and len(splats) == len(present):
        if op in MOVES and len({s.value for s in splats}) == 1:
            return [splats[0]] * len(out_types)
        if opdef.elementwise:
            one = [None if v is None else np.asarray(v.value, t.dtype.np).reshape(1) for v, t in zip(values, in_types)]
            with np.errstate(all="ignore"):
                r = opdef.run_typed(one, in_types, attrs, [t.with_shape((1,)) for t in out_types])[0]
            return [Splat(np.asarray(r).reshape(-1)[0].item())]
    if sum(t.numel for t in out_types) > FOLD_LIMIT:
        return None
    arrays = [None if v is None else (v.materialize(t) if isinstance(v, Splat) else v) for v, t in zip(values, in_types)]
    with np.errstate(all="ignore"):
        results = opdef.run_typed(arrays, in_types, attrs, out_types)
    return [np.asarray(r).astype(t.dtype.np).reshape(t.shape) for r, t in zip(results, out_types)]

