"""Multi-index hedge (seed section 13): OLS slopes vs statsmodels, NNLS vs an active-set
enumeration twin, basis risk by hand. Tolerances: 1e-10 on ratios, 1e-12 on R^2."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from floorguard.domain._insurance_reference import multi_index_reference
from floorguard.domain.multi_index import multi_index_hedge
from floorguard.exceptions import ValidationError


def _data(seed: int = 0, n: int = 750, b=(0.6, 0.5)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spx = rng.normal(0.0003, 0.011, n)
    ndx = 0.9 * spx + rng.normal(0.0001, 0.007, n)
    X = np.column_stack([spx, ndx])
    y = X @ np.asarray(b) + rng.normal(0, 0.004, n)
    return y, X


def test_matches_statsmodels_ols_unconstrained() -> None:
    y, X = _data()
    res = multi_index_hedge(y, X, ["SPX", "IXIC"], 1e6, 30 / 365, nonnegative=False)
    fit = sm.OLS(y, sm.add_constant(X)).fit()
    assert res.ratios["SPX"] == pytest.approx(fit.params[1], abs=1e-10)
    assert res.ratios["IXIC"] == pytest.approx(fit.params[2], abs=1e-10)
    assert res.r_squared == pytest.approx(fit.rsquared, abs=1e-12)
    # basis risk by hand: residual sd (ddof 1) * sqrt(252) * sqrt(T) * V
    sd = math.sqrt(fit.ssr / (y.size - 1))
    assert res.residual_vol == pytest.approx(sd * math.sqrt(252), rel=1e-12)
    assert res.basis_risk == pytest.approx(sd * math.sqrt(252) * math.sqrt(30 / 365) * 1e6, rel=1e-12)
    assert res.notionals["SPX"] == pytest.approx(fit.params[1] * 1e6)
    # the mix leaves less residual risk than either index alone
    assert all(res.residual_vol <= s["residual_vol"] + 1e-15 for s in res.single_index.values())


def test_nonnegative_matches_active_set_twin() -> None:
    y, X = _data(1, b=(1.4, -0.4))
    res = multi_index_hedge(y, X, ["SPX", "IXIC"], 1e6, 0.25)
    ref = multi_index_reference(y, X, nonnegative=True)
    assert [res.ratios["SPX"], res.ratios["IXIC"]] == pytest.approx(ref, abs=1e-10)
    assert res.ratios["IXIC"] == 0.0 and res.unconstrained_ratios["IXIC"] < 0
    assert any("non-negative" in w for w in res.warnings)
    y2, X2 = _data(2)
    res2 = multi_index_hedge(y2, X2, ["SPX", "IXIC"], 1e6, 0.25)
    assert [res2.ratios["SPX"], res2.ratios["IXIC"]] == pytest.approx(
        multi_index_reference(y2, X2, nonnegative=True), abs=1e-10)


def test_index_against_itself_is_ratio_one() -> None:
    y, X = _data(3)
    res = multi_index_hedge(X[:, 0], X, ["SPX", "IXIC"], 1e6, 0.25)
    assert res.ratios["SPX"] == pytest.approx(1.0, abs=1e-10)
    assert res.ratios["IXIC"] == pytest.approx(0.0, abs=1e-10)
    assert res.basis_risk == pytest.approx(0.0, abs=1e-6)


def test_bad_input() -> None:
    y, X = _data()
    with pytest.raises(ValidationError, match="observations"):
        multi_index_hedge(y[:5], X[:5], ["A", "B"], 1e6, 0.25)
    with pytest.raises(ValidationError, match="names"):
        multi_index_hedge(y, X, ["A"], 1e6, 0.25)
    X2 = X.copy()
    X2[:, 1] = 0.01
    with pytest.raises(ValidationError, match="no variance"):
        multi_index_hedge(y, X2, ["A", "B"], 1e6, 0.25)
