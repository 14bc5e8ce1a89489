"""Monte Carlo engine: closed-form agreement, reproducibility, reference twins.

References
----------
- Black–Scholes–Merton closed form: ``floorguard.core.pricing.bsm_price``
  (itself checked against Hull, *Options, Futures, and Other Derivatives*).
- Merton (1976) jump-diffusion series, Hull 10th ed. §27.1 (eq. for European
  options under lognormal jumps): a Poisson mixture of BSM prices.
- Ledoit–Wolf shrinkage: ``sklearn.covariance.LedoitWolf``.
- Normal ES closed form ``sigma * phi(z) / alpha`` (McNeil, Frey, Embrechts,
  *Quantitative Risk Management*, 2nd ed., Example 2.14).
Tolerances: Monte Carlo figures within 3 standard errors; deterministic
identities to 1e-10 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from floorguard.core.montecarlo import (
    MertonJumps,
    OptionLeg,
    ReturnModel,
    custom_shock,
    estimate_covariance,
    iter_path_chunks,
    iter_terminal_chunks,
    iter_terminal_values,
    mc_european_price,
    preset,
    run_scenario,
    tail_comparison,
)
from floorguard.core.montecarlo import _paths
from floorguard.core.montecarlo._paths import GarchFilter
from floorguard.core.montecarlo._reference import path_values_reference, terminal_values_reference
from floorguard.core.pricing import bsm_price
from floorguard.exceptions import ValidationError


def _cov(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * 0.004
    return a @ a.T / n + np.diag(np.full(n, 6e-5))


def merton_put(s, k, t, r, sigma, lam, mu_j, delta, n_terms=60):
    """Hull §27.1: sum over n of Poisson(lam' T) weights times BSM with adjusted r and vol."""
    kbar = math.exp(mu_j + 0.5 * delta**2) - 1.0
    lam_p = lam * (1.0 + kbar)
    total = 0.0
    for n in range(n_terms):
        w = math.exp(-lam_p * t) * (lam_p * t) ** n / math.factorial(n)
        sig_n = math.sqrt(sigma**2 + n * delta**2 / t)
        r_n = r - lam * kbar + n * math.log(1.0 + kbar) / t
        total += w * bsm_price("put", s, k, t, r_n, sig_n)
    return total


@pytest.mark.parametrize(
    ("kind", "strike"), [("put", 90.0), ("put", 105.0), ("call", 100.0), ("call", 120.0)]
)
def test_mc_european_within_3_se_of_bsm(kind, strike):
    est = mc_european_price(
        100.0, strike, 0.75, 0.03, 0.25, kind, dividend_yield=0.01, n_paths=60_000, seed=11
    )
    ref = bsm_price(kind, 100.0, strike, 0.75, 0.03, 0.25, 0.01)
    assert est.se > 0
    assert abs(est.value - ref) <= 3 * est.se, (est, ref)


def test_mc_merton_jumps_within_3_se_of_series():
    jumps = MertonJumps(intensity=1.0, mean=-0.1, vol=0.15)
    est = mc_european_price(100.0, 95.0, 0.5, 0.02, 0.2, "put", jumps=jumps, n_paths=80_000, seed=5)
    ref = merton_put(100.0, 95.0, 0.5, 0.02, 0.2, 1.0, -0.1, 0.15)
    assert abs(est.value - ref) <= 3 * est.se, (est, ref)
    # jumps with negative mean make OTM puts dearer than the diffusion alone
    assert ref > bsm_price("put", 100.0, 95.0, 0.5, 0.02, 0.2) + 0.5


def test_merton_series_reduces_to_bsm_without_jumps():
    ref = merton_put(100.0, 95.0, 0.5, 0.02, 0.2, 0.0, -0.1, 0.15)
    assert ref == pytest.approx(bsm_price("put", 100.0, 95.0, 0.5, 0.02, 0.2), rel=1e-12)


def test_engine_hedge_legs_priced_at_expiry_match_closed_form():
    # single asset = the index, risk-neutral drift, horizon == expiry: E[payoff] == BSM premium
    sigma, r, days = 0.22, 0.0, 21
    var_d = sigma**2 / 252
    model = ReturnModel(mean=np.array([(r - 0.5 * sigma**2) / 252]), cov=np.array([[var_d]]))
    t = days / 252
    legs = [OptionLeg("put", 3800.0, t, 10.0), OptionLeg("call", 4300.0, t, -10.0)]
    res = run_scenario(
        np.array([40_000.0]),
        model,
        preset("base"),
        index=0,
        index_spot=4000.0,
        legs=legs,
        surface=sigma,
        rate=r,
        n_paths=80_000,
        seed=2,
    )
    premium = 10 * bsm_price("put", 4000.0, 3800.0, t, r, sigma) - 10 * bsm_price(
        "call", 4000.0, 4300.0, t, r, sigma
    )
    assert res.hedge_premium == pytest.approx(premium, rel=1e-12)
    # expected net payoff of a fairly priced hedge is zero
    assert abs(res.expected_net_payoff.value) <= 3 * res.expected_net_payoff.se
    # unhedged mean == initial value (martingale) within 3 SE
    assert abs(res.unhedged.mean.value - 40_000.0) <= 3 * res.unhedged.mean.se


def _scenario(seed, **kw):
    n = 6
    model = ReturnModel(mean=np.zeros(n), cov=_cov(n))
    h = np.array([1e5, 2e5, 1e5, 5e4, 5e4, 0.0])
    legs = [OptionLeg("put", 3800.0, 0.1, 125.0), OptionLeg("call", 4400.0, 0.1, -125.0)]
    args = dict(
        index=5, index_spot=4000.0, legs=legs, surface=0.2, floor=4.5e5, n_paths=5_000, seed=seed
    )
    args.update(kw)
    return run_scenario(h, model, preset("severe"), **args)


def test_fixed_seed_gives_identical_outputs():
    a, b = _scenario(42, keep_paths=True), _scenario(42, keep_paths=True)
    assert a.to_dict() == b.to_dict()
    assert np.array_equal(a.final_hedged, b.final_hedged)
    c = _scenario(43)
    assert c.to_dict() != a.to_dict()
    # chunk size does not change normal-innovation results
    d = _scenario(42, chunk_size=777, keep_paths=True)
    np.testing.assert_allclose(d.final_hedged, a.final_hedged, rtol=1e-12)


def test_fixed_seed_path_mode_identical():
    a = _scenario(7, monitor_path=True, n_paths=2_000)
    b = _scenario(7, monitor_path=True, n_paths=2_000)
    assert a.to_dict() == b.to_dict()


def test_fast_terminal_matches_reference_loop():
    n = 4
    model = ReturnModel(
        mean=np.full(n, 1e-4),
        cov=_cov(n, 3),
        shift=np.array([-0.1, -0.05, 0.0, 0.02]),
        vol_multiplier=1.3,
    )
    h = np.array([1.0, 2.0, 3.0, 4.0])
    fast = np.concatenate(
        [np.exp(x) @ h for x in iter_terminal_chunks(model, 10, 300, seed=9, chunk_size=64)]
    )
    slow = terminal_values_reference(model, 10, 300, h, seed=9)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def _fused(model, days, n_paths, h, index, seed, chunk_size):
    vals, growth = [], []
    for v, g in iter_terminal_values(
        model, days, n_paths, h, index=index, seed=seed, chunk_size=chunk_size
    ):
        vals.append(v.copy())  # the yielded arrays are reused buffers
        growth.append(g.copy())
    return np.concatenate(vals), np.concatenate(growth)


def test_fused_terminal_values_match_reference_loop(monkeypatch):
    # the fused kernel (blocks, in-place triangular product, drift folded in as exp(drift))
    # agrees with the slow twin; rtol 1e-12 leaves room for rounding only
    monkeypatch.setattr(_paths, "TERMINAL_BLOCK_BYTES", 64 * 8 * 4)  # 64-path blocks
    n = 4
    model = ReturnModel(
        mean=np.full(n, 1e-4),
        cov=_cov(n, 3),
        shift=np.array([-0.1, -0.05, 0.0, 0.02]),
        vol_multiplier=1.3,
    )
    h = np.array([1.0, 2.0, 3.0, 4.0])
    fast, growth = _fused(model, 10, 300, h, 2, 9, 150)
    slow = terminal_values_reference(model, 10, 300, h, seed=9)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    unit = terminal_values_reference(model, 10, 300, np.eye(n)[2], seed=9)
    np.testing.assert_allclose(growth, unit, rtol=1e-12)


@pytest.mark.parametrize("case", ["jumps", "eigen_root", "bootstrap"])
def test_fused_terminal_values_match_unfused(case, monkeypatch):
    # same seed, same numbers as exp(iter_terminal_chunks) @ h, up to rounding (rtol 1e-13)
    monkeypatch.setattr(_paths, "TERMINAL_BLOCK_BYTES", 100 * 8 * 3)  # 100-path blocks
    n = 3
    rng = np.random.default_rng(5)
    kw = {}
    cov = _cov(n, 6)
    if case == "jumps":
        kw["jumps"] = MertonJumps(intensity=4.0, mean=-0.04, vol=0.03, loadings=[1.0, 0.5, 1.2])
    elif case == "eigen_root":
        a = np.array([0.01, 0.02, -0.015])
        cov = np.outer(a, a)  # rank 1: Cholesky fails, the eigen square root is not triangular
    else:
        kw = {"innovations": "bootstrap", "history": rng.standard_normal((300, n)) * 0.01}
    model = ReturnModel(mean=np.full(n, 2e-4), cov=cov, shift=np.array([-0.05, 0.0, 0.01]), **kw)
    if case == "eigen_root":
        assert np.any(np.triu(model.chol, 1))
    h = np.array([2.0, 1.0, 0.5])
    fast, growth = _fused(model, 8, 1_000, h, 1, 4, 300)
    x = np.concatenate(list(iter_terminal_chunks(model, 8, 1_000, seed=4, chunk_size=300)))
    np.testing.assert_allclose(fast, np.exp(x) @ h, rtol=1e-13)
    np.testing.assert_allclose(growth, np.exp(x[:, 1]), rtol=1e-13)


def test_fused_terminal_values_bad_inputs():
    model = ReturnModel(mean=np.zeros(2), cov=np.eye(2) * 1e-4)
    with pytest.raises(ValidationError) as exc:
        next(iter_terminal_values(model, 5, 10, [1.0], index=0))
    assert exc.value.errors[0].field == "weights"
    with pytest.raises(ValidationError) as exc:
        next(iter_terminal_values(model, 5, 10, [1.0, 1.0], index=2))
    assert exc.value.errors[0].field == "index"


def test_fast_paths_match_reference_loop():
    n = 3
    model = ReturnModel(mean=np.full(n, 2e-4), cov=_cov(n, 4), shift=np.array([-0.06, 0.0, 0.03]))
    h = np.array([1.0, 0.5, 2.0])
    fast = np.concatenate(
        [np.exp(x) @ h for x in iter_path_chunks(model, 7, 50, seed=1, chunk_size=50)]
    )
    slow = path_values_reference(model, 7, 50, h, seed=1)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_terminal_moments_match_model():
    n, days = 5, 10
    cov = _cov(n, 8)
    model = ReturnModel(mean=np.full(n, 3e-4), cov=cov)
    x = np.concatenate(list(iter_terminal_chunks(model, days, 40_000, seed=4)))
    se_mean = np.sqrt(np.diag(cov) * days / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - 3e-4 * days) <= 4 * se_mean)
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov * days, rtol=0.06, atol=2e-5 * days)


