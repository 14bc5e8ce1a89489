"""Slow, readable twins of the insurance kernels, for tests.

Written straight from the seed's section 11 with plain Python loops; the fast
code in :mod:`floorguard.domain.settlement` must agree with it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["settle_reference", "payoff_curve_reference"]


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
