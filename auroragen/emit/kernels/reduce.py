"""Plans for reductions, arg-max/min and softmax."""

from __future__ import annotations

import numpy as np

from ...ir import Node
from ...ir.types import DType
from ..cformat import literal
from . import Plan, collapse, contiguous_strides, fn_suffix, kernel, numel

# op -> (init, update, final); v is the element, acc the accumulator, n the count
REDUCE_C = {
    "reduce_sum": ("0", "acc += v;", "acc"),
    "reduce_mean": ("0", "acc += v;", "acc / {n}"),
    "reduce_max": ("{lowest}", "if (v > acc{nan_or}) acc = v;", "acc"),
    "reduce_min": ("{highest}", "if (v < acc{nan_or}) acc = v;", "acc"),
    "reduce_prod": ("1", "acc *= v;", "acc"),
    "reduce_l1": ("0", "acc += v < 0 ? -v : v;", "acc"),
    "reduce_l2": ("0", "acc += v * v;", "sqrt{F}(acc)"),
    "reduce_sum_square": ("0", "acc += v * v;", "acc"),
    "reduce_log_sum": ("0", "acc += v;", "log{F}(acc)"),
    # one pass with a running maximum acc2: acc = sum exp(v - acc2)
    "reduce_log_sum_exp": ("0", "if (v > acc2) {{ acc = acc * exp{F}(acc2 - v) + 1; acc2 = v; }} else {{ acc += exp{F}(v - acc2); }}",
                           "acc2 + log{F}(acc)"),
}


def limits(dt: DType) -> tuple[str, str]:
    """C literals of the lowest and highest value of an element type."""
    if dt.is_float:
        return "(-AURORA_INF)", "AURORA_INF"
    if dt is DType.BOOL:
        return "0", "1"
    info = np.iinfo(dt.np)
    return literal(info.min, dt), literal(info.max, dt)


@kernel(*REDUCE_C)
def plan_reduce(node: Node, step) -> Plan:
    x = node.inputs[0]
    axes = node.attrs["axes"]
    dt = x.dtype
    ist = contiguous_strides(x.shape)
    kept = [i for i in range(x.type.rank) if i not in axes]
    out_kept_st = contiguous_strides([x.shape[i] for i in kept])
    outer_dims, (o_in, o_out) = collapse([x.shape[i] for i in kept], [ist[i] for i in kept], out_kept_st)
    red_dims, (r_in,) = collapse([x.shape[i] for i in axes], [ist[i] for i in axes])
    init, update, final = REDUCE_C[node.op]
    lo, hi = limits(dt)
    acc_t = dt if dt.is_float else (DType.INT64 if dt.is_signed_int else DType.UINT64)
    if dt is DType.BOOL and node.op in ("reduce_max", "reduce_min"):
        acc_t = DType.UINT8
    fmt = dict(n=f"({acc_t.ctype}){numel([x.shape[i] for i in axes])}", lowest=lo, highest=hi,
               nan_or=" || v != v" if dt.is_float else "", F="" if dt is DType.DOUBLE else "f")
    return Plan("reduce", dict(
        outer_dims=outer_dims, outer_in_strides=o_in, outer_out_strides=o_out, red_dims=red_dims, red_strides=r_in,
        acc_ctype=acc_t.ctype if dt.is_float else dt.ctype, out_ctype=node.output.dtype.ctype,
        init=init.format(**fmt), update=update.format(**fmt), final=final.format(**fmt),
        two_acc=node.op == "reduce_log_sum_exp", init2="(-AURORA_INF)",
    ), what=f"{node.op} over axes {list(axes)}")


@kernel("arg_max", "arg_min")
def plan_arg(node: Node, step) -> Plan:
    x = node.inputs[0]
    ax = node.attrs["axis"]
    ist = contiguous_strides(x.shape)
    kept = [i for i in range(x.type.rank) if i != ax]
    outer_dims, (o_in, o_out) = collapse([x.shape[i] for i in kept], [ist[i] for i in kept],
                                         contiguous_strides([x.shape[i] for i in kept]))
    cmp = ">" if node.op == "arg_max" else "<"
    if node.attrs.get("select_last_index"):
        cmp += "="
    return Plan("arg", dict(outer_dims=outer_dims, outer_in_strides=o_in, outer_out_strides=o_out, n=x.shape[ax],
                            stride=ist[ax], cmp=cmp, ctype=x.dtype.ctype), what=f"{node.op} on axis {ax}")


@kernel("softmax", "log_softmax")
def plan_softmax(node: Node, step) -> Plan:
    x = node.inputs[0]
    ax = node.attrs["axis"]
    return Plan("softmax", dict(outer=numel(x.shape[:ax]), n=x.shape[ax], inner=numel(x.shape[ax + 1:]),
                                ctype=x.dtype.ctype, fs=fn_suffix(node), log=node.op == "log_softmax"),
                what=f"{node.op} on axis {ax}")


@kernel("nll_loss")
def plan_nll_loss(node: Node, step) -> Plan:
    x = node.inputs[0]
    a = node.attrs
    return Plan("nll_loss", dict(N=x.shape[0], C=x.shape[1], inner=numel(x.shape[2:]), ctype=x.dtype.ctype, reduction=a["reduction"],
                                 ignore_index=a.get("ignore_index"), has_weight=len(node.inputs) > 2 and node.inputs[2] is not None),
                can_fail=True, what=f"negative log-likelihood ({a['reduction']})")


def _axis_view(x, ax):
    return dict(outer=numel(x.shape[:ax]), n=x.shape[ax], inner=numel(x.shape[ax + 1:]), ctype=x.dtype.ctype)


@kernel("hardmax")
def plan_hardmax(node: Node, step) -> Plan:
    return Plan("hardmax", _axis_view(node.inputs[0], node.attrs["axis"]), what=f"hardmax on axis {node.attrs['axis']}")


@kernel("cumsum", "cumprod")
def plan_cumsum(node: Node, step) -> Plan:
    a = node.attrs
    p = _axis_view(node.inputs[0], a["axis"])
    p.update(exclusive=a.get("exclusive", 0), reverse=a.get("reverse", 0), prod=node.op == "cumprod")
    return Plan("cumsum", p, what=f"{node.op} on axis {a['axis']}")


@kernel("topk")
def plan_topk(node: Node, step) -> Plan:
    a = node.attrs
    p = _axis_view(node.inputs[0], a["axis"])
    p.update(k=a["k"], cmp=">" if a.get("largest", 1) else "<")
    return Plan("topk", p, what=f"top {a['k']} on axis {a['axis']}")