def test_bootstrap_and_garch_innovations():
    rng = np.random.default_rng(0)
    hist = rng.standard_t(5, size=(2000, 2)) * 0.01
    model = ReturnModel(
        mean=np.zeros(2), cov=np.cov(hist, rowvar=False), innovations="bootstrap", history=hist
    )
    x = np.concatenate(list(iter_terminal_chunks(model, 5, 20_000, seed=1)))
    np.testing.assert_allclose(x.var(axis=0), 5 * hist.var(axis=0), rtol=0.05)
    # a GARCH filter with alpha=beta=gamma=0 is a constant-variance bootstrap of the residuals
    resid = (hist - hist.mean(0)) / hist.std(0)
    g = GarchFilter(
        omega=np.array([1e-4, 4e-4]),
        alpha=np.zeros(2),
        gamma=np.zeros(2),
        beta=np.zeros(2),
        sigma2_0=np.array([1e-4, 4e-4]),
        std_resid=resid,
    )
    gm = ReturnModel(mean=np.zeros(2), cov=np.eye(2) * 1e-4, innovations="garch", garch=g)
    y = np.concatenate(list(iter_terminal_chunks(gm, 5, 20_000, seed=1)))
    np.testing.assert_allclose(y.var(axis=0), 5 * np.array([1e-4, 4e-4]), rtol=0.05)
    # persistence raises the multi-day variance when starting above the long-run level
    g2 = GarchFilter(
        omega=np.array([1e-6, 1e-6]),
        alpha=np.array([0.05, 0.05]),
        gamma=np.array([0.1, 0.1]),
        beta=np.array([0.85, 0.85]),
        sigma2_0=np.array([4e-4, 4e-4]),
        std_resid=resid,
    )
    z = np.concatenate(list(iter_terminal_chunks(replace_garch(gm, g2), 5, 20_000, seed=1)))
    assert np.all(z.var(axis=0) > 5 * 1e-4)


