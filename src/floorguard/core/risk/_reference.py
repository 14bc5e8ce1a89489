"""Slow, readable reference implementations of the risk kernels.

Plain Python loops over lists, written from the definitions, to check the
vectorised kernels in :mod:`floorguard.core.risk._kernels`,
:mod:`floorguard.core.risk._beta`, :mod:`floorguard.core.risk._portfolio` and
:mod:`floorguard.core.risk._batch` (see ``tests/core/risk/test_reference.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = [
    "ref_beta",
    "ref_component_vol",
    "ref_es_gaussian",
    "ref_es_historical",
    "ref_hhi",
    "ref_max_drawdown",
    "ref_sharpe",
    "ref_sortino",
    "ref_var_cornish_fisher",
    "ref_var_gaussian",
    "ref_var_historical",
    "ref_vif",
    "ref_volatility",
]


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _sd(xs: Sequence[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def ref_volatility(r: Sequence[float], periods: float = 252) -> float:
    """Sample sd times sqrt(periods)."""
    return _sd(r) * math.sqrt(periods)


def ref_max_drawdown(r: Sequence[float]) -> float:
    """Walk the wealth path, tracking the peak (starting value 1 is a peak)."""
    wealth = 1.0
    peak = 1.0
    worst = 0.0
    for x in r:
        wealth *= 1.0 + x
        peak = max(peak, wealth)
        worst = min(worst, wealth / peak - 1.0)
    return worst


def ref_var_historical(r: Sequence[float], level: float) -> float:
    """Linear interpolation between order statistics at position (n-1)(1-level)."""
    s = sorted(r)
    pos = (len(s) - 1) * (1.0 - level)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    q = s[lo] + (s[hi] - s[lo]) * (pos - lo)
    return -q


def ref_es_historical(r: Sequence[float], level: float) -> float:
    """Average of the floor((n-1)(1-level)) + 1 smallest returns, negated."""
    s = sorted(r)
    k = math.floor((len(s) - 1) * (1.0 - level) + 1e-9) + 1
    return -sum(s[:k]) / k


def ref_var_gaussian(r: Sequence[float], level: float) -> float:
    z = NormalDist().inv_cdf(1.0 - level)
    return -(_mean(r) + z * _sd(r))


def ref_es_gaussian(r: Sequence[float], level: float) -> float:
    a = 1.0 - level
    z = NormalDist().inv_cdf(a)
    return -(_mean(r) - _sd(r) * NormalDist().pdf(z) / a)


def ref_var_cornish_fisher(r: Sequence[float], level: float) -> float:
    n = len(r)
    m = _mean(r)
    m2 = sum((x - m) ** 2 for x in r) / n
    m3 = sum((x - m) ** 3 for x in r) / n
    m4 = sum((x - m) ** 4 for x in r) / n
    s = m3 / m2**1.5
    k = m4 / m2**2 - 3.0
    z = NormalDist().inv_cdf(1.0 - level)
    zc = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    return -(m + zc * _sd(r))


def ref_sharpe(r: Sequence[float], periods: float = 252) -> float:
    return _mean(r) / _sd(r) * math.sqrt(periods)


def ref_sortino(r: Sequence[float], mar: float = 0.0, periods: float = 252) -> float:
    down = math.sqrt(sum(min(x - mar, 0.0) ** 2 for x in r) / len(r)) * math.sqrt(periods)
    return _mean([x - mar for x in r]) * periods / down


def ref_beta(y: Sequence[float], x: Sequence[float]) -> float:
    """cov(y, x) / var(x) by explicit sums."""
    my, mx = _mean(y), _mean(x)
    sxy = sum((a - my) * (b - mx) for a, b in zip(y, x, strict=True))
    sxx = sum((b - mx) ** 2 for b in x)
    return sxy / sxx


def _solve(A: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting."""
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(c + 1, n):
            f = M[r][c] / M[c][c]
            for j in range(c, n + 1):
                M[r][j] -= f * M[c][j]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (M[r][n] - sum(M[r][j] * x[j] for j in range(r + 1, n))) / M[r][r]
    return x


def ref_vif(columns: Sequence[Sequence[float]], j: int) -> float:
    """1 / (1 - R^2) of column j regressed on the other columns plus a constant."""
    y = list(columns[j])
    others = [list(c) for i, c in enumerate(columns) if i != j]
    n = len(y)
    X = [[1.0] + [c[t] for c in others] for t in range(n)]
    k = len(X[0])
    XtX = [[sum(X[t][a] * X[t][b] for t in range(n)) for b in range(k)] for a in range(k)]
    Xty = [sum(X[t][a] * y[t] for t in range(n)) for a in range(k)]
    coef = _solve(XtX, Xty)
    fit = [sum(coef[a] * X[t][a] for a in range(k)) for t in range(n)]
    my = _mean(y)
    ssr = sum((y[t] - fit[t]) ** 2 for t in range(n))
    sst = sum((v - my) ** 2 for v in y)
    return 1.0 / (ssr / sst)


def ref_hhi(exposures: Sequence[float]) -> float:
    g = sum(abs(e) for e in exposures)
    return sum((abs(e) / g) ** 2 for e in exposures)


def ref_component_vol(weights: Sequence[float], columns: Sequence[Sequence[float]], periods: float = 252) -> list[float]:
    """Component contributions w_i * d sigma / d w_i by central finite differences."""

    def vol(w: Sequence[float]) -> float:
        rp = [sum(w[i] * columns[i][t] for i in range(len(w))) for t in range(len(columns[0]))]
        return ref_volatility(rp, periods)

    out = []
    h = 1e-6
    for i in range(len(weights)):
        up = list(weights)
        dn = list(weights)
        up[i] += h
        dn[i] -= h
        out.append(weights[i] * (vol(up) - vol(dn)) / (2 * h))
    return out
