"""Plans for data movement: strided copies, gather, pad, resize, fill."""

from __future__ import annotations

import numpy as np

from ...ir import Node
from ...ir.ops.nn import resize_axis_plan
from ...ir.ops.tensor import TREE_MODES
from ...ir.types import DType
from ..affine import Loop
from ..cformat import array_literals, literal
from . import Plan, broadcast_strides, collapse, contiguous_strides, kernel, numel


def _move(what, src, dst, dims, src_strides, dst_strides, src_base=0, dst_base=0):
    dims, (ss, ds) = collapse(list(dims), list(src_strides), list(dst_strides))
    return dict(what=what, src=src, dst=dst, dims=dims, src_strides=ss, dst_strides=ds, src_base=src_base, dst_base=dst_base,
                tb=None)


def _plan(node: Node, moves, what) -> Plan:
    return Plan("move", dict(moves=moves), what=what)


@kernel("reshape")
def plan_reshape(node: Node, step) -> Plan:
    n = node.output.type.numel
    return _plan(node, [_move("copy", "in0", "out0", [n], [1], [1])], f"copy of {n} elements")


@kernel("transpose")
def plan_transpose(node: Node, step) -> Plan:
    x = node.inputs[0]
    perm = node.attrs["perm"]
    st = contiguous_strides(x.shape)
    out = node.output.shape
    move = _move(f"perm {list(perm)}", "in0", "out0", out, [st[p] for p in perm], contiguous_strides(out))
    if x.dtype is DType.FLOAT:
        move["tb"] = _square_blocks(move)
    return _plan(node, [move], f"transpose {list(perm)}")


def _square_blocks(m) -> tuple[int, int, list[int]] | None:
    """(i, j, the other axes): the axis the result walks contiguously and the one the input does, when they differ and
    both are a multiple of 8 long: the copy then goes in square blocks transposed in vector registers
    (av_transpose; 8 covers every target's block)."""
    dims, ss, ds = m["dims"], m["src_strides"], m["dst_strides"]
    i = next((k for k, v in enumerate(ds) if v == 1), None)
    j = next((k for k, v in enumerate(ss) if v == 1), None)
    if i is None or j is None or i == j or dims[i] % 8 or dims[j] % 8:
        return None
    return i, j, [k for k in range(len(dims)) if k not in (i, j)]


@kernel("slice")
def plan_slice(node: Node, step) -> Plan:
    x = node.inputs[0]
    st = contiguous_strides(x.shape)
    a = node.attrs
    base = sum(s * k for s, k in zip(a["starts"], st))
    src = [k * step_ for k, step_ in zip(st, a["steps"])]
    out = node.output.shape
    return _plan(node, [_move("slice", "in0", "out0", out, src, contiguous_strides(out), src_base=base)], "slice")


@kernel("expand")
def plan_expand(node: Node, step) -> Plan:
    out = node.output.shape
    return _plan(node, [_move("broadcast", "in0", "out0", out, broadcast_strides(node.inputs[0].shape, out), contiguous_strides(out))],
                 f"expand to {list(out)}")


@kernel("concat")
def plan_concat(node: Node, step) -> Plan:
    ax = node.attrs["axis"]
    out = node.output.shape
    ost = contiguous_strides(out)
    moves, at, copied = [], 0, []
    for k, v in enumerate(node.inputs):
        if k not in step.placed:  # the others' producers wrote them into their slices already
            moves.append(_move(f"input {k}", f"in{len(copied)}", "out0", v.shape, contiguous_strides(v.shape), ost,
                               dst_base=at * ost[ax]))
            copied.append(k)
        at += v.shape[ax]
    plan = _plan(node, moves, f"concat on axis {ax}")
    plan.inputs = copied
    return plan


@kernel("split")
def plan_split(node: Node, step) -> Plan:
    ax = node.attrs["axis"]
    x = node.inputs[0]
    ist = contiguous_strides(x.shape)
    moves, at = [], 0
    for k, v in enumerate(node.outputs):
        moves.append(_move(f"output {k}", "in0", f"out{k}", v.shape, ist, contiguous_strides(v.shape), src_base=at * ist[ax]))
        at += v.shape[ax]
    return _plan(node, moves, f"split on axis {ax}")


@kernel("gather")
def plan_gather(node: Node, step) -> Plan:
    x, idx = node.inputs
    ax = node.attrs["axis"]
    outer, k = numel(x.shape[:ax]), idx.type.numel
    return Plan("gather", dict(o=Loop("o", outer), k=Loop("k", k), axis_n=x.shape[ax], inner=numel(x.shape[ax + 1:]), K=k,
                               ctype=x.dtype.ctype), can_fail=True, what=f"gather on axis {ax}")


@kernel("pad")
def plan_pad(node: Node, step) -> Plan:
    x = node.inputs[0]
    r = x.type.rank
    a = node.attrs
    return Plan("pad", dict(out_dims=list(node.output.shape), in_dims=list(x.shape), begins=list(a["pads"][:r]),
                            out_strides=contiguous_strides(node.output.shape), in_strides=contiguous_strides(x.shape),
                            mode=a["mode"], value=literal(a.get("value", 0), x.dtype)), what=f"pad ({a['mode']})")


