"""Targets run through OUT's runner (the program of ../shared/ABI.md), exchanging raw tensors through
files: cross targets built with their cross compiler and run under QEMU, and host targets built with
AddressSanitizer and UndefinedBehaviorSanitizer.

    neon:         aarch64-linux-gnu-gcc, statically linked, run by qemu-aarch64 (Debian: gcc-aarch64-linux-gnu,
                  qemu-user)
    cortex-m:     arm-none-eabi-gcc with newlib's semihosting (make qemu), run bare metal by qemu-system-arm's
                  mps2-an386 (Debian: gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm)
    generic+asan, avx2+asan:
                  the host target's code and runner built with -fsanitize=address,undefined (any report
                  fails the run: -fno-sanitize-recover=all, leaks included)
    avx512+simde: the avx512 target's code on a CPU without AVX-512: its intrinsics emulated in C by SIMDe
                  (Debian: libsimde-dev) through tools/avx512_emu/immintrin.h; built with the host's cc
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from auroragen.ir.narrow import encoded_type, to_bits
from auroragen.ir.types import DType

EMU_AVX512 = Path(__file__).resolve().parent / "avx512_emu"
SANITIZE_FLAGS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
CROSS = {
    "neon": dict(cc="aarch64-linux-gnu-gcc", ar="aarch64-linux-gnu-ar", emulator=["qemu-aarch64"],
                 packages="gcc-aarch64-linux-gnu qemu-user", make=["LDFLAGS=-static", "{P}_runner"],
                 runner="{P}_runner"),
    "cortex-m": dict(cc="arm-none-eabi-gcc", ar="arm-none-eabi-ar", emulator=["qemu-system-arm"],
                     packages="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm", make=["qemu"],
                     runner="{P}_runner.elf"),
    **{f"{t}+asan": dict(cc="cc", ar="ar", emulator=[], packages="gcc (with libasan and libubsan)", target=t,
                         cflags=SANITIZE_FLAGS, make=[f"LDFLAGS={SANITIZE_FLAGS}", "{P}_runner"], runner="{P}_runner")
       for t in ("generic", "avx2")},
    # the shim first on the include path instead of -mavx512f (kept: the Makefile's AURORA_ISA is replaced)
    "avx512+simde": dict(cc="cc", ar="ar", emulator=[], packages="libsimde-dev", target="avx512", header="simde/x86/avx512.h",
                         make=[f"AURORA_ISA=-I{EMU_AVX512} -Wno-psabi", "{P}_runner"], runner="{P}_runner"),
}
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def compile_target(target: str) -> str:
    """The auroragen target a runner target compiles for."""
    return CROSS[target].get("target", target)


def missing(target: str) -> str | None:
    """Why the target's code cannot be built and run here (None: it can)."""
    c = CROSS[target]
    absent = [tool for tool in (c["cc"], c["ar"], *c["emulator"][:1]) if not shutil.which(tool)]
    if absent:
        return f"{target} needs {', '.join(absent)} (Debian packages {c['packages']})"
    if "cflags" in c:
        from helpers import host_targets

        if c["target"] not in host_targets():
            return f"this CPU does not run {c['target']} code"
        return _sanitizers_missing(c["cc"], c["cflags"])
    if "header" in c:
        return _header_missing(c["cc"], c["header"], c["packages"])
    if target == "cortex-m":
        probe = subprocess.run([c["cc"], "-print-file-name=librdimon.a"], capture_output=True, text=True)
        if probe.returncode or "/" not in probe.stdout:
            return "cortex-m needs newlib's semihosting library (Debian package libnewlib-arm-none-eabi)"
    return None


_PROBED: dict[tuple[str, str], str | None] = {}


def _header_missing(cc: str, header: str, packages: str) -> str | None:
    if (cc, header) not in _PROBED:
        r = subprocess.run([cc, "-E", "-x", "c", "-"], input=f"#include <{header}>\n", capture_output=True, text=True)
        _PROBED[cc, header] = None if r.returncode == 0 else f"{cc} finds no <{header}> (Debian package {packages})"
    return _PROBED[cc, header]


