"""The IR: printer/parser round trip, verifier, interpreter against onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_model, reference
from onnx import helper

import auroragen
from auroragen.ir import DType, Graph, Node, Splat, TensorType, Value, parse, print_graph, verify
from auroragen.ir.verifier import VerifyError
from auroragen.passes import run_pipeline


def _graph() -> Graph:
    x = Value(TensorType(DType.FLOAT, (2, 6)), "x")
    w = Value(TensorType(DType.FLOAT, (6,)))
    big = Value(TensorType(DType.FLOAT, (2, 6)))
    a = Value(TensorType(DType.FLOAT, (2, 6)))
    s1, s2 = Value(TensorType(DType.FLOAT, (2, 2))), Value(TensorType(DType.FLOAT, (2, 4)), "second \"quoted\" */ name")
    m = Value(TensorType(DType.FLOAT, (2, 2)))
    nodes = [
        Node("constant", (), (w,), {"value": np.array([1.5, -0.0, np.inf, -np.inf, np.nan, 3e-38], np.float32)}),
        Node("constant", (), (big,), {"value": Splat(0.25)}),
        Node("add", (x, w), (a,), {}, "add \u00e9 node"),
        Node("split", (a,), (s1, s2), {"axis": 1, "split": (2, 4)}),
        Node("clip", (s1,), (m,), {"min": -1.0, "max": float("inf")}),
    ]
    return Graph([x], [m, s2], nodes)


def test_print_parse_print_round_trip():
    text = print_graph(_graph(), full=True)
    g2 = parse(text)
    verify(g2)
    assert print_graph(g2, full=True) == text
    assert "aurora.add" in text and "aurora.split" in text and "splat<0.25>" in text


def test_printed_form_reads_like_mlir():
    text = print_graph(_graph())
    assert text.startswith("aurora.graph @main(%0: tensor<2x6xf32> loc(\"x\"))")
    assert "%3 = aurora.add(%0, %1) : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32>" in text
    assert "%4, %5 = aurora.split(%3) {axis = 1, split = [2, 4]}" in text


def test_round_trip_of_a_real_model(tiny_cnn):
    g = run_pipeline(auroragen.import_onnx(tiny_cnn))
    text = print_graph(g, full=True)
    assert print_graph(parse(text), full=True) == text
    assert "aurora.conv" in text and "aurora.gemm" in text and "aurora.softmax" in text


def test_verifier_rejects_use_before_definition():
    g = _graph()
    g.nodes = g.nodes[2:] + g.nodes[:2]
    with pytest.raises(VerifyError, match="before it is defined"):
        verify(g)


def test_verifier_rejects_wrong_types():
    g = _graph()
    n = g.nodes[2]
    bad = Value(TensorType(DType.FLOAT, (3, 6)))
    g.nodes[2] = Node(n.op, n.inputs, (bad,), n.attrs, n.name)
    with pytest.raises(VerifyError):
        verify(g)


def test_verifier_rejects_unknown_op():
    x = Value(TensorType(DType.FLOAT, (2,)))
    y = Value(TensorType(DType.FLOAT, (2,)))
    with pytest.raises(VerifyError, match="unknown op"):
        verify(Graph([x], [y], [Node("frobnicate", (x,), (y,))]))


def test_interpreter_matches_onnx_reference():
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["h2"]),
        helper.make_node("Tanh", ["h2"], ["t"]),
        helper.make_node("ReduceMean", ["t"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["t", "m"], ["y"]),
    ]
    feeds = {"x": rng.standard_normal((4, 5)).astype(np.float32)}
    inits = {"w": rng.standard_normal((5, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32)}
    model = make_model(nodes, feeds, ["y"], inits, opset=13)
    got = auroragen.interpret(auroragen.import_onnx(model), feeds)
    np.testing.assert_allclose(got[0], reference(model, feeds)[0], rtol=1e-5, atol=1e-6)


def test_every_op_has_a_kernel():
    """One registration per op in the IR, one plan builder per op in the emitter (ops holding
    regions are C control flow around their regions' kernels instead)."""
    from auroragen.emit.kernels import BUILDERS, get_builder
    from auroragen.ir.ops import OPS

    get_builder("add")  # loads every builder module
    missing = sorted({op for op, d in OPS.items() if not d.control} - set(BUILDERS))
    assert all(op not in BUILDERS for op, d in OPS.items() if d.control)
    assert missing == [], f"IR ops without a kernel: {missing}"


def test_op_facts_agree_with_the_kernels():
    """An op registered `elementwise` (scheduled to write over an input that dies) is one the elementwise
    kernels compute element by element, and the other way round; a `bitwise` op (it keeps bfloat16 and the
    narrow types as their bits) computes nothing: it is no arithmetic expression of the elementwise kernel."""
    from auroragen.emit.kernels import BUILDERS, get_builder
    from auroragen.emit.kernels.elementwise import ELEMENTWISE_OPS, FLOAT_EXPR, INT_EXPR
    from auroragen.ir.ops import OPS

    get_builder("add")
    elementwise = {op for op, d in OPS.items() if d.elementwise}
    assert elementwise == {*ELEMENTWISE_OPS, "fused_elementwise"}
    assert all(BUILDERS[op] is BUILDERS["add"] for op in ELEMENTWISE_OPS)
    bitwise = {op for op, d in OPS.items() if d.bitwise}
    assert not bitwise & (set(FLOAT_EXPR) | set(INT_EXPR)), "a bitwise op with arithmetic"
    assert {"reshape", "transpose", "concat", "cast", "if"} <= bitwise


def test_the_lowering_table_holds_each_kernel_in_three_places():
    """Every row of the kernel-selection table names an op and a registered kernel with a plan builder, whose
    tuned tiles are choices a tuning file may hold and attributes of the kernel. A kernel the lowering creates
    is named (as a string) only by the lowering rules (its own, or one emitting it beside another: rnn emits a
    dense) and its plan's module: no side list elsewhere in the package must learn of it."""
    import re
    from pathlib import Path

    from auroragen.emit.kernels import BUILDERS, get_builder
    from auroragen.ir.ops import OPS
    from auroragen.schedule.lowering import LOWERINGS
    from auroragen.tune import CHOICES

    get_builder("add")
    pkg = Path(__file__).resolve().parent.parent / "auroragen"
    assert {(r.op, r.kernel) for r in LOWERINGS} >= {("conv", "conv_direct"), ("conv", "conv_gemm"), ("matmul", "dense")}
    rules = {p.relative_to(pkg).as_posix() for p in (pkg / "schedule" / "lowering").glob("*.py")}
    # the IR's text names its constants' syntax dense<...>, a word that is not the kernel's
    sources = {p: p.read_text() for p in pkg.rglob("*.py") if p.parent.name != "ir" or p.stem not in ("parser", "printer")}
    for row in LOWERINGS:
        assert row.op in OPS and row.kernel in OPS and row.kernel in BUILDERS, row
        assert set(row.tunes) <= set(CHOICES), row
        assert set(row.tunes) <= set(OPS[row.kernel].infer.__code__.co_varnames), row  # attributes of the kernel
        if row.kernel == row.op:
            continue
        named = {p.relative_to(pkg).as_posix() for p, text in sources.items() if re.search(f"[\"']{row.kernel}[\"']", text)}
        plan = Path(BUILDERS[row.kernel].__code__.co_filename).relative_to(pkg).as_posix()
        assert Path(row.rule.__code__.co_filename).relative_to(pkg).as_posix() in named, row
        assert named <= rules | {plan}, f"{row.kernel} is named outside the lowerings and its plan: {sorted(named - rules - {plan})}"

def test_source_is_lint_clean():
    """ruff over the package, tests, examples, benchmarks and tools (the project's style gate; ruff comes with
    the test extra, so a missing one fails)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    ruff = Path(sys.executable).parent / "ruff"
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    assert ruff, "ruff is not installed: it comes with the test extra (make test installs it)"
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([ruff, "check", "auroragen", "tests", "examples", "benchmarks", "tools"], cwd=root,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# The package's layers, lowest first: a module may import from its own layer and the ones below, never above
# (imports inside functions count too). Within a layer, modules import each other freely.
LAYERS = [
    ["auroragen.errors", "auroragen.version", "auroragen.geometry"],
    ["auroragen.ir"],
    ["auroragen.frontend"],
    ["auroragen.passes"],
    ["auroragen.schedule"],
    ["auroragen.emit"],
    ["auroragen.generate", "auroragen.compiled", "auroragen.footprint", "auroragen.interpret"],
    ["auroragen.tune"],
    ["auroragen.compiler"],
    ["auroragen"],  # the package's own __init__: the public names
    ["auroragen.cli", "auroragen.__main__"],
]


def _layer(module: str) -> int:
    best = max((len(p), k) for k, names in enumerate(LAYERS) for p in names
               if module == p or module.startswith(p + "."))
    return best[1]


def _imports(root):
    """(module, imported module, line) for every import of the package inside it, at any depth of the code."""
    import ast

    pkg = root / "auroragen"
    names = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(root).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    for mod, p in sorted(names.items()):
        is_pkg = p.name == "__init__.py"
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                yield from ((mod, a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "auroragen")
            elif isinstance(node, ast.ImportFrom):
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                if target.split(".")[0] == "auroragen":
                    for a in node.names:
                        sub = f"{target}.{a.name}"
                        yield mod, sub if sub in names else target, node.lineno


def test_imports_sit_at_the_top_of_their_module():
    """An import inside a function hides a dependency: allowed only with its reason on the line (a cycle)."""
    import ast
    from pathlib import Path

    pkg = Path(__file__).resolve().parent.parent / "auroragen"
    hidden = []
    for p in sorted(pkg.rglob("*.py")):
        text = p.read_text()
        lines = text.splitlines()
        for fn in ast.walk(ast.parse(text)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                hidden += [f"{p.relative_to(pkg)}:{n.lineno}: {lines[n.lineno - 1].strip()}" for n in ast.walk(fn)
                           if isinstance(n, (ast.Import, ast.ImportFrom)) and "#" not in lines[n.lineno - 1]]
    assert hidden == [], "imports inside functions, with no reason given:\n" + "\n".join(hidden)


def test_no_module_imports_from_a_layer_above_its_own():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = list(_imports(root))
    assert len(found) > 300, "the walk found the package's imports"
    up = [f"{m} (line {ln}) imports {t}" for m, t, ln in found if _layer(t) > _layer(m)]
    assert up == [], "imports that point up:\n" + "\n".join(up)
