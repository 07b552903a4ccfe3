"""Tuning (auroragen.tune, --tune / --tuning-file): every tile shape the tuner may choose computes the
same results (on every host target, and AVX-512 under SIMDe where the CPU lacks it); --tune records a
winner per node in the tuning file, later compiles reuse it and emit the same code; bad tuning files and
targets this machine cannot time are one-line errors."""

from __future__ import annotations

import json

import cross
import numpy as np
import pytest
from helpers import compile_and_run, dense_model, host_targets, make_model, ort_reference
from onnx import helper
from test_lower import _conv_model

import auroragen
import auroragen.tune as tuner
from auroragen.cli import main
from auroragen.frontend import load as import_model
from auroragen.passes import run_pipeline
from auroragen.schedule.lowering import TUNABLE, TUNED_KERNELS, lower, micro_shapes, tuning_key
from auroragen.schedule.target import TARGETS

HOST = host_targets()
VECTOR = [t for t in ("avx2", "avx512") if t in HOST] + ([] if "avx512" in HOST else ["avx512+simde"])


KINDS = {  # what the tunable node lowers to: a model and its inputs
    "conv_direct": lambda: _conv_model(cin=7, cout=40, hw=11, kernel=3, pad=1, relu=True, residual=True),
    "conv_gemm": lambda: _conv_model(cin=9, cout=36, hw=7, kernel=1, relu=True),
    "dense": lambda: dense_model((2, 19), 37, 45, "matmul", residual=False),  # 38 rows: whole tiles and a remainder
}


def _tuned_key(model, target: str) -> str:
    g = run_pipeline(import_model(model))
    (n,) = [n for n in g.nodes if n.op in TUNABLE]
    return tuning_key(n, TARGETS[target], False)


def _write(path, entries: dict) -> None:
    path.write_text(json.dumps({"format": 1, "entries": entries}))


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("kind", KINDS)
def test_every_tile_shape_matches_onnxruntime(tmp_path, target, kind):
    """Each microkernel shape --tune may pick (micro_shapes), forced through a tuning file: the node takes
    it (the lowered op carries those tiles) and the results match onnxruntime through the ABI."""
    base = cross.compile_target(target) if target in cross.CROSS else target
    if target in cross.CROSS and cross.missing(target):
        pytest.skip(cross.missing(target))
    model, feeds = KINDS[kind]()
    want = ort_reference(model, feeds)[0]
    key = _tuned_key(model, base)
    for k, (mr, nv) in enumerate(micro_shapes(TARGETS[base])):
        tf = tmp_path / f"t{k}.json"
        _write(tf, {key: {"mr": mr, "nv": nv}})
        g = lower(run_pipeline(import_model(model)), TARGETS[base], tuning=tuner.read(tf))
        (n,) = [n for n in g.nodes if n.op in TUNED_KERNELS]
        assert (n.op, n.attrs["mr"], n.attrs["nv"]) == (kind, mr, nv)
        out = tmp_path / f"out{k}"
        if target in cross.CROSS:
            got = cross.build(model, target, out, tuning_file=tf)(*feeds.values())[0]
        else:
            got = compile_and_run(model, feeds, out, target=target, tuning_file=tf)[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"tiles {mr}x{nv}")