def replace_garch(model, g):
    from dataclasses import replace

    return replace(model, garch=g)


def test_covariance_estimators_match_references():
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(1)
    x = rng.multivariate_normal(np.zeros(4), _cov(4, 2) * 1e4, size=300) * 0.01
    lw = estimate_covariance(x, "ledoit_wolf")
    ref = LedoitWolf().fit(x)
    np.testing.assert_allclose(lw.cov, ref.covariance_, rtol=1e-12)
    assert lw.shrinkage == pytest.approx(ref.shrinkage_)
    np.testing.assert_allclose(
        estimate_covariance(x, "sample").cov, np.cov(x, rowvar=False), rtol=1e-12
    )
    # one-factor model: exact when residuals are independent -> close to sample covariance
    f = rng.normal(size=(3000, 1)) * 0.01
    b = np.array([[0.5, 1.0, 1.5]])
    y = f @ b + rng.normal(size=(3000, 3)) * 0.005
    fc = estimate_covariance(y, "factor", factors=f)
    np.testing.assert_allclose(fc.cov, np.cov(y, rowvar=False), atol=4e-6)
    with pytest.raises(ValidationError, match="factors"):
        estimate_covariance(y, "factor")


def test_severe_preset_median_index_move():
    model = ReturnModel(mean=np.zeros(1), cov=np.array([[1e-4]]))
    res = run_scenario(
        np.array([1.0]), model, preset("severe"), index=0, index_spot=100.0, n_paths=20_000, seed=3
    )
    assert abs(res.unhedged.median.value - 0.88) <= 3 * res.unhedged.median.se + 1e-9
    shock = custom_shock(-0.3, 1.0, 5)
    res2 = run_scenario(
        np.array([1.0]), model, shock, index=0, index_spot=100.0, n_paths=20_000, seed=3
    )
    assert abs(res2.unhedged.median.value - 0.70) <= 3 * res2.unhedged.median.se