def _sanitizers_missing(cc: str, flags: str) -> str | None:
    if (cc, flags) not in _PROBED:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "probe.c"
            src.write_text("int main(void) { return 0; }\n")
            r = subprocess.run([cc, *flags.split(), str(src), "-o", str(Path(tmp) / "probe")], capture_output=True, text=True)
            if r.returncode == 0:
                r = subprocess.run([str(Path(tmp) / "probe")], capture_output=True, text=True, env={**os.environ, **SANITIZER_ENV})
        _PROBED[cc, flags] = None if r.returncode == 0 else \
            f"{cc} cannot build and run with {flags}: {(r.stderr or r.stdout).strip()[-300:]}"
    return _PROBED[cc, flags]


def run_command(target: str, runner: Path, args: list[str]) -> list[str]:
    """The command that runs a built runner with these arguments, as ../shared/ABI.md gives it."""
    if target == "cortex-m":  # arguments reach main through semihosting (no commas or spaces in them)
        config = ",".join(["enable=on", "target=native", f"arg={runner.stem}", *(f"arg={a}" for a in args)])
        return ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-semihosting-config",
                config, "-kernel", str(runner)]
    return [*emulator(target), str(runner), *args]


def compiler(target: str) -> list[str]:
    return [CROSS[target]["cc"]]


def emulator(target: str) -> list[str]:
    return list(CROSS[target]["emulator"])


def write_io(out_dir: Path, result) -> None:
    """Record the model's input and output element types and shapes beside OUT (the runner reads raw bytes)."""
    io = {kind: [[v.dtype.name, list(v.shape)] for v in vals]
          for kind, vals in (("inputs", result.graph.inputs), ("outputs", result.graph.outputs))}
    (out_dir / "io.json").write_text(json.dumps(io))


def build(model, target: str, out_dir: Path, **kw) -> CrossModel:
    """Compile an ONNX model for a runner target into out_dir (keywords go to auroragen.compile) and build
    its runner."""
    import auroragen

    res = auroragen.compile(model, target=compile_target(target), out_dir=out_dir, **kw)
    write_io(out_dir, res)
    return CrossModel(out_dir, target)


class CrossModel:
    """A compiled model run through its runner under emulation: model(*inputs) -> list of outputs."""

    def __init__(self, out_dir: Path, target: str, prefix: str = "model", cflags: str = "-O2 -Wall -Wextra -Werror",
                 build: bool = True):
        self.out_dir, self.target, self.prefix = Path(out_dir), target, prefix
        io = json.loads((self.out_dir / "io.json").read_text())
        self.inputs = [(DType[d], tuple(s)) for d, s in io["inputs"]]
        self.outputs = [(DType[d], tuple(s)) for d, s in io["outputs"]]
        if build:
            c = CROSS[target]
            r = subprocess.run(["make", "-s", "-C", str(self.out_dir), f"CC={c['cc']}", f"AR={c['ar']}",
                                f"CFLAGS={cflags} {c.get('cflags', '')}", *(a.format(P=prefix) for a in c["make"])],
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"cross build failed: {(r.stderr or r.stdout)[-2000:]}")

    def __call__(self, *args) -> list[np.ndarray]:
        with tempfile.TemporaryDirectory() as tmp:
            ins = []
            for k, (a, (dt, shape)) in enumerate(zip(args, self.inputs)):
                p = Path(tmp) / f"in{k}.bin"
                a = np.asarray(a)
                if encoded_type(a.dtype) is dt:  # an ml_dtypes array of the input's type: its bits
                    a = to_bits(a)
                np.ascontiguousarray(a.astype(dt.np, copy=False)).reshape(shape).tofile(p)
                ins.append(str(p))
            outs = [str(Path(tmp) / f"out{j}.bin") for j in range(len(self.outputs))]
            runner = self.out_dir / CROSS[self.target]["runner"].format(P=self.prefix)
            r = subprocess.run(run_command(self.target, runner, [*ins, "-o", *outs]), capture_output=True, text=True,
                               timeout=600, stdin=subprocess.DEVNULL, env={**os.environ, **SANITIZER_ENV})
            if r.returncode:
                raise RuntimeError(f"runner failed ({r.returncode}): {r.stderr.strip()[-1500:]}")
            return [np.fromfile(p, dtype=dt.np).reshape(shape) for p, (dt, shape) in zip(outs, self.outputs)]
