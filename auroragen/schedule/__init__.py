"""The schedule: which kernel runs each node, in what order, and where every tensor lives.

The emitter reads only this object. Kernel variants are chosen here (today
one portable variant per op; tiling, SIMD and threads add choices, not
rewrites), storage is assigned here, and the arena is planned here.

Tensors share bytes where that saves a copy or arena space:
- views: a reshape, a split along its outermost non-unit axis and a slice of
  one contiguous block are their input's bytes at an offset (no kernel runs);
- concat slices: a concat whose inputs are contiguous blocks of its output
  (only unit axes before the concat axis) has each input that a kernel of the
  graph computes written straight into its slice; the concat copies only the
  rest, or does not run at all;
- in place: an elementwise kernel whose input has the output's shape and type
  and is read by nothing later writes its output over that input.
Among candidate execution orders (the graph's, and a greedy one that frees
bytes as early as it can) the one with the smallest arena is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..geometry import contiguous_strides
from ..ir import Graph, Node, Splat, Value
from ..ir import ops as irops
from . import lowering  # noqa: F401 - registers the target kernels (dense, conv_gemm, ...) as ops
from .memory import Buffer, MemoryPlan, plan_memory
from .target import Target

FILL_MIN_ELEMENTS = 256  # splat constants at least this large are filled in the arena, not stored


@dataclass(frozen=True)
class Storage:
    """Where a tensor's bytes are: a graph input or output buffer, const data, or the arena."""

    kind: str  # "input" | "output" | "const" | "arena"
    index: int  # input/output position, const number, or arena byte offset
    offset: int = 0  # bytes into that buffer where the tensor starts (views and concat slices)


@dataclass(frozen=True)
class Step:
    node: Node
    kind: str  # "kernel": the node's kernel (the lowering chose it); "fill": writes a splat constant; "if.then",
    # "if.else", "if.end": the C control flow around an aurora.if's regions
    placed: frozenset[int] = frozenset()  # concat: inputs already written into their slices by their producers


@dataclass
class Schedule:
    graph: Graph
    target: Target
    steps: list[Step]
    storage: dict[Value, Storage]
    memory: MemoryPlan
    consts: list[Value]  # constants stored as data, in emission order
    root: dict[Value, tuple[Value, int]] = field(default_factory=dict)  # alias -> (the value owning its bytes, offset)

    def owner(self, v: Value) -> tuple[Value, int]:
        """The value whose storage holds v's bytes, and v's byte offset in it."""
        return self.root.get(v, (v, 0))

    def where(self, v: Value) -> Storage:
        r, off = self.owner(v)
        st = self.storage[r]
        return replace(st, offset=st.offset + off) if off else st


def _unit_before(shape, axis: int) -> bool:
    return all(d == 1 for d in shape[:axis])


def view_offsets(n: Node) -> list[int] | None:
    """Byte offsets of n's outputs in its input 0 when n only selects contiguous blocks of it, else None."""
    x = n.inputs[0]
    size = x.dtype.itemsize
    if irops.get(n.op).view:
        return [0]
    if n.op == "split":
        ax = n.attrs["axis"]
        if not _unit_before(x.shape, ax):
            return None
        offs, at = [], 0
        for v in n.outputs:
            offs.append(at * size)
            at += v.type.numel
        return offs
    if n.op == "slice":
        a = n.attrs
        out = n.output.shape
        if n.output.type.numel == 0:
            return None
        k = len(x.shape)
        while k and out[k - 1] == x.shape[k - 1] and a["steps"][k - 1] == 1:
            k -= 1  # axes k.. are whole
        if k and out[k - 1] > 1 and a["steps"][k - 1] != 1:
            return None
        if any(d != 1 for d in out[:max(k - 1, 0)]):
            return None
        st = contiguous_strides(x.shape)
        if not all(0 <= a["starts"][j] < x.shape[j] for j in range(k)):
            return None
        return [sum(a["starts"][j] * st[j] for j in range(k)) * size]
    return None


