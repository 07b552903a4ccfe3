"""Target lowering to the packed kernels (conv -> conv_direct / conv_gemm, matmul/gemm -> dense): the packing
round-trips, the lowering happens where it should, and the results match onnxruntime through the ABI
on every host target, at edge sizes (rows and columns not multiples of the microkernel's tile)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import attention_model, compile_and_run, dense_model, host_targets, make_model, ort_reference
from onnx import helper

from auroragen.emit import PARALLEL_MIN_WORK, parallel_work
from auroragen.frontend import load as import_model
from auroragen.passes import run_pipeline
from auroragen.schedule.lowering import lower
from auroragen.schedule.lowering.conv_direct import pack_conv_weights_hwc, unpack_conv_weights_hwc
from auroragen.schedule.lowering.conv_flat import FLAT_PER_GROUP_MIN
from auroragen.schedule.lowering.conv_gemm import pack_conv_weights, unpack_conv_weights
from auroragen.schedule.lowering.dense import pack_dense_weights, unpack_dense_weights
from auroragen.schedule.target import TARGETS

HOST = host_targets()


@pytest.mark.parametrize("shape,group,mr", [((8, 3, 3, 3), 1, 6), ((10, 2, 1, 1), 2, 4), ((5, 4, 3), 1, 12)])
def test_conv_packing_round_trips(shape, group, mr):
    w = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    wp = pack_conv_weights(w, group, mr)
    assert wp.size % mr == 0
    assert np.array_equal(unpack_conv_weights(wp, shape, group, mr), w)


@pytest.mark.parametrize("shape,group,nr", [((8, 3, 3, 3), 1, 16), ((20, 2, 3, 5), 2, 8), ((33, 4, 1, 2), 1, 32)])
def test_channels_last_conv_packing_round_trips(shape, group, nr):
    w = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    wp = pack_conv_weights_hwc(w, group, nr)
    assert wp.size == group * -(-shape[0] // group // nr) * nr * int(np.prod(shape[1:]))
    assert np.array_equal(unpack_conv_weights_hwc(wp, shape, group, nr), w)
    # panel 0, kernel row 0, column 1, channel 0: that tap's first output channels side by side
    n = min(nr, shape[0] // group)
    assert np.array_equal(wp[shape[1] * nr:shape[1] * nr + n], w[:n, 0, 0, 1])


@pytest.mark.parametrize("k,n,nr", [(7, 5, 16), (16, 32, 16), (3, 33, 8)])
def test_dense_packing_round_trips(k, n, nr):
    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32)
    wp = pack_dense_weights(w, nr)
    assert wp.size == k * -(-n // nr) * nr
    assert np.array_equal(unpack_dense_weights(wp, k, n, nr), w)


def _conv_model(cin, cout, hw, kernel, stride=1, pad=0, dil=1, group=1, relu=False, residual=False, act="Relu"):
    """Conv (+ residual) (+ activation); pad is one number for every side or ONNX's four."""
    rng = np.random.default_rng(1)
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    pads = [pad] * 4 if isinstance(pad, int) else list(pad)
    w = (rng.standard_normal((cout, cin // group, *kernel)) * 0.3).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[stride, stride], pads=pads,
                              dilations=[dil, dil], group=group)]
    last = "c"
    if residual:
        nodes.append(helper.make_node("Add", ["c", "r"], ["s"]))
        last = "s"
    if relu:
        nodes.append(helper.make_node(act, [last], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
    out_hw = [(hw + pads[i] + pads[i + 2] - dil * (kernel[i] - 1) - 1) // stride + 1 for i in range(2)]
    feeds = {"x": x}
    if residual:
        feeds["r"] = rng.standard_normal((1, cout, *out_hw)).astype(np.float32)
    return make_model(nodes, feeds, ["y"], {"w": w, "b": b}), feeds


CONVS = [
    dict(cin=3, cout=8, hw=9, kernel=3, pad=1, relu=True),
    dict(cin=5, cout=13, hw=11, kernel=3, stride=2, pad=1, residual=True),
    dict(cin=4, cout=10, hw=7, kernel=1, group=2, relu=True, residual=True),
    dict(cin=6, cout=7, hw=10, kernel=3, pad=2, dil=2, relu=True),
    dict(cin=16, cout=24, hw=5, kernel=1, stride=2),
    # reductions longer than one block (conv_block_depth): in chunks on the im2col path (generic, and
    # avx2 for the strided and 1x1 ones); the stride-1 3x3 one is an implicit GEMM on vector targets
    dict(cin=100, cout=13, hw=9, kernel=3, pad=1, relu=True, residual=True),
    dict(cin=800, cout=8, hw=6, kernel=1),
    dict(cin=200, cout=14, hw=5, kernel=3, stride=2, pad=1, group=2, relu=True),
]


# Vector targets compute these directly from channels-last copies (kernels over 1x1, at least half a
# panel of output channels per group, even on avx512); generic as GEMMs
DIRECT = [
    dict(cin=3, cout=16, hw=13, kernel=7, stride=2, pad=3, relu=True),  # a stem
    dict(cin=5, cout=21, hw=11, kernel=3, stride=2, pad=1, residual=True),  # a part panel, no activation
    dict(cin=6, cout=17, hw=10, kernel=3, pad=2, dil=2, relu=True),  # dilated along rows: a run per tap
    dict(cin=4, cout=16, hw=9, kernel=(2, 3), pad=(0, 1, 1, 0), relu=True, act="Sigmoid"),  # uneven kernel and pads
    dict(cin=20, cout=32, hw=6, kernel=3, pad=1, group=2, relu=True, residual=True),  # two groups
    dict(cin=64, cout=40, hw=7, kernel=3, stride=1, pad=1, relu=True, residual=True),  # the last tile repeats a pixel
    dict(cin=9, cout=16, hw=5, kernel=5, stride=3, pad=0),  # one output pixel per row... and per column
    dict(cin=8, cout=16, hw=10, kernel=3, pad=1, relu=True, act="Selu", residual=True),  # a scalar-only activation
]


def _conv_id(c):
    return f"{c['cin']}to{c['cout']}k{c['kernel']}s{c.get('stride', 1)}g{c.get('group', 1)}"


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("case", CONVS, ids=_conv_id)
def test_conv_gemm_matches_onnxruntime(tmp_path, target, case):
    _check_conv(tmp_path, target, case, _expected_conv(case, target))


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("case", DIRECT, ids=_conv_id)
def test_conv_direct_matches_onnxruntime(tmp_path, target, case):
    _check_conv(tmp_path, target, case, "conv_direct" if TARGETS[target].vec_width > 1 else "conv_gemm")


def _expected_conv(case, target):
    """conv_direct on vector targets but for 1x1 stride-1 kernels, with half a panel of output channels per group."""
    t = TARGETS[target]
    one = case["kernel"] == 1 and case.get("stride", 1) == 1
    direct = t.vec_width > 1 and not one and case["cout"] // case.get("group", 1) >= t.gemm_nr // 2
    return "conv_direct" if direct else "conv_gemm"


def _check_conv(tmp_path, target, case, lowered):
    """The conv lowers to exactly one `lowered` op and the built code matches onnxruntime."""
    model, feeds = _conv_model(**case)
    g = lower(run_pipeline(import_model(model)), TARGETS[target])
    assert [n.op for n in g.nodes].count(lowered) == 1, f"the convolution did not become {lowered}"
    got = compile_and_run(model, feeds, tmp_path / "out", target=target)
    np.testing.assert_allclose(got[0], ort_reference(model, feeds)[0], rtol=1e-4, atol=1e-4)


def _block_model(mixed: bool):
    """Convolutions in a chain, as in ResNet: a residual block (c2 adds r1), a downsampling pair (c3 3x3
    stride 2 and c4 1x1 stride 2 both read r2, with different padding), c5 with uneven padding adding c4.
    With `mixed`, r2 is also a graph output and feeds a pooling: it must stay NCHW."""
    rng = np.random.default_rng(3)

    def conv(name, x, cin, cout, k, s=1, pads=(1, 1, 1, 1)):
        inits[f"{name}w"] = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        inits[f"{name}b"] = rng.standard_normal(cout).astype(np.float32)
        return helper.make_node("Conv", [x, f"{name}w", f"{name}b"], [name], strides=[s, s], pads=list(pads))

    inits = {}
    nodes = [conv("c1", "x", 8, 20, 3), helper.make_node("Relu", ["c1"], ["r1"]),
             conv("c2", "r1", 20, 20, 3), helper.make_node("Add", ["c2", "r1"], ["s2"]), helper.make_node("Relu", ["s2"], ["r2"]),
             conv("c3", "r2", 20, 16, 3, 2), helper.make_node("Relu", ["c3"], ["r3"]),
             conv("c4", "r2", 20, 16, 1, 2, (0, 0, 0, 0)),
             conv("c5", "r3", 16, 16, 3, 1, (0, 1, 2, 1)), helper.make_node("Add", ["c5", "c4"], ["s5"]),
             helper.make_node("Relu", ["s5"], ["y"])]
    outputs = ["y"]
    if mixed:
        nodes.append(helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]))
        outputs += ["pooled", "r2"]
    feeds = {"x": rng.standard_normal((1, 8, 12, 12)).astype(np.float32)}
    return make_model(nodes, feeds, outputs, inits), feeds


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("mixed", [False, True], ids=["chain", "mixed"])
def test_tensors_between_direct_convs_stay_channels_last(tmp_path, target, mixed):
    """A conv_direct result read only by conv_directs is written channels-last, padded for the largest
    padding its readers need, and read in place (input or residual); one read by anything else, or a
    graph output, stays NCHW. Results match onnxruntime through the ABI."""
    model, feeds = _block_model(mixed)
    g = lower(run_pipeline(import_model(model)), TARGETS[target])
    direct = [n for n in g.nodes if n.op == "conv_direct"]
    if TARGETS[target].vec_width > 1:
        assert len(direct) == 5
        by_shape = {(n.attrs["kernel"][0], n.attrs["strides"][0], tuple(n.attrs["pads"])): n for n in direct}
        pad1 = (1, 1, 1, 1)
        c3, c4, c5 = (by_shape[k] for k in ((3, 2, pad1), (1, 2, (0, 0, 0, 0)), (3, 1, (0, 1, 2, 1))))
        c1, c2 = (n for n in direct if n not in (c3, c4, c5))  # in graph order: c2 reads c1's result
        assert c1.attrs.get("y_hwc") == pad1 and c2.attrs.get("x_hwc") == pad1 and c2.attrs.get("r_hwc") == pad1
        assert c3.attrs.get("y_hwc") == (0, 1, 2, 1) and c5.attrs.get("x_hwc") == (0, 1, 2, 1)
        # the add of c4 and c5 fuses into one of them: the other is its channels-last residual; the sum is NCHW
        adder, other = (c4, c5) if len(c4.inputs) > 3 and c4.inputs[3] is not None else (c5, c4)
        assert adder.attrs.get("r_hwc") == (0, 0, 0, 0) and other.attrs.get("y_hwc") == (0, 0, 0, 0)
        assert not adder.attrs.get("y_hwc")
        if mixed:
            assert not c2.attrs.get("y_hwc") and not c3.attrs.get("x_hwc") and not c4.attrs.get("x_hwc")
        else:  # r2 is padded for c3 (pad 1); c4 (pad 0) reads inside that padding
            assert c2.attrs.get("y_hwc") == pad1 and c3.attrs.get("x_hwc") == pad1 and c4.attrs.get("x_hwc") == pad1
    else:
        assert not direct
    got = compile_and_run(model, feeds, tmp_path / "out", target=target)
    for k, want in enumerate(ort_reference(model, feeds)):
        np.testing.assert_allclose(got[k], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("rows,k,n,op,residual", [
    ((1,), 20, 37, "gemm", False), ((7,), 33, 16, "gemm", True), ((2, 13), 24, 50, "matmul", True),
    ((1, 5), 8, 3, "matmul", False),
])
def test_dense_matches_onnxruntime(tmp_path, target, rows, k, n, op, residual):
    model, feeds = dense_model(rows, k, n, op, residual)
    g = lower(run_pipeline(import_model(model)), TARGETS[target])
    assert "dense" in [n.op for n in g.nodes], "the matrix product was not lowered"
    got = compile_and_run(model, feeds, tmp_path / "out", target=target)
    np.testing.assert_allclose(got[0], ort_reference(model, feeds)[0], rtol=1e-4, atol=1e-4)


FLAT = [
    dict(cin=8, cout=8, hw=6, kernel=3, pad=1, group=8, relu=True),
    dict(cin=6, cout=6, hw=5, kernel=3, pad=2, dil=2, group=6, residual=True),
    dict(cin=4, cout=6, hw=9, kernel=5, pad=1, group=2, relu=True),
    dict(cin=3, cout=3, hw=40, kernel=3, group=3),
    # strided: over phase planes
    dict(cin=8, cout=8, hw=7, kernel=3, stride=2, pad=1, group=8, relu=True),
    dict(cin=6, cout=6, hw=12, kernel=3, stride=2, pad=(0, 1, 1, 0), group=6, residual=True),
    dict(cin=4, cout=4, hw=11, kernel=(5, 4), stride=3, pad=2, dil=2, group=4, relu=True),
    dict(cin=3, cout=6, hw=45, kernel=3, stride=2, pad=1, group=3, relu=True),
    dict(cin=2, cout=2, hw=14, kernel=(3, 10), stride=2, pad=(1, 5, 1, 4), group=2),
    # over 32 taps: a loop per kernel row, unrolled along it up to 8 columns
    dict(cin=4, cout=4, hw=9, kernel=7, pad=3, group=2, relu=True),
    dict(cin=2, cout=2, hw=12, kernel=(4, 10), stride=2, pad=2, group=2, residual=True),
]


def _flat_id(c):
    return f"{c['cin']}to{c['cout']}k{c['kernel']}s{c.get('stride', 1)}d{c.get('dil', 1)}g{c.get('group', 1)}"


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("case", FLAT, ids=_flat_id)
def test_thin_group_conv_runs_over_flat_planes(tmp_path, target, case):
    """Depthwise and thin-group convs (too few output channels per group for the GEMM) become conv_flat:
    dilations, strides (over phase planes), uneven kernels and pads, residuals, planes longer than one
    chunk, kernels over the one-pass limit and kernel rows longer than the unrolled one."""
    _check_conv(tmp_path, target, case, "conv_flat")


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("case", FLAT[4:6] + FLAT[9:] + [dict(cin=32, cout=32, hw=48, kernel=3, pad=1, group=32, relu=True),
                                         dict(cin=16, cout=32, hw=64, kernel=3, stride=2, pad=(0, 1, 1, 0), group=16,
                                              residual=True),
                                         dict(cin=16, cout=16, hw=30, kernel=3, pad=(0, 2, 1, 0), group=16),
                                         dict(cin=8, cout=8, hw=40, kernel=(4, 10), pad=2, group=4, relu=True)],
                         ids=_flat_id)
def test_flat_convs_run_their_channels_in_parallel_under_openmp(tmp_path, target, case):
    """With --openmp every group has its own slot of zero-padded planes: with 8 groups or more each group's
    planes are written and its channels computed by one thread (on its stack: no workspace), with fewer the
    planes are written a channel at a time into the workspace and then the output channels computed, each
    spread over the threads (here 2)."""
    model, feeds = _conv_model(**case)
    g = lower(run_pipeline(import_model(model)), TARGETS[target], parallel=True)
    (flat,) = [n for n in g.nodes if n.op == "conv_flat"]
    assert flat.attrs["parallel"] and flat.attrs["per_group"] == (case["group"] >= FLAT_PER_GROUP_MIN) == flat.attrs["stack"]
    assert flat.outputs[1].shape[0] == 1 if flat.attrs["stack"] else flat.outputs[1].shape[0] >= case["cin"] * case["hw"] ** 2
    got = compile_and_run(model, feeds, tmp_path / "out", target=target, openmp=True)
    if parallel_work(flat) >= PARALLEL_MIN_WORK:
        assert "#pragma omp for" in (tmp_path / "out" / "model.c").read_text()
    np.testing.assert_allclose(got[0], ort_reference(model, feeds)[0], rtol=1e-4, atol=1e-4)


RNNS = [("LSTM", 4, {}, "forward"), ("LSTM", 4, {}, "bidirectional"), ("GRU", 3, {"linear_before_reset": 1}, "reverse"),
        ("GRU", 3, {}, "forward"), ("RNN", 1, {}, "bidirectional"),
        ("LSTM", 4, {"peepholes": True, "activations": ["Sigmoid", "Tanh", "Tanh", "Sigmoid", "Relu", "Tanh"]},
         "bidirectional"),
        ("LSTM", 4, {"input_forget": 1, "activations": ["HardSigmoid", "Tanh", "Tanh"]}, "forward"),
        ("RNN", 1, {"activations": ["ScaledTanh"], "activation_alpha": [0.8], "activation_beta": [1.3]}, "forward")]


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("kind,gates,extra,direction", RNNS, ids=lambda v: v if isinstance(v, str) else "")
def test_recurrent_ops_project_inputs_with_one_gemm(tmp_path, target, kind, gates, extra, direction):
    """rnn with constant weights -> dense (X W^T for every step) + rnn_packed (h R^T by the microkernel);
    GRU with linear_before_reset=0 keeps the plain kernel. Hidden 19 leaves a partial column panel and a
    partial vector of gates; activations without a vector form (HardSigmoid) keep the scalar gate loop."""
    rng = np.random.default_rng(4)
    d = 2 if direction == "bidirectional" else 1
    seq, batch, isz, hid = 5, 3, 7, 19
    x = rng.standard_normal((seq, batch, isz)).astype(np.float32)
    inits = {"W": (rng.standard_normal((d, gates * hid, isz)) * 0.3).astype(np.float32),
             "R": (rng.standard_normal((d, gates * hid, hid)) * 0.3).astype(np.float32),
             "B": (rng.standard_normal((d, 2 * gates * hid)) * 0.3).astype(np.float32)}
    names = ["x", "W", "R", "B"]
    extra = dict(extra)
    if extra.pop("peepholes", False):
        inits["P"] = (rng.standard_normal((d, 3 * hid)) * 0.3).astype(np.float32)
        names += ["", "", "", "P"]
    node = helper.make_node(kind, names, ["Y", "Yh"], hidden_size=hid, direction=direction, **extra)
    model = make_model([node], {"x": x}, ["Y", "Yh"], inits)
    ops = [n.op for n in lower(run_pipeline(import_model(model)), TARGETS[target]).nodes]
    assert ("rnn_packed" in ops) == (kind != "GRU" or bool(extra))
    got = compile_and_run(model, {"x": x}, tmp_path / "out", target=target)
    for k, want in enumerate(ort_reference(model, {"x": x})):
        np.testing.assert_allclose(got[k], want, rtol=1e-4, atol=1e-5)


def test_lowered_graph_keeps_one_copy_of_the_weights():
    model, _ = _conv_model(cin=3, cout=8, hw=9, kernel=3, stride=1, pad=1, dil=1, group=1, relu=True, residual=False)
    g = lower(run_pipeline(import_model(model)), TARGETS["avx2"])
    consts = [n for n in g.nodes if n.op == "constant"]
    assert sum(c.output.type.numel >= 8 * 27 for c in consts) == 1, "the unpacked weights should be gone"


def test_long_reductions_run_in_chunks_that_keep_many_pixels_per_block():
    from auroragen.schedule.lowering.conv_gemm import conv_block_columns, conv_block_depth

    assert conv_block_depth(576) == 576  # ResNet's first stage: one block
    assert conv_block_depth(900) == 450 and conv_block_depth(800) == 400
    assert conv_block_depth(4608) == 512  # 3x3x512: nine chunks
    assert conv_block_columns(conv_block_depth(4608), 49, 16) == 64  # all of a 7x7 map in one block


# (query rows, keys, head size, value size, mask shape): whole tiles; partial key and value panels and row
# blocks with a broadcast mask; fewer queries than a tile's rows with a full mask; long heads
ATTENTION = [(18, 32, 8, 16, None), (13, 37, 5, 9, (1, 1, 1, 37)), (2, 20, 16, 24, (2, 4, 2, 20)), (50, 64, 64, 64, (2, 1, 50, 64))]


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("case", ATTENTION, ids=lambda c: "q{}k{}d{}v{}".format(*c))
def test_blocked_attention_matches_onnxruntime(tmp_path, target, case):
    """On vector targets a fused attention computes a block of query rows at a time with the GEMM
    microkernel (lowering adds its tile); the results match onnxruntime through the ABI."""
    model, feeds = attention_model(*case)
    g = lower(run_pipeline(import_model(model)), TARGETS[target])
    (n,) = [n for n in g.nodes if n.op == "fused_attention"]
    t = TARGETS[target]
    assert n.attrs.get("mr") == (min(t.gemm_mr, case[0]) if t.vec_width > 1 else None)
    got = compile_and_run(model, feeds, tmp_path / "out", target=target)
    np.testing.assert_allclose(got[0], ort_reference(model, feeds)[0], rtol=1e-4, atol=1e-5)


MAX_POOLS = [(1, 1, 45), (2, 1, 112), (2, 0, 41), (2, 1, 17), (3, 1, 40)]  # (stride, pad, width)


def _max_pool_case(stride, pad, width):
    """A 3x3 max pool over rows with NaNs (one row, one column, single points) and its numpy result."""
    rng = np.random.default_rng(stride * 100 + width)
    x = rng.standard_normal((1, 3, 9, width)).astype(np.float32)
    x[0, 0, 4, :] = np.nan
    x[0, 1, :, width // 3] = np.nan
    x[0, 2, 2, 7] = x[0, 2, 6, width - 2] = np.nan
    model = make_model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[stride] * 2, pads=[pad] * 4)],
                       {"x": x}, ["y"])
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    oh, ow = (9 + 2 * pad - 3) // stride + 1, (width + 2 * pad - 3) // stride + 1
    want = np.stack([np.stack([xp[:, :, i * stride:i * stride + 3, j * stride:j * stride + 3].max(axis=(2, 3))
                               for j in range(ow)], -1) for i in range(oh)], -2)
    return model, {"x": x}, want


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("stride,pad,width", MAX_POOLS)
def test_max_pool_rows_match_numpy_with_nans(tmp_path, target, stride, pad, width):
    """2-D max pooling a row at a time, on vector targets a vector of output columns per tap (stride 1: one
    load; stride 2: the even lanes of two; other strides scalar): any NaN in a window gives NaN, wherever
    it falls among the taps."""
    model, feeds, want = _max_pool_case(stride, pad, width)
    np.testing.assert_array_equal(compile_and_run(model, feeds, tmp_path / "out", target=target)[0], want)


TRANSPOSES = [((16, 24), (1, 0)), ((1, 128, 12, 32), (0, 2, 3, 1)), ((2, 8, 3, 16), (0, 3, 2, 1)), ((8, 5, 16), (2, 1, 0)),
              ((3, 16, 8), (0, 2, 1)), ((12, 8), (1, 0)), ((10, 16), (1, 0)), ((4, 8, 16), (1, 0, 2))]


def _transpose_case(shape, perm):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=list(perm))], {"x": x}, ["y"])
    return model, {"x": x}, x.transpose(perm)


@pytest.mark.parametrize("target", HOST)
@pytest.mark.parametrize("shape,perm", TRANSPOSES, ids=str)
def test_float_transposes_match_numpy(tmp_path, target, shape, perm):
    """Float transposes whose input and result run along different axes, both a multiple of 8 long, go in
    square blocks transposed in registers on vector targets (the others element by element)."""
    model, feeds, want = _transpose_case(shape, perm)
    np.testing.assert_array_equal(compile_and_run(model, feeds, tmp_path / "out", target=target)[0], want)
