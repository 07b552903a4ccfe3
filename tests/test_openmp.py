"""--openmp: every kernel form that parallelises, built warning-free under gcc and clang and run through the
runner on three threads (uneven shares) against onnxruntime."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from helpers import host_targets, make_model, ort_reference
from onnx import helper

import auroragen

STRICT = "-O2 -std=c99 -Wall -Wextra -Werror -pedantic"
TARGETS = [t for t in ("generic", "avx2") if t in host_targets()]


def _conv(cin, cout, hw, k=3, stride=1, pad=1, group=1, residual=False, relu=True):
    rng = np.random.default_rng(cin * 31 + cout)
    w = (rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(cin // group * k * k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[stride] * 2, pads=[pad] * 4, group=group)]
    last = "c"
    feeds = {"x": rng.standard_normal((1, cin, hw, hw)).astype(np.float32)}
    if residual:
        o = (hw + 2 * pad - k) // stride + 1
        feeds["r"] = rng.standard_normal((1, cout, o, o)).astype(np.float32)
        nodes.append(helper.make_node("Add", [last, "r"], ["s"]))
        last = "s"
    nodes.append(helper.make_node("Relu" if relu else "Identity", [last], ["y"]))
    return make_model(nodes, feeds, ["y"], {"w": w, "b": b}), feeds


def _chain():
    """conv -> relu -> conv + residual: channels-last between the two on vector targets."""
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1] * 4), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1] * 4), helper.make_node("Add", ["c", "b"], ["y"])]
    feeds = {"x": rng.standard_normal((1, 16, 30, 30)).astype(np.float32)}
    return make_model(nodes, feeds, ["y"], {"w1": w1, "w2": w2}), feeds


def _matmul(m, k, n):
    rng = np.random.default_rng(m + k + n)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["p"]), helper.make_node("Add", ["p", "b"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    feeds = {"x": rng.standard_normal((m, k)).astype(np.float32)}
    return make_model(nodes, feeds, ["y"], {"w": w, "b": b}), feeds


def _attention():
    rng = np.random.default_rng(5)
    feeds = {n: rng.standard_normal((1, 4, 128, 16)).astype(np.float32) for n in "qkv"}
    return make_model([helper.make_node("Attention", ["q", "k", "v"], ["y"])], feeds, ["y"], opset=23), feeds


def _pool():
    rng = np.random.default_rng(6)
    feeds = {"x": rng.standard_normal((1, 64, 64, 64)).astype(np.float32)}
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)]
    return make_model(nodes, feeds, ["y"]), feeds


CASES = {
    "conv3x3": lambda: _conv(16, 32, 32),
    "conv3x3-stride2-residual": lambda: _conv(16, 24, 33, stride=2, residual=True),
    "conv1x1-partial-panel": lambda: _conv(24, 40, 15, k=1, pad=0),
    "conv1x1-wide-input": lambda: _conv(96, 16, 20, k=1, pad=0),
    "conv3x3-long-reduction": lambda: _conv(300, 16, 9),
    "conv-chain": _chain,
    "depthwise": lambda: _conv(32, 32, 40, group=32),
    "depthwise-stride2": lambda: _conv(24, 24, 61, stride=2, group=24, residual=True),
    "depthwise-large-planes": lambda: _conv(8, 8, 190, group=8),  # planes too large for the stack: in the arena
    "grouped": lambda: _conv(8, 8, 40, pad=2, group=2),
    "grouped-thin": lambda: _conv(6, 6, 64, group=3),
    "conv3x3-few-outputs": lambda: _conv(100, 13, 20),
    "conv3x3-six-outputs": lambda: _conv(64, 6, 24),  # an implicit GEMM on vector targets
    "matmul-rows": lambda: _matmul(37, 64, 100),
    "matmul-row": lambda: _matmul(1, 512, 300),
    "attention": _attention,
    "maxpool": _pool,
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", list(CASES))
def test_parallel_kernels_match_on_three_threads(tmp_path, target, case):
    model, feeds = CASES[case]()
    out = tmp_path / "out"
    res = auroragen.compile(model, target=target, out_dir=out, openmp=True)
    assert "#pragma omp" in (out / "model.c").read_text(), f"no kernel of {case} runs in parallel"
    subprocess.run(["make", "-s", "-C", str(out), f"CFLAGS={STRICT}"], check=True, capture_output=True)
    names = [v.name for v in res.graph.inputs]
    ins = []
    for k, name in enumerate(names):
        p = tmp_path / f"in{k}.bin"
        p.write_bytes(np.ascontiguousarray(feeds[name]).tobytes())
        ins.append(str(p))
    want = ort_reference(model, feeds)
    outs = [str(tmp_path / f"out{j}.bin") for j in range(len(want))]
    r = subprocess.run([str(out / "model_runner"), *ins, "-o", *outs], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "3"})
    assert r.returncode == 0, r.stderr
    for p, w in zip(outs, want):
        np.testing.assert_allclose(np.fromfile(p, dtype=np.float32).reshape(w.shape), w, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "generic"] or TARGETS)
def test_parallel_kernels_compile_warning_free_under_clang(tmp_path, target):
    """The library only (clang links OpenMP programs against libomp, which this test does not need); the
    vector target's (generic's kernels are the same templates with scalar code)."""
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (.ci/run installs clang)")
    for case, build in CASES.items():
        out = tmp_path / case
        auroragen.compile(build()[0], target=target, out_dir=out, openmp=True)
        r = subprocess.run(["make", "-s", "-C", str(out), "CC=clang", f"CFLAGS={STRICT} -O3", "libmodel.a"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "warning" not in r.stderr, f"{case}: {r.stderr}{r.stdout}"
