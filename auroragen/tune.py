"""Tuning: time candidate tile choices of a graph's GEMM-like nodes on this machine, keep the fastest.

By default the lowering picks tiles with cache-aware heuristics (schedule/lowering). `auroragen --tune`
compiles each convolution and matrix product of the model alone, once per candidate (the microkernel's
tile shapes that fit the vector registers, micro_shapes; then for a dense node the rows packed per block),
builds each with the system's cc, times them against one another in turns (medians; the machine may be
busy), and records the winner of every node in a tuning file. `--tuning-file FILE` gives that file to
later compiles, which use its choices for the nodes it has (nodes that compute the same thing share an
entry: tuning_key) and the heuristics for the rest.

The file is JSON: {"format": 1, "machine": "...", "entries": {key: {"mr": .., "nv": .., "mc": ..,
"ms": .., "default_ms": ..}}}; the times are what this machine measured, for reading only.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .compiled import load
from .errors import AuroraError
from .generate import compile_graph
from .ir import Graph, Node
from .schedule.lowering import KERNEL_TUNES, TUNABLE, TUNED_KERNELS, micro_shapes, tuning_key
from .schedule.target import Target, runs_on_host

FORMAT = 1
CHOICES = {"mr": (1, 16), "nv": (1, 4), "mc": (1, 1 << 20)}  # the tile choices an entry may hold, and their ranges
BUDGET_S = 0.4  # timing per candidate, at most (and at least MIN_ROUNDS calls)
MIN_ROUNDS, MAX_ROUNDS = 7, 200


def read(path: str | os.PathLike) -> dict[str, dict]:
    """A tuning file's entries (checked: a bad file is an error naming the file and the entry)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise AuroraError(f"tuning file {str(p)!r} does not exist (write one with --tune)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise AuroraError(f"tuning file {str(p)!r} is not readable JSON: {' '.join(str(e).split())[:200]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        raise AuroraError(f"tuning file {str(p)!r} is not an auroragen tuning file (format {FORMAT})")
    out = {}
    for key, e in data["entries"].items():
        if not isinstance(e, dict):
            raise AuroraError(f"tuning file {str(p)!r}: entry {key[:80]!r} is not an object")
        choice = {}
        for k, (lo, hi) in CHOICES.items():
            if k in e:
                v = e[k]
                if type(v) is not int or not lo <= v <= hi:
                    raise AuroraError(f"tuning file {str(p)!r}: entry {key[:80]!r}: {k} = {v!r} is not an integer in [{lo}, {hi}]")
                choice[k] = v
        if ("mr" in choice) != ("nv" in choice):
            raise AuroraError(f"tuning file {str(p)!r}: entry {key[:80]!r}: mr and nv go together")
        choice.update({k: e[k] for k in ("ms", "default_ms") if type(e.get(k)) in (int, float)})
        out[key] = choice
    return out


def check_can_tune(path: str | os.PathLike, target: Target) -> None:
    """Raise before any work when tuning cannot finish: the target's code does not run here, or the tuning
    file cannot be written (a probe file beside it, removed again: nothing is left behind)."""
    _check_runs_here(target)
    p = Path(path)
    fd, tmp = _temp_beside(p)
    os.close(fd)
    os.unlink(tmp)
    if p.exists() and not os.access(p, os.W_OK):
        raise AuroraError(f"cannot write tuning file {str(p)!r}: Permission denied")


def _check_runs_here(target: Target) -> None:
    if not runs_on_host(target):
        raise AuroraError(f"--tune times the code on this machine, which does not run target {target.name!r} code")


def _temp_beside(p: Path) -> tuple[int, str]:
    """A new temporary file in p's folder (fd, path); a one-line error when the folder takes none."""
    try:
        return tempfile.mkstemp(prefix=f".{p.name}.", dir=p.resolve().parent)
    except OSError as e:
        raise AuroraError(f"cannot write tuning file {str(p)!r}: {e.strerror}") from None


def write(path: str | os.PathLike, entries: dict[str, dict]) -> None:
    """Write the tuning file whole (a temporary file renamed over it: never half-written)."""
    p = Path(path)
    data = {"format": FORMAT, "machine": _machine(), "entries": {k: entries[k] for k in sorted(entries)}}
    fd, tmp = _temp_beside(p)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.replace(tmp, p)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise AuroraError(f"cannot write tuning file {str(p)!r}: {e.strerror}") from None
        raise


