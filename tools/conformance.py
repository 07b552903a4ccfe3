"""The ONNX backend node tests as auroragen's scoreboard.

Each case is generated from the installed onnx package, compiled through the
real ABI (auroragen.compile -> the generated Makefile with -Werror -> cffi)
and compared with the case's expected outputs: floats with rtol 1e-3 and atol
1e-5 and equal NaN and infinity positions, integers and bools exactly.

A static-shape compiler must know shape-deciding values (Reshape's shape,
Slice's starts, reduction axes, Resize's scales, ...) at compile time. Node
tests pass them as graph inputs; where the compiler says an input must be
constant, the harness binds that input to the test's value (`--bind`), one
input at a time, and the rest stay run-time inputs.

The model cases shipped beside them (onnx/backend/test/data/{simple, pytorch-converted,
pytorch-operator}) run the same way, named KIND/NAME.

    python tools/conformance.py [--target generic] [--jobs 2] [--csv FILE] [-k SUBSTRING]

prints a table per op and overall and writes a CSV (`make conformance`).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
import cross  # noqa: E402

CACHE = ROOT / "tests" / ".cache" / "conformance"
XFAIL_FILE = ROOT / "tests" / "conformance_xfail.txt"
RTOL, ATOL = 1e-3, 1e-5
# Cases whose expected data is itself off from the correctly rounded result by more than RTOL allows,
# with the relative tolerance they get instead and why. Nothing else is loosened.
REFERENCE_RTOL = {
    "test_attention_*bf16*": (
        2.0**-6,  # two bfloat16 ulps
        "the expected data rounds every intermediate of the Attention reference to bfloat16 (scaled Q and K, the "
        "scores, each step of the softmax, the probabilities) where auroragen computes them in float and rounds each "
        "op's result once: results differ by up to 2 ulps; RTOL 1e-3 is finer than bfloat16's resolution (2^-8)"),
    "test_attention_*fp16_expanded": (
        2.0**-9,  # two float16 ulps
        "the expected data rounds every intermediate of the Attention reference to float16 (each step of the softmax "
        "included) where auroragen computes each op in float and rounds its result once: up to 2 ulps apart"),
}
# Cases whose expected data holds elements the spec leaves undefined, with why: those elements are not compared
# (the rest are, exactly). ONNX Cast: "Casting from floating point to fixed point: undefined if OOR (out of
# range)". These cases cast -9..15 (or -3..3) to int4/uint4/int2/uint2, so most of their inputs are out of
# range, and onnx computes their expected data with whatever the installed ml_dtypes does there: it wraps
# modulo 2^bits up to 0.6.0 and gives 0 from 0.7.0. auroragen wraps (docs/conformance.md).
UNDEFINED_ELEMENTS = {
    "test_cast*_to_*INT[24]*": "a float cast to a fixed-point type is undefined out of its range (ONNX Cast); compared "
                               "where the input, truncated toward zero, is within the type's range",
}
CFLAGS = "CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror"


@dataclass
class Outcome:
    name: str
    op: str
    status: str  # "pass" | "fail"
    detail: str = ""
    seconds: float = 0.0


MODEL_KINDS = ("simple", "pytorch-converted", "pytorch-operator")


@dataclass
class ModelCase:
    """A model case shipped in onnx/backend/test/data/<kind>/<name>/: model.onnx and data sets of .pb files."""

    name: str
    model: object
    data_sets: list
    kind: str = "model"


def load_cases():
    """The node test cases of the installed onnx package, and its model cases (named KIND/NAME), by name."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = {c.name: c for c in collect_testcases() if c.kind == "node"}
    for c in load_model_cases():
        cases[c.name] = c
    return cases


