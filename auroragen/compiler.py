"""The compile driver: ONNX -> IR -> passes (-> tuning) -> generate.compile_graph -> OUT."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from . import frontend
from . import tune as tuner
from .errors import AuroraError
from .generate import CompileResult, check_out, check_prefix, check_target, compile_graph
from .passes import DEFAULT_LEVEL, run_pipeline, select
from .schedule.target import TARGETS

__all__ = ["CompileResult", "check_prefix", "check_target", "compile", "compile_graph"]


def compile(model, target: str = "generic", out_dir: str | os.PathLike = "out", *, name: str = "model",
            openmp: bool = False, dims: dict[str, int] | None = None, input_shapes: dict[str, list[int]] | None = None,
            bind: dict | None = None, opt_level: int = DEFAULT_LEVEL, passes: list[str] | None = None,
            command: str = "", progress: Callable[[str], None] | None = None,
            tuning_file: str | os.PathLike | None = None, tune: bool = False) -> CompileResult:
    """Compile an ONNX model (path or ModelProto) to C in out_dir, as ../ABI.md describes.

    `bind` fixes graph inputs to values at compile time (they stop being inputs).
    `opt_level` 0-2 picks the graph passes (see passes.PIPELINE); `passes` names them instead.
    `tuning_file`: tile choices measured by an earlier `tune` (see auroragen.tune); with `tune`, the
    nodes the file lacks (or all, when it does not exist yet) are timed on this machine first and the
    file is written with the winners.

    On any error out_dir is left as it was and AuroraError is raised.
    """
    check_prefix(name)
    check_target(target)
    check_out(Path(out_dir))
    if tune and tuning_file is None:
        raise AuroraError("tuning needs a tuning file to write the winners to")
    if tune:
        tuner.check_can_tune(tuning_file, TARGETS[target])
    entries = None
    if tuning_file is not None:
        entries = tuner.read(tuning_file) if not tune or Path(tuning_file).exists() else {}
    timings = {}
    t = time.perf_counter()
    model_proto = frontend.load_model(model, dims=dims, input_shapes=input_shapes, bind=bind)
    graph = frontend.import_model(model_proto)
    ops_before = Counter(n.op for n in graph.walk() if n.op != "constant")
    timings["load"] = time.perf_counter() - t
    if progress:
        progress(f"imported {len(model_proto.graph.node)} ONNX nodes")
    t = time.perf_counter()
    graph = run_pipeline(graph, select(opt_level, passes))
    timings["passes"] = time.perf_counter() - t
    if progress:
        progress("ran the graph passes")
    if tune:
        t = time.perf_counter()
        timed = tuner.tune(graph, TARGETS[target], openmp, entries, progress)
        tuner.write(tuning_file, entries)
        timings["tune"] = time.perf_counter() - t
        if progress:
            progress(f"tuned {timed} kernels; wrote {tuning_file}")
    res = compile_graph(graph, target, out_dir, name=name, openmp=openmp, command=command, progress=progress,
                        tuning=entries)
    res.timings = {**timings, **res.timings}
    res.ops_before = ops_before
    return res
