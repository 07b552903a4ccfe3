"""The ONNX backend node tests through the ABI (see tools/conformance.py).

Parametrised by target (AURORA_CONFORMANCE_TARGETS=generic,avx2) and optimisation
level (AURORA_CONFORMANCE_OPT, default 0,2: the results must not depend on it). By
default generic runs at every level and, on a CPU with AVX2 and FMA, avx2 at -O2 too
(its own kernels must give the same results), avx512 likewise on a CPU with AVX-512; where the
cross tools are installed, neon under qemu-aarch64 (the cases of VECTOR_OPS), avx512 with its
intrinsics emulated by SIMDe on a CPU without AVX-512 (the cases of SIMD_OPS) and cortex-m bare metal
under qemu-system-arm (the cases of MCU_OPS) run through the runner (tools/cross.py), and generic
built with AddressSanitizer and UndefinedBehaviorSanitizer (the cases of SANITIZE_OPS). Naming the targets in
AURORA_CONFORMANCE_TARGETS runs every case on them.
A case in tests/conformance_xfail.txt must fail (strict xfail): one that starts
passing fails the run until its line is removed.
"""

from __future__ import annotations

import os

import conformance
import cross
import pytest
from helpers import host_targets

CASES = conformance.load_cases()
XFAIL = conformance.read_xfail()
TARGETS = [t for t in os.environ.get("AURORA_CONFORMANCE_TARGETS", "generic").split(",") if t]
OPT_LEVELS = [int(o) for o in os.environ.get("AURORA_CONFORMANCE_OPT", "0,2").split(",") if o]
RUNS = [(t, o) for t in TARGETS for o in OPT_LEVELS]
SUBSET: dict[str, set[str]] = {}  # target -> the ops whose cases it runs (all when absent)

# The operators of microcontroller models (convolutional, recurrent, quantised): the cases make test
# runs bare metal on cortex-m; AURORA_CONFORMANCE_TARGETS=cortex-m runs them all.
MCU_OPS = {
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Conv", "ConvInteger", "ConvTranspose",
    "DepthToSpace", "DequantizeLinear", "Div", "Erf", "Exp", "Expand", "Flatten", "GRU", "Gather", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "LSTM", "LayerNormalization", "LeakyRelu", "Log",
    "LogSoftmax", "MatMul", "MatMulInteger", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "PRelu", "Pad", "QLinearConv",
    "QLinearMatMul", "QuantizeLinear", "RNN", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Resize", "Sigmoid", "Slice",
    "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Transpose", "Unsqueeze", "Where",
}

# ... and with them, on neon, the operators whose kernels or math run the vector layer (attention,
# normalisations, the exp-based activations): the emulated targets take eight to eleven minutes each
# for every case, so make test runs these on neon; AURORA_CONFORMANCE_TARGETS=neon runs them all.
VECTOR_OPS = MCU_OPS | {"ArgMax", "Attention", "Elu", "GroupNormalization", "InstanceNormalization", "Mish",
                        "Reciprocal", "ReduceLogSumExp", "ReduceSum", "Selu", "Softplus", "Swish"}

# ... and of those, the ones whose kernels do their arithmetic in the vector layer (of the binary
# elementwise ops, which share one kernel, Add and Mul): make test runs their cases on avx512+simde
# (SIMDe's emulation builds slowly); AURORA_CONFORMANCE_TARGETS=avx512+simde runs them all.
SIMD_OPS = {"Add", "Attention", "AveragePool", "BatchNormalization", "Conv", "ConvTranspose", "Elu", "Erf", "Exp", "GRU",
            "Gelu", "Gemm", "GlobalAveragePool", "GroupNormalization", "HardSwish", "InstanceNormalization", "LSTM",
            "LayerNormalization", "Log", "LogSoftmax", "MatMul", "MaxPool", "Mish", "Mul", "RNN", "ReduceLogSumExp",
            "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Selu", "Sigmoid", "Softmax", "Softplus", "Swish", "Tanh"}
assert SIMD_OPS <= VECTOR_OPS

# The operators whose kernels index the most (windows, gathers, scatters, strides, recurrences, blocked
# GEMM edges): make test runs their cases under AddressSanitizer and UndefinedBehaviorSanitizer on
# generic; make test-sanitize runs every case on generic and avx2.
SANITIZE_OPS = {"AveragePool", "Conv", "ConvTranspose", "Gather", "GatherElements", "GatherND", "Gemm", "LSTM",
                "MatMul", "MaxPool", "Pad", "Resize", "ScatterElements", "ScatterND", "Slice", "TopK"}

if "AURORA_CONFORMANCE_TARGETS" not in os.environ:
    if cross.missing("generic+asan") is None:
        RUNS.append(("generic+asan", 2))
        SUBSET["generic+asan"] = SANITIZE_OPS
    if "avx2" in host_targets():
        RUNS.append(("avx2", 2))
    if "avx512" in host_targets():
        RUNS.append(("avx512", 2))
    elif cross.missing("avx512+simde") is None:  # AVX-512 emulated in C, through the runner
        RUNS.append(("avx512+simde", 2))
        SUBSET["avx512+simde"] = SIMD_OPS
    if cross.missing("neon") is None:  # AArch64 under qemu-aarch64, through the runner
        RUNS.append(("neon", 2))
        SUBSET["neon"] = VECTOR_OPS
    if cross.missing("cortex-m") is None:  # bare metal on qemu-system-arm's mps2-an386
        RUNS.append(("cortex-m", 2))
        SUBSET["cortex-m"] = MCU_OPS

PARAMS = [(name, t, o) for t, o in RUNS for name in sorted(CASES)
          if t not in SUBSET or conformance.case_op(CASES[name]) in SUBSET[t]]


def test_every_expected_failure_names_a_real_case():
    import fnmatch

    for pat, _ in XFAIL:
        assert any(fnmatch.fnmatchcase(n, pat) for n in CASES), f"{pat!r} matches no node test case"


@pytest.mark.parametrize("name,target,opt", PARAMS, ids=[f"{n}-{t}-O{o}" for n, t, o in PARAMS])
def test_node(name, target, opt, request):
    why = cross.missing(target) if target in cross.CROSS else None
    if why:
        pytest.skip(why)
    reason = conformance.expected_failure(name, XFAIL)
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    r = conformance.run_case(CASES[name], target, opt)
    assert r.status == "pass", r.detail
