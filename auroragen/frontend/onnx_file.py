"""Load an ONNX model safely and fix every input shape.

- External data is resolved only inside the model's folder: absolute paths,
  paths that climb out, and symlinks that lead out are refused.
- Symbolic dimensions are fixed from `--dim NAME=VALUE` and
  `--input-shape NAME=D0xD1x...`; one left unfixed is an error naming it.
- onnx.shape_inference then runs on the fixed model; its static shapes are
  cross-checked against the IR's own shape rules during import.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper, numpy_helper

from ..errors import AuroraError


def load_model(src, *, dims: dict[str, int] | None = None, input_shapes: dict[str, list[int]] | None = None,
               bind: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    model = _read(src) if not isinstance(src, onnx.ModelProto) else _copy(src)
    if not model.HasField("graph"):
        raise AuroraError("the model has no graph (not an ONNX model?)")
    bind_inputs(model, bind or {})
    fix_input_shapes(model, dims or {}, input_shapes or {})
    check_nodes(model)
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=_small_ints(model))
    except Exception:  # noqa: BLE001 - inference is a cross-check; import reports the real problem
        pass
    return model


MAX_RANK = 64  # numpy's, and more axes than any model has
AXIS_ATTRIBUTES = {"axis", "axes", "batch_dims", "perm"}


def check_nodes(model: onnx.ModelProto) -> None:
    """Before onnx's shape inference sees the model (it crashes the process or loops on some out-of-range
    axes and missing inputs): the opsets it imports are ones onnx knows; every node's operator exists in
    them, with attributes and numbers of inputs and outputs its schema allows; axis attributes within any
    rank."""
    versions = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    for domain, v in versions.items():
        newest = _newest_opsets().get(domain)
        if newest is not None and not 1 <= v <= newest:
            raise AuroraError(f"the model imports opset {v} of domain {domain or 'ai.onnx'!r}; "
                              f"this onnx package knows 1 to {newest}")
    opset = versions.get("")

    def walk(g: onnx.GraphProto, outer: frozenset = frozenset()) -> None:
        known = outer | {v.name for v in g.input} | {t.name for t in g.initializer} | \
            {t.values.name for t in g.sparse_initializer} | {o for n in g.node for o in n.output}
        for x in [*(v.name for v in (*g.input, *g.output, *g.value_info, *g.initializer)),
                  *(v.values.name for v in g.sparse_initializer)]:
            _check_text(x, "a tensor name")
        for node in g.node:
            for x in (node.name, node.op_type, node.domain, *node.input, *node.output):
                _check_text(x, f"a name in node {node.name!r}")
            if node.domain in ("", "ai.onnx") and opset is None:
                raise AuroraError("the model imports no version of the default ONNX domain")
            check_operator(node, opset)
            if node.op_type == "Split":  # onnx's inference asserts on this (and aborts the process)
                k = next((a.i for a in node.attribute if a.name == "num_outputs"), None)
                if k is not None and k != len(node.output):
                    raise AuroraError(f"num_outputs is {k} but the node has {len(node.output)} outputs", node=node.name,
                                      op=node.op_type)
            undefined = [x for x in node.input if x and x not in known]
            if undefined:
                raise AuroraError(f"input {undefined[0]!r} is not defined in the graph", node=node.name, op=node.op_type)
            for a in node.attribute:
                if a.name in AXIS_ATTRIBUTES:
                    bad = [v for v in ([a.i] if a.type == onnx.AttributeProto.INT else a.ints) if abs(v) > MAX_RANK]
                    if bad:
                        raise AuroraError(f"attribute {a.name!r} is {bad[0]}: no tensor has that many axes",
                                          node=node.name, op=node.op_type)
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g, known)
                for sub in a.graphs:
                    walk(sub, known)
        # in order before onnx's inference sees it: it reads types of values no node has made yet, and
        # crashes the process on some (a node reading its own output)
        own = {v.name for v in g.input} | {t.name for t in g.initializer} | {t.values.name for t in g.sparse_initializer}
        order = ordered_nodes(g.node, own)
        if any(a is not b for a, b in zip(order, g.node)):
            copies = [onnx.NodeProto() for _ in order]
            for c, n in zip(copies, order):
                c.CopyFrom(n)
            del g.node[:]
            g.node.extend(copies)

    walk(model.graph)


def ordered_nodes(nodes, defined: set[str]) -> list:
    """The nodes in an order where each comes after the producers of its inputs: as written when the
    model is sorted (ONNX asks for it), else sorted. Refuses a name produced twice, a node writing a
    graph input or initializer, and cycles."""
    producer: dict[str, Any] = {}
    for node in nodes:
        for name in node.output:
            if not name:
                continue
            if name in defined:
                raise AuroraError(f"output {name!r} is a graph input or initializer", node=node.name, op=node.op_type)
            if name in producer:
                first = producer[name]
                raise AuroraError(f"output {name!r} is already produced by node {first.name!r} ({first.op_type})",
                                  node=node.name, op=node.op_type)
            producer[name] = node
    known = set(defined)
    if all(_ready(n, known) for n in nodes):
        return list(nodes)
    order, known, pending = [], set(defined), list(nodes)
    while pending:
        ready = [n for n in pending if all(i == "" or i in known or i not in producer for i in n.input)]
        if not ready:
            n = pending[0]
            waiting = next(i for i in n.input if i and i not in known and i in producer)
            raise AuroraError(f"the graph has a cycle: input {waiting!r} depends on this node's own results",
                              node=n.name, op=n.op_type)
        for n in ready:
            order.append(n)
            known.update(o for o in n.output if o)
        pending = [n for n in pending if n not in ready]
    return order


def _ready(node, known: set[str]) -> bool:
    ok = all(i == "" or i in known for i in node.input)
    known.update(o for o in node.output if o)
    return ok


def _check_text(x, what: str) -> None:
    if not isinstance(x, str):  # protobuf hands over a string field that is not UTF-8 as bytes
        raise AuroraError(f"{what} is not valid UTF-8: {x!r}")


@functools.lru_cache(maxsize=1)
def _newest_opsets() -> dict[str, int]:
    out: dict[str, int] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        out[s.domain] = max(out.get(s.domain, 0), s.since_version)
    out[""] = max(out.get("", 0), onnx.defs.onnx_opset_version())
    return out


@functools.cache
def _schema(op_type: str, version: int, domain: str):
    try:
        return onnx.defs.get_schema(op_type, version, domain)
    except Exception:  # noqa: BLE001  (unknown to onnx: the converter decides)
        return None


def check_operator(node: onnx.NodeProto, opset: int | None):
    """A node against its operator's schema in the model's opset (default domain) or the newest one (other
    domains onnx knows): the operator exists there, its attributes and its numbers of inputs and outputs.
    Returns the schema (None: onnx does not know the operator; the converters judge it)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain == "" and opset is not None and not onnx.defs.has(node.op_type, opset):
        since = min((s.since_version for s in onnx.defs.get_all_schemas_with_history()
                     if s.name == node.op_type and s.domain == ""), default=None)
        if since is not None:
            raise AuroraError(f"not an operator of opset {opset} (it arrived in opset {since})", node=node.name,
                              op=node.op_type)
        return None  # not an onnx operator at all: "unsupported operator" from the importer
    version = (opset or 1) if domain == "" else 1000
    schema = _schema(node.op_type, version, node.domain)
    if schema is not None:
        check_attribute_types(node, schema, version)
        check_arity(node, schema)
    return schema


