"""ONNX graph -> Aurora IR.

Each ONNX op has one converter (see `converters/`): a function taking the
import context, the node's inputs as IR values and its attributes as keyword
arguments with the spec's defaults. Converters emit canonical Aurora ops
through `ctx.emit`, which infers output types from the op registry and folds
the op at once when every input is a compile-time constant: this is how
Shape -> Gather -> Concat -> Reshape chains become plain attributes.

Opset strategy: converters read the attribute-or-input form of every opset
the default domain has had (Reshape's shape input, Squeeze/Split/Reduce axes
moving from attribute to input, Softmax's coerced-2-D semantics before 13,
...), keyed on `ctx.opset`. No model is rewritten by onnx.version_converter,
which fails on many real graphs and adapts nothing we cannot read directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import AuroraError, NeedsConstant
from ..ir import Graph, Node, Splat, TensorType, Value, ops
from ..ir.fold import fold
from ..ir.narrow import encode, encoded_type, to_bits, typed
from ..ir.types import DType
from .onnx_file import check_operator, formal_input, graph_inputs, ordered_nodes

# (domain, op type) -> converter; the default domain is "" (also spelled "ai.onnx" in models)
CONVERTERS: dict[tuple[str, str], Callable[..., Any]] = {}
DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training")


def converter(*onnx_ops: str, domain: str = ""):
    def wrap(fn):
        for name in onnx_ops:
            if (domain, name) in CONVERTERS:
                raise RuntimeError(f"converter for {domain}::{name} registered twice")
            CONVERTERS[domain, name] = fn
        return fn

    return wrap


def _set_name(v: Value, name: str) -> None:
    # Values are frozen for passes; the importer names the ones it just made.
    object.__setattr__(v, "name", name)


MAX_CONSTANT_BYTES = 1 << 31  # the largest constant a converter builds (the model's own data is not limited)


class Context:
    """What a converter sees: the opset, constants, and `emit`."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[Node] = []
        self.consts: dict[Value, np.ndarray | Splat] = {}
        self.node_name = ""
        self.op_type = ""
        self.n_outputs = 1
        self.graph_inputs: set[Value] = set()
        self.env: dict[str, Value] = {}

    # -- errors --------------------------------------------------------------
    def error(self, msg: str) -> AuroraError:
        return AuroraError(msg, node=self.node_name, op=self.op_type)

    # -- constants -----------------------------------------------------------
    def check_constant_size(self, shape, itemsize: int, what: str = "a constant") -> None:
        """Refuse to build a compile-time constant beyond MAX_CONSTANT_BYTES (before allocating it)."""
        n = itemsize
        for d in shape:
            n *= max(int(d), 0)
        if n > MAX_CONSTANT_BYTES:
            raise self.error(f"{what} of shape {list(shape)} would take {n / 2**30:.1f} GiB at compile time "
                             f"(at most {MAX_CONSTANT_BYTES >> 30} GiB)")

    def constant(self, value: np.ndarray | Splat, t: TensorType | None = None, *, built: bool = True) -> Value:
        """A constant value; `built` when a converter computed it (not the model's own data): size-checked."""
        if isinstance(value, np.ndarray):
            if built:
                self.check_constant_size(value.shape, value.dtype.itemsize)
            dt = encoded_type(value.dtype)
            if dt is not None:
                value = to_bits(value)  # an ml_dtypes array (bfloat16, narrow types) as its storage bits
            dt = dt or DType.from_numpy(value.dtype)
            value = np.ascontiguousarray(value).reshape(value.shape).view(np.ndarray)  # keeps 0-d arrays 0-d
            t = TensorType(dt, value.shape)
        try:
            check_size(t, "constant")
        except AuroraError as e:
            raise self.error(str(e)) from None
        v = Value(t)
        self.nodes.append(Node("constant", (), (v,), {"value": value}, self.node_name))
        self.consts[v] = value
        return v

    def scalar(self, x: float, dt: DType) -> Value:
        """A 0-d constant of type dt (bfloat16 and the narrow types rounded to their bits)."""
        if dt.is_encoded:
            return self.constant(typed(dt, encode(dt, np.array(x, np.float32))))
        return self.constant(np.array(x, dt.np))

    def is_const(self, v: Value | None) -> bool:
        return v is not None and v in self.consts

    def const_scalar(self, v: Value | None, what: str = "input"):
        """The one element of v, which must be known at compile time and hold exactly one."""
        a = self.const(v, what)
        if a.size != 1:
            raise self.error(f"{what} must hold one value, it holds {a.size}")
        return a.reshape(-1)[0]

    def const(self, v: Value | None, what: str = "input") -> np.ndarray:
        """The value of v, which must be known at compile time."""
        if v is None:
            raise self.error(f"{what} is missing")
        if v not in self.consts:
            source = self._feeding_input(v)
            if source is not None:
                via = "" if source is v else " through the ops that compute it"
                raise NeedsConstant(
                    f"{what} must be known at compile time, but graph input {source.name!r} decides it at run time{via}: "
                    f"fix its value with --bind {source.name}=FILE.npy", value_name=source.name, node=self.node_name,
                    op=self.op_type)
            raise self.error(f"{what} must be known at compile time (it depends on the model's inputs)")
        c = self.consts[v]
        return c.materialize(v.type) if isinstance(c, Splat) else c

    def subgraph(self, g: onnx.GraphProto, bindings: dict[str, Value]) -> list[Value]:
        """Import a subgraph (an If branch, a Loop or Scan body) inline: its formal inputs
        bound to `bindings`, outer names visible; returns its outputs."""
        saved = (self.env, self.node_name, self.op_type, self.n_outputs)
        env = dict(self.env)
        env.update(bindings)
        for t in g.initializer:
            env[t.name] = self.constant(tensor_array(t))
        self.env = env
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        try:
            for node in g.node:
                _convert(self, node, env, used, {})
            missing = [o.name for o in g.output if o.name not in env]
            if missing:
                raise self.error(f"subgraph output {missing[0]!r} is never produced")
            return [env[o.name] for o in g.output]
        finally:
            self.env, self.node_name, self.op_type, self.n_outputs = saved

    def _feeding_input(self, v: Value) -> Value | None:
        """The graph input v depends on (integer inputs first: shapes come from those)."""
        producer = {o: n for n in self.nodes for o in n.outputs}
        seen, stack, found = set(), [v], []
        while stack:
            u = stack.pop()
            if u in seen or u is None:
                continue
            seen.add(u)
            if u in self.graph_inputs:
                found.append(u)
            elif u in producer:
                stack.extend(producer[u].inputs)
        found.sort(key=lambda u: (not u.dtype.is_int, u.uid))
        return found[0] if found else None

    def ints(self, v: Value | None, what: str = "input") -> list[int]:
        return [int(x) for x in self.const(v, what).reshape(-1)]

    # -- emitting ops ----------------------------------------------------------
    def emit(self, op: str, *inputs: Value | None, **attrs) -> Value:
        outs = self.emit_multi(op, *inputs, **attrs)
        if len(outs) != 1:
            raise AssertionError(f"{op} has {len(outs)} outputs")
        return outs[0]

    def emit_multi(self, op: str, *inputs: Value | None, **attrs) -> list[Value]:
        opdef = ops.get(op)
        try:
            types = opdef.infer_types([None if v is None else v.type for v in inputs], attrs)
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as e:
            raise self.error(str(e)) from None
        for t in types:
            if any(d < 0 for d in t.shape):
                raise self.error(f"negative dimension in result shape {list(t.shape)}")
            try:
                check_size(t, "result")
            except AuroraError as e:
                raise self.error(str(e)) from None
        folded = self._fold(opdef, inputs, attrs, types)
        if folded is not None:
            return folded
        outs = tuple(Value(t) for t in types)
        self.nodes.append(Node(op, tuple(inputs), outs, attrs, self.node_name))
        return list(outs)

    def _fold(self, opdef, inputs, attrs, types) -> list[Value] | None:
        present = [v for v in inputs if v is not None]
        if not present or not all(v in self.consts for v in present):
            return None
        try:
            results = fold(opdef.name, [None if v is None else self.consts[v] for v in inputs],
                           [None if v is None else v.type for v in inputs], attrs, types)
        except Exception as e:  # noqa: BLE001 - a fold that fails is the model's error
            raise self.error(f"cannot evaluate at compile time: {e}") from None
        if results is None:
            return None
        out = []
        for r, t in zip(results, types):
            if isinstance(r, np.ndarray) and t.dtype.is_encoded:
                r = typed(t.dtype, r)  # bits: typed by the view
            out.append(self.constant(r, t))
        return out


