"""The generated C reads like hand-written C: no loop that runs once, no multiplication by 1 (emit/affine.py
folds them in the plans), checked on the benchmark models for every target; and the index arithmetic that
does it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from auroragen.emit.affine import Ix, Loop, at, cmin, plus, zeros

ROOT = Path(__file__).resolve().parent.parent

LOOP = re.compile(r"for \((?:long |int )?(\w+) = (-?\d+); \1 < (-?\d+); (?:\+\+\1|\1\+\+|\1 \+= (\d+))\)")
TIMES_ONE = re.compile(r"(?<![\w.])\* 1(?![\w.])|(?<![\w.)/%])1 \*(?![=/])")
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def hand_written_faults(c: str) -> list[str]:
    """Lines with a for loop of constant bounds that runs once, or a `* 1` / `1 *` (comments aside)."""
    out = []
    for n, line in enumerate(COMMENT.sub(lambda m: " " * len(m.group()), c).splitlines(), 1):
        for m in LOOP.finditer(line):
            lo, hi, step = int(m[2]), int(m[3]), int(m[4] or 1)
            if lo < hi and -(-(hi - lo) // step) == 1:
                out.append(f"{n}: a loop that runs once: {line.strip()}")
        if TIMES_ONE.search(line):
            out.append(f"{n}: a multiplication by 1: {line.strip()}")
    return out


def test_the_checker_finds_what_it_looks_for():
    bad = "for (long n = 0; n < 1; ++n) {\nx = a[i * 1 + 2];\nfor (long r0 = 0; r0 < 8; r0 += 102) {\ny = 1 * b;\n"
    assert len(hand_written_faults(bad)) == 4
    good = ("for (long n = 0; n < 2; ++n) {\nx = a[i * 10 + 1];\n/* axis 1 */\ny = b * 1.5f + c[1] * d;\n"
            "for (long k = 0; k < 0; ++k) {\nz = q * 12 + 1;\n")
    assert hand_written_faults(good) == []


def test_index_arithmetic_folds_what_hand_written_c_leaves_out():
    n, g, c = Loop("n", 1), Loop("g", 1), Loop("c", 64)
    assert n.head == n.tail == "" and str(n) == "0" and n.once
    assert c.head == "for (long c = 0; c < 64; ++c) {" and c.tail == "}"
    assert str((n * 64 + g * 1 + c) * 49 + Ix.var("ih")) == "c * 49 + ih"
    assert str(3136 - Loop("p0", 3136, step=128)) == "3136 - p0"
    assert Loop("p0", 100, step=128).once and Loop("kc0", 64, step=64).once and not Loop("kc0", 65, step=64).once
    assert Loop("q", 1, keep=True).head == "for (long q = 0; q < 1; ++q) {"  # an OpenMP worksharing loop stays one
    assert cmin(100 - Loop("p0", 100, step=128), 128) == "100"
    assert cmin(Ix.var("n") - 3, 8) == "n - 3 < 8 ? n - 3 : 8"
    assert (Ix.var("m0") + Ix.var("i")).times(3136) == "(m0 + i) * 3136" and Ix.var("c").times(1) == "c"
    assert plus(Loop("b", 1) * 40) == "" and plus(Ix.var("q"), 24) == " + q * 24"
    assert str(at([128, 0, 1], "b", 5)) == "b0 * 128 + b2 + 5"
    assert zeros("row", 0, 0) == "" and zeros("row", 11, 12) == "row[11] = 0.0f;"
    assert str(Ix.var("x") * 2 - 3) == "x * 2 - 3" and str(-Ix.var("a")) == "-a" and str(Ix()) == "0"
    with pytest.raises(ValueError):
        Ix.var("a") * Ix.var("b")


def test_comments_are_cut_between_words():
    from auroragen.emit.cformat import c_comment

    assert c_comment("conv 3x3 stride 1 group 1: [1, 64, 56, 56] -> [1, 64, 56, 56] + residual", 60) == \
        "conv 3x3 stride 1 group 1: [1, 64, 56, 56] -> [1, 64, 56,..."
    assert c_comment("a/very/long/onnx/node/name/without/any/spaces", 20) == "a/very/long/onnx/nod..."
    assert c_comment("short", 20) == "short" and c_comment("x */ y", 20) == "x *? y"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("torch", reason="torch==2.13.0 exports the benchmark models (pip install torch==2.13.0)")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench

    return bench


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "transformer", "bert", "mlp", "lstm", "ds-cnn", "gemm512"])
def test_benchmark_models_generate_hand_written_c(bench, name, tmp_path):
    """Every target's C for each benchmark model (serial: under --openmp a worksharing loop stays a loop)."""
    import onnx

    import auroragen
    from auroragen.schedule.target import TARGETS

    assert {*bench.MODELS, "gemm512"} == {"resnet18", "mobilenetv2", "transformer", "bert", "mlp", "lstm", "ds-cnn", "gemm512"}
    model = bench.gemm_model() if name == "gemm512" else onnx.load(str(bench.model_path(name)))
    faults = []
    for target in TARGETS:
        out = tmp_path / target
        auroragen.compile(model, target=target, out_dir=out)
        for f in sorted(out.glob("*.c")):
            faults += [f"{target}/{f.name}:{x}" for x in hand_written_faults(f.read_text())]
    assert faults == [], "\n".join(faults[:30])
