"""The `auroragen` command (../shared/ABI.md: the command)."""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from . import compiler, frontend, passes
from .errors import AuroraError
from .footprint import measure
from .ir import print_graph
from .schedule.target import TARGETS, get_target
from .version import __version__

EPILOG = """examples:
  auroragen model.onnx --target generic -o out/
  auroragen bert.onnx --target avx2 -o out/ --dim batch=1 --dim seq=128
  auroragen model.onnx --target avx2 -o out/ --tune     time tile choices, write auroragen-tuning.json
  auroragen model.onnx --target avx2 -o out/ --tuning-file auroragen-tuning.json
  auroragen model.onnx --emit-ir                 print the IR after the pipeline
  make -C out/ && out/model_runner in0.bin -o out0.bin

On error: one line on stderr naming the node and the problem, exit status 1,
and the output folder left as it was."""


DEFAULT_TUNING = "auroragen-tuning.json"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="auroragen",
        description="Compile an ONNX model to dependency-free C99: a header, sources, const weights, "
        "a Makefile and a runner. The generated code allocates nothing: the caller passes one arena.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", nargs="?", help="the .onnx file (external data is read from its folder only)")
    p.add_argument("--target", default="generic", choices=list(TARGETS),
                   help="instruction set: " + "; ".join(f"{t.name}: {t.description}" for t in TARGETS.values()))
    p.add_argument("-o", "--output", metavar="OUT", help="the folder to write (replaced as a whole on success)")
    p.add_argument("--name", default="model", metavar="P", help="symbol prefix of the generated API (default: model)")
    p.add_argument("--openmp", action="store_true", help="parallelise kernels with OpenMP (OMP_NUM_THREADS sets threads)")
    p.add_argument("--tune", action="store_true",
                   help="time candidate tile shapes of every convolution and matrix product on this machine and "
                   "record the fastest in the tuning file (nodes already in it are not timed again)")
    p.add_argument("--tuning-file", metavar="FILE",
                   help="tile choices recorded by --tune, used for the nodes they cover (default with --tune: "
                   f"{DEFAULT_TUNING})")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="fix a symbolic dimension by name")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0xD1x...", help="fix one input's whole shape")
    p.add_argument("--bind", action="append", default=[], metavar="NAME=FILE.npy",
                   help="fix a graph input to the array in FILE.npy at compile time (it stops being an input)")
    p.add_argument("-O", dest="opt", type=int, choices=(0, 1, 2), default=2, metavar="LEVEL",
                   help="graph optimisation: -O0 only what C needs, -O1 folding and simplification, -O2 (default) "
                   "also BatchNorm folding and fusion")
    p.add_argument("--passes", metavar="P1,P2,...", help="run exactly these passes (and those C needs), in pipeline order")
    p.add_argument("--emit-ir", action="store_true", help="print the Aurora IR after the pipeline instead of writing C")
    p.add_argument("--dump-after", metavar="PASS", help="print the IR after the named pass (see --list-passes)")
    p.add_argument("--list-passes", action="store_true", help="list the graph passes in pipeline order and exit")
    p.add_argument("--report", action="store_true",
                   help="also measure the footprint: flash (code, weights) and RAM (arena, stack), with the target's compiler")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--version", action="version", version=f"auroragen {__version__}")
    return p


def _kv(items: list[str], flag: str, parse):
    out = {}
    for it in items:
        name, sep, val = it.partition("=")
        if not sep or not name:
            raise AuroraError(f"{flag} {it!r}: expected NAME=VALUE")
        try:
            out[name] = parse(val)
        except ValueError:
            raise AuroraError(f"{flag} {it!r}: bad value {val!r}") from None
    return out


def _dim(s: str) -> int:
    v = int(s)
    if v < 0:
        raise ValueError(s)
    return v


def _shape(s: str) -> list[int]:
    return [] if s in ("", "scalar") else [_dim(d) for d in s.lower().split("x")]


def _npy(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(str(e)) from None


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.list_passes:
        for s in passes.PIPELINE:
            print(f"{s.run.name:<16} -O{s.level}  {s.why}")
        return 0
    if not args.model:
        raise AuroraError("no model given: auroragen MODEL.onnx --target TARGET -o OUT (see --help)")
    dims = _kv(args.dim, "--dim", _dim)
    shapes = _kv(args.input_shape, "--input-shape", _shape)
    bind = _kv(args.bind, "--bind", _npy)
    if args.dump_after and args.dump_after not in passes.names():
        raise AuroraError(f"--dump-after {args.dump_after!r}: no such pass (passes: {', '.join(passes.names())})")
    if not (args.emit_ir or args.dump_after) and not args.output:
        raise AuroraError("no output folder: give -o OUT (or --emit-ir to print the IR)")
    chosen = [p for p in args.passes.split(",") if p] if args.passes is not None else None
    tuning = args.tuning_file or (DEFAULT_TUNING if args.tune else None)
    pipeline = passes.select(args.opt, chosen)
    verbose = not args.quiet and sys.stderr.isatty()
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        if verbose:
            print(f"auroragen: [{time.perf_counter() - t0:6.2f}s] {msg}", file=sys.stderr, flush=True)

    if args.emit_ir or args.dump_after:
        g = frontend.load(args.model, dims=dims, input_shapes=shapes, bind=bind)
        progress("imported the model")
        if args.dump_after and args.dump_after not in [p.name for p in pipeline]:
            raise AuroraError(f"--dump-after {args.dump_after}: that pass does not run at -O{args.opt}")
        g = passes.run_pipeline(g, pipeline, dump_after=args.dump_after, dump=lambda s: sys.stdout.write(s))
        if args.emit_ir:
            sys.stdout.write(print_graph(g))
        if not args.output:
            return 0
    command = " ".join(["auroragen", os.path.basename(args.model), "--target", args.target, "--name", args.name, f"-O{args.opt}"]
                       + ([f"--passes {args.passes}"] if args.passes is not None else [])
                       + (["--openmp"] if args.openmp else [])
                       + [f"--dim {d}" for d in args.dim] + [f"--input-shape {s}" for s in args.input_shape]
                       + [f"--bind {b.partition('=')[0]}=..." for b in args.bind]
                       + ([f"--tuning-file {os.path.basename(tuning)}"] if tuning else []))
    res = compiler.compile(args.model, args.target, args.output, name=args.name, openmp=args.openmp, dims=dims,
                           input_shapes=shapes, bind=bind, opt_level=args.opt, passes=chosen, command=command,
                           progress=progress, tuning_file=tuning, tune=args.tune)
    if not args.quiet:
        print(res.report())
    if args.report:
        progress("measuring the footprint")
        fp = measure(res.out_dir, get_target(args.target), args.name, res.arena_bytes)
        print("\n".join([f"footprint ({args.target}):", *fp.lines()]))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except AuroraError as e:
        print(f"auroragen: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("auroragen: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug of ours: still one line, unless debugging
        if os.environ.get("AURORAGEN_DEBUG"):
            raise
        msg = " ".join(str(e).split())[:300]
        print(f"auroragen: internal error: {type(e).__name__}: {msg} (set AURORAGEN_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