def _two_node_model():
    """A convolution and a matrix product after it: two tunable nodes."""
    rng = np.random.default_rng(4)
    inits = {"w": (rng.standard_normal((16, 3, 3, 3)) * 0.3).astype(np.float32),
             "m": rng.standard_normal((8, 10)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MatMul", ["r", "m"], ["y"])]
    feeds = {"x": rng.standard_normal((1, 3, 9, 8)).astype(np.float32)}
    return make_model(nodes, feeds, ["y"], inits), feeds


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(tuner, "BUDGET_S", 0.01)
    monkeypatch.setattr(tuner, "MIN_ROUNDS", 3)


@pytest.mark.parametrize("target", [t for t in HOST if t != "avx512"])
def test_tune_records_winners_that_later_compiles_reuse(tmp_path, target, quick, monkeypatch):
    model, feeds = _two_node_model()
    tf = tmp_path / "tuning.json"
    said: list[str] = []
    timed: list[tuple[dict, dict]] = []  # each round of timing: (the fastest choice, every candidate's median ms)
    best = tuner._Runs.best
    monkeypatch.setattr(tuner._Runs, "best", lambda runs: timed.append(best(runs)) or timed[-1])
    tuned = auroragen.compile(model, target=target, out_dir=tmp_path / "a", tuning_file=tf, tune=True, progress=said.append)
    data = json.loads(tf.read_text())
    assert data["format"] == 1 and data["machine"]
    entries = data["entries"]
    assert sorted(k.split(" ")[1].split("(")[0] for k in entries) == ["conv", "matmul"]
    assert all(k.startswith(f"{target} ") for k in entries)
    for e in entries.values():  # the fastest of a round of timing recorded, with the default's time beside it
        choice = {k: v for k, v in e.items() if k not in ("ms", "default_ms")}
        assert any(fastest == choice and e["ms"] == round(min(med.values()), 4) == round(med[json.dumps(choice)], 4)
                   and e["default_ms"] == round(med["{}"], 4) for fastest, med in timed), (e, timed)
        if "mr" in e:
            assert (e["mr"], e["nv"]) in micro_shapes(TARGETS[target])
    assert any("tuned 2 kernels" in s for s in said)
    # a later compile with the file: the same code, no timing; a second --tune times nothing new
    again = auroragen.compile(model, target=target, out_dir=tmp_path / "b", tuning_file=tf)
    assert (tmp_path / "a" / "model.c").read_text() == (tmp_path / "b" / "model.c").read_text()
    assert "tune" in tuned.timings and "tune" not in again.timings
    said.clear()
    auroragen.compile(model, target=target, out_dir=tmp_path / "c", tuning_file=tf, tune=True, progress=said.append)
    assert any("tuned 0 kernels" in s for s in said)
    got = compile_and_run(model, feeds, tmp_path / "d", target=target, tuning_file=tf)
    np.testing.assert_allclose(got[0], ort_reference(model, feeds)[0], rtol=1e-4, atol=1e-4)


def test_cli_tune_writes_the_default_file_and_names_it_in_the_code(tmp_path, monkeypatch, quick, capsys):
    model, _ = _two_node_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    monkeypatch.chdir(tmp_path)
    assert main([str(path), "--target", "generic", "-o", "out", "--tune", "-q"]) == 0
    assert len(json.loads((tmp_path / "auroragen-tuning.json").read_text())["entries"]) == 2
    assert "--tuning-file auroragen-tuning.json" in (tmp_path / "out" / "model.c").read_text()
    assert main([str(path), "--target", "generic", "-o", "out2", "--tuning-file", "auroragen-tuning.json", "-q"]) == 0
    assert (tmp_path / "out" / "model.c").read_text() == (tmp_path / "out2" / "model.c").read_text()


BAD_FILES = {
    "missing": (None, "does not exist"),
    "not-json": ("{entries", "not readable JSON"),
    "other-format": (json.dumps({"format": 7, "entries": {}}), "not an auroragen tuning file"),
    "not-an-object": (json.dumps({"format": 1, "entries": {"k": 3}}), "is not an object"),
    "zero-rows": (json.dumps({"format": 1, "entries": {"k": {"mr": 0, "nv": 2}}}), "mr = 0 is not an integer in [1, 16]"),
    "string": (json.dumps({"format": 1, "entries": {"k": {"mr": "6", "nv": 2}}}), "mr = '6'"),
    "half": (json.dumps({"format": 1, "entries": {"k": {"nv": 2}}}), "mr and nv go together"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_tuning_file_is_a_one_line_error(tmp_path, case, capsys):
    text, why = BAD_FILES[case]
    model, _ = _two_node_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    tf = tmp_path / "t.json"
    if text is not None:
        tf.write_text(text)
    assert main([str(path), "-o", str(tmp_path / "out"), "--tuning-file", str(tf)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("auroragen: error: tuning file") and why in err
    assert not (tmp_path / "out").exists()


def test_tune_refuses_a_target_this_machine_does_not_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the default tuning file would go
    model, _ = _two_node_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    assert main([str(path), "--target", "cortex-m", "-o", str(tmp_path / "out"), "--tune"]) == 1
    err = capsys.readouterr().err
    assert "does not run target 'cortex-m' code" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "auroragen-tuning.json").exists()


def test_unwritable_tuning_file_fails_before_timing(tmp_path, capsys, monkeypatch):
    model, _ = _two_node_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    monkeypatch.setattr(tuner, "tune", lambda *a, **k: pytest.fail("timed before finding the file unwritable"))
    assert main([str(path), "-o", str(tmp_path / "out"), "--tune", "--tuning-file", str(tmp_path / "no" / "t.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("auroragen: error: cannot write tuning file") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