def tensor_array(t: onnx.TensorProto) -> np.ndarray:
    """An ONNX tensor as numpy; bfloat16 and the narrow types as ml_dtypes arrays (one element per byte,
    unpacked); bfloat16 read from its bits whichever field holds them."""
    if t.data_type == onnx.TensorProto.BFLOAT16:
        if t.raw_data:
            bits = np.frombuffer(t.raw_data, dtype="<u2").astype(np.uint16)
        else:
            bits = np.array(t.int32_data, dtype=np.uint16)
        return typed(DType.BFLOAT16, bits.reshape(tuple(t.dims)))
    return numpy_helper.to_array(t)


def attribute_values(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, onnx.TensorProto):
            v = tensor_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        out[a.name] = v
    return out


MAX_TENSOR_BYTES = 1 << 40  # no tensor of a model we compile may need more (1 TiB): beyond, sizes are hostile


def check_size(t: TensorType, what: str) -> None:
    """Refuse a tensor type no memory could hold (and whose sizes would overflow C's index arithmetic)."""
    n = 1
    for d in t.shape:
        n *= d
    if n * t.dtype.itemsize > MAX_TENSOR_BYTES:
        raise AuroraError(f"{what} of shape {list(t.shape)} would need {n * t.dtype.itemsize:.3g} bytes "
                          f"(more than the {MAX_TENSOR_BYTES >> 40} TiB any tensor may have)")


