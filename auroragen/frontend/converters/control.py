"""Control flow for static shapes: If, Loop and Scan import inline.

- If with a compile-time condition imports only the branch taken; with a run-time
  condition it becomes `aurora.if`, whose branches are regions (C: an if/else),
  and both must give the same types and shapes.
- Loop and Scan unroll: the trip count, and a Loop's condition after every
  iteration, must be known at compile time.
"""

from __future__ import annotations

import numpy as np

from ...ir import Graph, Node, Value
from ..importer import converter

MAX_UNROLL = 4096


@converter("If")
def if_(ctx, cond, *, then_branch, else_branch):
    if ctx.is_const(cond):
        return ctx.subgraph(then_branch if bool(ctx.const_scalar(cond)) else else_branch, {})
    if cond.type.numel != 1:
        raise ctx.error(f"the condition has shape {list(cond.shape)}; it must hold one element")
    name = (ctx.node_name, ctx.op_type)
    then_nodes, then_outs = _branch(ctx, then_branch)
    else_nodes, else_outs = _branch(ctx, else_branch)
    ctx.node_name, ctx.op_type = name
    if len(then_outs) != len(else_outs):
        raise ctx.error(f"the branches give {len(then_outs)} and {len(else_outs)} outputs")
    for k, (a, b) in enumerate(zip(then_outs, else_outs)):
        if a.type != b.type:
            raise ctx.error(f"output {k}: branches give {a.type} and {b.type}; a run-time condition needs the same type and shape")
    if not then_outs:
        return []
    then_free, else_free = _free(then_nodes, then_outs), _free(else_nodes, else_outs)
    caps = [v for v in {**then_free, **else_free} if v not in ctx.consts]
    then_g = _region(ctx, then_nodes, then_outs, then_free, caps, "then")
    else_g = _region(ctx, else_nodes, else_outs, else_free, caps, "else")
    return ctx.emit_multi("if", cond, *caps, then_branch=then_g, else_branch=else_g)


def _branch(ctx, body) -> tuple[list[Node], list[Value]]:
    """A branch's nodes, imported into a list of their own, and its outputs."""
    outer = ctx.nodes
    ctx.nodes = []
    try:
        outs = ctx.subgraph(body, {})
        return ctx.nodes, outs
    finally:
        ctx.nodes = outer


def _free(nodes: list[Node], outs: list[Value]) -> dict[Value, None]:
    """The values a branch reads or returns without making them, in first-use order."""
    made = {v for n in nodes for v in n.outputs}
    return dict.fromkeys(v for v in [u for n in nodes for u in n.inputs] + outs if v is not None and v not in made)


def _region(ctx, nodes: list[Node], outs: list[Value], free, caps: list[Value], name: str) -> Graph:
    """A branch as a self-contained graph: the captured outer values become its inputs, and
    outer constants it reads are copied in (so passes inside see them as constants)."""
    formal = {v: Value(v.type, v.name) for v in [*free, *caps]}
    copied = [Node("constant", (), (formal[v],), {"value": ctx.consts[v]}) for v in free if v in ctx.consts]

    def sub(v):
        return None if v is None else formal.get(v, v)

    body = [Node(n.op, tuple(sub(v) for v in n.inputs), n.outputs, n.attrs, n.name) for n in nodes]
    return Graph([formal[v] for v in caps], [sub(v) for v in outs], copied + body, name)


def _stack(ctx, parts, axis, what):
    if not parts:
        raise ctx.error(f"{what}: zero iterations give a scan output of unknown shape")
    ax = axis % (parts[0].type.rank + 1)
    grown = [ctx.emit("reshape", p, shape=p.shape[:ax] + (1,) + p.shape[ax:]) for p in parts]
    return grown[0] if len(grown) == 1 else ctx.emit("concat", *grown, axis=ax)


@converter("Loop")
def loop(ctx, trip=None, cond=None, *state, body):
    n_state = len(state)
    limit = int(ctx.const_scalar(trip, "M")) if trip is not None else None
    going = bool(ctx.const_scalar(cond, "cond")) if cond is not None else True
    names = [i.name for i in body.input]
    scans: list[list] = []
    state = list(state)
    i = 0
    while going and (limit is None or i < limit):
        if i >= MAX_UNROLL:
            raise ctx.error(f"more than {MAX_UNROLL} iterations to unroll")
        bind = {names[0]: ctx.constant(np.array(i, np.int64)), names[1]: ctx.constant(np.array(going))}
        bind.update(zip(names[2:], state))
        outs = ctx.subgraph(body, bind)
        if not ctx.is_const(outs[0]):
            raise ctx.error("the loop condition is computed at run time (only static trip counts compile)")
        going = bool(ctx.const_scalar(outs[0]))
        state = outs[1:1 + n_state]
        extra = outs[1 + n_state:]
        scans = scans or [[] for _ in extra]
        for k, s in enumerate(extra):
            scans[k].append(s)
        i += 1
    return state + [_stack(ctx, parts, 0, "Loop") for parts in scans]


