"""Targets are data: what the emitter and the Makefile need to know about an ISA."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    name: str
    isa_flags: str  # C compiler flags the target needs; they stay when CFLAGS is overridden
    default_cc: str = "cc"
    freestanding: bool = False  # no OS: the runner uses semihosting
    description: str = ""
    vec_isa: str = ""  # the vector layer's AURORA_VEC_<name> (aurora_vec.h); "" is scalar C
    vec_width: int = 1  # floats per vector register
    gemm_mr: int = 4  # GEMM microkernel rows (weights broadcast) ...
    gemm_nv: int = 4  # ... and vectors of columns: an MR x (NV * width) tile of accumulators
    vec_regs: int = 0  # vector registers (0: scalar)
    dense_tile: tuple[int, int] | None = None  # (mr, nv) of matrix products (dense), when not the GEMM's

    @property
    def gemm_nr(self) -> int:
        return self.gemm_nv * self.vec_width


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("generic", "", description="portable C99, no intrinsics", gemm_mr=4, gemm_nv=8),
        # dense 4 x 24 tiles: 4-13% faster than 6 x 16 on products of 1, 49, 128 and 200 rows (no leftover rows
        # for the slow 1-row kernel, which itself gets 3 accumulator chains), level at 512 (--tune measurements)
        Target("avx2", "-mavx2 -mfma", description="x86-64 with AVX2 and FMA", vec_isa="AVX2", vec_width=8,
               gemm_mr=6, gemm_nv=2, vec_regs=16, dense_tile=(4, 3)),
        Target("avx512", "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma", description="x86-64 with AVX-512",
               vec_isa="AVX512", vec_width=16, gemm_mr=12, gemm_nv=2, vec_regs=32),
        Target("neon", "", description="AArch64 with NEON (Advanced SIMD is baseline there)", vec_isa="NEON",
               vec_width=4, gemm_mr=8, gemm_nv=3, vec_regs=32),
        Target(
            "cortex-m", "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16",
            default_cc="arm-none-eabi-gcc", freestanding=True, description="bare-metal Cortex-M4F/M7",
        ),
    )
}


def runs_on_host(target: Target) -> bool:
    """Whether this machine runs the target's code: not bare metal; NEON on AArch64; AVX2 (with FMA) and
    AVX-512 when /proc/cpuinfo lists them."""
    if target.freestanding:
        return False
    if target.vec_isa == "NEON":
        return platform.machine() in ("aarch64", "arm64")
    if target.vec_isa in ("AVX2", "AVX512"):
        try:
            flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
        except (OSError, StopIteration):
            return False
        return {"avx2", "fma"} <= set(flags) if target.vec_isa == "AVX2" else "avx512f" in flags
    return True


def get_target(name: str) -> Target:
    return TARGETS[name]
