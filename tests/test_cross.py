"""Targets run under emulation, end to end the way ../shared/ABI.md runs them: OUT built with the
target's cross compiler and run through its runner under QEMU (neon: qemu-aarch64; cortex-m: bare
metal on qemu-system-arm's mps2-an386 with semihosting), or on a CPU without AVX-512 the avx512 target's
code with its intrinsics emulated by SIMDe (avx512+simde, see tools/cross.py); compared with onnxruntime
on the host."""

from __future__ import annotations

import shutil
import subprocess

import cross
import numpy as np
import onnx
import pytest
import test_lower
from helpers import attention_model, ort_reference

import auroragen
from auroragen.frontend import load as import_model
from auroragen.passes import run_pipeline
from auroragen.schedule.lowering import lower
from auroragen.schedule.target import TARGETS as TARGET_SPECS

TARGETS = ["neon", "cortex-m", "avx512+simde"]
VECTOR = ["neon", "avx512+simde"]  # the emulated targets with a vector layer


def needs(target: str):
    why = cross.missing(target)
    if why:
        pytest.skip(why)


def cross_model(model: onnx.ModelProto, target: str, tmp_path, **kw) -> cross.CrossModel:
    """Compile for an emulated target (keywords go to auroragen.compile) and build its runner."""
    m = cross.build(model, target, tmp_path / "out", **kw)
    isa = {"neon": "NEON", "avx512+simde": "AVX512"}.get(target)
    if isa:
        assert f"#define AURORA_VEC_{isa} 1" in (tmp_path / "out" / "model.c").read_text()
    return m


