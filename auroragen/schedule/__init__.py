"""The schedule: which kernel runs each node, in what order, and where every tensor lives.

The emitter reads only this object. Kernel variants are chosen here (today
one portable variant per op; tiling, SIMD and threads add choices, not
rewrites), storage is assigned here, and the arena is planned here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph, Node, Splat, Value
from ..ir import ops as irops
from .memory import Buffer, MemoryPlan, plan_memory
from .target import Target

FILL_MIN_ELEMENTS = 256  # splat constants at least this large are filled in the arena, not stored


@dataclass(frozen=True)
class Storage:
    """Where a tensor's bytes are: a graph input or output buffer, const data, or the arena."""

    kind: str  # "input" | "output" | "const" | "arena"
    index: int  # input/output position, const number, or arena byte offset


@dataclass(frozen=True)
class Step:
    node: Node
    kernel: str  # the kernel variant, e.g. "conv.direct"; "fill" writes a splat constant


@dataclass
class Schedule:
    graph: Graph
    target: Target
    steps: list[Step]
    storage: dict[Value, Storage]
    memory: MemoryPlan
    consts: list[Value]  # constants stored as data, in emission order
    root: dict[Value, Value] = field(default_factory=dict)  # view -> the value that owns its bytes

    def where(self, v: Value) -> Storage:
        return self.storage[self.root.get(v, v)]


def choose_kernel(node: Node, target: Target) -> str:
    """The kernel variant for a node on a target."""
    return f"{node.op}.portable"


def build_schedule(graph: Graph, target: Target) -> Schedule:
    consts = graph.all_constants()
    out_index = {v: j for j, v in enumerate(graph.outputs)}
    storage: dict[Value, Storage] = {v: Storage("input", i) for i, v in enumerate(graph.inputs)}
    for v, j in out_index.items():
        storage[v] = Storage("output", j)

    # Order: the graph's, with large splat constants filled just before their first use. An `aurora.if`
    # becomes "if.then", its then-branch steps, "if.else", the else-branch steps, "if.end".
    root: dict[Value, Value] = {}
    steps: list[Step] = []
    data_consts: list[Value] = []
    filled: set[Value] = set()

    def add(n: Node) -> None:
        for v in n.inputs:
            if v is None or v not in consts or v in filled or v in root:
                continue
            c = consts[v]
            if isinstance(c.attrs["value"], Splat) and v.type.numel >= FILL_MIN_ELEMENTS:
                steps.append(Step(c, "fill"))
                filled.add(v)
            elif v not in storage:
                storage[v] = Storage("const", len(data_consts))
                data_consts.append(v)
        if n.op == "if":
            add_if(n)
        elif irops.get(n.op).view and n.output not in out_index and n.output not in root:
            src = n.inputs[0]
            root[n.output] = root.get(src, src)
        else:
            steps.append(Step(n, choose_kernel(n, target)))

    def add_if(n: Node) -> None:
        for kind, key in (("if.then", "then_branch"), ("if.else", "else_branch")):
            steps.append(Step(n, kind))
            branch = n.attrs[key]
            for formal, actual in zip(branch.inputs, n.inputs[1:]):
                root[formal] = root.get(actual, actual)
            # A branch result that a kernel of the branch computes is written straight into the op's
            # result; any other (a captured value, a constant, a view, a repeat) is copied there.
            made = {v: b for b in branch.nodes for v in b.outputs}
            direct = {}
            for res, out in zip(branch.outputs, n.outputs):
                b = made.get(res)
                if (b is not None and b.op != "constant" and not irops.get(b.op).view and res not in direct
                        and res not in root):
                    direct[res] = out
            root.update(direct)
            for b in branch.nodes:
                if b.op != "constant":
                    add(b)
            for res, out in zip(branch.outputs, n.outputs):
                if direct.get(res) is not out:
                    add(Node("identity", (res,), (out,), {}, n.name))
        steps.append(Step(n, "if.end"))

    for n in graph.nodes:
        if n.op != "constant":
            add(n)

    # Live ranges of arena buffers (roots only; a view extends its root's range). An `aurora.if`'s
    # results are live from "if.then", so both branches write the same bytes.
    start: dict[Value, int] = {}
    end: dict[Value, int] = {}
    for i, s in enumerate(steps):
        if s.kernel in ("if.else", "if.end"):
            continue
        for v in s.node.outputs:
            if v not in storage and v not in root and v not in start:
                start[v] = end[v] = i
        for v in s.node.inputs:
            if v is not None:
                r = root.get(v, v)
                if r in start:
                    end[r] = max(end[r], i)
    order = list(start)
    buffers = [Buffer(k, v.type.nbytes, start[v], end[v]) for k, v in enumerate(order)]
    memory = plan_memory(buffers)
    for k, v in enumerate(order):
        storage[v] = Storage("arena", memory.offsets[k])
    return Schedule(graph, target, steps, storage, memory, data_consts, root)
