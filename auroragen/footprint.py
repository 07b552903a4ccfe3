"""What a compiled model costs on its target: flash (code, weights) and RAM (arena, stack).

Code and weight sizes are measured, not estimated: OUT's sources are compiled with the target's
compiler at -O2 (in a scratch folder) and sized with its `size`; the stack is the compiler's own
-fstack-usage figures, summed along the deepest call chain the generated code has (P_run, one
kernel, one GEMM microkernel).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AuroraError
from .schedule.target import Target

CROSS_CC = {"cortex-m": "arm-none-eabi-gcc", "neon": "aarch64-linux-gnu-gcc"}


@dataclass
class Footprint:
    code: int  # bytes of code and read-only data of P.c (flash)
    weights: int  # bytes of the weights' objects (flash)
    arena: int  # bytes of the caller's arena (RAM)
    stack: int  # bytes of stack along P_run -> kernel -> microkernel (RAM)
    tool: str

    def lines(self) -> list[str]:
        return [f"  flash: {self.code + self.weights} B = code {self.code} B + weights {self.weights} B ({self.tool})",
                f"  RAM: {self.arena + self.stack} B = arena {self.arena} B + stack {self.stack} B (-fstack-usage)"]


def measure(out_dir: Path, target: Target, prefix: str, arena: int) -> Footprint:
    cc = CROSS_CC.get(target.name, "cc")
    size = cc[:-3] + "size" if cc.endswith("gcc") else "size"
    missing = [t for t in (cc, size) if not shutil.which(t)]
    if missing:
        raise AuroraError(f"--report needs {' and '.join(missing)} to measure the {target.name} code")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for f in Path(out_dir).iterdir():
            if f.is_file():
                shutil.copy(f, work / f.name)
        flags = ["-std=c99", "-O2", "-ffunction-sections", "-fdata-sections", "-fstack-usage", *target.isa_flags.split()]
        objs = {}
        for src in [f"{prefix}.c", f"{prefix}_weights.c"] + ([f"{prefix}_blob.S"] if (work / f"{prefix}_blob.S").exists() else []):
            obj = work / (Path(src).stem + ".o")
            extra = ["-Wa,-I."] if src.endswith(".S") else []
            r = subprocess.run([cc, *flags, *extra, "-c", src, "-o", obj.name], cwd=work, capture_output=True, text=True)
            if r.returncode:
                raise AuroraError(f"--report: {cc} could not build {src}: {r.stderr.strip()[-300:]}")
            objs[src] = obj
        sizes = {src: _berkeley(size, obj) for src, obj in objs.items()}
        code = sum(sizes[f"{prefix}.c"])
        weights = sum(sum(v) for k, v in sizes.items() if k != f"{prefix}.c")
        stack = _stack(work / f"{prefix}.su", prefix)
    return Footprint(code=code, weights=weights, arena=arena, stack=stack, tool=f"{cc} -O2, {size}")


def _berkeley(size: str, obj: Path) -> tuple[int, int, int]:
    """(text, data, bss) of one object, as `size` prints them."""
    out = subprocess.run([size, str(obj)], capture_output=True, text=True, check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def _stack(su: Path, prefix: str) -> int:
    frames: dict[str, int] = {}
    for line in su.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1].strip().isdigit():
            frames[parts[0].rsplit(":", 1)[-1]] = int(parts[1])
    top = frames.get(f"{prefix}_run", 0)
    micro = max((v for k, v in frames.items() if k.startswith("aurora_gemm_")), default=0)
    kernels = max((v for k, v in frames.items() if k.startswith("k") and "_" in k), default=0)
    return top + kernels + micro