def value_type(vi: onnx.ValueInfoProto) -> TensorType:
    tt = vi.type.tensor_type
    try:
        dt = DType.from_onnx(tt.elem_type)
    except ValueError as e:
        raise AuroraError(f"input {vi.name!r}: {e}") from None
    shape = tuple(d.dim_value for d in tt.shape.dim)
    if any(d < 0 for d in shape):
        raise AuroraError(f"input {vi.name!r}: negative dimension in shape {list(shape)}")
    t = TensorType(dt, shape)
    check_size(t, f"input {vi.name!r}")
    return t


def _type_str(v: Value) -> str:
    return f"tensor({onnx.TensorProto.DataType.Name(v.dtype.value).lower()})"


def check_inputs(node: onnx.NodeProto, ins: list[Value | None], schema) -> None:
    """The node's inputs against the operator's schema (their number and presence check_operator saw): each
    of a type the operator takes, and those sharing a type parameter of one type."""
    if schema is None or not schema.inputs:
        return
    where = dict(node=node.name, op=node.op_type)
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    bound: dict[str, str] = {}
    for k, v in enumerate(ins):
        if v is None:
            continue
        formal = formal_input(schema, k)
        ok = allowed.get(formal.type_str, {formal.type_str})
        t = _type_str(v)
        if any(a.startswith("tensor(") for a in ok) and t not in ok:
            raise AuroraError(f"input {k} ({formal.name}) is {t}; the operator takes "
                              f"{', '.join(sorted(a for a in ok if a.startswith('tensor(')))}", **where)
        if formal.type_str in allowed and formal.is_homogeneous:
            first = bound.setdefault(formal.type_str, t)
            if first != t:
                raise AuroraError(f"input {k} ({formal.name}) is {t} but an earlier input of the same type "
                                  f"parameter {formal.type_str} is {first}", **where)


