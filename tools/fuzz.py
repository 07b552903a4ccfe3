"""Fuzzing the compiler: mutated models through `auroragen.compile`.

Each case takes a seed model (the ONNX node-test models and light zoo on disk, and a few built here),
applies a few random mutations (op types and domains, inputs dropped or rewired, attributes retyped
or pushed to extremes, dimensions made zero, negative, symbolic or huge, element types changed,
initializers truncated or pointed at external files outside the model's folder, names full of C
syntax, nodes deleted, duplicated or reordered, opsets changed; or the serialised bytes flipped and
truncated) and compiles the result for the generic target. The compiler may accept the model or
refuse it with AuroraError and one line; anything else (another exception, a multi-line message,
more than the time limit) is a crash: the model is written to the crash folder with its traceback.

    python tools/fuzz.py --minutes 10              # what `make fuzz` runs: from a random case number, printed
    python tools/fuzz.py --replay 1234             # one case again, by its number
    python tools/fuzz.py --minutes 10 --build 50   # also build and run every 50th accepted model
    python tools/fuzz.py --minutes 2 --seeds dft   # only the seed models whose name holds "dft"

Case N draws its seed model and mutations from random.Random(N): the same N is the same case on every
machine with the same onnx (and the same --seeds). Each run starts at a random N among 2^48, so runs
explore different cases; the first number is printed, and any case replays with --replay.

The mutator takes a random.Random, so tests/test_hostile.py drives the same cases from hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import auroragen  # noqa: E402
from auroragen.errors import AuroraError  # noqa: E402

RUN_MAX_BYTES = 256 << 20  # accepted models are run (with --build) when their buffers fit in this
DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
HOSTILE_NAMES = ["a\"b", "*/ x /*", "line\nbreak", "back\\slash", "ünï", "int", "model_run", "", " ", "0x", "a b",
                 "%s%n", "??=", "\x00", "a" * 300, "aurora_rt", "P_arena_bytes", "#define"]
ELEM_TYPES = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 17, 21, 99, -1]
OPS = ["Relu", "Add", "Conv", "MatMul", "Gemm", "Reshape", "Concat", "Split", "Slice", "Gather", "Transpose",
       "Softmax", "LSTM", "If", "Loop", "Resize", "Pad", "Cast", "Expand", "ConstantOfShape", "Range", "TopK",
       "Einsum", "NotAnOp", "", "BatchNormalization", "MaxPool", "Where", "Tile", "Squeeze", "OneHot"]
DIMS = [0, 1, 2, 3, -1, -7, 1 << 20, 1 << 31, 1 << 40, (1 << 63) - 1]
INTS = [0, 1, -1, 2, 7, -100, 1 << 31, (1 << 63) - 1, -(1 << 63)]
FLOATS = [0.0, -1.0, 1e30, float("nan"), float("inf"), 1e-40]


SEEDS = ROOT / "tests" / ".cache" / "fuzz-seeds"


def seed_models() -> list[Path]:
    """The ONNX node-test models (generated from the installed onnx package once, into tests/.cache) and the
    light zoo; sorted, so case numbers name the same cases on every machine with the same onnx."""
    if not SEEDS.is_dir():
        import warnings

        from onnx.backend.test.case.node import collect_testcases

        tmp = SEEDS.with_name(SEEDS.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            cases = collect_testcases(None)
        for c in cases:
            (tmp / f"{c.name}.onnx").write_bytes(c.model.SerializeToString())
        tmp.rename(SEEDS)
    return sorted(SEEDS.glob("*.onnx")) + sorted(DATA.glob("light/*.onnx"))


def _all_nodes(g: onnx.GraphProto):
    for n in g.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(a.g)


def _value_infos(g: onnx.GraphProto):
    return [*g.input, *g.output, *g.value_info]


def _names(g: onnx.GraphProto) -> list[str]:
    out = [v.name for v in g.input] + [t.name for t in g.initializer]
    for n in g.node:
        out += list(n.output)
    return [x for x in out if x]


def mutate(m: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto | bytes:
    """A few random mutations of m (modified in place and returned), or corrupted bytes of it."""
    g = m.graph
    if rng.random() < 0.12:
        data = bytearray(m.SerializeToString())
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            kind = rng.random()
            i = rng.randrange(len(data))
            if kind < 0.5:
                data[i] = rng.randrange(256)
            elif kind < 0.8:
                del data[i:i + rng.randint(1, 16)]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data) + 1)]
        return bytes(data)
    for _ in range(rng.randint(1, 4)):
        nodes = list(_all_nodes(g))
        what = rng.randrange(14)
        if what == 0 and nodes:
            n = rng.choice(nodes)
            n.op_type = rng.choice(OPS)
        elif what == 1 and nodes:
            rng.choice(nodes).domain = rng.choice(["ai.onnx.ml", "com.microsoft", "x", "ai.onnx.preview.training"])
        elif what == 2 and nodes:
            n = rng.choice(nodes)
            names = _names(g)
            if n.input and rng.random() < 0.5:
                k = rng.randrange(len(n.input))
                if rng.random() < 0.5:
                    del n.input[k]
                else:
                    n.input[k] = rng.choice(names + ["", "nowhere"])
            else:
                n.input.append(rng.choice(names + [""]))
        elif what == 3 and nodes:
            n = rng.choice(nodes)
            if n.attribute:
                a = rng.choice(n.attribute)
                r = rng.random()
                if r < 0.25:
                    n.attribute.remove(a)
                elif r < 0.5:
                    a.CopyFrom(helper.make_attribute(a.name, rng.choice([rng.choice(INTS), rng.choice(FLOATS), "s",
                                                                           [rng.choice(INTS)] * rng.randint(1, 5)])))
                elif a.type == onnx.AttributeProto.INT:
                    a.i = rng.choice(INTS)
                elif a.type == onnx.AttributeProto.INTS and a.ints:
                    a.ints[rng.randrange(len(a.ints))] = rng.choice(INTS)
                elif a.type == onnx.AttributeProto.FLOAT:
                    a.f = rng.choice(FLOATS)
                else:
                    a.name = rng.choice(["axis", "perm", "pads", "bogus", ""])
            else:
                n.attribute.append(helper.make_attribute(rng.choice(["axis", "perm", "pads", "x"]), rng.choice(INTS)))
        elif what == 4:
            vis = [v for v in _value_infos(g) if v.type.tensor_type.HasField("shape") and v.type.tensor_type.shape.dim]
            if vis:
                d = rng.choice(rng.choice(vis).type.tensor_type.shape.dim)
                if rng.random() < 0.2:
                    d.dim_param = rng.choice(["N", "batch", "*/"])
                else:
                    d.dim_value = rng.choice(DIMS)
        elif what == 5:
            vis = _value_infos(g)
            if vis:
                rng.choice(vis).type.tensor_type.elem_type = rng.choice(ELEM_TYPES)
        elif what == 6 and g.initializer:
            t = rng.choice(g.initializer)
            r = rng.random()
            if r < 0.3 and t.raw_data:
                t.raw_data = t.raw_data[:rng.randrange(len(t.raw_data) + 1)]
            elif r < 0.5:
                t.dims.append(rng.choice(DIMS))
            elif r < 0.7:
                t.data_location = TensorProto.EXTERNAL
                t.ClearField("raw_data")
                del t.external_data[:]
                entry = t.external_data.add()
                entry.key, entry.value = "location", rng.choice(["/etc/passwd", "../../secret.bin", "missing.bin",
                                                                 "a/../../b", "", "\x00"])
            else:
                t.data_type = rng.choice(ELEM_TYPES)
        elif what == 7:
            names = [v for v in g.input] + [v for v in g.output] + list(g.initializer)
            if names:
                obj = rng.choice(names)
                old, new = obj.name, rng.choice(HOSTILE_NAMES)
                obj.name = new
                for n in nodes:  # renamed consistently most of the time: the valid-but-hostile case
                    if rng.random() < 0.9:
                        n.input[:] = [new if x == old else x for x in n.input]
                        n.output[:] = [new if x == old else x for x in n.output]
        elif what == 8 and g.node:
            k = rng.randrange(len(g.node))
            if rng.random() < 0.5:
                del g.node[k]
            else:
                g.node.insert(rng.randrange(len(g.node) + 1), g.node[k])
        elif what == 9 and len(g.node) > 1:
            i, j = rng.randrange(len(g.node)), rng.randrange(len(g.node))
            a, b = onnx.NodeProto(), onnx.NodeProto()
            a.CopyFrom(g.node[i])
            b.CopyFrom(g.node[j])
            g.node[i].CopyFrom(b)
            g.node[j].CopyFrom(a)
        elif what == 10 and m.opset_import:
            m.opset_import[0].version = rng.choice([1, 5, 7, 9, 11, 13, 17, 21, 23, 25, 99, -1])
        elif what == 11:
            if g.output and rng.random() < 0.5:
                del g.output[rng.randrange(len(g.output))]
            elif nodes:
                n = rng.choice(nodes)
                if n.output:
                    g.output.add().name = rng.choice(n.output)
        elif what == 12:
            m.ir_version = rng.choice([0, 1, 3, 7, 8, 10, 13, 99])
        elif what == 13:
            shape = [rng.choice([1, 2, 3, 1 << 16, 1 << 31]) for _ in range(rng.randint(0, 4))]
            name = f"fz{rng.randrange(1000)}"
            g.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), name))
            src = rng.choice(_names(g))
            g.node.append(helper.make_node(rng.choice(["ConstantOfShape", "Expand", "Reshape", "Tile", "Range"]),
                                           [name] if rng.random() < 0.5 else [src, name], [name + "_out"]))
            g.output.add().name = name + "_out"
    return m


def run_case(source: onnx.ModelProto | bytes, work: Path, build: bool = False) -> str | None:
    """Compile one mutated model. None when it compiled or was refused cleanly; else what went wrong."""
    out = work / "out"
    path = work / "model.onnx"
    path.write_bytes(source if isinstance(source, bytes) else source.SerializeToString())
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            auroragen.compile(path, out_dir=out)
    except AuroraError as e:
        msg = str(e)
        if "\n" in msg.strip() or not msg.strip():
            return f"AuroraError message is not one line: {msg!r}"
        return None
    except Exception:  # noqa: BLE001 - the point: anything else is a bug
        return traceback.format_exc()
    if build:
        import subprocess

        r = subprocess.run(["make", "-C", str(out), "CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror"], capture_output=True,
                           text=True)
        if r.returncode:
            return "generated C does not build:\n" + r.stdout[-3000:] + r.stderr[-3000:]
        try:
            m = auroragen.load(out)
            io_bytes = sum(int(np.prod(t["shape"])) * t["dtype"].itemsize for t in [*m.inputs, *m.outputs])
            if io_bytes + m.arena_bytes > RUN_MAX_BYTES:
                return None  # valid, but more memory than a fuzzing run should take
            rng = np.random.default_rng(0)
            feeds = [(rng.standard_normal(t["shape"]) * 3).astype(t["dtype"].np) if t["dtype"].is_float and
                     not t["dtype"].is_encoded else np.zeros(t["shape"], t["dtype"].np) for t in m.inputs]
            m(*feeds)
        except AuroraError:
            pass  # a run-time error code (e.g. an index out of range): clean
        except Exception:  # noqa: BLE001
            return "the compiled model failed to load or run:\n" + traceback.format_exc()
    return None


def case(number: int, seeds: list[Path]) -> tuple[Path, onnx.ModelProto | bytes]:
    rng = random.Random(number)
    seed = seeds[rng.randrange(len(seeds))]
    return seed, mutate(onnx.load(str(seed), load_external_data=False), rng)


def _worker(conn, seeds: list[Path], memory_gib: int, build_every: int) -> None:
    """Runs cases in a child process, so one that takes the interpreter down (a segfault in a library, the
    kernel's OOM killer) is reported as that case's crash and the fuzzing goes on."""
    lim = memory_gib << 30
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    while True:
        number = conn.recv()
        _, source = case(number, seeds)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                problem = run_case(source, Path(tmp), build=bool(build_every) and number % build_every == 0)
            except MemoryError:
                problem = f"ran out of the {memory_gib} GiB address space"
            conn.send((problem, (Path(tmp) / "out").exists()))


class Fuzzer:
    def __init__(self, seeds: list[Path], memory_gib: int, build_every: int):
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.args = (seeds, memory_gib, build_every)
        self.proc = None

    def run(self, number: int, timeout: float) -> tuple[str | None, bool]:
        if self.proc is None or not self.proc.is_alive():
            self.conn, child = self.ctx.Pipe()
            self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
            self.proc.start()
        self.conn.send(number)
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        else:
            self.proc.kill()
            self.proc.join()
            return f"took more than {timeout:g} s", False
        self.proc.join()
        return f"the compiler's process died (exit status {self.proc.exitcode})", False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    ap.add_argument("--start", type=int, default=None, help="first case number (default: random, printed)")
    ap.add_argument("--replay", type=int, default=None, help="run this one case and print its outcome")
    ap.add_argument("--build", type=int, default=0, metavar="N", help="build and run every Nth accepted model")
    ap.add_argument("--crashes", type=Path, default=ROOT / "fuzz-crashes", help="where crashing models go")
    ap.add_argument("--timeout", type=float, default=60, help="seconds one case may take (default 60)")
    ap.add_argument("--memory", type=int, default=4, help="the compiler's address-space limit in GiB (default 4)")
    ap.add_argument("--seeds", default="", metavar="TEXT", help="only the seed models whose file name holds TEXT")
    args = ap.parse_args(argv)
    seeds = [p for p in seed_models() if args.seeds.lower() in p.name.lower()]
    if not seeds:
        print(f"fuzz: no seed models{f' named like {args.seeds!r}' if args.seeds else ''} found", file=sys.stderr)
        return 2
    first = args.replay if args.replay is not None else (
        args.start if args.start is not None else random.SystemRandom().randrange(1 << 48))
    if args.replay is None:
        again = f" --seeds {args.seeds}" if args.seeds else ""
        print(f"fuzz: {len(seeds)} seed models, cases from {first} on for {args.minutes:g} min "
              f"(this run again: --start {first}{again}; one case: --replay N{again})", flush=True)
    deadline = time.monotonic() + args.minutes * 60
    fuzzer = Fuzzer(seeds, args.memory, args.build)
    n = crashes = accepted = 0
    number = first
    while args.replay is not None or time.monotonic() < deadline:
        problem, compiled = fuzzer.run(number, args.timeout)
        n += 1
        accepted += compiled
        if problem is not None:
            crashes += 1
            seed, source = case(number, seeds)
            args.crashes.mkdir(parents=True, exist_ok=True)
            stem = args.crashes / f"case{number}"
            Path(f"{stem}.onnx").write_bytes(source if isinstance(source, bytes) else source.SerializeToString())
            Path(f"{stem}.txt").write_text(f"seed model: {seed.name}\n{problem}\n")
            print(f"fuzz: case {number} ({seed.stem}): {problem.strip().splitlines()[-1]}", flush=True)
        if args.replay is not None:
            print(f"fuzz: case {number}: {'ok' if problem is None else 'crash'}")
            return 1 if problem else 0
        number += 1
    print(f"fuzz: {n} cases from {first} in {args.minutes:g} min, {accepted} compiled, {crashes} crashes"
          + (f" (in {args.crashes})" if crashes else ""))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
