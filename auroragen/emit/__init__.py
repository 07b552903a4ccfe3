"""Schedule -> OUT: the C sources, header, weights, runtime, runner and Makefile (ABI v1)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from ..ir import Value
from ..ir.ops import get as get_op
from ..schedule import Schedule
from ..version import __version__
from .affine import Ix, Loop, at, cmin, plus, zeros
from .cformat import array_literals, c_comment, c_string
from .kernels import get_builder

ABI_VERSION = 1
BLOB_MIN_BYTES = 4096  # constant tensors at least this large go to P_weights.bin, not C literals
_PKG = Path(__file__).resolve().parent.parent

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_PKG / "templates")),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
_env.globals.update(V=Ix.var, Loop=Loop, at=at, cmin=cmin, plus=plus, zeros=zeros)  # index arithmetic in every template (emit/affine.py)


def render(name: str, **params) -> str:
    return _env.get_template(name).render(**params)


def reindent(body: str, base: int = 1) -> str:
    """Indent C by brace depth (templates write kernel bodies flush left)."""
    out, depth = [], base
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("}"):
            depth -= 1
        out.append("    " * depth + line)
        depth += line.count("{") - line.count("}") + (1 if line.startswith("}") else 0)
    return "\n".join(out)


# Kernels with fewer multiply-adds than this run on one thread under --openmp: waking the team and
# joining it again costs microseconds, about what two threads would save on them.
PARALLEL_MIN_WORK = 1 << 17


def parallel_work(node) -> int:
    """About how many multiply-adds (or window steps) a kernel does: what decides its parallel loops (the
    op's `work` fact, given at its registration)."""
    return get_op(node.op).work_of(node)


def shape_text(v: Value) -> str:
    return f"{'x'.join(map(str, v.shape)) or 'scalar'} {v.dtype.short}"


@dataclass
class _Tensor:
    var: str
    decl: str
    comment: str


class _Emitter:
    def __init__(self, sched: Schedule, prefix: str, openmp: bool):
        self.s = sched
        self.openmp = openmp
        self.P = prefix
        self.weights: dict[Value, dict] = {}
        self.tensors: dict[Value, _Tensor] = {}
        self.kernels: dict[str, dict] = {}  # body+signature -> kernel
        self.helpers: dict[tuple, str] = {}  # (template, params) -> rendered helper (microkernels), in first-use order
        self.calls: list[dict] = []
        self.depth = 1  # brace depth of the next call in P_run

    # -- constant data -------------------------------------------------------
    def plan_weights(self) -> tuple[list[dict], bytes]:
        blob = bytearray()
        out = []
        consts = self.s.graph.all_constants()
        seen: dict[tuple, dict] = {}  # equal constants (e.g. one weight copied into both branches of an If) stored once
        for v in self.s.consts:
            arr = np.ascontiguousarray(consts[v].const_value(v.type)).reshape(v.shape)
            arr = arr.astype(v.dtype.np.newbyteorder("<"))
            key = (v.dtype, v.shape, hashlib.sha256(arr.tobytes()).digest())
            if key in seen:
                self.weights[v] = seen[key]
                continue
            w = dict(sym=f"{self.P}_w{len(out)}", ctype=v.dtype.ctype, len=max(v.type.numel, 1), nbytes=arr.nbytes,
                     comment=f"{c_comment(v.name)} {shape_text(v)}", blob=arr.nbytes >= BLOB_MIN_BYTES, offset=0, lines=[])
            if w["blob"]:
                while len(blob) % 64:
                    blob.append(0)
                w["offset"] = len(blob)
                blob += arr.tobytes()
            else:
                lits = array_literals(arr, v.dtype) if arr.size else ["0"]
                w["lines"] = [", ".join(lits[i:i + 8]) + "," for i in range(0, len(lits), 8)]
            self.weights[v] = seen[key] = w
            out.append(w)
        return out, bytes(blob)

    # -- tensors -------------------------------------------------------------
    def tensor(self, v: Value, writable: bool) -> str:
        if v in self.tensors:
            return self.tensors[v].var
        root, _ = self.s.owner(v)
        st = self.s.where(v)
        ct = v.dtype.ctype
        var = f"t{len(self.tensors)}"
        const = "" if writable and st.kind in ("output", "arena") else "const "
        off = st.offset
        if st.kind == "input":
            expr = (f"(const {ct} *)(const void *)((const unsigned char *)inputs[{st.index}] + {off})" if off
                    else f"(const {ct} *)inputs[{st.index}]")
        elif st.kind == "output":
            expr = f"({ct} *)(void *)((unsigned char *)outputs[{st.index}] + {off})" if off else f"({ct} *)outputs[{st.index}]"
        elif st.kind == "const":
            sym = self.weights[root]["sym"]
            expr = f"(const {ct} *)(const void *)((const unsigned char *){sym} + {off})" if off else sym
        else:
            expr = f"({ct} *)(void *)(A + {st.index + off})"
        where = {"input": f"input {st.index}", "output": f"output {st.index}", "const": "weights",
                 "arena": f"arena +{st.index + st.offset}"}[st.kind]
        if st.offset and st.kind != "arena":
            where += f" +{st.offset}"
        alias = " (view)" if root is not v else ""
        comment = f"{shape_text(v)}, {where}{alias}" + (f": {c_comment(v.name, 48)}" if v.name else "")
        self.tensors[v] = _Tensor(var, f"{const}{ct} *const {var} = {expr};", comment)
        return var

    def _span(self, v: Value) -> tuple[tuple, int, int]:
        """The buffer v lives in and its byte range there."""
        st = self.s.where(v)
        base = st.index + st.offset if st.kind == "arena" else st.offset
        return (st.kind, 0 if st.kind == "arena" else st.index), base, base + v.type.nbytes

    # -- kernels -------------------------------------------------------------
    def add_step(self, step) -> None:
        node = step.node
        if step.kind.startswith("if."):
            self.add_branch(step)
            return
        plan = get_builder(node.op)(node, step)
        ins = [node.inputs[i] for i in plan.inputs] if plan.inputs is not None else list(node.inputs)
        outs = list(node.outputs)
        # `restrict` on every pointer except those whose bytes overlap an output's (a kernel writing in place)
        ptrs = [(plan.names.get(f"in{k}", f"in{k}"), v, False) for k, v in enumerate(ins) if v is not None]
        ptrs += [(plan.names.get(f"out{k}", f"out{k}"), v, True) for k, v in enumerate(outs)]
        spans = [self._span(v) for _, v, _ in ptrs]
        shared = set()
        for j, (_, _, written) in enumerate(ptrs):
            for k, b in enumerate(spans):
                a = spans[j]
                if written and k != j and a[0] == b[0] and a[1] < b[2] and b[1] < a[2]:
                    shared.update((j, k))
        params = []
        args = []
        for j, (name, v, written) in enumerate(ptrs):
            params.append(f"{'' if written else 'const '}{v.dtype.ctype} *{'' if j in shared else 'restrict '}{name}")
            args.append(self.tensor(v, writable=written))
        for template, hp in plan.helpers:
            key = (template, tuple(sorted(hp.items())))
            if key not in self.helpers:
                self.helpers[key] = render(f"kernels/{template}.c.j2", omp=self.openmp, **hp)
        omp = self.openmp and parallel_work(node) >= PARALLEL_MIN_WORK
        body = reindent(render(f"kernels/{plan.template}.c.j2", omp=omp, vec=self.s.target.vec_width > 1,
                               VW=self.s.target.vec_width, **plan.params))
        sig = ", ".join(params) or "void"
        key = sig + "\n" + body + str(plan.can_fail)
        if key not in self.kernels:
            name = f"k{len(self.kernels)}_{node.op}"
            self.kernels[key] = dict(name=name, params=sig, body=body, what=c_comment(plan.what, 120), can_fail=plan.can_fail)
        k = self.kernels[key]
        self.calls.append(dict(call=f"{k['name']}({', '.join(args)})", can_fail=plan.can_fail, comment=_label(node),
                               depth=self.depth, line=None))

    def add_branch(self, step) -> None:
        """The C of an `aurora.if`: the kernel calls of each branch inside if/else braces."""
        node = step.node
        if step.kind == "if.then":
            line, comment = f"if ({self.tensor(node.inputs[0], writable=False)}[0]) {{", _label(node)
        elif step.kind == "if.else":
            self.depth -= 1
            line, comment = "} else {", None
        else:
            self.depth -= 1
            line, comment = "}", None
        self.calls.append(dict(line=line, comment=comment, depth=self.depth))
        if step.kind != "if.end":
            self.depth += 1


def _label(node) -> str:
    return f"aurora.{node.op}" + (f" {c_comment(node.name, 48)}" if node.name else "")


def _io(values: list[Value]) -> list[dict]:
    return [dict(name=c_string(v.name), dtype=v.dtype.value, rank=v.type.rank, shape=list(v.shape),
                 comment=f"{c_comment(v.name, 48)}: {shape_text(v)}") for v in values]


def emit(sched: Schedule, out_dir: Path, *, prefix: str, command: str, openmp: bool = False) -> list[str]:
    """Write every file of OUT into out_dir (which must exist and be empty). Returns the file names."""
    e = _Emitter(sched, prefix, openmp)
    weights, blob = e.plan_weights()
    for step in sched.steps:
        e.add_step(step)
    t = sched.target
    P = prefix
    common = dict(P=P, PP=P.upper(), version=__version__, abi=ABI_VERSION, target=t.name,
                  inputs=_io(sched.graph.inputs), outputs=_io(sched.graph.outputs),
                  arena_bytes=sched.memory.arena_bytes, lower_bound=sched.memory.lower_bound, vec_isa=t.vec_isa)
    files = {
        f"{P}.h": render("header.h.j2", **common),
        f"{P}.c": render("model.c.j2", **common, command=c_comment(command, 400), kernels=list(e.kernels.values()),
                         helpers=list(e.helpers.values()), calls=e.calls,
                         tensors=[dict(decl=x.decl, comment=x.comment) for x in e.tensors.values()]),
        f"{P}_weights.h": render("weights.h.j2", **common, weights=weights),
        f"{P}_weights.c": render("weights.c.j2", **common, weights=weights),
        f"{P}_runner.c": render("runner.c.j2", **common),
    }
    asm = []
    if blob:
        files[f"{P}_blob.S"] = render("weights.S.j2", **common, weights=weights)
        asm = [f"{P}_blob.S"]
    files["Makefile"] = render(
        "Makefile.j2", **common, default_cc=t.default_cc, isa_flags=t.isa_flags, pic=not t.freestanding, freestanding=t.freestanding,
        shared=not t.freestanding, openmp=openmp, sources=[f"{P}.c", f"{P}_weights.c"], asm_sources=asm,
        headers=[f"{P}.h", f"{P}_weights.h", "aurora_rt.h", "aurora_vec.h"],
    )
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    if blob:
        (out_dir / f"{P}_weights.bin").write_bytes(blob)
    runtime = ["aurora_rt.h", "aurora_vec.h"]
    for h in runtime:
        shutil.copyfile(_PKG / "runtime_c" / h, out_dir / h)
    if t.freestanding:  # the bare-metal runner's start-up and memory map (not part of the library)
        for f in ("aurora_mps2_startup.c", "aurora_mps2.ld"):
            shutil.copyfile(_PKG / "runtime_c" / "mps2" / f, out_dir / f)
            runtime.append(f)
    return sorted(list(files) + runtime + ([f"{P}_weights.bin"] if blob else []))
