"""The vector layer's math functions (aurora_vec.h) against float64 references, per vector target.

Inputs: a stride through every float32 bit pattern (so every exponent, the subnormals, the
infinities and NaNs) plus dense grids where each function changes its formula. The errors are
in units in the last place of the correctly rounded result; the bounds are the ones aurora_vec.h
documents.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import cross
import numpy as np
import pytest
from helpers import host_targets

from auroragen.schedule.target import TARGETS

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "c" / "vec_math_probe.c"
RUNTIME = ROOT / "auroragen" / "runtime_c"

MAX_ULP = {"exp": 1.5, "log": 1, "tanh": 1.5, "sigmoid": 2.5, "erf": 2.5}
_erf = np.vectorize(math.erf, otypes=[np.float64])


def reference(fn: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        x = x.astype(np.float64)
        if fn == "exp":
            return np.exp(x)
        if fn == "log":
            return np.log(x)
        if fn == "tanh":
            return np.tanh(x)
        if fn == "sigmoid":
            return 1 / (1 + np.exp(-x))
    out = np.full_like(x, np.nan)
    ok = ~np.isnan(x)
    out[ok] = _erf(x[ok])
    return out


def probe_inputs(fn: str) -> np.ndarray:
    every = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    grids = {"exp": (-104, 89), "log": (0, 4), "tanh": (-10, 10), "sigmoid": (-105, 90), "erf": (-4.5, 4.5)}
    lo, hi = grids[fn]
    dense = np.linspace(lo, hi, 300_001, dtype=np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38,
                         0.625, -0.625, 1.0, -1.0, 3.92, 9.0, 88.72, 88.73, 88.8, -87.3, -103.9], dtype=np.float32)
    return np.concatenate([every, dense, specials])


def ulp_error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the spacing of float32 at the correctly rounded ref."""
    with np.errstate(all="ignore"):
        r32 = ref.astype(np.float32)
        spacing = np.spacing(np.abs(r32)).astype(np.float64)
        return np.abs(got.astype(np.float64) - ref) / spacing


def build_probe(target: str, work: Path) -> list[str]:
    """The probe built for the target; returns the command that runs it (under emulation for neon)."""
    t = TARGETS[target]
    exe = work / f"probe-{target}"
    emulated = target in cross.CROSS
    cc = cross.compiler(target) if emulated else ["cc"]
    cmd = [*cc, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", *t.isa_flags.split(),
           f"-DAURORA_VEC_{t.vec_isa}=1", f"-I{RUNTIME}", str(PROBE), "-o", str(exe), "-lm"]
    subprocess.run(cmd + (["-static"] if emulated else []), check=True, capture_output=True)
    return [*(cross.emulator(target) if emulated else []), str(exe)]


VECTOR_TARGETS = [t for t in host_targets() if TARGETS[t].vec_isa] + ["neon"]


@pytest.fixture(scope="module", params=VECTOR_TARGETS)
def probe(request, tmp_path_factory):
    target = request.param
    if target in cross.CROSS and cross.missing(target):
        pytest.skip(cross.missing(target))
    if target not in cross.CROSS and not shutil.which("cc"):
        pytest.skip("no C compiler")
    work = tmp_path_factory.mktemp(f"vec-{target}")
    return build_probe(target, work), work


def run_probe(probe, fn: str, x: np.ndarray) -> np.ndarray:
    cmd, work = probe
    src, dst = work / f"{fn}.in", work / f"{fn}.out"
    x.astype(np.float32).tofile(src)
    subprocess.run([*cmd, fn, str(src), str(dst)], check=True)
    return np.fromfile(dst, dtype=np.float32)


@pytest.mark.parametrize("fn", sorted(MAX_ULP))
def test_max_error(probe, fn):
    x = probe_inputs(fn)
    got = run_probe(probe, fn, x)
    ref = reference(fn, x)
    assert got.shape == x.shape
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(got), nan), f"{fn}: NaN where the reference has none (or the reverse)"
    with np.errstate(over="ignore"):
        r32 = ref.astype(np.float32)
    inf = np.isinf(r32)
    assert np.array_equal(got[inf], r32[inf]), f"{fn}: wrong infinities"
    finite = ~nan & ~inf
    err = ulp_error(got[finite], ref[finite])
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[fn], (
        f"{fn}({x[finite][worst]!r}) = {got[finite][worst]!r}, reference {ref[finite][worst]!r}: {err[worst]:.2f} ulp")


def test_odd_functions_keep_sign(probe):
    x = np.array([-0.0, 0.0, -1e-30, 1e-30, -2.0, 2.0], dtype=np.float32)
    for fn in ("tanh", "erf"):
        got = run_probe(probe, fn, x)
        assert np.array_equal(np.signbit(got), np.signbit(x)), fn


def test_saturating_functions_reach_their_limits(probe):
    x = np.array([10.0, 100.0, np.inf, -10.0, -np.inf], dtype=np.float32)
    assert np.array_equal(run_probe(probe, "tanh", x), [1, 1, 1, -1, -1])
    assert np.array_equal(run_probe(probe, "erf", x), [1, 1, 1, -1, -1])
    assert np.array_equal(run_probe(probe, "sigmoid", np.array([20.0, 100.0, np.inf, -np.inf], np.float32)), [1, 1, 1, 0])