class _Builder:
    """One schedule for one execution order of the graph's top-level nodes."""

    def __init__(self, graph: Graph, target: Target, nodes: list[Node]):
        self.graph, self.target = graph, target
        self.consts = graph.all_constants()
        self.out_index = {v: j for j, v in enumerate(graph.outputs)}
        self.storage: dict[Value, Storage] = {v: Storage("input", i) for i, v in enumerate(graph.inputs)}
        for v, j in self.out_index.items():
            self.storage[v] = Storage("output", j)
        self.root: dict[Value, tuple[Value, int]] = {}
        self.steps: list[Step] = []
        self.data_consts: list[Value] = []
        self.filled: set[Value] = set()
        self.top: set[Value] = set()  # values top-level kernels compute (candidates for concat slices)
        for n in nodes:
            if n.op != "constant":
                self.add(n, top=True)

    # -- aliases --------------------------------------------------------------
    def owner(self, v: Value) -> tuple[Value, int]:
        return self.root.get(v, (v, 0))

    def alias(self, v: Value, of: Value, offset: int) -> None:
        """v's bytes are of's at offset; whatever v owned moves along."""
        r, off = self.owner(of)
        self.root[v] = (r, off + offset)
        for a, (o, ao) in list(self.root.items()):
            if o is v:
                self.root[a] = (r, off + offset + ao)

    # -- steps -----------------------------------------------------------------
    def add(self, n: Node, top: bool = False) -> None:
        for v in n.inputs:
            if v is None or v not in self.consts or v in self.filled or v in self.root:
                continue
            c = self.consts[v]
            if isinstance(c.attrs["value"], Splat) and v.type.numel >= FILL_MIN_ELEMENTS:
                self.steps.append(Step(c, "fill"))
                self.filled.add(v)
            elif v not in self.storage:
                self.storage[v] = Storage("const", len(self.data_consts))
                self.data_consts.append(v)
        if n.op == "if":
            self.add_if(n)
            return
        offsets = view_offsets(n)
        if offsets is not None and not any(v in self.out_index or v in self.root for v in n.outputs):
            for v, off in zip(n.outputs, offsets):
                self.alias(v, n.inputs[0], off)
            return
        self.steps.append(Step(n, "kernel"))
        if top:
            self.top.update(n.outputs)

    def add_if(self, n: Node) -> None:
        for kind, key in (("if.then", "then_branch"), ("if.else", "else_branch")):
            self.steps.append(Step(n, kind))
            branch = n.attrs[key]
            for formal, actual in zip(branch.inputs, n.inputs[1:]):
                self.alias(formal, actual, 0)
            # A branch result that a kernel of the branch computes is written straight into the op's
            # result; any other (a captured value, a constant, a view, a repeat) is copied there.
            made = {v: b for b in branch.nodes for v in b.outputs}
            direct = {}
            for res, out in zip(branch.outputs, n.outputs):
                b = made.get(res)
                if (b is not None and b.op != "constant" and view_offsets(b) is None and res not in direct
                        and res not in self.root):
                    direct[res] = out
            for res, out in direct.items():
                self.root[res] = (out, 0)
            for b in branch.nodes:
                if b.op != "constant":
                    self.add(b)
            for res, out in zip(branch.outputs, n.outputs):
                if direct.get(res) is not out:
                    self.add(Node("identity", (res,), (out,), {}, n.name))
        self.steps.append(Step(n, "if.end"))

    # -- sharing bytes -----------------------------------------------------------
    def in_arena(self, v: Value) -> bool:
        return v not in self.storage and v not in self.root

    def place_concats(self) -> None:
        """Inputs of a concat that top-level kernels compute are written into their slices of its output."""
        kept = []
        for s in self.steps:
            n = s.node
            if s.kind.startswith("if.") or n.op != "concat" or n.output not in self.top:
                kept.append(s)
                continue
            placed = set()
            if _unit_before(n.output.shape, n.attrs["axis"]):
                at = 0
                for k, x in enumerate(n.inputs):
                    if x in self.top and self.in_arena(x) and n.inputs.count(x) == 1 and x.type.numel:
                        self.alias(x, n.output, at)
                        placed.add(k)
                    at += x.type.nbytes
            if len(placed) < len(n.inputs):
                kept.append(Step(n, s.kind, frozenset(placed)))
        self.steps = kept

    def last_uses(self) -> dict[Value, int]:
        last: dict[Value, int] = {}
        for i, s in enumerate(self.steps):
            if s.kind in ("if.else", "if.end"):
                continue
            for v in s.node.inputs:
                if v is not None:
                    last[self.owner(v)[0]] = i
        return last

    def in_place(self) -> None:
        """Elementwise kernels write over an input that has the output's shape and type and dies there."""
        last = self.last_uses()
        for i, s in enumerate(self.steps):
            n = s.node
            if s.kind.startswith("if.") or s.kind == "fill" or not irops.get(n.op).elementwise:
                continue
            y = n.output
            if not self.in_arena(y):
                continue
            owners = [self.owner(x) if x is not None else None for x in n.inputs]
            for x, o in zip(n.inputs, owners):
                if x is None:
                    continue
                r, off = o
                if (off or r in self.storage or last.get(r) != i or x.type != y.type
                        or r.type.nbytes != y.type.nbytes):
                    continue
                # every input reading those bytes must read them element for element
                if all(ox is None or ox[0] is not r or (ox[1] == 0 and xx.type.shape == y.shape)
                       for xx, ox in zip(n.inputs, owners)):
                    self.alias(y, r, 0)
                    if y in last:
                        last[r] = last.pop(y)
                    break

    def finish(self) -> Schedule:
        # Live ranges of arena buffers (owners only; an alias extends its owner's range). An `aurora.if`'s
        # results are live from "if.then", so both branches write the same bytes.
        start: dict[Value, int] = {}
        end: dict[Value, int] = {}
        for i, s in enumerate(self.steps):
            if s.kind in ("if.else", "if.end"):
                continue
            for v in [*s.node.outputs, *(x for x in s.node.inputs if x is not None)]:
                r = self.owner(v)[0]
                if r in self.storage:
                    continue
                start.setdefault(r, i)
                end[r] = i
        order = list(start)
        buffers = [Buffer(k, v.type.nbytes, start[v], end[v]) for k, v in enumerate(order)]
        memory = plan_memory(buffers)
        for k, v in enumerate(order):
            self.storage[v] = Storage("arena", memory.offsets[k])
        return Schedule(self.graph, self.target, self.steps, self.storage, memory, self.data_consts, self.root)