def check_attribute_types(node: onnx.NodeProto, schema, opset: int) -> None:
    """Each attribute is one the operator's schema names, with the type it gives, and none it requires is
    missing."""
    given = set()
    for a in node.attribute:
        spec = schema.attributes.get(a.name)
        if spec is None:
            raise AuroraError(f"the operator has no attribute {a.name!r} (opset {opset})", node=node.name, op=node.op_type)
        if a.name in given:
            raise AuroraError(f"attribute {a.name!r} is given twice", node=node.name, op=node.op_type)
        given.add(a.name)
        if a.type != spec.type:
            want = onnx.AttributeProto.AttributeType.Name(spec.type)
            got = onnx.AttributeProto.AttributeType.Name(a.type)
            raise AuroraError(f"attribute {a.name!r} is {got}, the operator takes {want}", node=node.name, op=node.op_type)
    for name, spec in schema.attributes.items():
        if spec.required and name not in given:
            raise AuroraError(f"required attribute {name!r} is missing", node=node.name, op=node.op_type)


def formal_input(schema, k: int):
    """The schema's formal parameter for input k (the last one repeats when variadic)."""
    return schema.inputs[min(k, len(schema.inputs) - 1)]


def check_arity(node: onnx.NodeProto, schema) -> None:
    """As many inputs and outputs as the operator's schema allows, none of the required inputs empty."""
    for what, n, lo, hi in (("inputs", len(node.input), schema.min_input, schema.max_input),
                            ("outputs", len(node.output), schema.min_output, schema.max_output)):
        if not lo <= n <= hi:
            most = "" if hi == lo else (" or more" if hi > 1000 else f" to {hi}")
            raise AuroraError(f"takes {lo}{most} {what}, it has {n}", node=node.name, op=node.op_type)
    Optional = onnx.defs.OpSchema.FormalParameterOption.Optional
    for k, x in enumerate(node.input):
        if not x and schema.inputs and formal_input(schema, k).option != Optional:
            raise AuroraError(f"input {k} ({formal_input(schema, k).name}) is required but empty", node=node.name,
                              op=node.op_type)


