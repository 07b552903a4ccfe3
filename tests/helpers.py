"""Shared test helpers: build small ONNX models, compile them through the ABI, compare."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import auroragen

# Warnings are errors in every test build of generated code.
STRICT = ("CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror",)
NP2ONNX = {np.dtype(k): v for k, v in {
    np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16, np.int64: TensorProto.INT64,
    np.int32: TensorProto.INT32, np.bool_: TensorProto.BOOL, np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8,
}.items()}


def ir_version_for(opset: int) -> int:
    """The IR version that goes with an opset (onnxruntime loads IR <= 10 here)."""
    return 8 if opset <= 17 else 9 if opset <= 20 else 10


def make_model(nodes, inputs: dict[str, np.ndarray], outputs: list[str], inits: dict[str, np.ndarray] | None = None,
               opset: int = 17, output_types: dict[str, int] | None = None) -> onnx.ModelProto:
    """A model over `nodes` whose graph inputs have the example arrays' types and shapes."""
    ins = [helper.make_tensor_value_info(k, NP2ONNX[v.dtype], v.shape) for k, v in inputs.items()]
    outs = [helper.make_tensor_value_info(o, (output_types or {}).get(o, TensorProto.UNDEFINED), None) for o in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "test", ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version_for(opset)
    return typed_outputs(m)


def typed_outputs(m: onnx.ModelProto) -> onnx.ModelProto:
    """Fill in output element types from shape inference (onnxruntime wants them)."""
    inferred = onnx.shape_inference.infer_shapes(m)
    known = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for o in m.graph.output:
        if o.type.tensor_type.elem_type == TensorProto.UNDEFINED and o.name in known:
            o.type.tensor_type.elem_type = known[o.name].type.tensor_type.elem_type
    return m


def reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]


def ort_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


SANITIZE = os.environ.get("AURORA_SANITIZE") == "1"  # make test-sanitize: run through the sanitized runner


def compile_and_run(model, feeds: dict[str, np.ndarray], out_dir: Path, target: str = "generic", **kw) -> list[np.ndarray]:
    """Compile for a host target and run through the ABI (with AURORA_SANITIZE=1: through OUT's runner built
    with AddressSanitizer and UndefinedBehaviorSanitizer, see tools/cross.py)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    res = auroragen.compile(model, target=target, out_dir=out_dir, **kw)
    if SANITIZE:
        import cross

        cross.write_io(out_dir, res)
        prefix = kw.get("name", "model")
        m = cross.CrossModel(out_dir, f"{target}+asan", prefix, cflags=STRICT[0].split("=", 1)[1])
        return m(*(feeds[v.name] for v in res.graph.inputs))
    m = auroragen.load(out_dir, make_args=STRICT)
    return m(**feeds)


def assert_close(got: list[np.ndarray], want: list[np.ndarray], rtol=1e-4, atol=1e-5):
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"output {k}: shape {g.shape} != {w.shape}"
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w.astype(g.dtype), rtol=rtol, atol=atol, err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(g, w.astype(g.dtype), err_msg=f"output {k}")


def expose(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of model with extra graph outputs (for comparing intermediate tensors)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for n in names:
        m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None))
    return typed_outputs(m)


def host_targets() -> list[str]:
    """The x86 targets whose code this CPU runs: generic, and avx2 / avx512 when /proc/cpuinfo lists them."""
    from auroragen.schedule.target import TARGETS, runs_on_host

    return [t for t in ("generic", "avx2", "avx512") if runs_on_host(TARGETS[t])]


def f32(rng: np.random.Generator, *shape, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Random float32 data: standard normal, or uniform in [lo, hi)."""
    x = rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)
    return x.astype(np.float32)


def dense_model(rows, k, n, op, residual):
    """x [*rows, k] @ W [k, n] + b (MatMul and Add, or Gemm with alpha 0.5 and W transposed), + a residual
    input, relu: what lowers to dense."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(rows + (k,)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    if op == "gemm":
        nodes = [helper.make_node("Gemm", ["x", "wt", "b"], ["m"], alpha=0.5, transB=1)]
        inits = {"wt": np.ascontiguousarray(w.T), "b": b}
    else:
        nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["m"])]
        inits = {"w": w, "b": b}
    feeds = {"x": x}
    last = "m"
    if residual:
        feeds["r"] = rng.standard_normal(rows + (n,)).astype(np.float32)
        nodes.append(helper.make_node("Add", ["m", "r"], ["s"]))
        last = "s"
    nodes.append(helper.make_node("Relu", [last], ["y"]))
    return make_model(nodes, feeds, ["y"], inits), feeds


def attention_model(sq, sk, d, dv, mask):
    """Scaled dot-product attention as exporters write it (fused by pattern-attention), heads 2 x 4."""
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]), helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("Mul", ["s", "c"], ["ss"])]
    feeds = {"q": rng.standard_normal((2, 4, sq, d)).astype(np.float32), "k": rng.standard_normal((2, 4, sk, d)).astype(np.float32),
             "v": rng.standard_normal((2, 4, sk, dv)).astype(np.float32)}
    last = "ss"
    if mask:
        nodes.append(helper.make_node("Add", ["ss", "mask"], ["sm"]))
        feeds["mask"] = np.where(rng.random(mask) < 0.2, -1e4, rng.standard_normal(mask)).astype(np.float32)
        last = "sm"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["y"])]
    return make_model(nodes, feeds, ["y"], {"c": np.array(d ** -0.5, np.float32)}, opset=13), feeds