def greedy_order(graph: Graph) -> list[Node]:
    """A topological order of the top-level nodes that at each step runs the ready node which adds the fewest
    bytes to what is live (its results less the inputs it is the last reader of); ties keep the graph's order."""
    nodes = [n for n in graph.nodes if n.op != "constant"]
    consts = graph.constants()
    outputs = set(graph.outputs)
    owner: dict[Value, Value] = {}  # what the builder makes views (offsets do not matter here)
    for n in nodes:
        if n.op != "if" and view_offsets(n) is not None:
            for v in n.outputs:
                owner[v] = owner.get(n.inputs[0], n.inputs[0])
    readers: dict[Value, int] = {}
    for n in nodes:
        for r in {owner.get(v, v) for v in n.inputs if v is not None}:
            readers[r] = readers.get(r, 0) + 1
    producer = {v: k for k, n in enumerate(nodes) for v in n.outputs}

    def size(v: Value) -> int:
        return 0 if v in owner or v in outputs or v in consts else v.type.nbytes

    waiting = [len({producer[v] for v in n.inputs if v is not None and v in producer}) for n in nodes]
    users: dict[int, set[int]] = {}
    for k, n in enumerate(nodes):
        for v in n.inputs:
            if v is not None and v in producer:
                users.setdefault(producer[v], set()).add(k)
    ready = {k for k, w in enumerate(waiting) if w == 0}
    order = []
    while ready:
        def cost(k: int) -> tuple[int, int]:
            n = nodes[k]
            freed = sum(size(r) for r in {owner.get(v, v) for v in n.inputs if v is not None} if readers.get(r) == 1)
            return sum(size(v) for v in n.outputs) - freed, k

        k = min(ready, key=cost)
        ready.remove(k)
        order.append(nodes[k])
        for r in {owner.get(v, v) for v in nodes[k].inputs if v is not None}:
            readers[r] -= 1
        for u in sorted(users.get(k, ())):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.add(u)
    return order


def build_schedule(graph: Graph, target: Target) -> Schedule:
    """The schedule with the smallest arena among the candidate orders, each with and without concat slices
    and in-place writes (either can make the arena larger: a slice keeps its producer's result live as long
    as the whole concat, and a longer-lived buffer can fit worse)."""
    best = None
    given, greedy = list(graph.nodes), greedy_order(graph)
    for nodes in ([given] if greedy == [n for n in given if n.op != "constant"] else [given, greedy]):
        for slices in (True, False):
            for in_place in (True, False):
                b = _Builder(graph, target, nodes)
                if slices:
                    b.place_concats()
                if in_place:
                    b.in_place()
                s = b.finish()
                if best is None or (s.memory.arena_bytes, s.memory.lower_bound) < (best.memory.arena_bytes,
                                                                                     best.memory.lower_bound):
                    best = s
    return best
