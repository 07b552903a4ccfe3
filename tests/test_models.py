"""Whole models through the ABI (compile -> generated Makefile -> cffi) against onnxruntime
(onnx.reference where onnxruntime is not installed), within rtol 1e-3, atol 1e-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers import assert_close, compile_and_run, expose, reference

import auroragen

RTOL, ATOL = 1e-3, 1e-4
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def oracle(model: onnx.ModelProto, feeds):
    try:
        from helpers import ort_reference

        return ort_reference(model, feeds)
    except ImportError:
        return reference(model, feeds)


@pytest.fixture(params=[0, 2], ids=["O0", "O2"])
def opt(request):
    """Every model runs without and with the graph optimizer."""
    return request.param


def check(model: onnx.ModelProto, feeds, tmp_path, **kw):
    want = oracle(model, feeds)
    got = compile_and_run(model, feeds, tmp_path / "out", **kw)
    assert_close(got, want, rtol=RTOL, atol=ATOL)
    return got


# -- the "light" model zoo shipped with onnx ---------------------------------------------

LIGHT_MODELS = ["squeezenet", "shufflenet", "inception_v1", "resnet50", "inception_v2", "densenet121"]


def _pre_softmax(model: onnx.ModelProto) -> list[str]:
    """The input of the final Softmax: with every weight 0.02 the softmax itself is flat."""
    return [n.input[0] for n in model.graph.node if n.op_type == "Softmax"][-1:]


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name, tmp_path, opt):
    path = LIGHT / f"light_{name}.onnx"
    model = onnx.load(path)
    model = expose(model, _pre_softmax(model))
    g = auroragen.import_onnx(model)
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(np.float32) for v in g.inputs}
    got = check(model, feeds, tmp_path, opt_level=opt)
    assert np.std(got[-1]) > 0 or np.abs(got[-1]).max() > 0


def test_light_model_weights_stay_small_splats(tmp_path):
    """ResNet-50's 25M ConstantOfShape weights must not become 100 MB of C."""
    res = auroragen.compile(LIGHT / "light_resnet50.onnx", out_dir=tmp_path / "out")
    total = sum(p.stat().st_size for p in (tmp_path / "out").iterdir())
    assert total < 2_000_000, total
    assert any(s.kind == "fill" for s in res.schedule.steps)


# -- models exported by torch ----------------------------------------------------------------

torch = pytest.importorskip("torch", reason="torch==2.13.0 exports these models (pip install torch==2.13.0)")


def _torch_cases():
    import torch_models as tm

    return {
        "mlp": (tm.MLP, (1, 1, 28, 28)),
        "small_cnn": (tm.SmallCNN, (2, 1, 28, 28)),
        "resnet18": (tm.ResNet18, (1, 3, 64, 64)),
        "mobilenet_v2": (tm.MobileNetV2, (1, 3, 64, 64)),
        "encoder": (tm.Encoder, None),
    }


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("name", ["mlp", "small_cnn", "resnet18", "mobilenet_v2", "encoder"])
def test_torch_model(name, exporter, tmp_path, opt):
    import torch_models as tm

    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript")
    cls, shape = _torch_cases()[name]
    torch.manual_seed(0)
    module = cls()
    example = torch.randint(0, 100, (1, 16)) if shape is None else torch.randn(*shape)
    model = tm.export(module, example, dynamo=exporter == "dynamo")
    g = auroragen.import_onnx(model)
    feeds = {g.inputs[0].name: example.numpy()}
    got = check(model, feeds, tmp_path, opt_level=opt)
    with torch.no_grad():
        np.testing.assert_allclose(got[0], module(example).numpy(), rtol=RTOL, atol=ATOL)


# -- what the optimizer makes of real models (issue: graph optimizer) -----------------------------


def _final_ops(model, level=2):
    from collections import Counter

    from auroragen.passes import run_pipeline, select

    g = run_pipeline(auroragen.import_onnx(model), select(level))
    return g, Counter(n.op for n in g.nodes if n.op != "constant")


@pytest.mark.torch
@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_resnet18_has_no_batchnorm_and_no_standalone_relu(exporter):
    import torch_models as tm

    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript")
    torch.manual_seed(0)
    model = tm.export(tm.ResNet18(), torch.randn(1, 3, 64, 64), dynamo=exporter == "dynamo")
    g, ops = _final_ops(model)
    assert ops["batch_norm"] == 0 and ops["relu"] == 0, ops
    convs = [n for n in g.nodes if n.op == "conv"]
    assert len(convs) == 20 and sum(1 for n in convs if n.attrs.get("activation") == "relu") == 17


@pytest.mark.torch
@pytest.mark.parametrize("exporter,opset", [("legacy", 14), ("legacy", 17), ("dynamo", 18)])
def test_bert_patterns_and_numbers(exporter, opset, tmp_path):
    """One layernorm per LayerNorm, one GELU per GELU (standalone or as a MatMul's epilogue),
    one fused attention per block; opset 14 spells LayerNorm out, 17+ has the op."""
    import torch_models as tm

    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript")
    torch.manual_seed(0)
    bert = tm.Bert(layers=2)
    ids = torch.randint(0, 100, (1, 16))
    mask = torch.ones(1, 16, dtype=torch.int64)
    mask[0, 12:] = 0
    model = tm.export(bert, (ids, mask), dynamo=exporter == "dynamo", opset=opset)
    g, ops = _final_ops(model)
    gelus = ops["gelu"] + sum(1 for n in g.nodes if n.attrs.get("activation") == "gelu")
    assert ops["layernorm"] == 5 and gelus == 2 and ops["fused_attention"] == 2, ops
    assert all(op in ("gather", "add", "layernorm", "matmul", "gemm", "reshape", "transpose", "fused_attention", "gelu",
                      "mul", "sub", "cast", "fused_elementwise") for op in ops), ops
    feeds = {v.name: a for v, a in zip(g.inputs, (ids.numpy(), mask.numpy()))}
    got = check(model, feeds, tmp_path)
    with torch.no_grad():
        np.testing.assert_allclose(got[0], bert(ids, mask).numpy(), rtol=RTOL, atol=ATOL)
