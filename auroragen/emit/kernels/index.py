"""Plans for gather/scatter by index tensors."""

from __future__ import annotations

from math import prod

from ...ir import Node
from . import Plan, contiguous_strides, kernel

UPDATE = {
    "none": "*dst = u;",
    "add": "*dst += u;",
    "mul": "*dst *= u;",
    "max": "if (u > *dst) *dst = u;",
    "min": "if (u < *dst) *dst = u;",
}


def _elementwise_index(node: Node, idx_shape) -> dict:
    x = node.inputs[0]
    ax = node.attrs["axis"]
    xs = contiguous_strides(x.shape)
    return dict(dims=list(idx_shape), idx_strides=contiguous_strides(idx_shape),
                x_strides=[0 if d == ax else xs[d] for d in range(x.type.rank)], axis_n=x.shape[ax], axis_stride=xs[ax],
                ctype=x.dtype.ctype, n=x.type.numel)


@kernel("gather_elements")
def plan_gather_elements(node: Node, step) -> Plan:
    return Plan("gather_elements", _elementwise_index(node, node.inputs[1].shape), can_fail=True,
                what=f"gather_elements on axis {node.attrs['axis']}")


@kernel("scatter_elements")
def plan_scatter_elements(node: Node, step) -> Plan:
    p = _elementwise_index(node, node.inputs[1].shape)
    p["update"] = UPDATE[node.attrs.get("reduction", "none")]
    return Plan("scatter_elements", p, can_fail=True, what=f"scatter_elements on axis {node.attrs['axis']}")


@kernel("scatter_nd")
def plan_scatter_nd(node: Node, step) -> Plan:
    x, idx = node.inputs[0], node.inputs[1]
    k = idx.shape[-1]
    xs = contiguous_strides(x.shape)
    return Plan("scatter_nd", dict(n=x.type.numel, tuples=prod(idx.shape[:-1]), k=k, dims=list(x.shape[:k]), strides=xs[:k],
                                   slice=prod(x.shape[k:]), ctype=x.dtype.ctype,
                                   update=UPDATE[node.attrs.get("reduction", "none")]), can_fail=True, what="scatter_nd")


@kernel("gather_nd")
def plan_gather_nd(node: Node, step) -> Plan:
    x, idx = node.inputs
    bd = node.attrs.get("batch_dims", 0)
    k = idx.shape[-1]
    inner = x.shape[bd:]
    xs = contiguous_strides(inner)
    batches = prod(x.shape[:bd])
    return Plan("gather_nd", dict(batches=batches, tuples=prod(idx.shape[bd:-1]), k=k, dims=list(inner[:k]), strides=xs[:k],
                                  slice=prod(inner[k:]), batch_stride=prod(inner)), can_fail=True, what="gather_nd")
