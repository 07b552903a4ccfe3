"""Chains of elementwise ops become one loop: `aurora.fused_elementwise` computes every
step for one element before moving to the next, so intermediates never reach memory.

A producer joins its consumer's chain when the consumer is its only reader, the value
is not a graph output, and it has the consumer's full shape (a broadcast intermediate
would be recomputed per element). Half and narrow types stay out (they compute through casts).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node, Value
from ..ir.ops import OPS
from .legalize_half import needs_widening
from .rewrite import Rewriter


@dataclass(frozen=True)
class FuseElementwise:
    name: str = "fuse-elementwise"

    def apply(self, g: Graph) -> Graph:
        # the elementwise ops the fused kernel has an expression for (shifts: only as their own kernel); identity
        # is simplified away before, and a fused chain is not fused again
        fusible = {op for op, d in OPS.items() if d.elementwise} - {"shift_left", "shift_right", "identity", "fused_elementwise"}
        rw = Rewriter(g)
        producer = {v: n for n in g.nodes for v in n.outputs}
        members: dict[Node, list[Node]] = {}  # chain end -> its nodes in order
        owner: dict[Node, Node] = {}  # member -> chain end

        def ok(n: Node) -> bool:
            return n.op in fusible and all(v is not None and not needs_widening(v.dtype) for v in (*n.inputs, *n.outputs))

        for n in g.nodes:
            if not ok(n):
                continue
            chain = [n]
            for v in n.inputs:
                p = producer.get(v)
                if p is not None and p in owner and owner[p] is p and rw.only_user(v) is n and v.shape == n.output.shape:
                    chain = members.pop(p) + chain
            members[n] = chain
            for m in chain:
                owner[m] = n
        drop = {m for end, chain in members.items() if len(chain) > 1 for m in chain if m is not end}
        for n in g.nodes:
            if n in members and len(members[n]) > 1:
                self._emit(rw, members[n])
            elif n not in drop:
                rw.keep(n)
        return rw.graph()

    def _emit(self, rw: Rewriter, chain: list[Node]) -> None:
        made = {v: j for j, n in enumerate(chain) for v in n.outputs}
        ins: list[Value] = []
        program = []
        for n in chain:
            operands = []
            for v in n.inputs:
                if v in made:
                    operands.append(-1 - made[v])
                else:
                    v = rw.get(v)
                    if v not in ins:
                        ins.append(v)
                    operands.append(ins.index(v))
            program.append((n.op, tuple(sorted(n.attrs.items())), tuple(operands), n.output.dtype.value))
        (y,) = rw.emit("fused_elementwise", ins, {"program": tuple(program)}, chain[-1].name)
        rw.replace(chain[-1].output, y)
