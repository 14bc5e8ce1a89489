"""Valuation with provenance, exclusions, and the exposure-weighted hedge beta.

Hand-computed expectations; Vasicek (1973, J. Finance 28(5), eq. for the
posterior mean) for the shrinkage of an implausible regression beta.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest

from floorguard.core.risk import hybrid_beta
from floorguard.domain.portfolio import Position
from floorguard.domain.valuation import hedge_portfolio_beta, value_positions, vasicek_beta
from floorguard.exceptions import QuoteRefusedError


@dataclass(frozen=True)
class PP:
    symbol: str
    price: float
    as_of: dt.date
    source: str


D = dt.date(2022, 12, 28)


def test_valuation_provenance_and_exclusions() -> None:
    pos = [Position("AAPL", 10), Position("MSFT", -5), Position("PRIV", 1, 50_000.0, "private", 0.8),
           Position("CUST", 100, 20.0, "custom", 1.5), Position("USD", 1000, 1.0, "cash")]
    v = value_positions(pos, {"AAPL": PP("AAPL", 130.0, D, "bundled")}, {"MSFT": PP("MSFT", 240.0, D, "csv")})
    by = {p.symbol: p for p in v.positions}
    assert by["AAPL"].price_source == "bundled" and by["AAPL"].price_as_of == "2022-12-28"
    assert by["MSFT"].price_source == "fallback:csv" and by["MSFT"].market_value == -1200.0
    assert by["CUST"].price_source == "user"
    assert v.total_value == pytest.approx(1300 - 1200 + 50_000 + 2000 + 1000)
    assert v.hedged_value == pytest.approx(1300 - 1200 + 2000)
    assert {e["symbol"] for e in v.excluded} == {"PRIV", "USD"}
    assert v.fallback_used == ["MSFT"]
    assert any("fallback" in w for w in v.warnings) and any("left out" in w for w in v.warnings)


def test_missing_prices_refused_with_every_symbol() -> None:
    with pytest.raises(QuoteRefusedError, match="AAPL, MSFT"):
        value_positions([Position("AAPL", 1), Position("MSFT", 1), Position("X", 1, 5.0)], {})


def test_net_short_refused() -> None:
    with pytest.raises(QuoteRefusedError, match="net long"):
        value_positions([Position("AAPL", -10, 100.0)], {})


def _market(seed: int = 0, n: int = 500) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0003, 0.01, n)


def test_beta_exposure_weighted_with_shorts_and_provenance() -> None:
    m = _market()
    rng = np.random.default_rng(1)
    a = 1.5 * m + rng.normal(0, 0.005, m.size)
    pos = [Position("A", 100, 100.0), Position("B", -20, 100.0), Position("C", 50, 100.0, beta=0.5),
           Position("D", 10, 100.0)]
    v = value_positions(pos, {})
    est = {"A": hybrid_beta(a, m), "B": hybrid_beta(m * 0.8 + rng.normal(0, 0.004, m.size), m),
           "C": hybrid_beta(a, m, provided_beta=0.5), "D": hybrid_beta(a, None)}
    hb = hedge_portfolio_beta(v, est)
    # exposures 10,000, -2,000, 5,000, 1,000 -> net 14,000
    expect = (10_000 * est["A"].beta - 2_000 * est["B"].beta + 5_000 * 0.5 + 1_000 * 1.0) / 14_000
    assert hb.beta == pytest.approx(expect, rel=1e-12)
    plain_average = np.mean([est[s].beta for s in "ABCD"])
    assert abs(hb.beta - plain_average) > 0.05  # never the plain average
    assert hb.positions["A"]["source"] == "single_factor"
    assert hb.positions["C"]["source"] == "provided"
    assert hb.positions["D"]["source"] == "default" and hb.defaulted == ["D"]
    assert any("beta 1.0 assumed" in w for w in hb.warnings)
    assert hb.positions["B"]["weight"] == pytest.approx(-2 / 14)


def test_absurd_beta_is_shrunk() -> None:
    m = _market(2, 40)
    noisy = 9.0 * m + np.random.default_rng(3).normal(0, 0.05, m.size)
    est = hybrid_beta(noisy, m)
    assert abs(est.beta) > 3
    v = value_positions([Position("Z", 10, 100.0)], {})
    hb = hedge_portfolio_beta(v, {"Z": est})
    se = est.single_factor.std_error
    assert hb.beta == pytest.approx(max(-3, min(3, vasicek_beta(est.beta, se))), rel=1e-12)
    assert hb.positions["Z"]["source"] == "vasicek" and "implausible" in hb.warnings[0]


def test_vasicek_by_hand() -> None:
    # prior 1 +- 0.5, estimate 2 +- 0.5 -> equal precision -> 1.5
    assert vasicek_beta(2.0, 0.5) == pytest.approx(1.5)
    assert vasicek_beta(2.0, 0.0) == 2.0


def test_zero_beta_refused() -> None:
    v = value_positions([Position("G", 10, 100.0, beta=0.0)], {})
    with pytest.raises(QuoteRefusedError, match="beta 0.000"):
        hedge_portfolio_beta(v, {"G": hybrid_beta(np.zeros(3), None, provided_beta=0.0)})
