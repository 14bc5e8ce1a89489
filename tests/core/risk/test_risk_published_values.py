"""Risk measures against published reference values.

Sources (values transcribed, not recomputed):

* empyrical ``tests/test_stats.py`` (quantopian/empyrical, the fixtures
  ``mixed_returns``, ``negative_returns``, ``positive_returns``): assertions
  there use ``assert_almost_equal(..., DECIMAL_PLACES=8)``; we use an absolute
  tolerance of 1e-8 too.
* quantstats ``tests/data/reference_values.json`` (ranaroussi/quantstats),
  vetted against R PerformanceAnalytics 2.1.0 (R 4.3.3). The ``bacon_monthly``
  fixture is the 24-month portfolio of Bacon (2008), *Practical Portfolio
  Performance Measurement and Attribution*; ``tiny_sample_n7`` is a 7-day
  series. Its values are reproduced by R to 1e-10, and we assert 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import floorguard
from floorguard.core import risk

EMPYRICAL_TOL = 1e-8
PA_TOL = 1e-10

_idx = pd.date_range("2000-1-30", periods=9, freq="D")
MIXED = pd.Series(np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100, index=_idx)
NEGATIVE = pd.Series(np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100, index=_idx)
POSITIVE = pd.Series(np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100, index=_idx)

# Bacon (2008) 24 monthly returns, as in quantstats' reference_values.json ("bacon_monthly", periods=12)
BACON = np.array([
    0.003, 0.026, 0.011, -0.01, 0.015, 0.025, 0.016, 0.067, -0.014, 0.04, -0.005, 0.081,
    0.04, -0.037, -0.061, 0.017, -0.049, -0.022, 0.07, 0.058, -0.065, 0.024, -0.005, -0.009,
])
# "tiny_sample_n7" (periods=252)
TINY = np.array([
    -0.018720930383, -0.014303070725, -0.014572173794, -0.003467788444,
    -0.025038397377, -0.001677869157, -0.010129521509,
])


# ---------------------------------------------------------------- empyrical test_stats.py
@pytest.mark.parametrize(
    ("returns", "expected"),
    [(MIXED, -0.1), (POSITIVE, 0.0), (NEGATIVE, -0.36590730349873601),
     (pd.Series([0.10, -0.10, 0.10]), -0.10)],
)
def test_max_drawdown_empyrical(returns: pd.Series, expected: float) -> None:
    assert floorguard.max_drawdown(returns) == pytest.approx(expected, abs=EMPYRICAL_TOL)


def test_annual_volatility_empyrical() -> None:
    assert floorguard.annual_volatility(MIXED) == pytest.approx(0.9136465399704637, abs=EMPYRICAL_TOL)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [(MIXED, 1.7238613961706866), (POSITIVE, 52.915026221291804), (NEGATIVE, -24.406808633910085)],
)
def test_sharpe_empyrical(returns: pd.Series, expected: float) -> None:
    assert risk.sharpe_ratio(returns) == pytest.approx(expected, abs=EMPYRICAL_TOL)


@pytest.mark.parametrize(("mar", "expected"), [(0.0, 0.60448325038829653), (0.1, 1.7161730681956295)])
def test_downside_risk_empyrical(mar: float, expected: float) -> None:
    assert risk.downside_deviation(MIXED, mar) == pytest.approx(expected, abs=EMPYRICAL_TOL)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [(MIXED, 2.605531251673693), (NEGATIVE, -13.532743075043401), (POSITIVE, np.inf)],
)
def test_sortino_empyrical(returns: pd.Series, expected: float) -> None:
    got = risk.sortino_ratio(returns)
    if np.isinf(expected):
        assert got == expected
    else:
        assert got == pytest.approx(expected, abs=EMPYRICAL_TOL)


def test_alpha_beta_empyrical_with_alignment() -> None:
    """empyrical: alpha_beta(mixed_returns, negative_returns[1:]) = (-8.306666666666668, -0.71296296296296313).

    Old empyrical annualised alpha as ``alpha * 252``; ours is per period. The
    inputs differ in dates (and mixed has a NaN), which exercises the explicit
    alignment: 8 common dates are kept.
    """
    res = floorguard.market_beta(MIXED, NEGATIVE[1:])
    assert res.beta == pytest.approx(-0.71296296296296313, abs=EMPYRICAL_TOL)
    assert res.alpha * 252 == pytest.approx(-8.306666666666668, abs=EMPYRICAL_TOL)
    assert res.observations == 8
    assert res.dropped_unmatched == 1
    assert any("only one series" in w for w in res.warnings)


def test_beta_of_series_on_itself_empyrical() -> None:
    assert floorguard.market_beta(MIXED, MIXED).beta == pytest.approx(1.0, abs=1e-12)
    assert floorguard.market_beta(MIXED, -MIXED).beta == pytest.approx(-1.0, abs=1e-12)


# ---------------------------------------------------------------- R PerformanceAnalytics via quantstats
@pytest.mark.parametrize(
    ("data", "periods", "expected"),
    [(BACON, 12, 0.13700015867969229), (TINY, 252, 0.13086457754395944)],
)
def test_volatility_performance_analytics(data: np.ndarray, periods: int, expected: float) -> None:
    """StdDev.annualized(R, scale)."""
    assert floorguard.annual_volatility(data, periods_per_year=periods) == pytest.approx(expected, abs=PA_TOL)


@pytest.mark.parametrize(
    ("data", "expected"), [(BACON, -0.144672955739218), (TINY, -0.08485758410265398)]
)
def test_max_drawdown_performance_analytics(data: np.ndarray, expected: float) -> None:
    """maxDrawdown(R, geometric=TRUE), reported negative."""
    assert floorguard.max_drawdown(data) == pytest.approx(expected, abs=PA_TOL)


@pytest.mark.parametrize(
    ("data", "periods", "expected"),
    [(BACON, 12, 0.7883202548144859), (TINY, 252, -24.183404779195588)],
)
def test_sharpe_performance_analytics(data: np.ndarray, periods: int, expected: float) -> None:
    """SharpeRatio.annualized(R, 0, scale, geometric=FALSE)."""
    assert risk.sharpe_ratio(data, periods_per_year=periods) == pytest.approx(expected, abs=PA_TOL)


@pytest.mark.parametrize(
    ("data", "periods", "expected"),
    [(BACON, 12, 1.3592165786838633), (TINY, 252, -13.565806946540524)],
)
def test_sortino_reference(data: np.ndarray, periods: int, expected: float) -> None:
    """quantstats' vetted value: mean / sqrt(sum(min(r,0)^2)/n) x sqrt(periods).

    Our Sortino is ``mean * periods / (sqrt(mean(min(r,0)^2)) * sqrt(periods))``: the same number.
    """
    assert risk.sortino_ratio(data, periods_per_year=periods) == pytest.approx(expected, abs=PA_TOL)


@pytest.mark.parametrize(
    ("data", "var95", "es95"),
    [(BACON, -0.05605155822002584, -0.0725772784216993), (TINY, -0.026118205089509853, -0.029562908106231696)],
)
def test_gaussian_var_es_reference(data: np.ndarray, var95: float, es95: float) -> None:
    """quantstats' vetted Gaussian VaR/ES (returns; ours are losses, hence the sign)."""
    assert floorguard.value_at_risk(data, 0.95, "gaussian") == pytest.approx(-var95, abs=PA_TOL)
    assert floorguard.expected_shortfall(data, 0.95, "gaussian") == pytest.approx(-es95, abs=PA_TOL)