def load_model_cases() -> list[ModelCase]:
    import onnx
    from onnx.backend.test.loader import DATA_DIR

    def read(path: Path):
        t = onnx.TensorProto()
        t.ParseFromString(path.read_bytes())
        return t

    out = []
    for kind in MODEL_KINDS:
        for case_dir in sorted((Path(DATA_DIR) / kind).iterdir()):
            if not (case_dir / "model.onnx").exists():
                continue
            sets = []
            for d in sorted(case_dir.glob("test_data_set_*")):
                ins = [read(p) for p in sorted(d.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
                outs = [read(p) for p in sorted(d.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
                sets.append((ins, outs))
            out.append(ModelCase(f"{kind}/{case_dir.name}", onnx.load(str(case_dir / "model.onnx")), sets))
    return out


def case_op(case) -> str:
    if case.kind == "model":
        return "model:" + case.name.split("/")[0]
    ops = [n.op_type for n in case.model.graph.node if n.op_type != "Constant"]
    return ops[-1] if ops else (case.model.graph.node[0].op_type if case.model.graph.node else "?")


def tensor_only(case) -> bool:
    g = case.model.graph
    return all(v.type.HasField("tensor_type") for v in list(g.input) + list(g.output))


def read_xfail(path: Path = XFAIL_FILE) -> list[tuple[str, str]]:
    """(pattern, reason) pairs; a pattern is a case name or an fnmatch pattern."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pat, sep, reason = line.partition(":")
        if not sep or not reason.strip():
            raise ValueError(f"{path.name}: every entry needs a reason: {line!r}")
        out.append((pat.strip(), reason.strip()))
    return out


def expected_failure(name: str, xfails: list[tuple[str, str]]) -> str | None:
    for pat, reason in xfails:
        if fnmatch.fnmatchcase(name, pat):
            return reason
    return None


def as_array(v) -> np.ndarray:
    """A data-set value as numpy; bfloat16 and the narrow types as their bits (the ABI's storage)."""
    import onnx
    from onnx import numpy_helper

    from auroragen.ir.narrow import encoded_type, to_bits

    if isinstance(v, onnx.TensorProto):
        if v.data_type == onnx.TensorProto.BFLOAT16 and not v.raw_data:
            return np.array(v.int32_data, np.uint16).reshape(tuple(v.dims))
        v = numpy_helper.to_array(v).reshape(tuple(v.dims))
    a = np.asarray(v)
    return to_bits(a) if encoded_type(a.dtype) is not None else a


def case_rtol(name: str) -> float:
    return next((r for pat, (r, _) in REFERENCE_RTOL.items() if fnmatch.fnmatchcase(name, pat)), RTOL)


def defined_elements(name: str, inputs: list[np.ndarray], out_type) -> np.ndarray | None:
    """A mask of the output elements the spec defines, for the cases of UNDEFINED_ELEMENTS (None: all): a float
    input's elements whose truncation lies in the integer result's range."""
    from auroragen.ir.narrow import int_range

    if not any(fnmatch.fnmatchcase(name, pat) for pat in UNDEFINED_ELEMENTS):
        return None
    x = np.asarray(inputs[0])
    if x.dtype.kind != "f":
        return None  # integer sources wrap by the spec: all defined
    lo, hi = int_range(out_type)
    with np.errstate(invalid="ignore"):
        t = np.trunc(x.astype(np.float64))
        return np.isfinite(t) & (t >= lo) & (t <= hi)


def compare(got: np.ndarray, want: np.ndarray, rtol: float = RTOL) -> str:
    """'' when equal within the suite's tolerances, else what differs."""
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc" or want.dtype == np.float16:
        g, w = got.astype(np.float64), want.astype(np.float64)
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            return "NaN positions differ"
        inf = np.isinf(w)
        if not np.array_equal(np.isinf(g), inf) or not np.array_equal(g[inf], w[inf]):
            return "infinity positions differ"
        fin = np.isfinite(w)
        if not np.allclose(g[fin], w[fin], rtol=rtol, atol=ATOL):
            err = np.max(np.abs(g[fin] - w[fin]))
            return f"max abs error {err:.3g}"
        return ""
    if not np.array_equal(got, want):
        return f"{int(np.sum(got != want))} of {want.size} elements differ"
    return ""


def _symbolic_input_shapes(model, feeds: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """The data set's shapes for inputs declared with symbolic dimensions (as --input-shape would give them)."""
    out = {}
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim if vi.type.HasField("tensor_type") else []
        if vi.name in feeds and any(not d.HasField("dim_value") for d in dims):
            out[vi.name] = list(feeds[vi.name].shape)
    return out


def build(model, feeds: dict[str, np.ndarray], target: str, prefix: str = "c", opt: int = 2):
    """Compile (binding each input the compiler needs constant to its value in feeds),
    build once per content hash of the sources, load. Returns (model, bound input names)."""
    import auroragen
    from auroragen.errors import NeedsConstant

    bind: dict[str, np.ndarray] = {}
    emulated = target in cross.CROSS
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        while True:
            try:
                res = auroragen.compile(model, target=cross.compile_target(target) if emulated else target, out_dir=out,
                                        name=prefix, bind=bind, opt_level=opt,
                                        input_shapes=_symbolic_input_shapes(model, feeds))
                break
            except NeedsConstant as e:
                if e.value_name in bind or e.value_name not in feeds:
                    raise
                bind[e.value_name] = feeds[e.value_name]
        if emulated:
            cross.write_io(out, res)
        digest = hashlib.sha256()
        for p in sorted(out.iterdir()):
            digest.update(p.name.encode() + b"\0" + p.read_bytes())
        cached = CACHE / target / digest.hexdigest()[:24]
        if emulated:  # the runner, built with the cross compiler and run under emulation
            _build_once(out, cached, cross.CROSS[target]["runner"].format(P=prefix),
                        lambda d: cross.CrossModel(d, target, prefix, cflags=CFLAGS.split("=", 1)[1]))
            return cross.CrossModel(cached, target, prefix, build=False), set(bind)
        _build_once(out, cached, f"lib{prefix}.so", lambda d: auroragen.load(d, make_args=(CFLAGS,)))
    return auroragen.load(cached, build=False), set(bind)


def _build_once(out: Path, cached: Path, product: str, build) -> None:
    """Build OUT into the cache entry `cached` unless it holds `product` already. The build happens beside
    the entry, then a rename: the entry appears complete or not at all. Workers building the same sources
    at once (the -O0 and -O2 runs of a case often are) each use their own folder; the rename of the first
    wins, the others discard theirs."""
    if (cached / product).exists():
        return
    tmp_cached = cached.with_name(f"{cached.name}.tmp-{os.getpid()}-{uuid.uuid4().hex}")
    shutil.copytree(out, tmp_cached)
    build(tmp_cached)
    try:
        tmp_cached.rename(cached)
    except OSError:
        shutil.rmtree(tmp_cached, ignore_errors=True)


def run_case(case, target: str = "generic", opt: int = 2) -> Outcome:
    """Compile, build and run every data set of one case; compare every output."""
    from auroragen.ir.narrow import decode
    from auroragen.ir.types import DType

    t0 = time.perf_counter()
    op = case_op(case)
    if not tensor_only(case):
        return Outcome(case.name, op, "fail", "is not a tensor: sequence, map and optional types are not supported")
    try:
        names = [i.name for i in case.model.graph.input if i.name not in {t.name for t in case.model.graph.initializer}]
        for k, (ins, outs) in enumerate(case.data_sets):
            ins, outs = [as_array(a) for a in ins], [as_array(a) for a in outs]
            model, bound = build(case.model, dict(zip(names, ins)), target, opt=opt)
            feeds = [a for n, a in zip(names, ins) if n not in bound]
            got = model(*feeds)
            if len(got) != len(outs):
                return Outcome(case.name, op, "fail", f"{len(got)} outputs, expected {len(outs)}", time.perf_counter() - t0)
            for j, (g, w) in enumerate(zip(got, outs)):
                dt = DType.from_onnx(case.model.graph.output[j].type.tensor_type.elem_type)
                if dt.is_encoded:
                    g, w = decode(dt, g), decode(dt, w)  # compared as the numbers the bits stand for
                defined = defined_elements(case.name, ins, dt)
                if defined is not None and g.shape == w.shape == defined.shape:
                    g, w = g[defined], w[defined]
                why = compare(g, w, case_rtol(case.name))
                if why:
                    return Outcome(case.name, op, "fail", f"data set {k} output {j}: {why}", time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - any failure is a failed case, with its reason
        msg = " ".join(str(e).split())[:300]
        return Outcome(case.name, op, "fail", f"{type(e).__name__}: {msg}", time.perf_counter() - t0)
    return Outcome(case.name, op, "pass", "", time.perf_counter() - t0)


_ELEMENT_TYPES = {"8": "string tensors are not supported"}
RANDOM_OPS = {"Bernoulli", "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike", "Multinomial"}


def classify(detail: str) -> str:
    """A failure's reason in words, for the expected-failure list."""
    import re

    m = re.search(r"\((\w+)\): unsupported operator", detail)
    if m:
        if "Sequence" in m.group(1):
            return "sequence, map and optional types are not supported"
        if m.group(1) == "Gradient":
            return "Gradient differentiates a graph (ai.onnx.preview.training): auroragen compiles inference graphs"
        if m.group(1) in RANDOM_OPS:
            return f"{m.group(1)} draws random numbers: its outputs cannot be compared"
        return f"operator {m.group(1)} is not implemented yet"
    m = re.search(r"element type (\d+) is not supported", detail)
    if m:
        return _ELEMENT_TYPES.get(m.group(1), f"ONNX element type {m.group(1)} is not supported yet")
    if "is not a tensor" in detail or "setting an array element with a sequence" in detail:
        return "sequence, map and optional types are not supported"
    m = re.search(r"domain '([^']*)' is not supported", detail)
    if m:
        return f"ops of the {m.group(1)} domain are not supported"
    if "data set" in detail:
        return f"wrong result, to investigate: {detail}"
    return detail.replace("AuroraError: ", "")


_AUTO = ("operator ", "element type", "node '", "sequence, map", "string tensors", "ops of the", "a training-only",
         "training-mode", "wrong result", "AuroraError", "NotImplementedError", "ValueError", "TypeError")


def _auto(reason: str) -> bool:
    """A reason classify() wrote (rewritten on every update), not one written by hand (kept)."""
    return reason.startswith(_AUTO) or "draws random numbers" in reason


def update_xfail(rows: list[dict], path: Path = XFAIL_FILE) -> None:
    """Rewrite the list: drop cases that pass, keep hand-written reasons, add new failures classified."""
    old = {k: v for k, v in read_xfail(path) if not _auto(v)} if path.exists() else {}
    header = [ln for ln in path.read_text().splitlines() if ln.startswith("#")] if path.exists() else []
    lines = []
    for r in sorted(rows, key=lambda r: r["case"]):
        if r["status"] in ("failed", "expected-fail"):
            reason = old.get(r["case"]) or classify(r["detail"])
            lines.append(f"{r['case']}: {' '.join(reason.split())}")
    path.write_text("\n".join(header + lines) + "\n")
    print(f"wrote {path.name}: {len(lines)} expected failures")


def _worker(args):
    name, target, opt = args
    return run_case(_CASES[name], target, opt)


_CASES: dict = {}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="generic")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("-O", dest="opt", type=int, default=2, choices=(0, 1, 2), help="optimisation level")
    ap.add_argument("--csv", default="conformance.csv")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("--update-xfail", action="store_true", help="rewrite tests/conformance_xfail.txt from this run")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    _CASES.update(load_cases())
    names = sorted(n for n in _CASES if args.k in n)
    xfails = read_xfail()
    import multiprocessing as mp

    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.jobs) as pool:
        results = pool.map(_worker, [(n, args.target, args.opt) for n in names], chunksize=4)
    per_op: dict[str, Counter] = defaultdict(Counter)
    total = Counter()
    rows = []
    for r in results:
        reason = expected_failure(r.name, xfails)
        status = {("pass", False): "passed", ("fail", False): "failed", ("pass", True): "xpassed", ("fail", True): "expected-fail"}[
            (r.status, reason is not None)]
        per_op[r.op][status] += 1
        total[status] += 1
        case = _CASES[r.name]
        tensor = case.kind == "node" and tensor_only(case)
        total["tensor-only"] += tensor
        total["tensor-only passed"] += tensor and status == "passed"
        total["model cases"] += case.kind == "model"
        total["model cases passed"] += case.kind == "model" and status == "passed"
        rows.append(dict(case=r.name, op=r.op, status=status, tensor_only=int(tensor), detail=r.detail or (reason or ""),
                         seconds=f"{r.seconds:.2f}"))
    cols = ["passed", "failed", "expected-fail", "xpassed"]
    print(f"{'op':<28}" + "".join(f"{c:>15}" for c in cols))
    for op in sorted(per_op):
        print(f"{op:<28}" + "".join(f"{per_op[op][c]:>15}" for c in cols))
    print(f"{'TOTAL':<28}" + "".join(f"{total[c]:>15}" for c in cols))
    tot = total["tensor-only"]
    print(f"\ntarget {args.target} -O{args.opt}: {total['passed']} of {len(results)} cases pass; tensor-only node cases: "
          f"{total['tensor-only passed']} of {tot} ({100.0 * total['tensor-only passed'] / max(tot, 1):.1f}%); "
          f"model cases ({', '.join(MODEL_KINDS)}): {total['model cases passed']} of {total['model cases']}; "
          f"{time.perf_counter() - t0:.0f}s")
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["case"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.csv}")
    if args.update_xfail:
        if args.k:
            raise SystemExit("--update-xfail needs the whole suite (no -k)")
        update_xfail(rows)
        return 0
    return 0 if total["failed"] == 0 and total["xpassed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