def _machine() -> str:
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        return next(ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _alone(g: Graph, n: Node) -> Graph:
    """A graph of node n alone: its constant inputs kept, the others graph inputs, its outputs the outputs."""
    consts = g.constants()
    nodes, inputs = [], []
    for v in n.inputs:
        if v is None:
            continue
        if v in consts:
            if consts[v] not in nodes:
                nodes.append(consts[v])
        elif v not in inputs:
            inputs.append(v)
    return Graph(inputs, list(n.outputs), nodes + [n], name="tune")


def candidates(target: Target) -> list[dict]:
    """The tile choices to time for a node, the heuristics' own (an empty choice) first (a candidate that
    lowers to the same tiles as an earlier one is not timed again: _Runs.add)."""
    return [{}] + [dict(mr=mr, nv=nv) for mr, nv in micro_shapes(target)]


def tune(graph: Graph, target: Target, openmp: bool, entries: dict[str, dict],
         progress: Callable[[str], None] | None = None) -> int:
    """Time the candidates of every tunable node of graph with no entry yet; add the winners to entries.
    Returns how many nodes were timed."""
    _check_runs_here(target)
    todo: dict[str, Node] = {}
    for n in graph.nodes:
        if n.op in TUNABLE:
            key = tuning_key(n, target, openmp)
            if key not in entries and key not in todo:
                todo[key] = n
    for k, (key, n) in enumerate(todo.items()):
        label = f"{n.op} {n.name!r} {list(n.inputs[0].shape)}" if n.name else f"{n.op} {list(n.inputs[0].shape)}"
        if progress:
            progress(f"tuning {k + 1}/{len(todo)}: {label}")
        entries[key] = _tune_node(graph, n, key, target, openmp)
    return len(todo)


def _tune_node(graph: Graph, n: Node, key: str, target: Target, openmp: bool) -> dict:
    """The best choice for one node: every microkernel shape, then for a dense node its block rows (mc)."""
    sub = _alone(graph, n)
    with tempfile.TemporaryDirectory(prefix="auroragen-tune-") as tmp:
        runs = _Runs(sub, key, target, openmp, Path(tmp))
        first, *rest = candidates(target)
        if not runs.add(first):
            return {}  # the node does not become a tunable kernel (a depthwise conv_flat, say): nothing to choose
        for c in rest:
            runs.add(c)
        best, times = runs.best()
        node = runs.lowered[json.dumps(best)]
        if "mc" in KERNEL_TUNES.get(node.op, ()) and best.get("mc") is None:  # then how many rows to pack per block
            mc, mr, rows = node.attrs["mc"], node.attrs["mr"], int(np.prod(node.inputs[0].shape[:-1]))
            for m in sorted({mr, mc // 2 // mr * mr, 2 * mc, rows // mr * mr} - {mc}):
                if mr <= m <= max(mr, rows // mr * mr):
                    runs.add({**best, "mc": m})
            best, times = runs.best()  # all of them again, in turns
    ms = times[json.dumps(best)]
    return {**best, "ms": round(ms, 4), "default_ms": round(times.get(json.dumps({}), ms), 4)}


class _Runs:
    """Compiled candidates of one node, timed against each other in turns."""

    def __init__(self, sub: Graph, key: str, target: Target, openmp: bool, folder: Path):
        self.sub, self.key, self.target, self.openmp, self.folder = sub, key, target, openmp, folder
        self.models: dict[str, object] = {}  # choice (as JSON) -> the built candidate
        self.lowered: dict[str, Node] = {}  # choice (as JSON) -> the kernel node it lowered to
        self.want = None  # the first candidate's outputs, which every other must match
        self.name = sub.nodes[-1].name
        rng = np.random.default_rng(0)
        self.feeds = [rng.standard_normal(v.shape).astype(v.dtype.np) if v.dtype.np.kind == "f"
                      else np.zeros(v.shape, v.dtype.np) for v in sub.inputs]

    def add(self, choice: dict) -> bool:
        """Compile and build one candidate; one that its lowering does not take (too wide a panel for the
        node's channels, a kernel it does not reach) or that lowers to the tiles of one already built is left
        out (False)."""
        tag = json.dumps(choice)
        out = self.folder / f"c{len(self.models)}"
        res = compile_graph(self.sub, self.target.name, out, name="t", openmp=self.openmp,
                                     tuning={self.key: choice}, command="auroragen --tune")
        node = next((m for m in res.schedule.graph.nodes if m.op in TUNED_KERNELS), None)
        if node is None or any(node.attrs.get(k) != v for k, v in choice.items()):
            return False
        tiles = [(m.op, m.attrs["mr"], m.attrs["nv"], m.attrs.get("mc")) for m in self.lowered.values()]
        if (node.op, node.attrs["mr"], node.attrs["nv"], node.attrs.get("mc")) in tiles:
            return False
        self.lowered[tag] = node
        model = load(out)
        got = model(*self.feeds)
        if self.want is None:
            self.want = got
        elif not all(np.allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, float(np.max(np.abs(b), initial=0))))
                     for a, b in zip(got, self.want)):
            # the same sums in the same order but for the tiling: a difference is a bug of ours, not a choice
            raise AuroraError(f"tuning node {self.name!r}: tiles {choice} give results unlike the first candidate's")
        self.models[tag] = model
        return True

    def best(self) -> tuple[dict, dict[str, float]]:
        """The fastest candidate and every candidate's median time in ms, timed in turns (warmed up first)."""
        for m in self.models.values():
            m(*self.feeds)
        times: dict[str, list[float]] = {t: [] for t in self.models}
        start = time.perf_counter()
        budget = BUDGET_S * len(self.models)
        rounds = 0
        while rounds < MIN_ROUNDS or (rounds < MAX_ROUNDS and time.perf_counter() - start < budget):
            for tag, m in self.models.items():
                t0 = time.perf_counter()
                m(*self.feeds)
                times[tag].append(time.perf_counter() - t0)
            rounds += 1
        med = {t: statistics.median(v) * 1e3 for t, v in times.items()}
        return json.loads(min(med, key=med.get)), med