@converter("Scan")
def scan(ctx, *ins, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None, scan_output_axes=None,
         scan_output_directions=None, directions=None):
    if ctx.opset < 9:
        return _scan8(ctx, *ins, body=body, num_scan_inputs=num_scan_inputs, directions=directions)
    n_state = len(ins) - num_scan_inputs
    states, xs = list(ins[:n_state]), ins[n_state:]
    in_axes = [a % x.type.rank for a, x in zip(scan_input_axes or [0] * len(xs), xs)]
    return _unroll_scan(ctx, body, states, xs, in_axes, scan_input_directions or [0] * len(xs), scan_output_axes,
                        scan_output_directions)


def _unroll_scan(ctx, body, states, xs, in_axes, in_dirs, out_axes=None, out_dirs=None):
    length = xs[0].shape[in_axes[0]] if xs else 0
    if length > MAX_UNROLL:
        raise ctx.error(f"{length} iterations to unroll: more than {MAX_UNROLL}")
    n_state = len(states)
    names = [i.name for i in body.input]
    collected: list[list] = []
    for t in range(length):
        bind = dict(zip(names[:n_state], states))
        for x, ax, d, name in zip(xs, in_axes, in_dirs, names[n_state:]):
            k = length - 1 - t if d else t
            starts = tuple(k if i == ax else 0 for i in range(x.type.rank))
            ends = tuple(k + 1 if i == ax else n for i, n in enumerate(x.shape))
            part = ctx.emit("slice", x, starts=starts, ends=ends, steps=(1,) * x.type.rank)
            bind[name] = ctx.emit("reshape", part, shape=x.shape[:ax] + x.shape[ax + 1:])
        outs = ctx.subgraph(body, bind)
        states = outs[:n_state]
        collected = collected or [[] for _ in outs[n_state:]]
        for k, s in enumerate(outs[n_state:]):
            collected[k].append(s)
    out_axes = out_axes or [0] * len(collected)
    out_dirs = out_dirs or [0] * len(collected)
    stacked = [_stack(ctx, parts[::-1] if d else parts, ax, "Scan") for parts, ax, d in zip(collected, out_axes, out_dirs)]
    return list(states) + stacked


def _scan8(ctx, sequence_lens, *ins, body, num_scan_inputs, directions):
    """Scan-8: every input has a leading batch axis (scan inputs scan along axis 1); the body runs per
    batch entry. sequence_lens, when given, must be known and give every entry the full length."""
    n_state = len(ins) - num_scan_inputs
    states, xs = list(ins[:n_state]), list(ins[n_state:])
    batch = (states + xs)[0].shape[0]
    if sequence_lens is not None:
        full = xs[0].shape[1] if xs else 0
        if any(int(v) != full for v in ctx.const(sequence_lens, "sequence_lens").reshape(-1)):
            raise ctx.error(f"sequence_lens other than the full length {full} are not supported")

    def entry(v, b):
        part = ctx.emit("slice", v, starts=(b,) + (0,) * (v.type.rank - 1), ends=(b + 1,) + v.shape[1:],
                        steps=(1,) * v.type.rank)
        return ctx.emit("reshape", part, shape=v.shape[1:])

    if batch * (xs[0].shape[1] if xs else 0) > MAX_UNROLL:
        raise ctx.error(f"{batch} batch entries of {xs[0].shape[1]} iterations to unroll: more than {MAX_UNROLL}")
    per_batch = []
    for b in range(batch):
        per_batch.append(_unroll_scan(ctx, body, [entry(s, b) for s in states], [entry(x, b) for x in xs], [0] * len(xs),
                                      directions or [0] * len(xs)))
    return [_stack(ctx, [outs[k] for outs in per_batch], 0, "Scan") for k in range(len(per_batch[0]))]


@converter("NonZero", "Unique", "Compress", "NonMaxSuppression")
def data_dependent(ctx, *inputs, **attrs):
    """These ops' output shapes depend on the values of their inputs, not only on shapes."""
    raise ctx.error("its output shape depends on the input data; auroragen compiles static shapes "
                    "(a static upper bound with a count output is future work)")


@converter("ImageDecoder")
def image_decoder(ctx, *inputs, **attrs):
    raise ctx.error("decoding image files is outside a tensor compiler's scope")


@converter("OptionalHasElement")
def optional_has_element(ctx, x=None):
    """On a plain tensor input: true when the input is given (optional types are not supported)."""
    return ctx.constant(np.array(x is not None))


@converter("OptionalGetElement")
def optional_get_element(ctx, x):
    return x