def test_hedge_reduces_tail_and_floor_breach():
    res = _scenario(1, n_paths=20_000)
    assert res.es_hedged.value < res.es_unhedged.value
    assert res.p_floor_breach_hedged.value <= res.p_floor_breach_unhedged.value
    p = _scenario(1, n_paths=5_000, monitor_path=True)
    t = _scenario(1, n_paths=5_000)
    # breaching at any day is at least as likely as breaching at the horizon (same seed -> same
    # unhedged path ends are not shared between modes, so compare with SE slack)
    assert (
        p.p_floor_breach_unhedged.value
        >= t.p_floor_breach_unhedged.value - 3 * t.p_floor_breach_unhedged.se
    )
    assert p.monitored_path and not t.monitored_path


def test_tail_comparison_normal_matches_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.02, size=200_000)
    tc = tail_comparison(x, 0.95)
    z = stats.norm.ppf(0.05)
    closed = 0.02 * stats.norm.pdf(z) / 0.05
    assert abs(tc.es_monte_carlo.value - closed) <= 3 * tc.es_monte_carlo.se
    assert tc.es_cornish_fisher == pytest.approx(closed, rel=0.01)
    assert tc.es_gaussian == pytest.approx(closed, rel=0.01)
    # fat left tail: Cornish-Fisher and MC both above the Gaussian ES
    y = -np.abs(rng.standard_t(4, size=200_000)) * 0.01 + rng.normal(0, 0.005, 200_000)
    tc2 = tail_comparison(y, 0.99)
    assert tc2.es_monte_carlo.value > tc2.es_gaussian


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_paths": 0}, "n_paths"),
        ({"index": 9}, "index"),
        ({"floor": -1.0}, "floor"),
        ({"level": 1.5}, "level"),
    ],
)
def test_bad_inputs_raise_validation_error(kwargs, field):
    with pytest.raises(ValidationError) as exc:
        _scenario(1, **kwargs)
    assert exc.value.errors[0].field == field


