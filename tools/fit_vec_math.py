"""Fit the polynomial coefficients of the vector layer's exp, log, tanh and erf (aurora_vec.h).

    python tools/fit_vec_math.py

Each is a least-squares fit in float64 on Chebyshev nodes, weighted to the relative error of
the final function, over the reduced interval its C code uses. Prints the coefficients as C
float literals and the fit's own maximum relative error (before float32 rounding); the error
of the C functions themselves is measured by tests/test_vec_math.py.
"""

from __future__ import annotations

import math

import numpy as np


def cheb_nodes(lo: float, hi: float, n: int = 4000) -> np.ndarray:
    k = np.arange(n)
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos((2 * k + 1) * np.pi / (2 * n))


def lsq(basis: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    return coef


def report(name: str, coef, err: float) -> None:
    lits = ", ".join(f"{float(np.float32(c))!r}f" for c in coef)
    print(f"{name}: max rel err of fit {err:.2e}\n  {{ {lits} }}")


def fit_exp():  # e^r = 1 + r + r^2 P(r), |r| <= ln2 / 2; P of degree 4
    r = cheb_nodes(-math.log(2) / 2, math.log(2) / 2)
    target = (np.exp(r) - 1 - r) / r**2
    basis = np.stack([r**k for k in range(5)], 1)
    c = lsq(basis, target, r**2 / np.exp(r))
    err = np.max(np.abs((1 + r + r**2 * (basis @ c)) / np.exp(r) - 1))
    report("exp P(r) = c0 + c1 r + ...", c, err)


def fit_log():  # log(1 + f) = f - f^2 / 2 + f^3 P(f), f in [sqrt(1/2) - 1, sqrt(2) - 1]; P of degree 7
    f = cheb_nodes(math.sqrt(0.5) - 1, math.sqrt(2) - 1)
    target = (np.log1p(f) - f + f**2 / 2) / f**3
    basis = np.stack([f**k for k in range(8)], 1)
    c = lsq(basis, target, np.abs(f**3 / np.log1p(f)))
    err = np.max(np.abs((f - f**2 / 2 + f**3 * (basis @ c)) / np.log1p(f) - 1))
    report("log P(f)", c, err)


def fit_tanh():  # tanh(x) = x + x^3 P(x^2), |x| < 0.625; P of degree 5
    x = cheb_nodes(1e-4, 0.625)
    z = x * x
    target = (np.tanh(x) - x) / x**3
    basis = np.stack([z**k for k in range(6)], 1)
    c = lsq(basis, target, x**3 / np.tanh(x))
    err = np.max(np.abs((x + x**3 * (basis @ c)) / np.tanh(x) - 1))
    report("tanh P(x^2)", c, err)


def fit_erf():
    erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)

    x = cheb_nodes(1e-4, 1.0)  # erf(x) = x P(x^2), |x| < 1; P of degree 6
    z = x * x
    basis = np.stack([z**k for k in range(7)], 1)
    c = lsq(basis, erf(x) / x, x / erf(x))
    err = np.max(np.abs(x * (basis @ c) / erf(x) - 1))
    report("erf small x P(x^2)", c, err)
    x = cheb_nodes(1.0, 3.92)  # erf(x) = 1 - exp(Q(x)), 1 <= x < 3.92; Q of degree 7 fitted to log erfc
    basis = np.stack([x**k for k in range(8)], 1)
    w = erfc(x) / erf(x)  # an error in Q moves erf by erfc(x) times as much
    c = lsq(basis, np.log(erfc(x)), w)
    err = np.max(np.abs((1 - np.exp(basis @ c)) / erf(x) - 1))
    report("erf large x: Q(x) ~ log erfc(x)", c, err)


if __name__ == "__main__":
    fit_exp()
    fit_log()
    fit_tanh()
    fit_erf()
