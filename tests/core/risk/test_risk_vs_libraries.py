"""Risk measures against independent libraries run in the same process.

* statsmodels 0.14 ``OLS`` (params, bse, rsquared) and
  ``stats.outliers_influence.variance_inflation_factor``: relative 1e-9.
* empyrical-reloaded 0.7.1 (``annual_volatility``, ``max_drawdown``,
  ``value_at_risk``, ``conditional_value_at_risk``, ``sharpe_ratio``,
  ``sortino_ratio``, ``downside_risk``, ``beta``): absolute 1e-12.
* quantstats 0.0.86 (``volatility``, ``max_drawdown``, ``sharpe``,
  parametric ``value_at_risk``): absolute 1e-12.
* scipy: ``integrate.quad`` of the Cornish–Fisher quantile (ES), ``stats.skew``
  and ``stats.kurtosis`` (VaR): 1e-9.
* pandas ``rolling().std()`` for rolling volatility: 1e-12.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import floorguard
from floorguard.core import risk

ABS = 1e-12


@pytest.fixture(scope="module")
def fat_tailed() -> pd.Series:
    rng = np.random.default_rng(20240601)
    x = 0.0004 + 0.011 * rng.standard_t(4, size=1500) / np.sqrt(2.0)
    return pd.Series(x, index=pd.bdate_range("2015-01-02", periods=1500), name="r")


@pytest.fixture(scope="module")
def factors() -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 750
    m = 0.01 * rng.standard_normal(n)
    size = 0.4 * m + 0.004 * rng.standard_normal(n)
    value = -0.2 * m + 0.005 * rng.standard_normal(n)
    mom = 0.1 * m + 0.3 * value + 0.006 * rng.standard_normal(n)
    idx = pd.bdate_range("2019-01-02", periods=n)
    F = pd.DataFrame({"market": m, "size": size, "value": value, "momentum": mom}, index=idx)
    y = pd.Series(0.0002 + 1.2 * m + 0.3 * size - 0.4 * value + 0.008 * rng.standard_normal(n), index=idx)
    return y, F


# ------------------------------------------------------------------ statsmodels
def test_market_beta_matches_statsmodels(factors: tuple[pd.Series, pd.DataFrame]) -> None:
    import statsmodels.api as sm

    y, F = factors
    fit = sm.OLS(y.to_numpy(), sm.add_constant(F["market"].to_numpy())).fit()
    res = floorguard.market_beta(y, F["market"])
    assert res.beta == pytest.approx(fit.params[1], rel=1e-9)
    assert res.alpha == pytest.approx(fit.params[0], rel=1e-9)
    assert res.r_squared == pytest.approx(fit.rsquared, rel=1e-9)
    assert res.std_error == pytest.approx(fit.bse[1], rel=1e-9)
    assert res.observations == int(fit.nobs)


def test_factor_regression_matches_statsmodels(factors: tuple[pd.Series, pd.DataFrame]) -> None:
    import statsmodels.api as sm
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    y, F = factors
    exog = sm.add_constant(F.to_numpy())
    fit = sm.OLS(y.to_numpy(), exog).fit()
    res = risk.factor_regression(y, F)
    for j, name in enumerate(F.columns):
        assert res.betas[name] == pytest.approx(fit.params[j + 1], rel=1e-9)
        assert res.std_errors[name] == pytest.approx(fit.bse[j + 1], rel=1e-9)
        assert res.vif[name] == pytest.approx(variance_inflation_factor(exog, j + 1), rel=1e-9)
    assert res.alpha == pytest.approx(fit.params[0], rel=1e-9)
    assert res.r_squared == pytest.approx(fit.rsquared, rel=1e-9)
    Z = (F - F.mean()) / F.std(ddof=0)
    assert res.condition_number == pytest.approx(np.linalg.cond(Z.to_numpy()), rel=1e-9)
    assert res.quality_flag == "ok"


def test_vif_flags_multicollinearity_like_statsmodels() -> None:
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    rng = np.random.default_rng(3)
    m = 0.01 * rng.standard_normal(500)
    near = m + 0.0005 * rng.standard_normal(500)  # corr ~ 0.999
    other = 0.01 * rng.standard_normal(500)
    X = np.column_stack([m, near, other])
    y = m + 0.002 * rng.standard_normal(500)
    import statsmodels.api as sm

    exog = sm.add_constant(X)
    res = risk.factor_regression(y, {"market": m, "near": near, "other": other})
    assert res.vif["near"] == pytest.approx(variance_inflation_factor(exog, 2), rel=1e-9)
    assert res.vif["near"] > 100
    assert res.quality_flag == "multicollinear"


# ------------------------------------------------------------------ empyrical-reloaded
@pytest.mark.parametrize("level", [0.90, 0.95, 0.99])
def test_historical_var_es_match_empyrical(fat_tailed: pd.Series, level: float) -> None:
    import empyrical as ep

    x = fat_tailed.to_numpy()
    assert floorguard.value_at_risk(x, level) == pytest.approx(-ep.value_at_risk(x, cutoff=round(1 - level, 10)), abs=ABS)
    assert floorguard.expected_shortfall(x, level) == pytest.approx(
        -ep.conditional_value_at_risk(x, cutoff=round(1 - level, 10)), abs=ABS
    )


def test_scalar_measures_match_empyrical(fat_tailed: pd.Series) -> None:
    import empyrical as ep

    x = fat_tailed.to_numpy()
    assert floorguard.annual_volatility(x) == pytest.approx(ep.annual_volatility(x), abs=ABS)
    assert floorguard.max_drawdown(x) == pytest.approx(ep.max_drawdown(x), abs=ABS)
    assert risk.sharpe_ratio(x) == pytest.approx(ep.sharpe_ratio(x), abs=1e-10)
    assert risk.sortino_ratio(x, 0.0001) == pytest.approx(ep.sortino_ratio(x, 0.0001), abs=1e-10)
    assert risk.downside_deviation(x) == pytest.approx(ep.downside_risk(x), abs=ABS)


def test_beta_matches_empyrical(factors: tuple[pd.Series, pd.DataFrame]) -> None:
    import empyrical as ep

    y, F = factors
    assert floorguard.market_beta(y, F["market"]).beta == pytest.approx(ep.beta(y, F["market"]), abs=1e-10)


# ------------------------------------------------------------------ quantstats
def test_matches_quantstats(fat_tailed: pd.Series) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantstats' own pandas deprecations
        import quantstats as qs

        vol = qs.stats.volatility(fat_tailed, periods=252)
        mdd = qs.stats.max_drawdown(fat_tailed)
        shp = qs.stats.sharpe(fat_tailed, periods=252)
        var = qs.stats.value_at_risk(fat_tailed, sigma=1, confidence=0.95)
    assert floorguard.annual_volatility(fat_tailed) == pytest.approx(vol, abs=ABS)
    assert floorguard.max_drawdown(fat_tailed) == pytest.approx(mdd, abs=ABS)
    assert risk.sharpe_ratio(fat_tailed) == pytest.approx(shp, abs=1e-10)
    # quantstats' value_at_risk is parametric (mean + z sd) and returned as a (negative) return
    assert floorguard.value_at_risk(fat_tailed, 0.95, "gaussian") == pytest.approx(-var, abs=ABS)


# ------------------------------------------------------------------ scipy
def test_cornish_fisher_var_matches_scipy_moments(fat_tailed: pd.Series) -> None:
    x = fat_tailed.to_numpy()
    s = stats.skew(x, bias=True)
    k = stats.kurtosis(x, fisher=True, bias=True)
    z = stats.norm.ppf(0.01)
    zc = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    expected = -(x.mean() + zc * x.std(ddof=1))
    assert floorguard.value_at_risk(x, 0.99, "cornish_fisher") == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_cornish_fisher_es_matches_quad(fat_tailed: pd.Series, level: float) -> None:
    x = fat_tailed.to_numpy()
    s = stats.skew(x, bias=True)
    k = stats.kurtosis(x, fisher=True, bias=True)
    a = 1 - level

    def q(u: float) -> float:
        z = stats.norm.ppf(u)
        zc = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
        return x.mean() + zc * x.std(ddof=1)

    val, _ = integrate.quad(q, 0.0, a, limit=200, epsabs=1e-14)
    assert floorguard.expected_shortfall(x, level, "cornish_fisher") == pytest.approx(-val / a, rel=1e-9)


def test_cornish_fisher_equals_gaussian_without_skew_or_kurtosis() -> None:
    # symmetric two-point-free sample with population skew 0 and excess kurtosis 0 is hard to build;
    # instead check the z-correction vanishes at S = K = 0.
    from floorguard.core.risk._kernels import cornish_fisher_z

    z = np.linspace(-3, 0, 7)
    np.testing.assert_allclose(cornish_fisher_z(z, np.zeros(7), np.zeros(7)), z, rtol=0, atol=0)


# ------------------------------------------------------------------ pandas rolling
def test_rolling_volatility_matches_pandas(fat_tailed: pd.Series) -> None:
    got = risk.rolling_volatility(fat_tailed, 63)
    exp = (fat_tailed.rolling(63).std() * np.sqrt(252)).dropna()
    pd.testing.assert_series_equal(got, exp.rename("volatility"), check_exact=False, atol=ABS, rtol=0)


@pytest.mark.parametrize(
    ("fn", "scalar"),
    [
        (risk.rolling_value_at_risk, floorguard.value_at_risk),
        (risk.rolling_expected_shortfall, floorguard.expected_shortfall),
        (risk.rolling_max_drawdown, floorguard.max_drawdown),
        (risk.rolling_sharpe, risk.sharpe_ratio),
        (risk.rolling_sortino, risk.sortino_ratio),
        (risk.rolling_downside_deviation, risk.downside_deviation),
    ],
)
def test_rolling_equals_scalar_per_window(fat_tailed: pd.Series, fn, scalar) -> None:  # noqa: ANN001
    x = fat_tailed.iloc[:300]
    got = fn(x, 100)
    assert len(got) == 201
    assert got.index[0] == x.index[99]
    for i in (0, 57, 200):
        assert got.iloc[i] == pytest.approx(scalar(x.iloc[i : i + 100]), abs=ABS)
