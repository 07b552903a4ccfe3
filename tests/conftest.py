from __future__ import annotations

import os
import sys
from pathlib import Path

import onnx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))  # the conformance runner, the fuzzer, the cross-target builds, the torch models
sys.path.insert(0, str(ROOT / "examples"))
# --openmp models loaded in tests run on two threads even where the machine has one core (libgomp reads
# this when the first such library loads): their parallel loops are split, not run whole by one thread
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_cnn(tmp_path_factory) -> Path:
    """The demo model (examples/make_example.py), written to a temporary file."""
    import make_example

    p = tmp_path_factory.mktemp("model") / "tiny_cnn.onnx"
    onnx.save(make_example.build(), p)
    return p


def pytest_collection_modifyitems(config, items):
    """The ONNX node tests (tests/test_conformance.py, thousands of cases) carry the `conformance` marker, so
    `pytest -m "not conformance and not slow"` is the quick loop."""
    for item in items:
        if item.path.name == "test_conformance.py":
            item.add_marker(pytest.mark.conformance)
