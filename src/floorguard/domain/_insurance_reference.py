"""Slow, readable twins of the insurance kernels, for tests.

Written straight from the seed's section 11 with plain Python loops; the fast
code in :mod:`floorguard.domain.settlement` must agree with it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["multi_index_reference", "payoff_curve_reference", "settle_reference"]


def settle_reference(
    initial_value: float,
    floor_pct: float,
    legs: Sequence[tuple[str, str, float, int, float]],
    final_value: float,
    final_level: float,
    coverage_ratio: float = 1.0,
) -> dict[str, float]:
    """Section 11 by the letter; ``legs`` are ``(kind, side, strike, contracts, multiplier)``."""
    floor_value = floor_pct * initial_value
    shortfall = floor_value - final_value
    if shortfall < 0:
        shortfall = 0.0
    hedge = 0.0
    for kind, side, strike, contracts, multiplier in legs:
        if kind == "put":
            intrinsic = strike - final_level if strike > final_level else 0.0
        else:
            intrinsic = final_level - strike if final_level > strike else 0.0
        value = intrinsic * multiplier * contracts
        if side == "short":
            value = -value
        hedge += value
    payable = hedge if hedge > 0 else 0.0
    covered = coverage_ratio * shortfall
    compensation = covered if covered < payable else payable
    return {"floor_value": floor_value, "shortfall": shortfall, "hedge_payoff": hedge,
            "compensation": compensation}


def payoff_curve_reference(
    legs: Sequence[tuple[str, str, float, int, float]], levels: Sequence[float]
) -> list[float]:
    """Net hedge payoff at each level, one level at a time."""
    out = []
    for level in levels:
        out.append(settle_reference(1.0, 1.0, legs, 1.0, level)["hedge_payoff"])
    return out


def multi_index_reference(y: Sequence[float], X: Sequence[Sequence[float]], nonnegative: bool) -> list[float]:
    """Variance-minimising hedge ratios by enumeration of active sets.

    For every subset of indices, solve ``Cov(X_S) h_S = Cov(X_S, y)`` (the
    normal equations written with covariances); with ``nonnegative`` keep only
    subsets whose ratios are all >= 0; return the ratios of the subset with
    the smallest residual variance (others zero). Exponential in ``k``: fine
    for the two or three indices of a test.
    """
    import itertools

    import numpy as np

    ya = np.asarray(y, dtype=float)
    Xa = np.asarray(X, dtype=float)
    k = Xa.shape[1]
    best: tuple[float, list[float]] | None = None
    for size in range(0, k + 1):
        for subset in itertools.combinations(range(k), size):
            h = [0.0] * k
            if subset:
                cols = list(subset)
                data = np.vstack([Xa[:, cols].T, ya])
                cov = np.cov(data)
                sxx = cov[: len(cols), : len(cols)]
                sxy = cov[: len(cols), -1]
                sol = np.linalg.solve(sxx, sxy)
                if nonnegative and any(v < 0 for v in sol):
                    continue
                for c, v in zip(cols, sol, strict=True):
                    h[c] = float(v)
            resid = ya - Xa @ np.asarray(h)
            var = float(np.var(resid))
            if best is None or var < best[0] - 1e-18:
                best = (var, h)
    assert best is not None
    return best[1]
