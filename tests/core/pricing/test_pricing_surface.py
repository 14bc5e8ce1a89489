"""SVI calibration, arbitrage checks, surface interpolation and the model fallback."""

from __future__ import annotations


import numpy as np
import pytest

from floorguard.core.pricing import (
    ModelSurface,
    SviParams,
    VolSurface,
    fit_surface,
    fit_svi,
    svi_butterfly_g,
    svi_total_variance,
)
from floorguard.exceptions import ValidationError

# Gatheral and Jacquier (2014), "Arbitrage-free SVI volatility surfaces", section 5.1:
# Axel Vogt's raw SVI slice with butterfly arbitrage (g < 0 near k = 0.3-0.5).
VOGT = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
# A typical equity-index slice (arbitrage-free).
EQUITY = SviParams(a=0.01, b=0.1, rho=-0.6, m=0.05, sigma=0.15)


def test_vogt_example_has_butterfly_arbitrage() -> None:
    g = svi_butterfly_g(VOGT, np.linspace(-1.5, 1.5, 601))
    assert g.min() < 0.0
    assert svi_butterfly_g(EQUITY, np.linspace(-1.5, 1.5, 601)).min() > 0.0


def test_svi_fit_recovers_exact_parameters() -> None:
    k = np.linspace(-0.6, 0.4, 41)
    w = svi_total_variance(EQUITY, k)
    fit = fit_svi(k, w)
    np.testing.assert_allclose(svi_total_variance(fit, k), w, rtol=1e-4)
    assert fit.rho == pytest.approx(EQUITY.rho, abs=0.02)
    assert fit.m == pytest.approx(EQUITY.m, abs=0.01)


def _synthetic(seed: int, noise: float = 0.0):
    """Quotes from an arbitrage-free family of slices (w grows with t at every k)."""
    rng = np.random.default_rng(seed)
    ts = np.array([7, 30, 91, 182, 365]) / 365.0
    t_all, k_all, iv_all, f_all = [], [], [], []
    for t in ts:
        p = SviParams(a=0.04 * t, b=0.1 * np.sqrt(t), rho=-0.6, m=0.02, sigma=0.1 + 0.1 * t)
        width = 0.15 + 0.4 * np.sqrt(t)
        k = np.sort(rng.uniform(-width, 0.6 * width, 40))
        iv = np.sqrt(svi_total_variance(p, k) / t) + noise * rng.standard_normal(k.size)
        fwd = 100.0 * np.exp(0.02 * t)
        t_all.append(np.full(k.size, t))
        k_all.append(fwd * np.exp(k))
        iv_all.append(iv)
        f_all.append(np.full(k.size, fwd))
    return (
        ts,
        np.concatenate(t_all),
        np.concatenate(k_all),
        np.concatenate(iv_all),
        np.concatenate(f_all),
    )


def test_fit_surface_on_exact_quotes() -> None:
    ts, t, k, iv, f = _synthetic(1)
    surf = fit_surface(t, k, iv, f)
    assert isinstance(surf, VolSurface)
    assert [r["t"] for r in surf.fit_report] == pytest.approx(list(ts))
    for row in surf.fit_report:
        assert row["rmse"] < 0.02  # vol points
        assert row["butterfly_ok"] and row["calendar_ok"]
        assert row["n_quotes"] == 40
        assert row["skew"] < 0.0
    assert surf.arbitrage_free
    # the surface reproduces the quotes
    np.testing.assert_allclose(surf.vol(k, t, f), iv, atol=3e-4)
    # total variance increases with t between and beyond expiries at fixed k
    tt = np.linspace(2 / 365, 2.0, 200)
    w = surf.total_variance(np.zeros_like(tt) + 0.05, tt)
    assert np.all(np.diff(w) >= -1e-14)


def test_noisy_quotes_rmse_matches_noise() -> None:
    _, t, k, iv, f = _synthetic(2, noise=0.002)
    surf = fit_surface(t, k, iv, f)
    for row in surf.fit_report:
        assert 0.1 < row["rmse"] < 0.3  # 0.2 vol points of noise


def test_atm_vol_and_skew_definitions() -> None:
    _, t, k, iv, f = _synthetic(3)
    surf = fit_surface(t, k, iv, f)
    row = surf.fit_report[2]
    p = SviParams(**row["params"])
    tt = row["t"]
    assert row["atm_vol"] == pytest.approx(np.sqrt(svi_total_variance(p, 0.0) / tt), rel=1e-12)
    h = 1e-5
    num = (np.sqrt(svi_total_variance(p, h) / tt) - np.sqrt(svi_total_variance(p, -h) / tt)) / (
        2 * h
    )
    assert row["skew"] == pytest.approx(num, rel=1e-6)


