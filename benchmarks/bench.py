"""auroragen against onnxruntime on the same machine, in one process, alternating runs.

    python benchmarks/bench.py [--targets generic,avx2] [--models resnet18,mlp] [--threads 1,2] [--runs 20] [--csv FILE]
                               [--tune] [--tuning-file FILE]

For each model, target and thread count: export (torch==2.13.0, cached in benchmarks/.cache),
compile (timing load, passes, schedule+emit and cc; with more than one thread the build uses
--openmp and OMP_NUM_THREADS), then time P_run through cffi and an onnxruntime session with
the same number of threads alternately after a warm-up, and report medians and their ratio.
With more than one thread the two alternate in blocks of at least BLOCK runs and BLOCK_S seconds
(at least ROUNDS blocks each), each after a pause of PAUSE seconds and with its first run not counted:
both thread pools spin idle for a while after a run, and on a machine with no spare cores that would
eat the other's next runs; and the first runs after a rest are slow for either (an idle virtual CPU
takes a while to come back), which would swamp a short block of a small model. onnxruntime keeps its
default settings.
Prints a table and writes a CSV. Machines are shared: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
sys.path.insert(0, str(ROOT / "tools"))  # torch_models.py


def _torch_models():
    import torch
    import torch_models as tm

    torch.manual_seed(0)
    return {
        "resnet18": lambda: (tm.ResNet18(), torch.randn(1, 3, 224, 224)),
        "mobilenetv2": lambda: (tm.MobileNetV2(), torch.randn(1, 3, 224, 224)),
        "transformer": lambda: (tm.Encoder(d=256, heads=4, ff=1024, layers=4), torch.randint(0, 100, (1, 128))),
        "mlp": lambda: (tm.MLP3(), torch.randn(1, 784)),
        "lstm": lambda: (tm.LSTMModel(), torch.randn(1, 32, 64)),
        "ds-cnn": lambda: (tm.DSCNN(), torch.randn(1, 1, 49, 10)),
        # MiniLM-sized (all-MiniLM-L6: 6 layers, d=384, 12 heads, ff 1536) with a 1000-token vocabulary
        "bert": lambda: (tm.Bert(vocab=1000, d=384, heads=12, ff=1536, layers=6, max_len=128),
                         (torch.randint(0, 1000, (1, 128)), torch.ones(1, 128, dtype=torch.int64))),
    }


MODELS = ["resnet18", "mobilenetv2", "transformer", "bert", "mlp", "lstm", "ds-cnn"]
GEMM_SIZE = 512
BLOCK = 5  # runs per block when timing with more than one thread, at least ...
BLOCK_S = 0.03  # ... and at least this many seconds of them ...
ROUNDS = 4  # ... in at least this many blocks each ...
PAUSE = 0.2  # ... each after this many seconds of rest
# ResNet-18's convolution shapes (input channels, input size, output channels, kernel, stride), each as
# conv + relu: the convolution microbenchmarks, named conv-C-H-M-kK-sS
RESNET18_CONVS = [(3, 224, 64, 7, 2), (64, 56, 64, 3, 1), (64, 56, 128, 3, 2), (64, 56, 128, 1, 2), (128, 28, 128, 3, 1),
                  (128, 28, 256, 3, 2), (256, 14, 256, 3, 1), (256, 14, 512, 3, 2), (512, 7, 512, 3, 1)]
CONV_MODELS = ["conv-{}-{}-{}-k{}-s{}".format(*c) for c in RESNET18_CONVS]


def gemm_model() -> onnx.ModelProto:
    """A [512, 512] @ [512, 512] product with constant weights: the GEMM microbenchmark."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, (GEMM_SIZE, GEMM_SIZE))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, (GEMM_SIZE, GEMM_SIZE))],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def conv_shape(name: str) -> tuple[int, int, int, int, int]:
    c, h, m, k, st = name.split("-")[1:]
    return int(c), int(h), int(m), int(k[1:]), int(st[1:])