def import_model(model: onnx.ModelProto) -> Graph:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        if any(n.domain in ("", "ai.onnx") for n in model.graph.node) or not model.graph.node:
            raise AuroraError("the model imports no version of the default ONNX domain")
        opset = 1  # only ops of other domains: none of their converters reads the default domain's opset
    g = model.graph
    ctx = Context(opset)
    env: dict[str, Value] = ctx.env
    inputs = []
    for vi in graph_inputs(model):
        v = Value(value_type(vi), vi.name)
        env[vi.name] = v
        inputs.append(v)
    ctx.graph_inputs = set(inputs)
    for t in g.initializer:
        try:
            DType.from_onnx(t.data_type)
            arr = tensor_array(t)
        except ValueError as e:
            raise AuroraError(f"initializer {t.name!r}: {e}") from None
        except Exception as e:  # noqa: BLE001
            raise AuroraError(f"initializer {t.name!r} cannot be read: {e}") from None
        env[t.name] = ctx.constant(arr, built=False)
        _set_name(env[t.name], t.name)
    inferred = {vi.name: vi for vi in list(g.value_info) + list(g.output)}
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    for node in ordered_nodes(g.node, set(env)):
        _convert(ctx, node, env, used, inferred)
    outputs = []
    for o in g.output:
        if o.name not in env:
            raise AuroraError(f"graph output {o.name!r} is not produced by any node")
        v = env[o.name]
        if v in ctx.consts or v in inputs or v in outputs or v.name != o.name:
            ctx.node_name, ctx.op_type = o.name, "output"
            v2 = Value(v.type, o.name)
            ctx.nodes.append(Node("identity", (v,), (v2,), {}, o.name))
            v = v2
        outputs.append(v)
    return Graph(inputs, outputs, ctx.nodes, "main")


def _convert(ctx: Context, node: onnx.NodeProto, env, used, inferred) -> None:
    ctx.node_name, ctx.op_type, ctx.n_outputs = node.name, node.op_type, len(node.output)
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in DOMAINS:
        raise ctx.error(f"domain {node.domain!r} is not supported")
    fn = CONVERTERS.get((domain, node.op_type))
    if fn is None:
        raise ctx.error("unsupported operator")
    schema = check_operator(node, ctx.opset)
    ins = []
    for name in node.input:
        if name == "":
            ins.append(None)
        elif name not in env:
            raise ctx.error(f"input {name!r} is not defined before this node")
        else:
            ins.append(env[name])
    check_inputs(node, ins, schema)
    attrs = attribute_values(node)
    params = inspect.signature(fn).parameters.values()
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    named = {p.name: p for p in params if p.kind is p.KEYWORD_ONLY}  # attributes; the others are inputs
    unknown = [] if takes_any else [a for a in attrs if a not in named]
    if unknown:
        raise ctx.error(f"unsupported attribute {unknown[0]!r}")
    missing = [k for k, p in named.items() if p.default is p.empty and k not in attrs]
    if missing:
        raise ctx.error(f"required attribute {missing[0]!r} is missing")
    try:
        result = fn(ctx, *ins, **attrs)
    except TypeError as e:
        if "positional argument" in str(e):
            raise ctx.error(f"wrong number of inputs ({len(ins)})") from None
        raise
    except ValueError as e:  # numpy on shapes or values the model gives (e.g. a rank beyond numpy's 64)
        raise ctx.error(str(e).splitlines()[0] if str(e) else "invalid value") from None
    except MemoryError:
        raise ctx.error("ran out of memory building its compile-time values") from None
    except (IndexError, ArithmeticError):  # a converter reading an axis its input does not have (or of size 0)
        shapes = ", ".join("none" if v is None else str(list(v.shape)) for v in ins)
        raise ctx.error(f"the operator cannot take inputs of these shapes: {shapes}") from None
    outs = list(result) if isinstance(result, (list, tuple)) else [result]
    for k, name in enumerate(node.output):
        if name == "":
            continue
        if k >= len(outs) or outs[k] is None:
            if name in used:
                raise ctx.error(f"output {k} ({name!r}) is not supported")
            continue
        v = outs[k]
        if not v.name:
            _set_name(v, name)
        env[name] = v
        _check_inferred(ctx, v, inferred.get(name))


def _check_inferred(ctx: Context, v: Value, vi) -> None:
    """Cross-check our shape against onnx.shape_inference where it found a static one."""
    if vi is None or not vi.type.HasField("tensor_type"):
        return
    tt = vi.type.tensor_type
    if not tt.HasField("shape") or not all(d.HasField("dim_value") for d in tt.shape.dim):
        return
    theirs = tuple(d.dim_value for d in tt.shape.dim)
    if theirs != v.shape:
        raise ctx.error(f"result shape {list(v.shape)} differs from the model's declared or inferred shape {list(theirs)}")
