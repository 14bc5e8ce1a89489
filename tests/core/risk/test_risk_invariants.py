"""Invariants of the risk core, the slow reference twins, and bad input.

Tolerances: exact identities 1e-12 absolute (1e-10 for sums over many
terms); the finite-difference reference for contributions 1e-6.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import floorguard
from floorguard.core import risk
from floorguard.core.risk import _reference as ref
from floorguard.exceptions import ValidationError

returns_arrays = arrays(
    np.float64, st.integers(5, 80), elements=st.floats(-0.2, 0.2, allow_nan=False, allow_infinity=False)
)


# ------------------------------------------------------------------ kernels vs reference twins
@settings(max_examples=60, deadline=None)
@given(returns_arrays, st.sampled_from([0.9, 0.95, 0.99]))
def test_kernels_agree_with_reference(x: np.ndarray, level: float) -> None:
    if np.std(x) == 0:
        return
    assert floorguard.max_drawdown(x) == pytest.approx(ref.ref_max_drawdown(x.tolist()), abs=1e-12)
    assert floorguard.annual_volatility(x) == pytest.approx(ref.ref_volatility(x.tolist()), rel=1e-9, abs=1e-12)
    assert floorguard.value_at_risk(x, level) == pytest.approx(ref.ref_var_historical(x.tolist(), level), abs=1e-12)
    assert floorguard.expected_shortfall(x, level) == pytest.approx(ref.ref_es_historical(x.tolist(), level), abs=1e-12)
    assert floorguard.value_at_risk(x, level, "gaussian") == pytest.approx(ref.ref_var_gaussian(x.tolist(), level), abs=1e-12)
    assert floorguard.expected_shortfall(x, level, "gaussian") == pytest.approx(ref.ref_es_gaussian(x.tolist(), level), abs=1e-12)
    if np.std(x) > 1e-6:
        assert floorguard.value_at_risk(x, level, "cornish_fisher") == pytest.approx(
            ref.ref_var_cornish_fisher(x.tolist(), level), rel=1e-8, abs=1e-12
        )


@settings(max_examples=40, deadline=None)
@given(returns_arrays)
def test_var_es_ordering_and_drawdown_bounds(x: np.ndarray) -> None:
    # ES >= VaR (historical); drawdown in [-1, 0]
    assert floorguard.expected_shortfall(x) >= floorguard.value_at_risk(x) - 1e-15
    dd = floorguard.max_drawdown(x)
    assert -1.0 <= dd <= 0.0
    assert risk.current_drawdown(x) >= dd - 1e-15


def test_beta_and_vif_reference() -> None:
    rng = np.random.default_rng(11)
    m = rng.normal(0, 0.01, 200)
    y = 0.9 * m + rng.normal(0, 0.005, 200)
    assert floorguard.market_beta(y, m).beta == pytest.approx(ref.ref_beta(y.tolist(), m.tolist()), rel=1e-10)
    X = np.column_stack([m, 0.5 * m + rng.normal(0, 0.01, 200), rng.normal(0, 0.01, 200)])
    vif = risk.variance_inflation_factors(X)
    for j in range(3):
        assert vif[j] == pytest.approx(ref.ref_vif([X[:, i].tolist() for i in range(3)], j), rel=1e-9)


# ------------------------------------------------------------------ issue invariants
@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(10, 60), elements=st.floats(-0.1, 0.1)))
def test_market_beta_against_itself_is_one(m: np.ndarray) -> None:
    if np.std(m) < 1e-9:
        return
    res = floorguard.market_beta(m, m)
    assert res.beta == pytest.approx(1.0, abs=1e-12)
    assert res.r_squared == pytest.approx(1.0, abs=1e-12)
    assert res.alpha == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 500])
def test_hhi_of_equal_weights(n: int) -> None:
    c = risk.concentration({f"S{i}": 1234.5 for i in range(n)})
    assert c.hhi == pytest.approx(1.0 / n, abs=1e-12)
    assert c.effective_positions == pytest.approx(n, rel=1e-12)
    assert c.top_3 == pytest.approx(min(3, n) / n, abs=1e-12)
    assert c.top_10 == pytest.approx(min(10, n) / n, abs=1e-12)
    assert risk.herfindahl_index([1.0] * n) == pytest.approx(ref.ref_hhi([1.0] * n), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 15), elements=st.floats(-1e6, 1e6).filter(lambda v: abs(v) > 1.0)),
    st.floats(0.01, 1000.0),
)
def test_scaling_positions_leaves_weight_measures_unchanged(e: np.ndarray, k: float) -> None:
    sectors = {str(i): ["A", "B", None][i % 3] for i in range(e.size)}
    bench = {"A": 0.6, "B": 0.4}
    c1, c2 = risk.concentration(e), risk.concentration(e * k)
    assert c2.hhi == pytest.approx(c1.hhi, rel=1e-12)
    assert c2.top_3 == pytest.approx(c1.top_3, rel=1e-12)
    s1 = risk.sector_exposure(dict(zip(map(str, range(e.size)), e, strict=True)), sectors, bench)
    s2 = risk.sector_exposure(dict(zip(map(str, range(e.size)), e * k, strict=True)), sectors, bench)
    for sec in s1.net:
        assert s2.net[sec] == pytest.approx(s1.net[sec], rel=1e-12, abs=1e-15)
        assert s2.gross[sec] == pytest.approx(s1.gross[sec], rel=1e-12)
    assert s1.unclassified == s2.unclassified
    assert sum(s1.gross.values()) == pytest.approx(1.0, abs=1e-12)


def test_component_contributions_sum_to_total() -> None:
    rng = np.random.default_rng(5)
    C = np.array([[1, 0.5, 0.2, 0.1], [0.5, 1, 0.3, 0.0], [0.2, 0.3, 1, -0.2], [0.1, 0.0, -0.2, 1]])
    R = rng.multivariate_normal(np.full(4, 3e-4), 1e-4 * C, size=1000)
    w = np.array([0.4, 0.3, 0.5, -0.2])
    vc = risk.vol_contributions(w, R)
    assert vc.component.sum() == pytest.approx(vc.volatility, abs=1e-12)
    assert vc.percent.sum() == pytest.approx(1.0, abs=1e-12)
    assert vc.volatility == pytest.approx(floorguard.annual_volatility(R @ w), rel=1e-12)
    fd = ref.ref_component_vol(w.tolist(), [R[:, i].tolist() for i in range(4)])
    np.testing.assert_allclose(vc.component, fd, atol=1e-6)
    for method in ("historical", "gaussian"):
        ec = risk.es_contributions(w, R, 0.95, method)
        assert ec.component.sum() == pytest.approx(ec.expected_shortfall, abs=1e-12)
        assert ec.expected_shortfall == pytest.approx(floorguard.expected_shortfall(R @ w, 0.95, method), abs=1e-12)


def test_diversification_ratio_bounds() -> None:
    rng = np.random.default_rng(8)
    m = rng.normal(0, 0.01, 500)
    same = np.column_stack([m, 2 * m])
    assert risk.diversification_ratio([0.5, 0.5], same) == pytest.approx(1.0, abs=1e-12)
    indep = rng.normal(0, 0.01, (5000, 4))
    dr = risk.diversification_ratio(np.full(4, 0.25), indep)
    assert dr == pytest.approx(2.0, rel=0.05)  # sqrt(N) for N independent equal-vol assets
    corr = risk.correlation_matrix(pd.DataFrame(indep, columns=list("abcd")))
    assert list(corr.columns) == list("abcd")
    np.testing.assert_allclose(corr.to_numpy(), np.corrcoef(indep, rowvar=False), atol=1e-12)


# ------------------------------------------------------------------ orthogonalisation / ridge / hybrid
def _factor_data(collinear: bool) -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(21)
    n = 500
    idx = pd.bdate_range("2020-01-01", periods=n)
    m = rng.normal(0, 0.01, n)
    s = (0.98 * m + 0.001 * rng.normal(0, 1, n)) if collinear else rng.normal(0, 0.005, n)
    y = 1.1 * m + 0.2 * s + rng.normal(0, 0.004, n)
    return pd.Series(y, index=idx), pd.DataFrame({"market": m, "size": s}, index=idx)


def test_orthogonal_market_beta_equals_single_factor() -> None:
    y, F = _factor_data(collinear=True)
    ortho = risk.factor_regression(y, F, method="orthogonal")
    single = floorguard.market_beta(y, F["market"])
    assert ortho.betas["market"] == pytest.approx(single.beta, rel=1e-10)
    assert ortho.vif["size"] == pytest.approx(1.0, abs=1e-10)
    assert ortho.quality_flag == "ok"
    ols = risk.factor_regression(y, F)
    assert ols.quality_flag == "multicollinear"
    assert ortho.r_squared == pytest.approx(ols.r_squared, rel=1e-10)  # same column space


def test_ridge_shrinks_towards_zero_and_matches_ols_at_zero_penalty() -> None:
    y, F = _factor_data(collinear=True)
    ols = risk.factor_regression(y, F)
    r0 = risk.factor_regression(y, F, method="ridge", ridge_alpha=0.0)
    for k in F.columns:
        assert r0.betas[k] == pytest.approx(ols.betas[k], rel=1e-8)
    r1 = risk.factor_regression(y, F, method="ridge", ridge_alpha=0.5)
    assert np.hypot(*r1.betas.values()) < np.hypot(*ols.betas.values())


def test_hybrid_paths() -> None:
    y, F = _factor_data(collinear=False)
    ok = risk.hybrid_beta(y, F["market"], F)
    assert ok.beta_source == "multivariate" and ok.quality_flag == "ok"
    y2, F2 = _factor_data(collinear=True)
    fb = risk.hybrid_beta(y2, F2["market"], F2)
    assert fb.beta_source == "single_factor" and fb.quality_flag == "multicollinear"
    assert fb.beta == pytest.approx(floorguard.market_beta(y2, F2["market"]).beta, rel=1e-12)
    assert fb.multivariate is not None and fb.fallback_reason == "multivariate quality multicollinear"
    remedied = risk.hybrid_beta(y2, F2["market"], F2, remedy="orthogonal")
    assert remedied.beta_source == "multivariate" and remedied.multivariate.method == "orthogonal"
    nomkt = risk.hybrid_beta(y, F["market"], F[["size"]])
    assert nomkt.beta_source == "single_factor" and "missing" in nomkt.fallback_reason
    short = risk.hybrid_beta(y.iloc[:30], F["market"].iloc[:30], F.iloc[:30])
    assert short.beta_source == "single_factor" and short.quality_flag == "short_window"
    assert risk.hybrid_beta(y, None, None, provided_beta=0.7).beta_source == "provided"
    d = risk.hybrid_beta(y.iloc[:2], F["market"].iloc[:2], None)
    assert d.beta_source == "default" and d.beta == 1.0 and any("estimate" in w for w in d.warnings)
    with pytest.raises(ValidationError):
        risk.hybrid_beta(y.iloc[:2], F["market"].iloc[:2], None, default_beta=None)


def test_cap_is_shared_by_both_paths() -> None:
    y, F = _factor_data(collinear=False)
    single = floorguard.market_beta(y, F["market"], cap=0.5)
    multi = risk.factor_regression(y, F, cap=0.5)
    assert single.beta == 0.5 and single.capped and single.raw_beta > 1
    assert multi.betas["market"] == 0.5
    assert any("capped" in w for w in single.warnings)


def test_portfolio_beta_and_skip_payload() -> None:
    y, F = _factor_data(collinear=False)
    b = risk.hybrid_beta(y, F["market"], F)
    pb = risk.portfolio_beta({"A": 600.0, "B": 400.0}, {"A": b, "B": 0.5}, public=["A"])
    assert pb.beta == pytest.approx(0.6 * b.beta + 0.4 * 0.5, rel=1e-12)
    assert pb.sources == pytest.approx({"multivariate": 0.6, "provided": 0.4})
    skip = risk.portfolio_beta({"PRIV": 1e6}, {}, public=[])
    assert isinstance(skip, risk.BetaSkip)
    assert skip.skip_reason == "no_public_positions" and skip.quality_flag == "failed" and not skip.available


def test_missing_data_alignment_is_explicit() -> None:
    idx = pd.bdate_range("2021-01-01", periods=100)
    rng = np.random.default_rng(2)
    m = pd.Series(rng.normal(0, 0.01, 100), index=idx)
    a = 1.5 * m + pd.Series(rng.normal(0, 0.001, 100), index=idx)
    a.iloc[[3, 10, 11]] = np.nan
    res = floorguard.market_beta(a.iloc[5:], m)
    assert res.observations == 93  # 95 common dates, 2 NaN among them
    assert res.dropped_missing == 2 and res.dropped_unmatched == 5
    with pytest.raises(ValidationError, match="market_returns"):
        floorguard.market_beta(a.to_numpy(), m.to_numpy()[:50])


# ------------------------------------------------------------------ drawdown details
def test_drawdown_details_dates() -> None:
    idx = pd.bdate_range("2022-01-03", periods=8)
    r = pd.Series([0.10, -0.20, 0.05, 0.10, 0.10, -0.01, 0.02, -0.05], index=idx)
    info = risk.drawdown_details(r)
    assert info.max_drawdown == pytest.approx(-0.20, abs=1e-12)
    assert info.peak == idx[0] and info.trough == idx[1]
    # wealth: 1.1, .88, .924, 1.0164, 1.11804 (>= 1.1: recovered on idx[4])
    assert info.recovery == idx[4] and info.recovered
    assert info.duration == 4 and info.peak_to_trough == 1
    # 1.11804 * .99 * 1.02 = 1.1290 is a new peak, then -5 %
    assert info.current_drawdown == pytest.approx(-0.05, abs=1e-12)
    first = risk.drawdown_details(np.array([-0.1, 0.05]))
    assert first.peak is None and first.trough == 0 and not first.recovered


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: floorguard.value_at_risk([0.01, 0.02], level=1.5), "level"),
        (lambda: floorguard.value_at_risk([0.01, 0.02], method="monte"), "method"),
        (lambda: floorguard.annual_volatility([0.01]), "returns"),
        (lambda: floorguard.annual_volatility([0.01, np.inf]), "returns"),
        (lambda: floorguard.max_drawdown([0.01, -1.5]), "returns"),
        (lambda: floorguard.market_beta([0.01, 0.02, 0.03], [0.0, 0.0, 0.0]), "market_returns"),
        (lambda: floorguard.market_beta([0.1, 0.2, 0.3], [0.1, 0.3, 0.2], cap=-1), "cap"),
        (lambda: risk.concentration({}), "exposures"),
        (lambda: risk.rolling_volatility([0.01, 0.02, 0.03], 10), "window"),
        (lambda: risk.market_shock_stress(1.0, portfolio_value=-5), "portfolio_value"),
    ],
)
def test_bad_input_names_the_field(call, field: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.errors and err.value.errors[0].field == field


# ------------------------------------------------------------------ stress
def test_stress_tests_with_and_without_hedge() -> None:
    idx = pd.bdate_range("2020-02-03", "2020-04-30")
    rng = np.random.default_rng(4)
    mkt = pd.Series(rng.normal(-0.004, 0.02, len(idx)), index=idx)
    assets = pd.DataFrame({"A": 1.2 * mkt, "B": 0.5 * mkt}, index=idx)
    assets.loc[idx[:10], "B"] = np.nan  # no full history in the window -> proxied through beta
    sc = risk.HistoricalScenario("t", "test", dt.date(2020, 2, 19), dt.date(2020, 3, 23), "")
    put = lambda m: max(-0.1 - m, 0.0) * 1000.0  # noqa: E731 - a 10 % OTM put on 1000 of index
    (res,) = risk.historical_stress({"A": 0.5, "B": 0.5}, assets, mkt, portfolio_value=1000.0,
                                    scenarios=[sc], betas={"B": 0.5}, hedge_payoff=put)
    win = mkt[(mkt.index > "2020-02-19") & (mkt.index <= "2020-03-23")]
    ra = np.prod(1 + 1.2 * win) - 1
    rb = np.prod(1 + 0.5 * win) - 1
    mret = np.prod(1 + win) - 1
    assert res.portfolio_return == pytest.approx(0.5 * ra + 0.5 * rb, abs=1e-12)
    assert res.proxied == () and res.market_return == pytest.approx(mret, abs=1e-12)
    assert res.hedge_pnl == pytest.approx(put(mret), abs=1e-9)
    assert res.hedged_pnl == pytest.approx(res.pnl + put(mret), abs=1e-9)
    early = risk.HistoricalScenario("e", "early", dt.date(2020, 2, 3), dt.date(2020, 2, 20), "")
    (res2,) = risk.historical_stress({"A": 0.5, "B": 0.5}, assets, mkt, scenarios=[early], betas={"B": 0.5})
    assert res2.proxied == ("B",)
    (old,) = risk.historical_stress({"A": 1.0}, assets, mkt, scenarios=[risk.HISTORICAL_SCENARIOS[0]])
    assert np.isnan(old.portfolio_return) and "skipped" in old.details

    shocks = risk.market_shock_stress(1.3, portfolio_value=1000.0, hedge_payoff=put)
    assert [s.portfolio_return for s in shocks] == pytest.approx([-0.13, -0.26, -0.39])
    assert shocks[2].hedge_pnl == pytest.approx(200.0)
    assert shocks[0].hedge_pnl == 0.0
    fs = risk.factor_shock_stress({"market": 1.1, "value": -0.3}, {"value_crash": {"value": -0.1, "market": -0.05}})
    assert fs[0].portfolio_return == pytest.approx(-0.3 * -0.1 + 1.1 * -0.05)
    with pytest.raises(ValidationError):
        risk.factor_shock_stress({"market": 1.0}, {"x": {"quality": 0.1}})


# ------------------------------------------------------------------ batch
def test_batch_report_equals_scalar_functions() -> None:
    rng = np.random.default_rng(9)
    T, N, P = 400, 6, 25
    R = rng.normal(3e-4, 0.012, (T, N))
    m = R.mean(axis=1) + rng.normal(0, 0.002, T)
    W = rng.dirichlet(np.ones(N), size=P)
    W[3] = -W[3]  # a net-short portfolio
    rep = risk.batch_risk_report(W, R, m, chunk_size=7)
    for p in (0, 3, 24):
        rp = R @ W[p]
        assert rep.volatility[p] == pytest.approx(floorguard.annual_volatility(rp), abs=1e-13)
        assert rep.max_drawdown[p] == pytest.approx(floorguard.max_drawdown(rp), abs=1e-13)
        assert rep.value_at_risk[p] == pytest.approx(floorguard.value_at_risk(rp), abs=1e-13)
        assert rep.expected_shortfall[p] == pytest.approx(floorguard.expected_shortfall(rp), abs=1e-13)
        assert rep.beta[p] == pytest.approx(floorguard.market_beta(rp, m).beta, abs=1e-12)
        assert rep.hhi[p] == pytest.approx(risk.herfindahl_index(W[p]), abs=1e-14)
    assert rep.to_frame().shape == (P, 9)


@pytest.mark.parametrize("T", [21, 101, 401, 2521])
@pytest.mark.parametrize("level", [0.95, 0.99, 0.9])
def test_batch_order_statistics_match_numpy_quantile(T: int, level: float) -> None:
    # (T-1)(1-level) is an integer for several of these: the interpolation edge
    rng = np.random.default_rng(T)
    R = rng.standard_t(3, size=(T, 4)) * 0.01
    W = rng.dirichlet(np.ones(4), size=9)
    rep = risk.batch_risk_report(W, R, level=level, chunk_size=4)
    X = R @ W.T
    np.testing.assert_allclose(rep.value_at_risk, -np.quantile(X, 1 - level, axis=0), rtol=0, atol=1e-15)
    for p in range(9):
        assert rep.expected_shortfall[p] == pytest.approx(ref.ref_es_historical(X[:, p].tolist(), level), abs=1e-15)
        assert rep.max_drawdown[p] == pytest.approx(ref.ref_max_drawdown(X[:, p].tolist()), abs=1e-13)
    assert np.isnan(rep.beta).all()
    with pytest.raises(ValidationError, match="weights"):
        risk.batch_risk_report([[-200.0, 0, 0, 0]], R)