def conv_model(name: str) -> onnx.ModelProto:
    """One float convolution (padding k // 2) followed by relu, constant weights and bias."""
    from onnx import TensorProto, helper, numpy_helper

    c, h, m, k, s = conv_shape(name)
    o = (h + 2 * (k // 2) - k) // s + 1
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["t"], pads=[k // 2] * 4, strides=[s, s]),
                           helper.make_node("Relu", ["t"], ["y"])], "conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, c, h, h))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, m, o, o))],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def micro_flops(name: str) -> float | None:
    """Multiply-adds x 2 of a microbenchmark model, None for a whole model."""
    if name == "gemm512":
        return 2.0 * GEMM_SIZE**3
    if name.startswith("conv-"):
        c, h, m, k, s = conv_shape(name)
        o = (h + 2 * (k // 2) - k) // s + 1
        return 2.0 * m * o * o * c * k * k
    return None


def peak_gflops() -> float | None:
    """The core's measured peak FMA throughput (benchmarks/peak_fma.c, AVX2+FMA or AVX-512)."""
    import subprocess
    import tempfile

    flags = ["-mavx512f"] if "avx512f" in Path("/proc/cpuinfo").read_text() else ["-mavx2", "-mfma"]
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "peak"
        r = subprocess.run(["cc", "-O2", "-std=c11", *flags, str(ROOT / "benchmarks" / "peak_fma.c"), "-o", str(exe)],
                           capture_output=True)
        if r.returncode:
            return None
        return float(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()[0])


def model_path(name: str) -> Path:
    path = CACHE / f"{name}.onnx"
    if not path.exists():
        import torch_models as tm

        CACHE.mkdir(parents=True, exist_ok=True)
        module, example = _torch_models()[name]()
        m = tm.export(module, example, dynamo=False, opset=17)
        onnx.save(m, str(path))
    return path


def feeds_for(model: onnx.ModelProto, name: str = "") -> dict[str, np.ndarray]:
    """Random inputs: integers in [0, 100) (token ids), but an attention mask (bert's second input) of ones
    with the last eighth of the sequence masked out as padding."""
    rng = np.random.default_rng(0)
    out = {}
    inits = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value for d in tt.shape.dim]
        dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        out[vi.name] = rng.integers(0, 100, shape).astype(dt) if dt.kind == "i" else rng.standard_normal(shape).astype(dt)
    if name == "bert":
        mask = out[list(out)[1]]
        mask[...] = 1
        mask[..., mask.shape[-1] * 7 // 8:] = 0
    return out


def time_pair(fa, fb, runs: int, warmup: int = 3, block: int = 1, pause: float = 0.0) -> tuple[list[float], list[float]]:
    """Times of runs calls each of fa and fb, alternating blocks of `block` calls. With blocks longer than
    one, each block starts after `pause` seconds (for the other side's idle threads to stop spinning) and
    its first call, which wakes this side's threads, is not counted."""
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    while len(ta) < runs:
        for f, times in ((fa, ta), (fb, tb)):
            if pause:
                time.sleep(pause)
            for k in range(block + (block > 1)):
                t0 = time.perf_counter()
                f()
                if k or block == 1:
                    times.append(time.perf_counter() - t0)
    return ta[:runs], tb[:runs]


def machine() -> dict[str, str]:
    """What the numbers were measured on: CPU, cores, vector ISA, caches, compiler, onnxruntime, date."""
    import datetime
    import subprocess

    info = {}
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("model name")]
    flags = next((ln.split(":", 1)[1].split() for ln in cpu.splitlines() if ln.startswith("flags")), [])
    info["cpu"] = f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores"
    isa = [f for f in ("avx512f", "avx2", "fma") if f in flags]
    info["vector ISA"] = " ".join(isa).upper() or platform.machine()
    caches = []
    for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((idx / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        caches.append(f"L{level}{'d' if kind == 'Data' else 'i' if kind == 'Instruction' else ''} {size}")
    if caches:
        info["caches"] = ", ".join(caches)
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True)
    info["compiler"] = cc.stdout.splitlines()[0] if cc.returncode == 0 and cc.stdout else "cc"
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    info["date"] = datetime.date.today().isoformat()
    return info


def write_charts(rows: list[dict], peak: float | None, folder: Path) -> list[Path]:
    """PNG charts: each model's latency ratio to onnxruntime, and the microbenchmarks' GFLOP/s beside the
    measured peak (matplotlib, the bench extra; none without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no charts: matplotlib is missing (pip install -e '.[bench]')")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def finish(fig, ax, ylabel: str, name: str) -> Path:
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        return folder / name

    models = [r for r in rows if not micro_flops(r["model"])]
    if models:
        series = sorted({(r["target"], r["threads"]) for r in models})
        names = list(dict.fromkeys(r["model"] for r in models))
        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.8 / len(series)
        for k, (t, n) in enumerate(series):
            vals = {r["model"]: r["ratio"] for r in models if (r["target"], r["threads"]) == (t, n)}
            xs = [i + k * width for i, m in enumerate(names) if m in vals]
            ax.bar(xs, [vals[m] for m in names if m in vals], width, label=f"{t}, {n} thread{'s' if n > 1 else ''}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(names))], names, rotation=20)
        written.append(finish(fig, ax, "latency / onnxruntime's (lower is faster)", "perf-ratio.png"))
    micro = [r for r in rows if micro_flops(r["model"]) and r["threads"] == 1 and r["target"] != "generic"]
    if micro:
        fig, ax = plt.subplots(figsize=(8, 4))
        names = [f"{r['model']} {r['target']}" for r in micro]
        ours = [micro_flops(r["model"]) / r["auroragen_ms"] * 1e-6 for r in micro]
        theirs = [micro_flops(r["model"]) / r["onnxruntime_ms"] * 1e-6 for r in micro]
        xs = range(len(micro))
        ax.bar([x - 0.2 for x in xs], ours, 0.4, label="auroragen")
        ax.bar([x + 0.2 for x in xs], theirs, 0.4, label="onnxruntime")
        if peak:
            ax.axhline(peak, color="black", linewidth=0.8, linestyle="--", label=f"measured peak {peak:.0f}")
        ax.set_xticks(list(xs), names, rotation=60, ha="right", fontsize=7)
        written.append(finish(fig, ax, "GFLOP/s, one thread", "perf-gflops.png"))
    return written


DOC_BEGIN, DOC_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_doc(path: Path, rows: list[dict], peak: float | None, info: dict, command: str, charts: list[Path]) -> None:
    """Replace the part of the document between DOC_BEGIN and DOC_END with this run's machine and tables."""
    lines = [DOC_BEGIN, "", f"`{command}`, medians of {rows[0]['runs']} alternating runs.", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    if peak:
        lines.append(f"- peak FMA throughput of one core, measured in the same run: **{peak:.0f} GFLOP/s**")
    lines.append("")
    for (t, n) in sorted({(r["target"], r["threads"]) for r in rows}):
        sel = [r for r in rows if (r["target"], r["threads"]) == (t, n)]
        lines += [f"{t}, {n} thread{'s' if n > 1 else ''}:", "",
                  "| model | auroragen ms | onnxruntime ms | ratio | GFLOP/s | arena KiB | compile s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        ratios = []
        for r in sel:
            fl = micro_flops(r["model"])
            gf = f"{fl / r['auroragen_ms'] * 1e-6:.1f}" if fl else ""
            if not fl:
                ratios.append(r["ratio"])
            lines.append(f"| {r['model']} | {r['auroragen_ms']:.3f} | {r['onnxruntime_ms']:.3f} | {r['ratio']:.2f} | {gf} | "
                         f"{r['arena_bytes'] / 1024:.0f} | {r['compile_s'] + r['cc_s']:.2f} |")
        if ratios:
            lines.append(f"| geometric mean of the models | | | **{float(np.exp(np.mean(np.log(ratios)))):.2f}** "
                         f"(worst {max(ratios):.2f}) | | | |")
        lines.append("")
    lines += [f"![{c.stem}]({c.name})" for c in charts]
    lines += ["", DOC_END]
    text = path.read_text() if path.exists() else f"# Performance\n\n{DOC_BEGIN}\n{DOC_END}\n"
    if DOC_BEGIN not in text or DOC_END not in text:
        text = text.rstrip("\n") + f"\n\n## Latest run\n\n{DOC_BEGIN}\n{DOC_END}\n"
    head, rest = text.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    path.write_text(head + "\n".join(lines) + tail)


def bench_one(name: str, target: str, runs: int, work: Path, threads: int = 1, tuning_file: str | None = None,
              tune: bool = False) -> dict:
    import onnxruntime as ort

    import auroragen

    if micro_flops(name):
        path = CACHE / f"{name}.onnx"
        CACHE.mkdir(parents=True, exist_ok=True)
        onnx.save(gemm_model() if name == "gemm512" else conv_model(name), str(path))
    else:
        path = model_path(name)
    model = onnx.load(str(path))
    feeds = feeds_for(model, name)
    out = work / f"{name}-{target}-{threads}"
    t0 = time.perf_counter()
    res = auroragen.compile(model, target=target, out_dir=out, openmp=threads > 1, tuning_file=tuning_file,
                            tune=tune and target != "generic")
    t1 = time.perf_counter()
    m = auroragen.load(out)
    t2 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    ours = m(**feeds)
    theirs = sess.run(None, feeds)
    err = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(ours, theirs))
    # with threads, in blocks after a pause: each side's idle workers spin for a while after its runs
    # (onnxruntime's for longer than libgomp's), which on a machine with as many cores as threads would
    # take a core from the other side's next runs
    fa, fb = (lambda: m(**feeds)), (lambda: sess.run(None, feeds))
    block = 1
    if threads > 1:
        est = max(statistics.median(t) for t in time_pair(fa, fb, 5))
        block = max(BLOCK, int(np.ceil(BLOCK_S / est)))
        runs = max(runs, ROUNDS * block)
    ta, tb = time_pair(fa, fb, runs, block=block, pause=PAUSE if block > 1 else 0.0)
    a_ms, b_ms = statistics.median(ta) * 1e3, statistics.median(tb) * 1e3
    tm = res.timings
    return dict(model=name, target=target, threads=threads, auroragen_ms=round(a_ms, 3), onnxruntime_ms=round(b_ms, 3),
                ratio=round(a_ms / b_ms, 3), max_abs_diff=f"{err:.2g}", arena_bytes=res.schedule.memory.arena_bytes,
                arena_lower_bound=res.schedule.memory.lower_bound, compile_s=round(t1 - t0 - tm.get("tune", 0.0), 2),
                load_s=round(tm.get("load", 0.0), 3), passes_s=round(tm.get("passes", 0.0), 3),
                emit_s=round(tm.get("schedule+emit", 0.0), 3), cc_s=round(t2 - t1, 2), runs=runs,
                tuned=int(tuning_file is not None), tune_s=round(tm.get("tune", 0.0), 2))


def main(argv=None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="generic,avx2")
    ap.add_argument("--models", default=",".join(MODELS + ["gemm512"]),
                    help="models to run (default: the benchmark models and gemm512); 'convs' adds ResNet-18's "
                         "convolutions one at a time (conv-C-H-M-kK-sS)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", default="1", help="thread counts to run, e.g. 1,2 (more than one: --openmp builds)")
    ap.add_argument("--tuning-file", metavar="FILE", help="compile with the tile choices of FILE (auroragen --tuning-file)")
    ap.add_argument("--tune", action="store_true", help="first time tile choices for each model on this machine (auroragen "
                    "--tune; vector targets), recorded in --tuning-file (default benchmarks/.cache/tuning.json)")
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "results.csv"))
    ap.add_argument("--docs", metavar="MD", help="also write PNG charts beside MD and this run's machine and tables into "
                                                 f"MD between {DOC_BEGIN} and {DOC_END} (make bench: docs/performance.md)")
    args = ap.parse_args(argv)
    thread_counts = [int(t) for t in args.threads.split(",")]
    if args.tune and not args.tuning_file:
        CACHE.mkdir(parents=True, exist_ok=True)
        args.tuning_file = str(CACHE / "tuning.json")
    # libgomp reads this once, when the first --openmp library is loaded: one count above 1 per run
    parallel = sorted({t for t in thread_counts if t > 1})
    if len(parallel) > 1:
        ap.error("at most one thread count above 1 per run (OpenMP reads OMP_NUM_THREADS once)")
    if parallel:
        os.environ["OMP_NUM_THREADS"] = str(parallel[0])
    rows = []
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"threads {args.threads}, median of {args.runs} alternating runs")
    print(f"{'model':<22}{'target':<9}{'thr':>4}{'auroragen ms':>14}{'ORT ms':>10}{'ratio':>8}{'arena KiB':>11}"
          f"{'bound KiB':>11}{'max diff':>10}{'compile s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        names = [n for m in args.models.split(",") for n in (CONV_MODELS if m == "convs" else [m])]
        for name in names:
            for target in args.targets.split(","):
                for threads in thread_counts:
                    r = bench_one(name, target, args.runs, Path(tmp), threads, args.tuning_file, args.tune)
                    rows.append(r)
                    print(f"{name:<22}{target:<9}{threads:>4}{r['auroragen_ms']:>14.3f}{r['onnxruntime_ms']:>10.3f}"
                          f"{r['ratio']:>8.2f}{r['arena_bytes'] / 1024:>11.0f}{r['arena_lower_bound'] / 1024:>11.0f}"
                          f"{r['max_abs_diff']:>10}{r['compile_s'] + r['cc_s']:>11.2f}", flush=True)
    peak = peak_gflops()
    for r in rows:
        flops = micro_flops(r["model"])
        if flops:
            gf = flops / r["auroragen_ms"] * 1e-6
            top = peak * r["threads"] if peak else None  # the peak of one core times the cores in use
            of_peak = f", {100 * gf / top:.0f}% of the measured peak {top:.0f} GFLOP/s" if top else ""
            what = f"GEMM {GEMM_SIZE}^3" if r["model"] == "gemm512" else r["model"]
            print(f"{what} {r['target']}, {r['threads']} thread(s): auroragen {gf:.1f} GFLOP/s{of_peak}; onnxruntime "
                  f"{flops / r['onnxruntime_ms'] * 1e-6:.1f} GFLOP/s")
    ratios = {}
    for r in rows:
        if not micro_flops(r["model"]):
            ratios.setdefault((r["target"], r["threads"]), []).append(r["ratio"])
    for (t, n), rs in ratios.items():
        print(f"geometric mean ratio {t}, {n} thread(s): {float(np.exp(np.mean(np.log(rs)))):.2f} (worst {max(rs):.2f})")
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.csv}")
    if args.docs:
        doc = Path(args.docs)
        charts = write_charts(rows, peak, doc.parent)
        command = "python benchmarks/bench.py " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
        write_doc(doc, rows, peak, machine(), command.strip(), charts)
        print(f"wrote {doc}" + "".join(f", {c}" for c in charts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
