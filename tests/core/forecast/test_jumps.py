"""EVT tail fit vs scipy, IsolationForest flags, dispersion flags.

References: scipy.stats.genpareto.fit on the same exceedances (identical
estimates); the Student-t with nu degrees of freedom has tail index 1/nu
(McNeil, Frey & Embrechts, QRM 2nd ed., Example 5.14), tolerance 0.1 on
20,000 draws; POT VaR at the threshold level equals the threshold (QRM
eq. 5.18) to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from floorguard.core.forecast import detect_anomalies, dispersion_flags, fit_tail
from floorguard.core.forecast._jumps import _trailing_mean_std
from floorguard.core.forecast._reference import trailing_zscore_reference
from floorguard.exceptions import ValidationError


def test_gpd_fit_matches_scipy_and_student_t_tail_index():
    rng = np.random.default_rng(0)
    losses = rng.standard_t(4, size=20_000)
    tf = fit_tail(losses, threshold_quantile=0.95, levels=(0.99, 0.999))
    exc = losses[losses > tf.threshold] - tf.threshold
    xi, _, beta = stats.genpareto.fit(exc, floc=0.0)
    assert tf.xi == pytest.approx(xi, rel=1e-12)
    assert tf.scale == pytest.approx(beta, rel=1e-12)
    assert tf.xi == pytest.approx(0.25, abs=0.1)
    assert tf.tail_heavy
    # POT VaR against the true Student-t quantile (5 %)
    assert tf.var[0.99] == pytest.approx(stats.t.ppf(0.99, 4), rel=0.05)
    assert tf.var[0.999] == pytest.approx(stats.t.ppf(0.999, 4), rel=0.1)
    assert tf.es[0.99] > tf.var[0.99]
    # Student-t ES closed form (QRM Example 2.15) within 5 %
    q = stats.t.ppf(0.99, 4)
    es_t = stats.t.pdf(q, 4) / 0.01 * (4 + q * q) / 3
    assert tf.es[0.99] == pytest.approx(es_t, rel=0.05)


def test_gpd_var_formula_matches_scipy_quantile():
    # POT VaR (QRM eq. 5.18) == u + GPD quantile of the conditional exceedance probability
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    tf = fit_tail(x, threshold_quantile=0.9, levels=(0.95, 0.99))
    for q in (0.95, 0.99):
        p_exc = 1 - (1 - q) * tf.n_obs / tf.n_exceed
        ref = tf.threshold + stats.genpareto.ppf(p_exc, tf.xi, scale=tf.scale)
        assert tf.var[q] == pytest.approx(ref, rel=1e-10)
    # normal tail: no significant heavy tail
    assert not tf.tail_heavy


def test_isolation_forest_flags_injected_spikes():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.01, 1500)
    v = np.exp(rng.normal(20, 0.1, 1500))
    spikes = [300, 700, 1200]
    r[spikes] = [-0.09, 0.08, -0.1]
    v[spikes] *= 8
    a = detect_anomalies(r, v, contamination=0.01, n_estimators=100, seed=4)
    b = detect_anomalies(r, v, contamination=0.01, n_estimators=100, seed=4)
    assert all(a.flags[s] for s in spikes)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.n_flagged <= 0.02 * r.size
    assert a.feature_names == ["return", "abs_return_over_vol", "log_volume_vs_trailing"]
    assert np.isnan(a.scores[:20]).all()


def test_dispersion_flags_and_trailing_stats():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, size=(500, 8))
    x[400] = rng.normal(0, 0.08, size=8)
    d = dispersion_flags(x, window=63, threshold=4.0)
    assert d.flags[400]
    assert d.n_flagged <= 3
    ref = trailing_zscore_reference(x.std(axis=1, ddof=1), 63)
    np.testing.assert_allclose(d.zscore, ref, rtol=1e-9, equal_nan=True)
    m, s = _trailing_mean_std(np.arange(10.0), 3)
    assert m[3] == pytest.approx(1.0) and s[3] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ValidationError, match="losses"):
        fit_tail(np.ones(50))
    with pytest.raises(ValidationError, match="levels"):
        fit_tail(np.random.default_rng(0).normal(size=500), threshold_quantile=0.95, levels=(0.9,))
    with pytest.raises(ValidationError, match="volume"):
        detect_anomalies(np.random.default_rng(0).normal(size=100), -np.ones(100))
    with pytest.raises(ValidationError, match="contamination"):
        detect_anomalies(np.random.default_rng(0).normal(size=100), contamination=0.9)


def test_real_spx_anomalies_and_tail():
    """arch's bundled S&P 500 OHLCV (1999-2018): famous dislocations are flagged."""
    from floorguard.marketdata import BundledSource

    o = BundledSource().ohlcv("SPX")
    r = o["adj_close"].pct_change().dropna()
    v = o["volume"].loc[r.index]
    a = detect_anomalies(r.to_numpy(), v.to_numpy(), contamination=0.005, n_estimators=100, seed=1)
    flagged = {str(d.date()) for d in r.index[a.flags]}
    # Lehman, the Oct-2008 rally, flash crash, US downgrade, China devaluation, Brexit, Volmageddon
    known = {
        "2008-09-15", "2008-10-13", "2010-05-06", "2011-08-08", "2015-08-24", "2016-06-24",
        "2018-02-05",
    }  # fmt: skip
    assert known <= flagged
    # daily S&P 500 losses have a heavy tail (xi around 0.1-0.3 in the EVT literature)
    tf = fit_tail(-r.to_numpy())
    assert 0.05 < tf.xi < 0.45 and tf.tail_heavy
