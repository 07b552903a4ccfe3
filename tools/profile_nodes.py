"""Time each node of a compiled model: where P_run's time goes.

    python tools/profile_nodes.py OUT [--repeat 200] [--threads 1,2] [--top 25]

OUT is a folder auroragen wrote. A copy of it is built with a clock read around every kernel call in
P_run (model.c's calls each follow a comment naming the node); the runner runs the model REPEAT times on
zero inputs and each node's median time is printed, largest first, one column per thread count
(OMP_NUM_THREADS; more than one count needs an --openmp build). The clock reads cost about 50 ns a node.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROLOGUE = r"""
#include <time.h>
static double aurora_prof_t[%(n)d][%(r)d];
static long aurora_prof_run;
static double aurora_prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
#include <stdio.h>
static int aurora_prof_cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#include <stdlib.h>
static void aurora_prof_dump(void)
{
    const long n = aurora_prof_run < %(r)d ? aurora_prof_run : %(r)d;
    for (int i = 0; i < %(n)d && n > 0; ++i) {
        qsort(aurora_prof_t[i], (size_t)n, sizeof(double), aurora_prof_cmp);
        fprintf(stderr, "prof %%d %%.3f %%.3f\n", i, aurora_prof_t[i][n / 2], aurora_prof_t[i][0]);
    }
}
"""

CALL = re.compile(r"^(    )(k\d+_\w+\(.*\);)$")
NODE = re.compile(r"^    /\* ([\w.]+) (.*) \*/$")


def instrument(src: str, repeat: int) -> tuple[str, list[tuple[str, str]]]:
    lines = src.splitlines()
    nodes: list[tuple[str, str]] = []
    out = []
    in_run = False
    pending = None
    for ln in lines:
        if re.match(r"^int \w+_run\(", ln):
            in_run = True
        m = NODE.match(ln) if in_run else None
        if m:
            pending = (m.group(1), m.group(2))
        c = CALL.match(ln) if in_run else None
        if c and pending:
            i = len(nodes)
            nodes.append(pending)
            pending = None
            out.append(f"    {{ const double aurora_t0 = aurora_prof_now(); {c.group(2)} "
                       f"if (aurora_prof_run < {repeat}) aurora_prof_t[{i}][aurora_prof_run] = aurora_prof_now() - aurora_t0; }}")
            continue
        if in_run and ln.startswith("    return AURORA_OK;"):
            out.append("    if (++aurora_prof_run == 1) atexit(aurora_prof_dump);")
        if ln == "}":
            in_run = False
        out.append(ln)
    pro = PROLOGUE % {"n": max(len(nodes), 1), "r": repeat}
    text = "\n".join(out) + "\n"
    head = text.index("\n#include")  # after the file's comment, before its includes
    return text[:head + 1] + "#define _POSIX_C_SOURCE 199309L\n" + text[head + 1:].replace(
        "\nstatic ", pro + "\nstatic ", 1), nodes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="a folder auroragen wrote")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="each node's median or fastest time (min: steadier on a noisy machine)")
    args = ap.parse_args(argv)
    src_dir = Path(args.out)
    header = next(src_dir.glob("*_runner.c"))
    prefix = header.name[: -len("_runner.c")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "out"
        shutil.copytree(src_dir, work)
        model_c = work / f"{prefix}.c"
        text, nodes = instrument(model_c.read_text(), args.repeat)
        model_c.write_text(text)
        subprocess.run(["make", "-s", "-C", str(work), f"{prefix}_runner"], check=True)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        # the runner wants one zero-filled file per input, of the input's size
        import auroragen

        m = auroragen.load(src_dir)
        ins = []
        for i, info in enumerate(m.inputs):
            p = Path(tmp) / f"in{i}.bin"
            n = info["dtype"].itemsize
            for d in info["shape"]:
                n *= d
            p.write_bytes(bytes(n))
            ins.append(str(p))
        outs = [str(Path(tmp) / f"out{j}.bin") for j in range(len(m.outputs))]
        cols = {}
        totals = {}
        for t in args.threads.split(","):
            env = dict(os.environ, OMP_NUM_THREADS=t)
            r = subprocess.run([str(work / f"{prefix}_runner"), *ins, "-o", *outs, "--repeat", str(args.repeat)],
                               env=env, capture_output=True, text=True, check=True)
            times = {}
            for ln in r.stderr.splitlines():
                if ln.startswith("prof "):
                    _, i, med, low = ln.split()
                    times[int(i)] = float(low if args.stat == "min" else med)
                elif ln.startswith("aurora:"):
                    totals[t] = float(re.search(r"min_us=([\d.]+)" if args.stat == "min" else r"median_us=([\d.]+)",
                                                ln).group(1))
            cols[t] = times
    first = args.threads.split(",")[0]
    order = sorted(range(len(nodes)), key=lambda i: -cols[first].get(i, 0.0))
    heads = "".join(f"{'us@' + t:>11}" for t in cols)
    print(f"{'#':>4} {'kernel':<22}{heads}  node")
    for i in order[: args.top]:
        op, name = nodes[i]
        vals = "".join(f"{cols[t].get(i, 0.0):>11.1f}" for t in cols)
        print(f"{i:>4} {op.removeprefix('aurora.'):<22}{vals}  {name[:60]}")
    sums = "".join(f"{sum(cols[t].values()):>11.1f}" for t in cols)
    print(f"{'':>4} {'sum of nodes':<22}{sums}")
    print(f"{'':>4} {'P_run ' + args.stat:<22}" + "".join(f"{totals.get(t, 0.0):>11.1f}" for t in cols))
    by_op: dict[str, list[float]] = {}
    for i, (op, _) in enumerate(nodes):
        by_op.setdefault(op.removeprefix("aurora."), [0.0] * len(cols))
        for k, t in enumerate(cols):
            by_op[op.removeprefix("aurora.")][k] += cols[t].get(i, 0.0)
    print()
    for op, vs in sorted(by_op.items(), key=lambda kv: -kv[1][0]):
        print(f"     {op:<22}" + "".join(f"{v:>11.1f}" for v in vs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