def test_bad_preset_and_specs():
    with pytest.raises(ValidationError, match="preset"):
        preset("apocalypse")
    with pytest.raises(ValidationError, match="index_move"):
        custom_shock(-1.5)
    with pytest.raises(ValidationError, match="horizon_days"):
        custom_shock(-0.1, 1.0, 0)
    with pytest.raises(ValidationError, match="cov"):
        ReturnModel(mean=np.zeros(2), cov=np.array([[1.0, 0.5], [0.2, 1.0]]))
    with pytest.raises(ValidationError, match="history"):
        ReturnModel(mean=np.zeros(2), cov=np.eye(2), innovations="bootstrap")


def test_grid_repricing_matches_exact():
    # hedge value depends on the path only through the index level: grid + interp == exact
    n = 3
    model = ReturnModel(mean=np.zeros(n), cov=_cov(n, 6))
    h = np.array([2e5, 1e5, 0.0])
    legs = [OptionLeg("put", 3800.0, 0.25, 75.0), OptionLeg("call", 4400.0, 0.25, -75.0)]
    kw = dict(
        index=2,
        index_spot=4000.0,
        legs=legs,
        surface=0.2,
        n_paths=40_000,
        seed=8,
        chunk_size=40_000,
        keep_paths=True,
    )
    grid = run_scenario(h, model, preset("severe"), **kw)
    exact = run_scenario(h, model, preset("severe"), repricing_grid=None, **kw)
    np.testing.assert_array_equal(grid.final_unhedged, exact.final_unhedged)
    # interpolation error far below one currency unit on a 300,000 portfolio
    assert np.max(np.abs(grid.final_hedged - exact.final_hedged)) < 0.05
    with pytest.raises(ValidationError, match="grid"):
        run_scenario(h, model, preset("severe"), repricing_grid=8, **kw)


def test_grid_repricing_path_mode_matches_exact():
    n = 2
    model = ReturnModel(mean=np.zeros(n), cov=_cov(n, 9))
    h = np.array([3e5, 0.0])
    legs = [OptionLeg("put", 3800.0, 0.25, 75.0)]
    kw = dict(
        index=1,
        index_spot=4000.0,
        legs=legs,
        surface=0.2,
        n_paths=6_000,
        seed=8,
        chunk_size=6_000,
        keep_paths=True,
        monitor_path=True,
        floor=2.8e5,
    )
    spec = custom_shock(-0.1, 1.5, 10)
    grid = run_scenario(h, model, spec, **kw)
    exact = run_scenario(h, model, spec, repricing_grid=None, **kw)
    assert np.max(np.abs(grid.final_hedged - exact.final_hedged)) < 0.05
    assert grid.p_floor_breach_hedged.value == pytest.approx(
        exact.p_floor_breach_hedged.value, abs=2e-4
    )


@pytest.fixture(scope="module")
def bundled_closes():
    """Closes of AAPL, JPM, KO, XOM, MSFT and the S&P 500, 2016-2022 (read once per module)."""
    from floorguard.marketdata import BundledSource

    src = BundledSource()
    syms = ["AAPL", "JPM", "KO", "XOM", "MSFT", "SPX"]
    px = np.column_stack([src.closes(s).loc["2016-01-01":"2022-12-28"].to_numpy() for s in syms])
    px.flags.writeable = False
    return px


