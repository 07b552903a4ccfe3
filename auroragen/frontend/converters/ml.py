"""ai.onnx.ml ops over numeric tensors (the string-keyed ones need string tensors, which the ABI lacks)."""

from __future__ import annotations

import numpy as np

from ...ir.ops.tensor import TREE_AGGREGATES, TREE_MODES
from ...ir.types import DType
from ..importer import converter


@converter("Binarizer", domain="ai.onnx.ml")
def binarizer(ctx, x, *, threshold=0.0):
    """1 where x > threshold, else 0, in x's type."""
    above = ctx.emit("greater", x, ctx.scalar(float(threshold), x.dtype))
    return ctx.emit("cast", above, to=x.dtype.value, src=DType.BOOL.value)


@converter("ArrayFeatureExtractor", domain="ai.onnx.ml")
def array_feature_extractor(ctx, x, indices):
    """x[..., indices] with the indices flattened; a 1-D x gives shape [1, n]."""
    flat = ctx.emit("reshape", indices, shape=(indices.type.numel,))
    y = ctx.emit("gather", x, flat, axis=x.type.rank - 1)
    return ctx.emit("reshape", y, shape=(1, indices.type.numel)) if x.type.rank == 1 else y


@converter("TreeEnsemble", domain="ai.onnx.ml")
def tree_ensemble(ctx, x, *, nodes_splits, nodes_featureids, nodes_modes, nodes_truenodeids, nodes_falsenodeids,
                  nodes_trueleafs, nodes_falseleafs, leaf_targetids, leaf_weights, tree_roots, n_targets,
                  aggregate_function=1, post_transform=0, nodes_hitrates=None, nodes_missing_value_tracks_true=None,
                  membership_values=None):
    """The trees flattened into tables; a root whose two children are the same leaf is that leaf."""
    if post_transform != 0:
        raise ctx.error(f"post_transform {post_transform} is not supported yet (only 0, none)")
    if not 0 <= aggregate_function < len(TREE_AGGREGATES):
        raise ctx.error(f"aggregate_function {aggregate_function} is not one of 0..3")
    modes = [int(m) for m in np.asarray(nodes_modes).ravel()]
    splits = [float(s) for s in np.asarray(nodes_splits, np.float64).ravel()]
    count = len(modes)
    lists = [nodes_featureids, nodes_truenodeids, nodes_falsenodeids, nodes_trueleafs, nodes_falseleafs]
    if len(splits) != count or any(len(v) != count for v in lists):
        raise ctx.error("the nodes_* attributes differ in length")
    if any(not 0 <= m < len(TREE_MODES) for m in modes):
        raise ctx.error(f"nodes_modes holds a mode outside 0..{len(TREE_MODES) - 1}")
    weights = [float(w) for w in np.asarray(leaf_weights, np.float64).ravel()]
    if len(weights) != len(leaf_targetids) or any(not 0 <= t < n_targets for t in leaf_targetids):
        raise ctx.error("leaf_targetids must pair with leaf_weights and lie in 0..n_targets-1")
    missing = list(nodes_missing_value_tracks_true or [0] * count)
    values = [float(v) for v in np.asarray(membership_values if membership_values is not None else [], np.float64).ravel()]
    sets, at = [], 0  # the MEMBER nodes take the NaN-separated sets in order
    for m in modes:
        if TREE_MODES[m] == "member":
            end = at
            while end < len(values) and not np.isnan(values[end]):
                end += 1
            if end >= len(values):
                raise ctx.error("membership_values has fewer NaN-separated sets than MEMBER nodes")
            sets.append((at, end - at))
            at = end + 1
        else:
            sets.append((0, 0))
    members = tuple(values[s] for s, n in sets for s in range(s, s + n))
    offsets, acc = [], 0
    for _, n in sets:
        offsets.append(acc)
        acc += n

    def ref(i, leaf):
        limit = len(weights) if leaf else count
        if not 0 <= i < limit:
            raise ctx.error(f"{'leaf' if leaf else 'node'} index {i} is out of range")
        return -1 - int(i) if leaf else int(i)

    nodes = tuple((modes[i], int(nodes_featureids[i]), splits[i], ref(nodes_truenodeids[i], nodes_trueleafs[i]),
                   ref(nodes_falsenodeids[i], nodes_falseleafs[i]), int(bool(missing[i])), offsets[i], sets[i][1])
                  for i in range(count))
    if any(not 0 <= n[1] < x.shape[-1] for n in nodes):
        raise ctx.error(f"a node's feature id is outside 0..{x.shape[-1] - 1}")
    roots = []
    for r in tree_roots:
        leaf = nodes_trueleafs[r] and nodes_falseleafs[r] and nodes_truenodeids[r] == nodes_falsenodeids[r]
        roots.append(ref(nodes_truenodeids[r], True) if leaf else ref(r, False))
    _check_acyclic(ctx, nodes, roots)
    return ctx.emit("tree_ensemble", x, nodes=nodes, roots=tuple(roots),
                    leaves=tuple((int(t), w) for t, w in zip(leaf_targetids, weights)), members=members,
                    aggregate=TREE_AGGREGATES[aggregate_function], n_targets=int(n_targets))


def _check_acyclic(ctx, nodes, roots):
    """Every walk from a root reaches a leaf: a cycle would loop forever in the generated code."""
    state: dict[int, int] = {}  # 1 while its subtree is being walked, 2 once done
    for root in roots:
        stack = [(root, False)]
        while stack:
            ref, leaving = stack.pop()
            if ref < 0:
                continue
            if leaving:
                state[ref] = 2
            elif state.get(ref) == 1:
                raise ctx.error(f"the trees have a cycle through node {ref}")
            elif ref not in state:
                state[ref] = 1
                stack += [(ref, True), (nodes[ref][3], False), (nodes[ref][4], False)]
