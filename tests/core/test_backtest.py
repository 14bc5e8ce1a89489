"""Walk-forward hedge backtest: cash-flow reconciliation, pricing, rules, KPIs.

References
----------
- Cboe S&P 500 5% Put Protection Index (PPUT) and S&P 500 95-110 Collar Index
  (CLL) methodologies: monthly 95 % puts (PPUT); quarterly 3-month 95 % puts
  and monthly 110 % calls (CLL), rolled at the monthly expiration (third
  Friday; the previous trading day on exchange holidays).
- Option prices: ``floorguard.core.pricing.bsm_price`` (Hull-checked closed form) off
  ``floorguard.core.pricing.ModelSurface`` (recomputed independently per leg).
- Running minimum of drifted Brownian motion (Shreve II, Cor. 7.2.2) checked
  against a fine-grid simulation (2 % tolerance; discrete monitoring bias).
Reconciliation identities hold to 1e-9 relative.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from floorguard.core.backtest import (
    BacktestConfig,
    drawdown_band,
    model_vol,
    monthly_expirations,
    run_backtest,
)
from floorguard.core.pricing import ModelSurface, bsm_price
from floorguard.exceptions import ValidationError


@pytest.fixture(scope="module")
def spx():
    from floorguard.marketdata import BundledSource

    src = BundledSource()
    px = src.closes("SPX").loc["1999-10-01":"2022-12-31"]
    vix = src.closes("VIX").reindex(px.index) / 100.0
    return px, vix


@pytest.fixture(scope="module")
def pput(spx):
    px, vix = spx
    return run_backtest(
        px.index, px.to_numpy(), "pput", implied_atm=vix.to_numpy(), start=dt.date(2000, 1, 1)
    )


@pytest.fixture(scope="module")
def collar(spx):
    px, vix = spx
    return run_backtest(
        px.index, px.to_numpy(), "collar", implied_atm=vix.to_numpy(), start=dt.date(2000, 1, 1)
    )


def _reconcile(res, px):
    s = px.loc[pd.Timestamp(res.start) : pd.Timestamp(res.end)].to_numpy()
    index_gain = float(np.sum(res.index_units[:-1] * np.diff(s)))
    legs_pnl = sum(leg.pnl for leg in res.legs)
    total = res.hedged_value[-1] - res.hedged_value[0]
    return total, index_gain, legs_pnl


@pytest.mark.parametrize("name", ["pput", "collar"])
def test_cash_flows_reconcile(name, request, spx):
    res = request.getfixturevalue(name)
    px, _ = spx
    # premium paid - payoffs received = -(hedge P&L), leg by leg and in total
    assert res.premium_paid - res.payoffs_received == pytest.approx(-res.hedge_pnl, rel=1e-12)
    assert sum(leg.premium for leg in res.legs) == pytest.approx(res.premium_paid, rel=1e-12)
    assert sum(leg.payoff for leg in res.legs) == pytest.approx(res.payoffs_received, rel=1e-12)
    for leg in res.legs:
        assert leg.pnl == pytest.approx(leg.payoff - leg.premium, abs=1e-9)
    # self-financing: value change = index gains on the units held + hedge P&L
    total, index_gain, legs_pnl = _reconcile(res, px)
    assert total == pytest.approx(index_gain + legs_pnl, rel=1e-9)
    assert legs_pnl == pytest.approx(res.hedge_pnl, rel=1e-9)
    assert res.hedged_value[0] == pytest.approx(res.initial_value)


def test_pput_rules_and_pricing(pput, spx):
    px, vix = spx
    assert pput.start == dt.date(2000, 1, 21)  # third Friday of January 2000
    cfg = pput.config
    puts = [leg for leg in pput.legs if leg.kind == "put"]
    assert len(puts) == len(pput.legs) >= 270
    first = puts[0]
    assert first.strike == math.floor(0.95 * first.spot_open / 5) * 5
    assert first.expiry == dt.date(2000, 2, 18)
    # premium recomputed independently from the closed form and the stated smile
    t = (first.expiry - first.open_date).days / 365
    fwd = first.spot_open * math.exp((cfg.rate - cfg.dividend_yield) * t)
    # 2000-01-21 precedes the bundled VIX: ATM = realised 21-day vol x 1.2, plus the smile
    hist = px.loc[: pd.Timestamp(first.open_date)].to_numpy()[-22:]
    atm = float(np.std(np.diff(np.log(hist)), ddof=1) * math.sqrt(252) * cfg.proxy_scale)
    vol = ModelSurface(atm_vol=atm, skew=cfg.surface_skew, curvature=cfg.surface_curvature).vol(
        first.strike, t, fwd
    )
    assert first.vol == pytest.approx(vol, rel=1e-9)
    assert first.price == pytest.approx(
        bsm_price("put", first.spot_open, first.strike, t, cfg.rate, vol, cfg.dividend_yield),
        rel=1e-9,
    )
    # payoff at expiry = quantity x intrinsic at the expiration close
    s_exp = float(px.loc[pd.Timestamp(first.expiry)])
    assert first.payoff == pytest.approx(first.quantity * max(first.strike - s_exp, 0.0), rel=1e-12)
    # pricing source: VIX inside 2014-01..2018-12, proxy elsewhere
    for leg in puts:
        in_vix = dt.date(2014, 1, 6) <= leg.open_date <= dt.date(2018, 12, 31)
        assert leg.pricing_source == ("VIX" if in_vix else "realised-vol proxy")
    assert set(pput.pricing_sources) == {"VIX", "realised-vol proxy"}


def test_collar_rules(collar):
    puts = [leg for leg in collar.legs if leg.kind == "put"]
    calls = [leg for leg in collar.legs if leg.kind == "call"]
    assert all(leg.quantity < 0 for leg in calls) and all(leg.quantity > 0 for leg in puts)
    # monthly calls, quarterly puts on the Mar/Jun/Sep/Dec cycle (after the first stub)
    assert len(calls) > 2.9 * len(puts)
    assert all(leg.expiry.month in (3, 6, 9, 12) for leg in puts[:-1])
    for leg in calls[:20]:
        assert leg.strike == math.ceil(1.10 * leg.spot_open / 5) * 5
        assert (leg.expiry - leg.open_date).days <= 35
    # the collar cuts volatility and drawdown against the index
    assert collar.hedged.annual_vol < collar.unhedged.annual_vol
    assert collar.hedged.max_drawdown > collar.unhedged.max_drawdown
    assert collar.hedged.worst_month > collar.unhedged.worst_month


def test_kpis_definitions(pput):
    assert pput.cost_of_protection == pytest.approx(
        pput.unhedged.annual_return - pput.hedged.annual_return
    )
    assert pput.hedged.worst_month > pput.unhedged.worst_month  # the put floors monthly losses
    assert pput.hedged.es_period < pput.unhedged.es_period
    assert 0 <= pput.hit_rate <= 1 and 0 <= pput.over_hedge_ratio <= 1
    puts = [leg for leg in pput.legs if leg.kind == "put"]
    over = sum(leg.premium for leg in puts if leg.realized_drawdown > -0.05) / sum(
        leg.premium for leg in puts
    )
    assert pput.over_hedge_ratio == pytest.approx(over)
    hits = [
        leg.band_lo <= leg.realized_drawdown <= leg.band_hi for leg in puts if not leg.closed_early
    ]
    assert pput.hit_rate == pytest.approx(np.mean(hits))
    assert pput.hedge_cost_efficiency > 0


def test_synthetic_crash_and_calm():
    days = pd.bdate_range("2021-01-01", "2021-06-30")
    n = len(days)
    calm = 100 * np.exp(np.linspace(0, 0.05, n))
    res = run_backtest(
        days, calm, "pput", implied_atm=np.full(n, 0.2), config=BacktestConfig(strike_step=0)
    )
    assert all(leg.payoff == 0 for leg in res.legs if not leg.closed_early)
    assert res.over_hedge_ratio == pytest.approx(1.0)
    crash = calm.copy()
    i = days.get_loc(pd.Timestamp("2021-03-01"))
    crash[i:] *= 0.8
    res2 = run_backtest(
        days, crash, "pput", implied_atm=np.full(n, 0.2), config=BacktestConfig(strike_step=0)
    )
    hit = [leg for leg in res2.legs if leg.open_date < dt.date(2021, 3, 1) <= leg.expiry][0]
    assert hit.payoff == pytest.approx(
        hit.quantity * (hit.strike - crash[days.get_loc(pd.Timestamp(hit.expiry))])
    )
    assert res2.hedged.max_drawdown > res2.unhedged.max_drawdown


def test_monthly_expirations_holidays():
    days = [
        d.date()
        for d in pd.bdate_range("2008-01-01", "2008-12-31")
        if d.date() != dt.date(2008, 3, 21)
    ]
    exp = [days[i] for i in monthly_expirations(days)]
    assert exp[0] == dt.date(2008, 1, 18)
    assert exp[2] == dt.date(2008, 3, 20)  # Good Friday 2008: the Thursday before
    assert len(exp) == 12


def test_drawdown_band_against_simulation():
    sigma, t = 0.25, 1 / 12
    lo, hi = drawdown_band(sigma, t, (0.05, 0.95))
    rng = np.random.default_rng(0)
    steps = 1000
    inc = rng.normal(
        -0.5 * sigma**2 * t / steps, sigma * math.sqrt(t / steps), size=(10_000, steps)
    )
    mins = np.minimum(np.cumsum(inc, axis=1).min(axis=1), 0.0)
    q = np.expm1(np.quantile(mins, [0.05, 0.95]))
    assert lo == pytest.approx(q[0], rel=0.03)
    assert hi == pytest.approx(q[1], abs=0.002)


def test_model_vol_equals_model_surface_per_day():
    atm = np.array([0.12, 0.2, 0.45])
    fwd = np.array([100.0, 102.0, 97.0])
    t = np.array([10 / 365, 30 / 365, 91 / 365])
    for strike in (90.0, 100.0, 115.0):
        got = model_vol(atm, strike, fwd, t, skew=-0.8, curvature=0.4)
        ref = [
            ModelSurface(atm_vol=a, skew=-0.8, curvature=0.4).vol(strike, tt, f)
            for a, f, tt in zip(atm, fwd, t, strict=True)
        ]
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_bad_inputs(spx):
    px, _ = spx
    with pytest.raises(ValidationError, match="strategy"):
        run_backtest(px.index, px.to_numpy(), "straddle")
    with pytest.raises(ValidationError, match="closes"):
        run_backtest(px.index, px.to_numpy()[:-1])
    with pytest.raises(ValidationError, match="end"):
        run_backtest(px.index, px.to_numpy(), start=dt.date(2022, 12, 1))
    with pytest.raises(ValidationError, match="put_moneyness"):
        BacktestConfig(put_moneyness=0)


def test_progress_callback(spx):
    px, vix = spx
    seen = []
    sub = px.loc["2019-06-01":"2020-06-30"]
    run_backtest(sub.index, sub.to_numpy(), "pput", progress=lambda k, n: seen.append((k, n)))
    assert (
        seen
        and seen[-1][0] == seen[-1][1] - 1
        and [k for k, _ in seen] == list(range(1, len(seen) + 1))
    )
