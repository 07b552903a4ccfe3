"""The ONNX backend node tests through the ABI (see tests/conformance.py).

Parametrised by target: AURORA_CONFORMANCE_TARGETS=generic,avx2 runs both.
A case in tests/conformance_xfail.txt must fail (strict xfail): one that starts
passing fails the run until its line is removed.
"""

from __future__ import annotations

import os

import conformance
import pytest

CASES = conformance.load_cases()
XFAIL = conformance.read_xfail()
TARGETS = [t for t in os.environ.get("AURORA_CONFORMANCE_TARGETS", "generic").split(",") if t]


def test_every_expected_failure_names_a_real_case():
    import fnmatch

    for pat, _ in XFAIL:
        assert any(fnmatch.fnmatchcase(n, pat) for n in CASES), f"{pat!r} matches no node test case"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_node(name, target, request):
    reason = conformance.expected_failure(name, XFAIL)
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    r = conformance.run_case(CASES[name], target)
    assert r.status == "pass", r.detail
