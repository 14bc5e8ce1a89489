"""GARCH forecasts against arch and its documented example.

Reference: arch documentation, "Introduction to ARCH Models" / univariate
volatility modelling example (https://arch.readthedocs.io/en/latest/univariate/
univariate_volatility_modeling.html): GARCH(1,1) with constant mean on
100 × daily percentage returns of arch's bundled S&P 500 (1999-01-04 to
2018-12-31) reports mu = 0.0564, omega = 0.0175, alpha[1] = 0.1022,
beta[1] = 0.8852. We also refit with arch directly in the test as the
reference (tolerance 1e-6 relative: the same optimiser on the same data).
Analytic multi-step variance: E[σ²_{T+h}] = V_L + (α+β)^{h−1}(σ²_{T+1} − V_L),
V_L = ω / (1 − α − β) (Hull, Options, Futures and Other Derivatives, 10th ed., §23.7).
"""

from __future__ import annotations

import numpy as np
import pytest
from arch import arch_model
from arch.data import sp500

from floorguard.core.forecast import (
    fit_garch,
    forecast_vol,
    garch_filter,
    implied_vol_from_vix,
    vol_risk_premium,
)
from floorguard.exceptions import ValidationError


@pytest.fixture(scope="module")
def spx_returns():
    data = sp500.load()
    return data["Adj Close"].pct_change().dropna()


@pytest.fixture(scope="module")
def garch_fit(spx_returns):
    return fit_garch(spx_returns)


def test_garch_matches_arch_docs_and_direct_fit(spx_returns, garch_fit):
    docs = {"mu": 0.0564, "omega": 0.0175, "alpha[1]": 0.1022, "beta[1]": 0.8852}
    for k, v in docs.items():
        assert garch_fit.params[k] == pytest.approx(v, abs=6e-4), k
    ref = arch_model(100 * spx_returns).fit(disp="off")
    for k, v in ref.params.items():
        assert garch_fit.params[k] == pytest.approx(float(v), rel=1e-6), k
    assert garch_fit.loglik == pytest.approx(float(ref.loglikelihood), rel=1e-9)
    np.testing.assert_allclose(
        garch_fit.conditional_vol * 100, ref.conditional_volatility, rtol=1e-6
    )
    assert garch_fit.converged
    assert garch_fit.persistence == pytest.approx(docs["alpha[1]"] + docs["beta[1]"], abs=1e-3)


def test_gjr_student_t_matches_direct_fit(spx_returns):
    fit = fit_garch(spx_returns, "gjr", "t")
    ref = arch_model(100 * spx_returns, o=1, dist="t").fit(disp="off")
    for k, v in ref.params.items():
        assert fit.params[k] == pytest.approx(float(v), rel=1e-5, abs=1e-8), k
    assert fit.params["gamma[1]"] > 0.1  # leverage effect in equity returns
    assert 4 < fit.params["nu"] < 12
    assert fit.persistence == pytest.approx(
        fit.params["alpha[1]"] + fit.params["gamma[1]"] / 2 + fit.params["beta[1]"]
    )


def test_analytic_term_structure_matches_closed_form(garch_fit):
    fc = forecast_vol(garch_fit, 30, n_sims=500, seed=1)
    p = garch_fit.params
    a_b = p["alpha[1]"] + p["beta[1]"]
    vl = p["omega"] / (1 - a_b) / 1e4
    s1 = garch_fit.next_day_vol**2
    h = np.arange(1, 31)
    expected = vl + a_b ** (h - 1) * (s1 - vl)
    np.testing.assert_allclose(fc.daily_vol**2, expected, rtol=1e-8)
    term = np.sqrt(np.cumsum(expected) / h * 252)
    np.testing.assert_allclose(fc.term_vol_annual, term, rtol=1e-8)
    assert np.all(fc.lower <= fc.upper)
    assert fc.lower[-1] < fc.term_vol_annual[-1] < fc.upper[-1]
    # the first day's variance is known at the forecast origin: no band
    assert fc.upper[0] == pytest.approx(fc.lower[0], rel=1e-9)
    assert fc.at(30) == pytest.approx(term[-1])
    assert garch_fit.long_run_vol_annual == pytest.approx(np.sqrt(vl * 252), rel=1e-9)


def test_simulation_forecast_close_to_analytic_and_reproducible(garch_fit):
    a = forecast_vol(garch_fit, 21, method="simulation", n_sims=4000, seed=7)
    b = forecast_vol(garch_fit, 21, method="simulation", n_sims=4000, seed=7)
    an = forecast_vol(garch_fit, 21, n_sims=200, seed=7)
    np.testing.assert_array_equal(a.term_vol_annual, b.term_vol_annual)
    np.testing.assert_array_equal(a.lower, b.lower)
    assert a.term_vol_annual[-1] == pytest.approx(an.term_vol_annual[-1], rel=0.03)


def test_vol_risk_premium(garch_fit):
    fc = forecast_vol(garch_fit, 21, n_sims=300, seed=1)
    fv = fc.at(21)
    rich = vol_risk_premium(fc, fv + 0.05, source="VIX")
    assert rich.signal == "implied_rich"
    assert rich.vol_premium == pytest.approx(0.05)
    assert rich.variance_premium == pytest.approx((fv + 0.05) ** 2 - fv**2)
    assert rich.forecast_band == (pytest.approx(fc.lower[20]), pytest.approx(fc.upper[20]))
    assert vol_risk_premium(0.2, 0.15, source="chain_atm").signal == "implied_cheap"
    assert vol_risk_premium(0.2, 0.21).signal == "fair"
    assert implied_vol_from_vix(18.5) == pytest.approx(0.185)


def test_garch_filter_units(spx_returns):
    x = np.log1p(spx_returns.to_numpy()[-1500:])
    g = garch_filter(np.column_stack([x, x]), "garch", "normal")
    fit = fit_garch(x)
    assert g.omega[0] == pytest.approx(fit.params["omega"] / 1e4)
    assert g.sigma2_0[0] == pytest.approx(fit.next_day_vol**2)
    assert g.std_resid.shape == (1500, 2)


def test_bad_inputs():
    with pytest.raises(ValidationError, match="returns"):
        fit_garch(np.zeros(50))
    with pytest.raises(ValidationError, match="returns"):
        fit_garch(np.r_[np.nan, np.random.default_rng(0).normal(size=200)])
    with pytest.raises(ValidationError, match="model"):
        fit_garch(np.random.default_rng(0).normal(size=200), "egarch")
    with pytest.raises(ValidationError, match="implied_vol"):
        vol_risk_premium(0.2, -0.1)
    with pytest.raises(ValidationError, match="vix"):
        implied_vol_from_vix(0)