def test_too_few_quotes_are_skipped_and_bad_input_rejected() -> None:
    _, t, k, iv, f = _synthetic(4)
    t2 = np.concatenate([t, [3.0, 3.0]])
    surf = fit_surface(
        t2,
        np.concatenate([k, [100.0, 110.0]]),
        np.concatenate([iv, [0.2, 0.2]]),
        np.concatenate([f, [105.0, 105.0]]),
    )
    assert surf.skipped == [{"t": 3.0, "n_quotes": 2, "reason": "fewer than 5 quotes"}]
    with pytest.raises(ValidationError) as exc:
        fit_surface(t, k, -iv, f)
    assert exc.value.errors[0].field == "ivs"
    with pytest.raises(ValidationError):
        fit_surface(t, k[:-1], iv, f)
    with pytest.raises(ValidationError):
        fit_surface([0.1, 0.1], [100, 101], [0.2, 0.2], 100.0)


def test_model_surface() -> None:
    m = ModelSurface(atm_vol=0.18, skew=-0.8, term_slope=0.02, curvature=0.4, forward=100.0)
    assert m.vol(100.0, 30 / 365) == pytest.approx(0.18, abs=1e-15)
    assert m.vol(90.0, 30 / 365) > 0.18 > m.vol(110.0, 30 / 365)
    assert m.vol(100.0, 1.0) == pytest.approx(0.18 + 0.02 * (1 - 30 / 365))
    # skew flattens with maturity
    short = m.vol(90.0, 30 / 365) - m.vol(100.0, 30 / 365)
    long = m.vol(90.0, 1.0) - m.vol(100.0, 1.0)
    assert short > long > 0
    grid = m.vol(np.array([50.0, 100.0, 400.0]), np.array([[0.1], [1.0]]))
    assert grid.shape == (2, 3) and np.all(grid >= 0.01)
    assert m.fit_report == []
    with pytest.raises(ValidationError):
        ModelSurface(atm_vol=0.0)
    with pytest.raises(ValidationError):
        ModelSurface(atm_vol=0.2).vol(100.0, 0.5)  # no forward anywhere


@pytest.mark.shared_data
def test_spx_chain_surface(spx_chain_file) -> None:
    """Full SPX 2022-02-04 chain: OTM mids with bid > 0 -> IVs -> SVI per (expiry, root)."""
    from floorguard.core.pricing import implied_vol_details
    from floorguard.domain.chains import implied_forward_and_dividend
    from floorguard.marketdata.cboe import read_cboe_csv

    chain = read_cboe_csv(spx_chain_file)
    qt = chain.quotes
    t_all = chain.quote_t_years()
    mids = chain.mid().to_numpy(dtype=float)
    dates = qt["expiry"].dt.date.to_numpy()
    roots = qt["root"].to_numpy()
    parts = []
    for expiry in chain.expiries():
        for root in sorted(set(roots[dates == expiry])):
            mask = (dates == expiry) & (roots == root)
            if t_all[mask].max() <= 0:
                continue
            est = implied_forward_and_dividend(chain, expiry, root=root)
            kinds = qt["kind"].to_numpy()[mask]
            strikes = qt["strike"].to_numpy(dtype=float)[mask]
            otm = np.where(kinds == "call", strikes >= est.forward, strikes < est.forward)
            keep = otm & (qt["bid"].to_numpy(dtype=float)[mask] > 0) & (mids[mask] > 0)
            n = int(keep.sum())
            parts.append(
                (
                    mids[mask][keep],
                    kinds[keep],
                    strikes[keep],
                    t_all[mask][keep],
                    np.full(n, est.forward),
                    np.full(n, est.rate),
                    np.full(n, est.dividend_yield),
                )
            )
    mid, kind, strike, t, fwd, rate, q = (np.concatenate(x) for x in zip(*parts, strict=True))
    res = implied_vol_details(mid, kind, chain.spot, strike, t, rate, q)
    ok = res.reason == "ok"
    assert ok.mean() > 0.99
    # Speed is measured in bench/bench_pricing.py, never in a unit test.
    surf = fit_surface(t[ok], strike[ok], res.vol[ok], fwd[ok])
    report = surf.fit_report
    assert len(report) >= 40
    assert all(r["butterfly_ok"] for r in report)
    assert np.median([r["rmse"] for r in report]) < 1.0  # vol points
    atm = np.array([r["atm_vol"] for r in report])
    assert np.all((atm > 0.10) & (atm < 0.35))
    assert all(r["skew"] < 0 for r in report)  # equity-index skew