DATA_PROP_MAX = 1 << 16  # onnx's data propagation spends time and memory per element of an integer input


def _small_ints(model: onnx.ModelProto) -> bool:
    """Whether every integer graph input is small enough for onnx's shape-data propagation."""
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        if tt.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and \
                any(d.dim_value > DATA_PROP_MAX for d in tt.shape.dim):
            return False
    return True


def _copy(m: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(m)
    return out


def _read(src) -> onnx.ModelProto:
    path = Path(src)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AuroraError(f"cannot read model {str(path)!r}: {e.strerror or e}") from None
    if not data:
        raise AuroraError(f"model file {str(path)!r} is empty")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise AuroraError(f"{str(path)!r} is not a valid ONNX protobuf: {str(e).splitlines()[0] if str(e) else 'decode error'}") from None
    if not model.HasField("graph"):
        raise AuroraError(f"{str(path)!r} is not an ONNX model: it has no graph")
    load_external_data(model, path.parent)
    return model


def load_external_data(model: onnx.ModelProto, base: Path) -> None:
    """Read external tensor data, refusing any location outside `base`."""
    root = base.resolve()
    for t in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(t):
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or loc.startswith(("/", "\\")) or ":" in loc or "\0" in loc:
            raise AuroraError(f"tensor {t.name!r}: external data path {loc!r} must be relative to the model's folder")
        target = (root / loc).resolve()
        if root != target and root not in target.parents:
            raise AuroraError(f"tensor {t.name!r}: external data path {loc!r} leaves the model's folder")
        try:
            offset = int(info.get("offset", 0))
            n = int(info["length"]) if "length" in info else -1
        except ValueError:
            raise AuroraError(f"tensor {t.name!r}: external data offset or length is not a number") from None
        if offset < 0 or n < -1:
            raise AuroraError(f"tensor {t.name!r}: external data offset {offset} or length {n} is negative")
        try:
            with open(target, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if offset + max(n, 0) > size:
                    raise AuroraError(f"tensor {t.name!r}: external data {loc!r} ({size} bytes) is shorter than offset "
                                      f"{offset} and length {max(n, 0)}")
                f.seek(offset)
                raw = f.read(n)
        except OSError as e:
            raise AuroraError(f"tensor {t.name!r}: cannot read external data {loc!r}: {e.strerror or e}") from None
        t.raw_data = raw
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT


def bind_inputs(model: onnx.ModelProto, bind: dict[str, np.ndarray]) -> None:
    """Turn graph inputs into initializers with the given values (compile-time specialisation)."""
    by_name = {i.name: i for i in graph_inputs(model)}
    for name, value in bind.items():
        if name not in by_name:
            raise AuroraError(f"--bind {name}: the model has no input named {name!r}")
        tt = by_name[name].type.tensor_type
        value = np.asarray(value)
        want = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else value.dtype
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if len(dims) != value.ndim or any(d is not None and d != n for d, n in zip(dims, value.shape)):
                raise AuroraError(f"--bind {name}: value of shape {list(value.shape)} does not fit the input's {dims}")
        if tt.elem_type == onnx.TensorProto.BFLOAT16 and value.dtype == np.uint16:  # bfloat16 given as its bits
            t = onnx.helper.make_tensor(name, onnx.TensorProto.BFLOAT16, value.shape, value.tobytes(), raw=True)
        else:
            t = numpy_helper.from_array(value.astype(want), name)
        model.graph.initializer.append(t)
        model.graph.input.remove(by_name[name])


def graph_inputs(model: onnx.ModelProto):
    """Graph inputs that are not initializers: the model's real inputs (ABI order)."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def fix_input_shapes(model: onnx.ModelProto, dims: dict[str, int], input_shapes: dict[str, list[int]]) -> None:
    inputs = graph_inputs(model)
    names = {i.name for i in inputs}
    for name in input_shapes:
        if name not in names:
            raise AuroraError(f"--input-shape {name}: the model has no input named {name!r} (inputs: {', '.join(sorted(names))})")
    everywhere = {d.dim_param for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
                  for d in vi.type.tensor_type.shape.dim if d.HasField("dim_param")}
    for name in sorted(set(dims) - everywhere):  # a typo, not a dimension of this model
        raise AuroraError(f"--dim {name}: no dimension of the model is named {name!r}")
    for inp in inputs:
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            raise AuroraError(f"input {inp.name!r} is not a tensor (sequences, maps and optionals are not supported)")
        if not tt.HasField("shape"):
            if inp.name not in input_shapes:
                raise AuroraError(f"input {inp.name!r} has no shape: give one with --input-shape {inp.name}=D0xD1x...")
        if inp.name in input_shapes:
            want = input_shapes[inp.name]
            if tt.HasField("shape") and len(tt.shape.dim) != len(want):
                raise AuroraError(f"--input-shape {inp.name}: rank {len(want)} given, the model says rank {len(tt.shape.dim)}")
            for k, d in enumerate(want):
                if tt.HasField("shape") and tt.shape.dim[k].HasField("dim_value") and tt.shape.dim[k].dim_value != d:
                    raise AuroraError(f"--input-shape {inp.name}: dimension {k} is {tt.shape.dim[k].dim_value} in the model, not {d}")
            tt.shape.Clear()
            for d in want:
                tt.shape.dim.add().dim_value = d
            continue
        for k, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                if d.dim_value < 0:
                    raise AuroraError(f"input {inp.name!r} dimension {k} is negative ({d.dim_value})")
                continue
            if d.HasField("dim_param") and d.dim_param in dims:
                d.dim_value = dims[d.dim_param]
                continue
            if d.HasField("dim_param"):
                raise AuroraError(
                    f"input {inp.name!r} dimension {k} is symbolic ({d.dim_param!r}): fix it with --dim {d.dim_param}=N "
                    f"or --input-shape {inp.name}=D0xD1x..."
                )
            raise AuroraError(f"input {inp.name!r} dimension {k} is unknown: fix it with --input-shape {inp.name}=D0xD1x...")
    for vi in list(model.graph.output) + list(model.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in dims:
                d.dim_value = dims[d.dim_param]
