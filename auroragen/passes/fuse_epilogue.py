"""Conv, Gemm and MatMul absorb what follows them into one op with an epilogue:

    y = linear(...)                       conv / gemm / matmul
    [y = y + bias]                        matmul: a constant of N values along the last axis
    [y = y + residual]                    another tensor of y's shape (ResNet's skip connection)
    [y = activation(y)]                   relu, clip, sigmoid, gelu, ...

Every intermediate must have that one consumer and not be a graph output. The fused op
is placed where the last absorbed node was, so the residual is computed before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node, Value
from .rewrite import Rewriter

LINEAR = ("conv", "gemm", "matmul")
ACTIVATIONS = {"relu", "leaky_relu", "clip", "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "elu", "selu", "gelu", "swish",
               "softplus", "mish"}
RESIDUAL_SLOT = 3  # conv (x, w, b, residual), gemm (a, b, c, residual), matmul (a, b, bias, residual)


@dataclass
class _Plan:
    base: Node
    chain: list[Node]
    bias: Value | None = None
    residual: Value | None = None
    act: Node | None = None


def _other(n: Node, v: Value) -> Value:
    a, b = n.inputs
    return b if a is v else a


@dataclass(frozen=True)
class FuseEpilogue:
    name: str = "fuse-epilogue"

    def _plan(self, rw: Rewriter, n: Node, claimed: set[Node]) -> _Plan | None:
        if n.op not in LINEAR or not n.output.dtype.is_float or n.attrs.get("activation") or len(n.inputs) > 3:
            return None
        plan = _Plan(n, [])
        cur = n.output

        def next_user(v):
            u = rw.only_user(v)
            return None if u is None or u in claimed else u

        u = next_user(cur)
        if n.op == "matmul" and u is not None and u.op == "add" and len(u.inputs) == 2 and u.inputs[0] is not u.inputs[1]:
            bias = _other(u, cur)
            a = rw.array(bias)
            if a is not None and bias.dtype == cur.dtype and a.size == cur.shape[-1] and a.ndim >= 1 and a.shape[-1] == cur.shape[-1] \
                    and u.output.type == cur.type:
                plan.bias, cur = bias, u.output
                plan.chain.append(u)
                u = next_user(cur)
        if u is not None and u.op == "add" and len(u.inputs) == 2 and u.inputs[0] is not u.inputs[1]:
            other = _other(u, cur)
            if other.type == cur.type == u.output.type:
                plan.residual, cur = other, u.output
                plan.chain.append(u)
                u = next_user(cur)
        if u is not None and u.op in ACTIVATIONS and u.output.type == cur.type:
            plan.act = u
            plan.chain.append(u)
        return plan if plan.chain else None

    def apply(self, g: Graph) -> Graph:
        rw = Rewriter(g)
        at_end: dict[Node, _Plan] = {}
        skip: set[Node] = set()
        for n in g.nodes:
            if n in skip:
                continue
            plan = self._plan(rw, n, skip | set(at_end))
            if plan is not None:
                at_end[plan.chain[-1]] = plan
                skip.update(plan.chain[:-1])
                continue
            if n in at_end:
                self._emit(rw, at_end.pop(n))
                continue
            rw.keep(n)
        return rw.graph()

    def _emit(self, rw: Rewriter, p: _Plan) -> None:
        base = p.base
        ins = list(base.inputs) + [None] * (RESIDUAL_SLOT - len(base.inputs))
        if p.bias is not None:
            ins[2] = p.bias
        ins.append(p.residual)
        while ins and ins[-1] is None:
            ins.pop()
        attrs = dict(base.attrs)
        if p.act is not None:
            attrs["activation"] = p.act.op
            attrs["act_params"] = tuple(sorted(p.act.attrs.items()))
        (y,) = rw.emit(base.op, ins, attrs, base.name)
        rw.replace(p.chain[-1].outputs[0], y)
