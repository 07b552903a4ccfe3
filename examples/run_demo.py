"""Run a compiled model's runner on a random input and compare with the reference.

    python examples/run_demo.py MODEL.onnx OUT

Uses only the ABI: the runner program reads and writes raw little-endian files.
The reference is onnxruntime when installed, else onnx.reference.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

import auroragen


def reference(model_path: str, feeds: dict) -> tuple[str, list[np.ndarray]]:
    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        return "onnxruntime", sess.run(None, feeds)
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return "onnx.reference", ReferenceEvaluator(onnx.load(model_path)).run(None, feeds)


def main(model_path: str, out_dir: str) -> int:
    out = Path(out_dir)
    prefix = auroragen.compiled.find_prefix(out)
    g = auroragen.import_onnx(model_path)
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(v.dtype.np) for v in g.inputs}
    with tempfile.TemporaryDirectory() as tmp:
        ins = []
        for k, a in enumerate(feeds.values()):
            p = Path(tmp) / f"in{k}.bin"
            p.write_bytes(np.ascontiguousarray(a).tobytes())
            ins.append(str(p))
        outs = [str(Path(tmp) / f"out{j}.bin") for j in range(len(g.outputs))]
        subprocess.run([str(out / f"{prefix}_runner"), *ins, "-o", *outs], check=True)
        got = [np.fromfile(p, dtype=v.dtype.np).reshape(v.shape) for p, v in zip(outs, g.outputs)]
    who, want = reference(model_path, feeds)
    worst = 0.0
    for v, a, b in zip(g.outputs, got, want):
        err = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
        worst = max(worst, err)
        print(f"output {v.name!r} {list(v.shape)}")
        print(f"  {'auroragen':>12}  {who:>14}")
        for x, y in list(zip(a.reshape(-1), np.asarray(b).reshape(-1)))[:10]:
            print(f"  {x:12.6f}  {y:14.6f}")
        print(f"  max abs error: {err:.3g}")
    ok = worst <= 1e-4 + 1e-3 * max(float(np.max(np.abs(np.asarray(b)))) for b in want)
    print("demo: outputs match" if ok else "demo: OUTPUTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
