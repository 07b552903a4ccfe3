"""Load a compiled OUT folder into Python: build libP.so with its own Makefile, call it through cffi."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import cffi
import numpy as np

from .errors import AuroraError
from .ir.narrow import encoded_type, to_bits
from .ir.types import DType

_CDEF = """
typedef struct {{ const char *name; int32_t dtype; int32_t rank; const int64_t *shape; }} aurora_tensor_info;
size_t {P}_arena_bytes(void);
int {P}_run(const void *const *inputs, void *const *outputs, void *arena);
int {P}_num_inputs(void);
int {P}_num_outputs(void);
const aurora_tensor_info *{P}_input_info(int i);
const aurora_tensor_info *{P}_output_info(int i);
"""


def find_prefix(out_dir: Path) -> str:
    runners = sorted(p.name[: -len("_runner.c")] for p in out_dir.glob("*_runner.c"))
    if len(runners) != 1:
        raise AuroraError(f"{str(out_dir)!r} does not hold exactly one compiled model")
    return runners[0]


class Model:
    """A compiled model: call it with numpy arrays (positionally, or by ONNX input name)."""

    def __init__(self, out_dir, *, build: bool = True, make_args: tuple[str, ...] = ()):
        self.out_dir = Path(out_dir)
        self.prefix = P = find_prefix(self.out_dir)
        lib = self.out_dir / f"lib{P}.so"
        if build:
            r = subprocess.run(["make", "-s", "-C", str(self.out_dir), f"lib{P}.so", *make_args],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise AuroraError(f"building {lib} failed: {(r.stderr or r.stdout).strip()[-2000:]}")
        self.ffi = cffi.FFI()
        self.ffi.cdef(_CDEF.format(P=P))
        # never unloaded: an --openmp library's worker threads (spinning under OMP_WAIT_POLICY=active) would
        # otherwise run on in unmapped code when the interpreter exits
        self.lib = self.ffi.dlopen(os.fspath(lib.resolve()), self.ffi.RTLD_NOW | getattr(self.ffi, "RTLD_NODELETE", 0))
        self._run = getattr(self.lib, f"{P}_run")
        self.arena_bytes = int(getattr(self.lib, f"{P}_arena_bytes")())
        self._local = threading.local()  # one arena per calling thread: calls may run concurrently
        self._dummy = self.ffi.new("char[1]")
        self.inputs = [self._info(getattr(self.lib, f"{P}_input_info")(i)) for i in range(getattr(self.lib, f"{P}_num_inputs")())]
        self.outputs = [self._info(getattr(self.lib, f"{P}_output_info")(i)) for i in range(getattr(self.lib, f"{P}_num_outputs")())]

    def _arena(self) -> np.ndarray:
        """This thread's arena, allocated once (fresh pages on every call would cost page faults)."""
        arena = getattr(self._local, "arena", None)
        if arena is None:
            raw = np.empty(self.arena_bytes + 64, dtype=np.uint8)
            shift = (-raw.ctypes.data) % 64
            arena = self._local.arena = raw[shift:shift + self.arena_bytes]
            self._local.ptr = self.ffi.from_buffer(arena) if self.arena_bytes else self.ffi.NULL
        return arena

    def _arena_ptr(self):
        """This thread's arena as the pointer P_run takes (kept beside the arena by _arena)."""
        self._arena()
        return self._local.ptr

    def _info(self, p):
        shape = tuple(int(p.shape[k]) for k in range(p.rank))
        return dict(name=self.ffi.string(p.name).decode("utf-8", "replace"), dtype=DType(p.dtype), shape=shape)

    def __call__(self, *args, **named) -> list[np.ndarray]:
        """Run the model: inputs as numpy arrays (bfloat16 and the narrow types as their storage bits or as
        ml_dtypes arrays), outputs as numpy arrays (those types as their bits: uint16 / uint8)."""
        if named:
            args = tuple(named[t["name"]] for t in self.inputs)
        if len(args) != len(self.inputs):
            raise AuroraError(f"{len(args)} inputs given, the model takes {len(self.inputs)}")
        ins = []
        for a, t in zip(args, self.inputs):
            np_type = t["dtype"].np
            if not (type(a) is np.ndarray and a.dtype == np_type and a.flags.c_contiguous):  # else as it is
                a = np.asarray(a)
                if encoded_type(a.dtype) is t["dtype"]:  # an ml_dtypes array of the input's type: its bits
                    a = to_bits(a)
                a = a.astype(np_type, copy=False)
                a = np.ascontiguousarray(a).reshape(a.shape)  # (ascontiguousarray makes a 0-d array 1-d)
            if a.shape != t["shape"]:
                raise AuroraError(f"input {t['name']!r} has shape {list(a.shape)}, expected {list(t['shape'])}")
            ins.append(a)
        outs = [np.empty(t["shape"], dtype=t["dtype"].np) for t in self.outputs]
        ffi = self.ffi
        # buffers stay referenced (bufs) until the call returns; an empty tensor still gets a non-NULL pointer
        bufs = [ffi.from_buffer(a) if a.nbytes else self._dummy for a in ins + outs]
        k = len(ins)
        in_ptrs = ffi.new("const void *[]", bufs[:k] or [ffi.NULL])
        out_ptrs = ffi.new("void *[]", bufs[k:] or [ffi.NULL])
        rc = self._run(in_ptrs, out_ptrs, self._arena_ptr())
        if rc != 0:
            raise AuroraError(f"{self.prefix}_run returned {rc}")
        return outs


def load(out_dir, **kw) -> Model:
    """Build (with OUT's Makefile) and load a compiled model."""
    return Model(out_dir, **kw)
