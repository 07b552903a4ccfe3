"""The command line and the generated-code contract, exercised the way users do."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers import make_model, reference
from onnx import TensorProto, helper, numpy_helper

import auroragen

BIN = Path(sys.executable).parent / "auroragen"
CMD = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "auroragen"]
STRICT = "-O2 -std=c99 -Wall -Wextra -Werror -pedantic"


def run_cli(*args, check=False):
    r = subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def tree_digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir()) if p.is_file()}


def assert_clean_error(r, *needles):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("auroragen: error: "), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]


def run_runner(out: Path, prefix: str, inputs: list[np.ndarray], outputs: list[tuple], tmp: Path, extra=()):
    ins = []
    for k, a in enumerate(inputs):
        p = tmp / f"in{k}.bin"
        p.write_bytes(np.ascontiguousarray(a).tobytes())
        ins.append(str(p))
    outs = [str(tmp / f"out{j}.bin") for j in range(len(outputs))]
    r = subprocess.run([str(out / f"{prefix}_runner"), *ins, "-o", *outs, *extra], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [np.fromfile(p, dtype=dt).reshape(shape) for p, (dt, shape) in zip(outs, outputs)], r.stderr


# -- happy path -------------------------------------------------------------------


def test_help_explains_the_command():
    r = run_cli("--help", check=True)
    for word in ("--target", "--dim", "--input-shape", "--emit-ir", "--name", "--openmp", "examples:"):
        assert word in r.stdout


def test_compile_build_and_run_with_the_runner(tiny_cnn, tmp_path):
    out = tmp_path / "out"
    r = run_cli(tiny_cnn, "--target", "generic", "-o", out, check=True)
    assert "arena" in r.stdout and "lower bound" in r.stdout
    expected = {"model.h", "model.c", "model_weights.h", "model_weights.c", "model_runner.c", "Makefile", "aurora_rt.h"}
    assert expected <= {p.name for p in out.iterdir()}
    subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)
    assert {"libmodel.a", "libmodel.so", "model_runner"} <= {p.name for p in out.iterdir()}
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    (y,), err = run_runner(out, "model", [x], [(np.float32, (1, 10))], tmp_path, extra=("--repeat", "5"))
    want = reference(onnx.load(tiny_cnn), {"image": x})[0]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-6)
    assert err.startswith("aurora: runs=5 median_us=") and "min_us=" in err


def test_runner_rejects_a_wrong_sized_input(tiny_cnn, tmp_path):
    out = tmp_path / "out"
    run_cli(tiny_cnn, "-o", out, check=True)
    subprocess.run(["make", "-s", "-C", str(out), "model_runner"], check=True, capture_output=True)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 10)
    r = subprocess.run([str(out / "model_runner"), str(bad), "-o", str(tmp_path / "y.bin")], capture_output=True, text=True)
    assert r.returncode != 0 and "exactly 3072 bytes" in r.stderr


def test_openmp_build_runs_and_matches(tiny_cnn, tmp_path):
    """--openmp builds with -fopenmp; kernels too small to repay waking the threads stay serial."""
    out = tmp_path / "out"
    run_cli(tiny_cnn, "-o", out, "--openmp", check=True)
    assert "#pragma omp" not in (out / "model.c").read_text(), "the tiny model's kernels are all below PARALLEL_MIN_WORK"
    assert "-fopenmp" in (out / "Makefile").read_text()
    subprocess.run(["make", "-s", "-C", str(out), f"CFLAGS={STRICT}"], check=True, capture_output=True)
    x = np.random.default_rng(4).standard_normal((1, 3, 16, 16)).astype(np.float32)
    (y,), _ = run_runner(out, "model", [x], [(np.float32, (1, 10))], tmp_path)
    np.testing.assert_allclose(y, reference(onnx.load(tiny_cnn), {"image": x})[0], rtol=1e-4, atol=1e-6)


def test_openmp_parallelises_the_kernels_with_work(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 16, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    path = tmp_path / "conv.onnx"
    model = make_model(nodes, {"x": x}, ["y"], {"w": w})
    onnx.save(model, str(path))
    out = tmp_path / "out"
    run_cli(path, "-o", out, "--openmp", check=True)
    text = (out / "model.c").read_text()
    conv, pool = text.split("/* max pool")[0], text.split("/* max pool")[1].split("\n}\n")[0]
    assert "#pragma omp parallel" in conv, "the 4.7M multiply-add convolution runs in parallel"
    assert "#pragma omp" not in pool, "the 8K-element pooling does not"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    subprocess.run(["make", "-s", "-C", str(out), f"CFLAGS={STRICT}"], check=True, capture_output=True, env=env)
    (y,), _ = run_runner(out, "model", [x], [(np.float32, (1, 32, 16, 16))], tmp_path)
    np.testing.assert_allclose(y, reference(model, {"x": x})[0], rtol=1e-4, atol=1e-5)
    # loaded into Python with busy-waiting workers, the interpreter exits cleanly (the library stays mapped)
    code = ("import sys, numpy as np, auroragen; m = auroragen.load(sys.argv[1]); "
            "m(np.zeros((1, 16, 32, 32), np.float32)); print('ran')")
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                       env={**env, "OMP_WAIT_POLICY": "active"})
    assert r.returncode == 0 and r.stdout.strip() == "ran", r.stderr[-2000:]


def test_without_openmp_no_pragma_or_header_appears(tiny_cnn, tmp_path):
    out = tmp_path / "out"
    run_cli(tiny_cnn, "-o", out, check=True)
    text = "".join(p.read_text() for p in out.iterdir() if p.suffix in (".c", ".h"))
    assert "#pragma omp" not in text and "omp.h" not in text
    assert "openmp" not in (out / "Makefile").read_text()


def test_output_is_deterministic(tiny_cnn, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli(tiny_cnn, "-o", a, check=True)
    run_cli(tiny_cnn, "-o", b, check=True)
    assert tree_digest(a) == tree_digest(b)


def _big_weights_model():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 32)).astype(np.float32)  # 8 KB: goes to the .bin blob
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    feeds = {"x": rng.standard_normal((3, 64)).astype(np.float32)}
    return make_model(nodes, feeds, ["y"], {"w": w}), feeds


def _sharing_model():
    """Concat slices, a split view and an in-place elementwise kernel (pointers at offsets, no restrict)."""
    x = np.zeros((1, 4, 3, 5), np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Softmax", ["t"], ["s"], axis=3),
             helper.make_node("Concat", ["t", "s"], ["c"], axis=1),
             helper.make_node("Split", ["c"], ["p", "q"], axis=1, num_outputs=2),
             helper.make_node("Softmax", ["p"], ["u"], axis=2),
             helper.make_node("Add", ["u", "q"], ["a"]),
             helper.make_node("Softmax", ["a"], ["y"], axis=3)]
    return make_model(nodes, {"x": x}, ["y"], opset=18)


def _attention_op_model():
    """Attention over 128 keys: score rows of whole vectors in a stack array (gcc 12 -O3 once warned,
    -Waggressive-loop-optimizations, on the empty scalar tail of their exponentials)."""
    rng = np.random.default_rng(5)
    feeds = {n: rng.standard_normal((1, 2, 128, 16)).astype(np.float32) for n in "qkv"}
    return make_model([helper.make_node("Attention", ["q", "k", "v"], ["y"])], feeds, ["y"], opset=23)


@pytest.mark.parametrize("target", ["generic", "avx2"])
@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_generated_c_is_warning_free(cc, target, tiny_cnn, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed (.ci/run installs clang)")
    for k, model in enumerate([onnx.load(tiny_cnn), _big_weights_model()[0], _sharing_model(), _attention_op_model()]):
        out = tmp_path / f"out{k}"
        auroragen.compile(model, out_dir=out, target=target)
        for opt in ("-O0", "-O3"):
            subprocess.run(["make", "-s", "-C", str(out), "clean"], check=True)
            r = subprocess.run(["make", "-s", "-C", str(out), f"CC={cc}", f"CFLAGS={STRICT} {opt}"], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr + r.stdout
            assert "warning" not in r.stderr


def test_large_weights_go_to_an_incbin_blob(tmp_path):
    model, feeds = _big_weights_model()
    out = tmp_path / "out"
    auroragen.compile(model, out_dir=out)
    assert (out / "model_blob.S").exists() and (out / "model_weights.bin").stat().st_size >= 64 * 32 * 4
    got = auroragen.load(out)(**feeds)
    np.testing.assert_allclose(got[0], reference(model, feeds)[0], rtol=1e-5, atol=1e-6)


def test_two_models_link_into_one_program(tmp_path):
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float32)}
    m1 = make_model([helper.make_node("Relu", ["x"], ["y"])], feeds, ["y"])
    m2 = make_model([helper.make_node("Neg", ["x"], ["y"])], feeds, ["y"])
    for name, m in (("alpha", m1), ("beta", m2)):
        auroragen.compile(m, out_dir=tmp_path / name, name=name)
        subprocess.run(["make", "-s", "-C", str(tmp_path / name), f"lib{name}.a"], check=True)
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "alpha.h"\n#include "beta.h"\n'
        "int main(void) {\n"
        "    float x[6] = {1, -2, 3, -4, 5, -6}, a[6], b[6];\n"
        "    const void *in[1] = {x}; void *oa[1] = {a}, *ob[1] = {b};\n"
        "    if (alpha_run(in, oa, NULL) || beta_run(in, ob, NULL)) return 1;\n"
        "    for (int i = 0; i < 6; ++i) printf(\"%g %g\\n\", a[i], b[i]);\n"
        "    return ALPHA_NUM_INPUTS + BETA_NUM_OUTPUTS - 2;\n}\n"
    )
    exe = tmp_path / "both"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", f"-I{tmp_path / 'alpha'}", f"-I{tmp_path / 'beta'}", str(main),
                    str(tmp_path / "alpha" / "libalpha.a"), str(tmp_path / "beta" / "libbeta.a"), "-lm", "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert r.stdout.split("\n")[1] == "0 2"


def test_emit_ir_prints_the_graph(tiny_cnn):
    r = run_cli(tiny_cnn, "--emit-ir", check=True)
    assert r.stdout.startswith("aurora.graph @main(")
    assert "aurora.conv" in r.stdout and "aurora.softmax" in r.stdout


def test_dump_after_prints_the_ir_after_a_pass(tiny_cnn):
    passes = [line.split()[0] for line in run_cli("--list-passes", check=True).stdout.splitlines()]
    assert "dce" in passes and "fold-affine" in passes
    r = run_cli(tiny_cnn, "--dump-after", "dce", check=True)
    assert r.stdout.startswith("aurora.graph @main(") and "aurora.conv" in r.stdout
    assert_clean_error(run_cli(tiny_cnn, "--dump-after", "nosuchpass"), "no such pass")


def test_interpret_runs_an_onnx_file(tiny_cnn):
    x = np.random.default_rng(9).standard_normal((1, 3, 16, 16)).astype(np.float32)
    got = auroragen.interpret(tiny_cnn, {"image": x})
    np.testing.assert_allclose(got[0], reference(onnx.load(tiny_cnn), {"image": x})[0], rtol=1e-5, atol=1e-7)


def test_run_rejects_null_pointers_and_misaligned_arenas(tiny_cnn, tmp_path):
    out = tmp_path / "out"
    auroragen.compile(tiny_cnn, out_dir=out)
    m = auroragen.load(out)
    ffi = m.ffi
    x = np.zeros((1, 3, 16, 16), np.float32)
    y = np.zeros((1, 10), np.float32)
    arena = np.zeros(m.arena_bytes + 128, np.uint8)
    base = (-arena.ctypes.data) % 64
    ins = ffi.new("const void *[]", [ffi.from_buffer(x)])
    outs = ffi.new("void *[]", [ffi.from_buffer(y)])
    aligned = ffi.from_buffer(arena[base:])
    misaligned = ffi.from_buffer(arena[base + 4:])
    assert m._run(ins, outs, aligned) == 0
    assert m._run(ffi.NULL, outs, aligned) == -1
    assert m._run(ffi.new("const void *[]", [ffi.NULL]), outs, aligned) == -1
    assert m._run(ins, outs, ffi.NULL) == -1
    assert m._run(ins, outs, misaligned) == -2
    info = m.lib.model_input_info
    assert info(1) == ffi.NULL and info(-1) == ffi.NULL


# -- bad input ----------------------------------------------------------------------


def _unknown_op_model():
    feeds = {"x": np.zeros((2,), np.float32)}
    return make_model([helper.make_node("Relu", ["x"], ["h"], name="ok"),
                       helper.make_node("FancyNewOp", ["h"], ["y"], name="mystery_node")], feeds, ["y"])


def test_unknown_op_is_a_one_line_error_and_out_is_untouched(tiny_cnn, tmp_path):
    out = tmp_path / "out"
    run_cli(tiny_cnn, "-o", out, check=True)
    before = tree_digest(out)
    bad = tmp_path / "bad.onnx"
    m = _unknown_op_model()
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    onnx.save(m, bad)
    r = run_cli(bad, "-o", out)
    assert_clean_error(r, "mystery_node", "FancyNewOp", "unsupported operator")
    assert tree_digest(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"\x08\x07\x12\x04junk\xff\xff\xff", "not"),
    (os.urandom(2000), ""),
])
def test_malformed_files_are_clean_errors(content, needle, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    r = run_cli(bad, "-o", tmp_path / "out")
    assert_clean_error(r, needle)
    assert not (tmp_path / "out").exists()


def test_truncated_model_is_a_clean_error(tiny_cnn, tmp_path):
    data = Path(tiny_cnn).read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: len(data) // 2])
    assert_clean_error(run_cli(bad, "-o", tmp_path / "out"))


def test_missing_file_is_a_clean_error(tmp_path):
    assert_clean_error(run_cli(tmp_path / "nope.onnx", "-o", tmp_path / "out"), "cannot read")


def _symbolic_model(path: Path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def test_unfixed_symbolic_dimension_names_the_dim_and_the_flag(tmp_path):
    p = tmp_path / "sym.onnx"
    _symbolic_model(p)
    assert_clean_error(run_cli(p, "-o", tmp_path / "out"), "'batch'", "--dim batch=")
    run_cli(p, "-o", tmp_path / "out", "--dim", "batch=3", check=True)
    assert "{ 3, 4 }" in (tmp_path / "out" / "model.c").read_text()
    run_cli(p, "-o", tmp_path / "out2", "--input-shape", "x=5x4", check=True)
    assert "{ 5, 4 }" in (tmp_path / "out2" / "model.c").read_text()
    assert_clean_error(run_cli(p, "-o", tmp_path / "out3", "--dim", "btach=3"), "btach")


def test_non_auroragen_output_folder_is_not_overwritten(tiny_cnn, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    assert_clean_error(run_cli(tiny_cnn, "-o", out), "not empty")
    assert (out / "notes.txt").read_text() == "precious"


def test_bad_prefix_is_refused(tiny_cnn, tmp_path):
    assert_clean_error(run_cli(tiny_cnn, "-o", tmp_path / "o", "--name", "1bad"), "not a C identifier")
    assert_clean_error(run_cli(tiny_cnn, "-o", tmp_path / "o", "--name", "int"), "reserved")


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_may_not_leave_the_model_folder(location, tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "outside.bin").write_bytes(np.ones(4, np.float32).tobytes())
    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    feeds = {"x": np.zeros(4, np.float32)}
    m = make_model([helper.make_node("Add", ["x", "w"], ["y"])], feeds, ["y"])
    m.graph.initializer.append(w)
    p = d / "m.onnx"
    p.write_bytes(m.SerializeToString())
    assert_clean_error(run_cli(p, "-o", tmp_path / "out"), "external data")


def test_external_data_inside_the_folder_loads(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    rng = np.random.default_rng(2)
    wv = rng.standard_normal((16, 16)).astype(np.float32)
    feeds = {"x": rng.standard_normal((2, 16)).astype(np.float32)}
    m = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], feeds, ["y"], {"w": wv})
    onnx.save(m, d / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="weights.data", size_threshold=0)
    auroragen.compile(d / "m.onnx", out_dir=tmp_path / "out")
    np.testing.assert_allclose(auroragen.load(tmp_path / "out")(**feeds)[0], feeds["x"] @ wv, rtol=1e-5, atol=1e-5)


HOSTILE = ['in"put */ /* \\', "new\nline", "caf\u00e9 \u2603", "int", "model_run", "??/trigraph", "{brace}"]


def test_hostile_names_compile_and_round_trip(tmp_path):
    names = HOSTILE
    feeds = {names[0]: np.arange(6, dtype=np.float32).reshape(2, 3) - 2}
    nodes = [
        helper.make_node("Relu", [names[0]], [names[1]], name=names[2]),
        helper.make_node("Neg", [names[1]], [names[3]], name=names[4]),
        helper.make_node("Abs", [names[3]], [names[5]], name="*/ int x; /*"),
        helper.make_node("Identity", [names[5]], [names[6]], name=names[6]),
    ]
    model = make_model(nodes, feeds, [names[6], names[3]])
    out = tmp_path / "out"
    auroragen.compile(model, out_dir=out)
    m = auroragen.load(out, make_args=("CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror",))
    assert [t["name"] for t in m.inputs] == [names[0]]
    assert [t["name"] for t in m.outputs] == [names[6], names[3]]
    got = m(feeds[names[0]])
    want = reference(model, feeds)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_two_threads_with_their_own_arenas_agree(tiny_cnn, tmp_path):
    """P_run is reentrant: threads calling one model, each with its own arena (the loader keeps one per
    thread), get exactly the single-threaded results."""
    import threading

    auroragen.compile(str(tiny_cnn), out_dir=tmp_path / "out")
    m = auroragen.load(tmp_path / "out")
    rng = np.random.default_rng(7)
    feeds = [rng.standard_normal(m.inputs[0]["shape"]).astype(np.float32) for _ in range(8)]
    want = [m(f)[0] for f in feeds]
    got: dict[int, list] = {0: [], 1: []}
    arena_at: dict[int, int] = {}
    start = threading.Barrier(2)

    def worker(k):
        start.wait()
        for _ in range(25):
            got[k].append([m(f)[0] for f in feeds])
        arena_at[k] = m._arena().ctypes.data

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert arena_at[0] != arena_at[1], "the threads shared an arena"
    assert len(got[0]) == len(got[1]) == 25
    for k in (0, 1):
        for run in got[k]:
            for a, b in zip(run, want):
                assert np.array_equal(a, b)
