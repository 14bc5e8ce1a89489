"""Markov-switching regimes vs a direct statsmodels fit; correlation regime vs np.corrcoef loop.

References: statsmodels ``MarkovRegression`` (Hamilton filter / Kim smoother),
fitted directly in the test on the same scaled data (log-likelihood to 1e-8
relative); rolling correlations against the slow twin built on ``np.corrcoef``
(1e-10 absolute).
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

from floorguard.core.forecast import correlation_regime, fit_vol_regimes, rolling_mean_correlation
from floorguard.core.forecast._reference import rolling_mean_correlation_reference
from floorguard.exceptions import ValidationError


@pytest.fixture(scope="module")
def two_regime_returns():
    rng = np.random.default_rng(12)
    sig = np.r_[np.full(300, 0.006), np.full(150, 0.025), np.full(300, 0.006), np.full(100, 0.025)]
    return rng.normal(0.0, sig), sig


def test_two_regimes_recovered_and_match_statsmodels(two_regime_returns):
    r, sig = two_regime_returns
    fit = fit_vol_regimes(r, 2)
    ref = MarkovRegression(r * 100, k_regimes=2, trend="c", switching_variance=True).fit(disp=False)
    assert fit.loglik == pytest.approx(float(ref.llf), rel=1e-8)
    np.testing.assert_allclose(
        fit.regime_vol_annual, [0.006 * np.sqrt(252), 0.025 * np.sqrt(252)], rtol=0.15
    )
    high = sig > 0.01
    # smoothed probability of the volatile regime separates the blocks
    assert fit.smoothed_probs[high, 1].mean() > 0.9
    assert fit.smoothed_probs[~high, 1].mean() < 0.1
    assert fit.p_high_vol > 0.5  # the sample ends in the turbulent block
    np.testing.assert_allclose(fit.transition.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(fit.expected_duration_days > 20)
    assert fit.p_high_vol_next == pytest.approx(
        float(fit.filtered_probs[-1] @ fit.transition[:, 1])
    )


def test_three_regimes_sorted_by_vol(two_regime_returns):
    r, _ = two_regime_returns
    fit = fit_vol_regimes(r[250:450], 3)
    assert np.all(np.diff(fit.regime_vol_annual) >= 0)
    np.testing.assert_allclose(fit.filtered_probs.sum(axis=1), 1.0, rtol=1e-9)


def test_rolling_correlation_matches_reference():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(400, 1))
    x = 0.6 * f + rng.normal(size=(400, 5))
    x[100:140, 2] = 0.0  # a flat stretch: that column drops out of the pairs
    fast = rolling_mean_correlation(x, 30)
    slow = rolling_mean_correlation_reference(x, 30)
    np.testing.assert_allclose(fast, slow, atol=1e-10, equal_nan=True)
    assert np.isnan(fast[:29]).all()


def test_correlation_jump_detected():
    rng = np.random.default_rng(5)
    n1, n2 = 600, 120
    calm = rng.normal(size=(n1, 6))
    f = rng.normal(size=(n2, 1))
    stress = 2.0 * f + 0.5 * rng.normal(size=(n2, 6))
    sig = correlation_regime(np.vstack([calm, stress]), 40, lag=5)
    assert sig.jumps[n1 : n1 + 40].any()
    assert not sig.jumps[:n1].any()
    assert sig.current > 0.8 and sig.high_correlation


def test_bad_inputs():
    with pytest.raises(ValidationError, match="k_regimes"):
        fit_vol_regimes(np.zeros(200), 4)
    with pytest.raises(ValidationError, match="returns"):
        rolling_mean_correlation(np.zeros((50, 1)), 10)
    with pytest.raises(ValidationError, match="window"):
        rolling_mean_correlation(np.zeros((50, 3)), 2)


def test_real_spx_high_vol_regime_in_late_2008():
    from floorguard.marketdata import BundledSource

    px = BundledSource().closes("SPX").loc["2005-01-01":"2010-12-31"]
    r = px.pct_change().dropna()
    fit = fit_vol_regimes(r.to_numpy(), 2)
    p_high = fit.smoothed_probs[:, 1]
    crisis = (r.index >= "2008-09-15") & (r.index <= "2008-12-31")
    calm = (r.index >= "2005-01-01") & (r.index <= "2006-12-31")
    assert p_high[crisis].mean() > 0.95
    assert p_high[calm].mean() < 0.1
    assert fit.regime_vol_annual[1] > 2 * fit.regime_vol_annual[0]