@kernel("resize")
def plan_resize(node: Node, step) -> Plan:
    x = node.inputs[0]
    a = node.attrs
    out = node.output.shape
    ist = contiguous_strides(x.shape)
    axes, terms, outside = [], [], []
    for ax in range(x.type.rank):
        if out[ax] == x.shape[ax] and a["scales"][ax] == 1.0 and a["coord"] != "tf_crop_and_resize":
            terms.append(f"i{ax} * {ist[ax]}")
            continue
        roi = (a["roi"][ax], a["roi"][ax + x.type.rank]) if a.get("roi") else (0.0, 1.0)
        plan = resize_axis_plan(x.shape[ax], out[ax], a["scales"][ax], a["mode"], a["coord"], a["nearest_mode"],
                                a.get("cubic_a", -0.75), a.get("exclude_outside", 0), a.get("antialias", 0), roi)
        taps = max((len(p) for p in plan if p is not None), default=1)
        rows = [p if p is not None else [(0, 0.0)] for p in plan]
        idx = [[r[min(t, len(r) - 1)][0] for t in range(taps)] for r in rows]
        w = [[r[t][1] if t < len(r) else 0.0 for t in range(taps)] for r in rows]
        axes.append(dict(axis=ax, n_out=out[ax], taps=taps,
                         idx=", ".join("{" + ", ".join(map(str, r)) + "}" for r in idx),
                         w=", ".join("{" + ", ".join(array_literals(np.array(r), DType.FLOAT)) + "}" for r in w),
                         out=", ".join("1" if p is None else "0" for p in plan)))
        if any(p is None for p in plan):
            outside.append(ax)
        terms.append(f"rz_idx{ax}[i{ax}][t{ax}] * {ist[ax]}")
    return Plan("resize", dict(axes=axes, outside=outside, out_dims=list(out), out_strides=contiguous_strides(out),
                               src=" + ".join(terms) or "0", ctype=x.dtype.ctype, is_int=x.dtype.is_int,
                               extrapolation=literal(a.get("extrapolation_value", 0.0), x.dtype)), what=f"resize ({a['mode']})")


@kernel("constant")
def plan_fill(node: Node, step) -> Plan:
    v = node.output
    return Plan("fill", dict(n=v.type.numel, value=literal(node.attrs["value"].value, v.dtype)), inputs=[],
                what=f"fill {'x'.join(map(str, v.shape))} with one value")


@kernel("trilu")
def plan_trilu(node: Node, step) -> Plan:
    x = node.inputs[0]
    rows, cols = x.shape[-2], x.shape[-1]
    return Plan("trilu", dict(batch=numel(x.shape[:-2]), rows=rows, cols=cols, upper=node.attrs["upper"], k=node.attrs["k"]),
                what="upper triangle" if node.attrs["upper"] else "lower triangle")


@kernel("one_hot")
def plan_one_hot(node: Node, step) -> Plan:
    idx = node.inputs[0]
    ax = node.attrs["axis"]
    return Plan("one_hot", dict(outer=numel(idx.shape[:ax]), inner=numel(idx.shape[ax:]), depth=node.attrs["depth"]),
                what=f"one-hot of depth {node.attrs['depth']}")


@kernel("bitcast")
def plan_bitcast(node: Node, step) -> Plan:
    return Plan("bitcast", dict(nbytes=node.inputs[0].type.nbytes), what=f"bitcast to {node.output.dtype.short}")


@kernel("tfidf")
def plan_tfidf(node: Node, step) -> Plan:
    x = node.inputs[0]
    a = node.attrs
    tables = []
    for n in range(a["min_n"], a["max_n"] + 1):
        gs = [(list(g), i) for g, i in a["grams"] if len(g) == n]
        if gs:
            tables.append((n, gs))
    return Plan("tfidf", dict(tables=tables, rows=1 if x.type.rank == 1 else x.shape[0], len=x.shape[-1], out_len=a["out_len"],
                              max_skip=a["max_skip"], mode=a["mode"], ctype=x.dtype.ctype,
                              weights=array_literals(np.array(a["weights"], np.float32), DType.FLOAT) if a["weights"] else []),
                what=f"{a['mode']} of {len(a['grams'])} n-grams")


@kernel("tree_ensemble")
def plan_tree_ensemble(node: Node, step) -> Plan:
    a = node.attrs
    x, y = node.inputs[0], node.output
    lit = lambda v: literal(v, DType.DOUBLE)  # noqa: E731
    nodes = [dict(mode=TREE_MODES[m], feat=f, split=lit(s), t=t, f=fl, miss=mi, m0=m0, mn=mn)
             for m, f, s, t, fl, mi, m0, mn in a["nodes"]]
    return Plan("tree_ensemble", dict(
        nodes=nodes, roots=list(a["roots"]), targets=[t for t, _ in a["leaves"]], weights=[lit(w) for _, w in a["leaves"]],
        members=[lit(v) for v in a["members"]], aggregate=a["aggregate"], n_targets=a["n_targets"], rows=x.shape[0],
        feats=x.shape[1], ctype=x.dtype.ctype, has_member=any(n["mode"] == "member" for n in nodes),
        init=literal(float(np.finfo(y.dtype.np).max if a["aggregate"] == "min" else np.finfo(y.dtype.np).min), y.dtype)
        if a["aggregate"] in ("min", "max") else "0"),
        what=f"{len(a['roots'])} trees of {len(nodes)} branch nodes, {a['aggregate']} over {a['n_targets']} targets")