def check(model: onnx.ModelProto, feeds: dict, target: str, tmp_path, rtol=1e-3, atol=1e-4, **kw) -> None:
    got = cross_model(model, target, tmp_path, **kw)(*feeds.values())
    want = ort_reference(model, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def demo_model():
    import make_example

    model = make_example.build()
    x = model.graph.input[0]
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    return model, {x.name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}


@pytest.mark.parametrize("target", TARGETS)
def test_demo_model(target, tmp_path):
    needs(target)
    model, feeds = demo_model()
    check(model, feeds, target, tmp_path)


TORCH_MODELS = {  # name: (class, input shape, targets); MobileNetV2's 14 MB of weights exceed mps2's 4 MiB
    "ds-cnn": ("DSCNN", (1, 1, 49, 10), TARGETS),
    "wake-word": ("WakeWord", (1, 40, 49), TARGETS),
    "mobilenetv2": ("MobileNetV2", (1, 3, 96, 96), VECTOR),
}


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("name,target", [(n, t) for n, (_, _, ts) in sorted(TORCH_MODELS.items()) for t in ts])
def test_torch_model(name, target, tmp_path):
    needs(target)
    torch = pytest.importorskip("torch", reason="torch==2.13.0 exports these models (pip install torch==2.13.0)")
    import torch_models as tm

    cls, shape, _ = TORCH_MODELS[name]
    torch.manual_seed(0)
    model = tm.export(getattr(tm, cls)(), torch.randn(*shape), dynamo=False)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    check(model, {model.graph.input[0].name: x}, target, tmp_path)


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("kind,case", [("conv_direct", c) for c in test_lower.DIRECT] + [("conv_flat", c) for c in test_lower.FLAT],
                         ids=lambda v: v if isinstance(v, str) else test_lower._flat_id(v))
def test_vector_conv_kernels(target, kind, case, tmp_path):
    """The lowered convolutions on NEON (4-float transposes, 8 x 12 tiles) and AVX-512 (16 x 16
    transposes, 12 x 32 tiles): test_lower's cases."""
    needs(target)
    model, feeds = test_lower._conv_model(**case)
    g = lower(run_pipeline(import_model(model)), TARGET_SPECS[cross.compile_target(target)])
    assert kind in [n.op for n in g.nodes]
    check(model, feeds, target, tmp_path)


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("mixed", [False, True], ids=["chain", "mixed"])
def test_vector_channels_last_between_convs(target, mixed, tmp_path):
    needs(target)
    model, feeds = test_lower._block_model(mixed)
    g = lower(run_pipeline(import_model(model)), TARGET_SPECS[cross.compile_target(target)])
    assert any(n.attrs.get("x_hwc") for n in g.nodes if n.op == "conv_direct")
    check(model, feeds, target, tmp_path)


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("case", test_lower.ATTENTION, ids=lambda c: "q{}k{}d{}v{}".format(*c))
def test_vector_blocked_attention(target, case, tmp_path):
    """test_lower's attention cases: NEON's 8 x 12 tiles and AVX-512's 12 x 32 (partial panels of both)."""
    needs(target)
    model, feeds = attention_model(*case)
    check(model, feeds, target, tmp_path, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("stride,pad,width", test_lower.MAX_POOLS)
def test_vector_max_pool_rows(target, stride, pad, width, tmp_path):
    """test_lower's max pools with NaNs: NEON's 4-float and AVX-512's 16-float rows (stride 2: even lanes)."""
    needs(target)
    model, feeds, want = test_lower._max_pool_case(stride, pad, width)
    np.testing.assert_array_equal(cross_model(model, target, tmp_path)(*feeds.values())[0], want)


@pytest.mark.parametrize("target", VECTOR)
@pytest.mark.parametrize("shape,perm", test_lower.TRANSPOSES, ids=str)
def test_vector_transposes(target, shape, perm, tmp_path):
    """test_lower's transposes: NEON's 4 x 4 blocks and AVX-512's (AVX2's 8 x 8)."""
    needs(target)
    model, feeds, want = test_lower._transpose_case(shape, perm)
    np.testing.assert_array_equal(cross_model(model, target, tmp_path)(*feeds.values())[0], want)


# symbols a bare-metal library may take from the toolchain: libm, and the compiler's memory helpers
FREESTANDING_OK = {"memcpy", "memset", "memmove", "expf", "logf", "tanhf", "erff", "sqrtf", "powf", "floorf", "ceilf",
                   "fabsf", "fmodf", "nearbyintf", "exp", "log", "sqrt", "floor", "ceil", "pow", "fmod", "fabs"}


def test_cortex_m_library_needs_no_os(tmp_path):
    """libP.a for cortex-m: no malloc, no stdio, no OS call; only libm and memory helpers stay undefined."""
    needs("cortex-m")
    model, _ = demo_model()
    out = tmp_path / "out"
    auroragen.compile(model, target="cortex-m", out_dir=out)
    subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)
    assert not (out / "model_runner").exists() and not (out / "libmodel.so").exists()

    def symbols(*flags):
        r = subprocess.run(["arm-none-eabi-nm", *flags, str(out / "libmodel.a")], capture_output=True, text=True, check=True)
        return {line.split()[-1] for line in r.stdout.splitlines() if line.strip() and not line.endswith(":")}

    defined, undefined = symbols("--defined-only"), symbols("-u")
    assert "model_run" in defined and undefined, "nm listed nothing: the check would be empty"
    assert undefined - defined <= FREESTANDING_OK, sorted(undefined - defined - FREESTANDING_OK)


def test_cortex_m_runner_reports_errors_with_its_exit_status(tmp_path):
    needs("cortex-m")
    model, _ = demo_model()
    out = tmp_path / "out"
    auroragen.compile(model, target="cortex-m", out_dir=out)
    subprocess.run(["make", "-s", "-C", str(out), "qemu"], check=True, capture_output=True)
    cmd = cross.run_command("cortex-m", out / "model_runner.elf", [str(tmp_path / "missing.bin"), "-o", str(tmp_path / "y.bin")])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "cannot open input" in r.stderr


def test_firmware_example_runs_bare_metal(tmp_path):
    """examples/firmware: an application linking OUT/libmodel.a with a static arena, built with its
    Makefile (and with CMake where installed), prints the demo model's scores under qemu-system-arm."""
    needs("cortex-m")
    from pathlib import Path

    import make_example

    example = Path(__file__).resolve().parent.parent / "examples" / "firmware"
    model = make_example.build()
    out = tmp_path / "out"
    auroragen.compile(model, target="cortex-m", out_dir=out)
    x = ((np.arange(3 * 16 * 16) * 37 % 101) / np.float32(50) - 1).astype(np.float32).reshape(1, 3, 16, 16)
    want = ort_reference(model, {model.graph.input[0].name: x})[0].ravel()
    builds = [("make", tmp_path / "make")]
    if shutil.which("cmake"):
        builds.append(("cmake", tmp_path / "cmake"))
    for how, build in builds:
        build.mkdir()
        if how == "make":
            subprocess.run(["make", "-s", "-C", str(example), f"OUT={out}", f"BUILD={build}"], check=True, capture_output=True)
        else:
            subprocess.run(["cmake", "-S", str(example), "-B", str(build), f"-DAURORA_OUT={out}",
                            f"-DCMAKE_TOOLCHAIN_FILE={example / 'arm-none-eabi.cmake'}"], check=True, capture_output=True)
            subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
        r = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-semihosting-config",
                            "enable=on,target=native", "-kernel", str(build / "firmware.elf")],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        scores = [float(line.split()[2]) for line in r.stdout.splitlines() if line.startswith("score ")]
        np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-6, err_msg=how)
        assert f"class {int(np.argmax(want))}" in r.stdout


def test_footprint_report_matches_the_built_library(tmp_path):
    """auroragen --report's flash figures are those of the objects OUT's own Makefile builds (sized with
    arm-none-eabi-size), its arena is P_arena_bytes, and the stack estimate is positive."""
    needs("cortex-m")
    import re
    import sys

    import make_example

    onnx.save(make_example.build(), tmp_path / "m.onnx")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "auroragen", str(tmp_path / "m.onnx"), "--target", "cortex-m", "-o", str(out),
                        "--report", "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    code, weights = (int(x) for x in re.search(r"code (\d+) B \+ weights (\d+) B", r.stdout).groups())
    arena, stack = (int(x) for x in re.search(r"arena (\d+) B \+ stack (\d+) B", r.stdout).groups())
    subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)

    def berkeley(obj):
        lines = subprocess.run(["arm-none-eabi-size", str(out / obj)], capture_output=True, text=True, check=True).stdout
        return sum(int(x) for x in lines.splitlines()[1].split()[:3])

    assert code == berkeley("model.o")
    assert weights == berkeley("model_weights.o")
    assert f"#define MODEL_ARENA_BYTES {arena}" in (out / "model.h").read_text()
    assert 0 < stack < 64 * 1024
