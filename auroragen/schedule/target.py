"""Targets are data: what the emitter and the Makefile need to know about an ISA."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    isa_flags: str  # C compiler flags the target needs; they stay when CFLAGS is overridden
    vector_bits: int  # SIMD register width the kernels may assume (0: scalar)
    default_cc: str = "cc"
    freestanding: bool = False  # no OS: the runner uses semihosting
    description: str = ""


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("generic", "", 0, description="portable C99, no intrinsics"),
        Target("avx2", "-mavx2 -mfma", 256, description="x86-64 with AVX2 and FMA"),
        Target("avx512", "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma", 512, description="x86-64 with AVX-512"),
        Target("neon", "", 128, description="AArch64 with NEON (Advanced SIMD is baseline there)"),
        Target(
            "cortex-m", "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16", 0,
            default_cc="arm-none-eabi-gcc", freestanding=True, description="bare-metal Cortex-M4F/M7",
        ),
    )
}

# Targets whose kernels and build are complete; the others are accepted by name only later.
IMPLEMENTED = ("generic", "avx2", "avx512", "neon")


def get_target(name: str) -> Target:
    return TARGETS[name]
