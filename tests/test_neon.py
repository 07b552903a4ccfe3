"""The neon target end to end, the way ../shared/ABI.md runs it: OUT built with aarch64-linux-gnu-gcc
(statically linked runner), run under qemu-aarch64, compared with onnxruntime on the host."""

from __future__ import annotations

import cross
import numpy as np
import onnx
import pytest

import auroragen

pytestmark = pytest.mark.skipif(cross.missing("neon") is not None, reason=str(cross.missing("neon")))
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle (pip install onnxruntime)")


def neon_model(model: onnx.ModelProto, tmp_path) -> cross.CrossModel:
    out = tmp_path / "out"
    res = auroragen.compile(model, target="neon", out_dir=out)
    text = (out / "model.c").read_text()
    assert "#define AURORA_VEC_NEON 1" in text
    cross.write_io(out, res)
    return cross.CrossModel(out, "neon")


def onnxruntime_outputs(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def check(model: onnx.ModelProto, feeds: dict, tmp_path, rtol=1e-3, atol=1e-4) -> None:
    got = neon_model(model, tmp_path)(*feeds.values())
    want = onnxruntime_outputs(model, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def test_demo_model(tmp_path):
    import make_example

    model = make_example.build()
    rng = np.random.default_rng(0)
    x = model.graph.input[0]
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    check(model, {x.name: rng.standard_normal(shape).astype(np.float32)}, tmp_path)


TORCH_MODELS = {  # name: (class, input shape)
    "ds-cnn": ("DSCNN", (1, 1, 49, 10)),
    "wake-word": ("WakeWord", (1, 40, 49)),
    "mobilenetv2": ("MobileNetV2", (1, 3, 96, 96)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_torch_model(name, tmp_path):
    torch = pytest.importorskip("torch", reason="torch==2.13.0 exports these models (pip install torch==2.13.0)")
    import torch_models as tm

    cls, shape = TORCH_MODELS[name]
    torch.manual_seed(0)
    model = tm.export(getattr(tm, cls)(), torch.randn(*shape), dynamo=False)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    check(model, {model.graph.input[0].name: x}, tmp_path)