@pytest.mark.parametrize("innovations", ["normal", "bootstrap", "garch"])
def test_end_to_end_on_bundled_data(innovations, bundled_closes):
    """Five bundled stocks + the S&P 500, a 95/110 collar, the severe preset."""
    from floorguard.core.forecast import garch_filter

    px = bundled_closes
    rets = np.diff(np.log(px), axis=0)
    cov = estimate_covariance(rets, "ledoit_wolf")
    extra = {}
    if innovations == "bootstrap":
        extra = {"history": rets}
    elif innovations == "garch":
        extra = {"garch": garch_filter(rets[-1000:], "gjr", "t")}
    model = ReturnModel(mean=np.zeros(6), cov=cov.cov, innovations=innovations, **extra)
    h = np.array([2e5, 2e5, 2e5, 2e5, 2e5, 0.0])
    spot = float(px[-1, -1])
    units = h.sum() / spot
    legs = [
        OptionLeg("put", 0.95 * spot, 63 / 252, units),
        OptionLeg("call", 1.10 * spot, 63 / 252, -units),
    ]
    res = run_scenario(
        h,
        model,
        preset("severe"),
        index=5,
        index_spot=spot,
        legs=legs,
        surface=0.22,
        floor=0.9e6,
        n_paths=4_000,
        seed=1,
    )
    assert res.es_hedged.value < res.es_unhedged.value
    assert res.hedged.p5.value > res.unhedged.p5.value
    assert res.p_floor_breach_hedged.value < res.p_floor_breach_unhedged.value
    assert "estimate" in res.label
    assert res.tail_hedged.es_cornish_fisher > 0


def test_uniform_interp_matches_numpy():
    from floorguard.core.montecarlo._engine import _interp_uniform

    nodes = np.linspace(2.0, 7.0, 101)
    vals = np.sin(nodes)
    x = np.random.default_rng(0).uniform(2.0, 7.0, 1000)
    x[:3] = [2.0, 7.0, 4.5]
    np.testing.assert_allclose(
        _interp_uniform(x.copy(), 2.0, 7.0, vals), np.interp(x, nodes, vals), rtol=1e-12, atol=1e-14
    )


def test_reused_buffers_give_identical_numbers():
    model = ReturnModel(mean=np.full(3, 1e-4), cov=_cov(3, 1), shift=np.array([-0.1, 0.0, 0.05]))
    fresh = [x.copy() for x in iter_terminal_chunks(model, 5, 1_000, seed=2, chunk_size=300)]
    reused = [
        x.copy()
        for x in iter_terminal_chunks(model, 5, 1_000, seed=2, chunk_size=300, reuse_buffers=True)
    ]
    assert [a.shape for a in fresh] == [b.shape for b in reused] == [(300, 3)] * 3 + [(100, 3)]
    for a, b in zip(fresh, reused, strict=True):
        np.testing.assert_array_equal(a, b)


def test_progress_callback():
    seen = []
    _scenario(
        1, n_paths=2_500, chunk_size=1_000, progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]


def test_scenario_off_model_surface_with_vol_response():
    from floorguard.core.pricing import ModelSurface

    surf = ModelSurface(atm_vol=0.18, skew=-0.8, curvature=0.4)
    model = ReturnModel(mean=np.zeros(1), cov=np.array([[1.2e-4]]))
    t = 0.25
    legs = [OptionLeg("put", 3800.0, t, 10.0)]
    res = run_scenario(
        np.array([40_000.0]), model, custom_shock(-0.10, 1.5, 21), index=0, index_spot=4000.0,
        legs=legs, surface=surf, rate=0.03, dividend_yield=0.01, n_paths=2_000, seed=1,
    )  # fmt: skip
    fwd = 4000.0 * math.exp(0.02 * t)
    vol0 = surf.vol(3800.0, t, fwd)
    assert res.hedge_premium == pytest.approx(
        10 * bsm_price("put", 4000.0, 3800.0, t, 0.03, vol0, 0.01)
    )
    # value at the horizon: surface vol x multiplier + spot-vol response, BSM at the remaining life
    from floorguard.core.montecarlo import reprice_legs

    s_h = np.array([3600.0, 4000.0])
    got = reprice_legs(
        legs, s_h, 21 / 252, spot0=4000.0, surface=surf, rate=0.03, dividend_yield=0.01,
        vol_multiplier=1.5, spot_vol_slope=-1.0,
    )  # fmt: skip
    tau = t - 21 / 252
    f_h = s_h * math.exp(0.02 * tau)
    v_h = np.asarray(surf.vol(3800.0, tau, f_h)) * 1.5 - np.log(s_h / 4000.0)
    np.testing.assert_allclose(
        got, 10 * bsm_price("put", s_h, 3800.0, tau, 0.03, v_h, 0.01), rtol=1e-12
    )
