"""Strategies over a quote table: legs, premium, greeks, breakeven, max loss, hedge ratio.

The quote table is built from Black-Scholes-Merton prices around Hull's
Example 17.2 (8th ed., section 17.4: beta 2, portfolio 500,000, index 1000,
r 12 %, dividend yields 4 %, 3 months, floor 90 % -> strike 960, 10 contracts).
Analytics are checked against hand formulas (piecewise-linear hedged value;
tolerance 1e-6 dollars) and the aggregate greeks against QuantLib's analytic
European engine (tolerance 1e-8 relative).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floorguard.core.pricing import bsm_price
from floorguard.domain.hedging import LiquidityLimits, capm_index_return_for_portfolio_return
from floorguard.domain.strategies import (
    MarketInputs,
    StrategyParams,
    build_strategy,
    select_expiry,
    solve_zero_cost_call_strike,
)
from floorguard.exceptions import QuoteRefusedError, ValidationError

S0, R, Q, T, VOL = 1000.0, 0.12, 0.04, 0.25, 0.20
EXP = dt.date(2026, 4, 1)
MARKET = MarketInputs("SPX", S0, R, Q, EXP, T, 100.0, 0.05)
PARAMS = StrategyParams(floor_pct=0.9, portfolio_value=500_000, beta=2.0, contracts=10, rate=R,
                        portfolio_dividend_yield=Q, index_dividend_yield=Q, t_years=T)
LOOSE = LiquidityLimits(max_spread_pct=0.5, min_open_interest=10, min_volume=0)


def quotes(strikes=np.arange(700.0, 1305.0, 5.0), vol=VOL, half_spread=0.02) -> pd.DataFrame:
    rows = []
    for kind in ("put", "call"):
        for k in strikes:
            mid = float(bsm_price(kind, S0, float(k), T, R, vol, Q))
            bid = max(0.0, round((mid * (1 - half_spread)) / 0.05) * 0.05)
            ask = round((mid * (1 + half_spread)) / 0.05) * 0.05 + 0.05
            rows.append({"strike": float(k), "kind": kind, "bid": bid, "ask": ask, "iv": vol,
                         "open_interest": 1000, "volume": 50})
    return pd.DataFrame(rows)


def test_protective_put_hull_17_2() -> None:
    q = quotes()
    res = build_strategy("protective_put", q, MARKET, PARAMS, LOOSE)
    put = res.put_leg
    assert put is not None and put.strike == 960.0 and put.contracts == 10 and put.side == "long"
    assert res.strike_choices["put"].exact
    row = q[(q.kind == "put") & (q.strike == 960.0)].iloc[0]
    assert put.price == row.ask and put.premium == pytest.approx(row.ask * 1000)
    assert res.premium_net == pytest.approx(row.ask * 1000)
    assert res.premium_net_mid == pytest.approx(0.5 * (row.bid + row.ask) * 1000)
    a = res.analytics
    # below 960 the hedged portfolio is flat at 450,000 - premium (slope 2*500,000/1000 = 1000 = 10*100)
    assert a["max_loss"] == pytest.approx(50_000 + res.premium_net, abs=1e-6)
    assert a["premium_pct"] == pytest.approx(res.premium_net / 500_000)
    assert a["hedge_ratio"] == pytest.approx(10 * 100 * 1000 / (2 * 500_000))
    # breakeven: portfolio return equal to the premium
    x = capm_index_return_for_portfolio_return(res.premium_net / 500_000, 2.0, R, T, Q, Q)
    assert a["breakeven_level"] == pytest.approx(1000 * (1 + x), rel=1e-9)
    assert not a["loss_unbounded_above"]


def test_greeks_match_quantlib() -> None:
    ql = pytest.importorskip("QuantLib")
    res = build_strategy("protective_put", quotes(), MARKET, PARAMS, LOOSE)
    today = ql.Date(1, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    maturity = today + int(round(T * 365))
    t = dc.yearFraction(today, maturity)
    assert t == pytest.approx(T, abs=1e-2)
    m = MarketInputs("SPX", S0, R, Q, EXP, t, 100.0, 0.05)
    res = build_strategy("protective_put", quotes(), m, PARAMS, LOOSE)
    spot = ql.QuoteHandle(ql.SimpleQuote(S0))
    proc = ql.BlackScholesMertonProcess(
        spot, ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), VOL, dc)))
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, 960.0), ql.EuropeanExercise(maturity))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    g = res.analytics["greeks"]
    assert g["delta"] == pytest.approx(1000 * opt.delta(), rel=1e-8)
    assert g["gamma"] == pytest.approx(1000 * opt.gamma(), rel=1e-8)
    assert g["vega"] == pytest.approx(1000 * opt.vega(), rel=1e-8)  # QuantLib vega is per 1.00 vol
    assert g["theta"] == pytest.approx(1000 * opt.theta(), rel=1e-8)  # per year
    assert res.analytics["delta_hedge_ratio"] == pytest.approx(-1000 * opt.delta() * S0 / 1e6, rel=1e-8)


def test_collar_with_cap() -> None:
    p = StrategyParams(**{**PARAMS.__dict__, "cap": 0.05})
    res = build_strategy("collar", quotes(), MARKET, p, LOOSE)
    put, call = res.put_leg, res.call_leg
    assert put is not None and call is not None and call.side == "short" and call.contracts == 10
    cap_level = res.analytics["cap_level"]
    # portfolio +5 %: x = (0.05 - 0.03 + 0.01)/2 + 0.03 - 0.01 = 0.035 -> 1035
    assert cap_level == pytest.approx(1035.0, rel=1e-12)
    assert call.strike == 1035.0
    assert res.premium_net == pytest.approx(put.ask * 1000 - call.bid * 1000)
    # above the call the hedged value is flat (slope 1000 - 1000 = 0): max gain capped, loss bounded
    assert not res.analytics["loss_unbounded_above"]
    assert res.analytics["max_loss"] == pytest.approx(50_000 + res.premium_net, abs=1e-6)


def test_zero_cost_collar_picks_the_best_financing_call() -> None:
    q = quotes()
    res = build_strategy("collar", q, MARKET, PARAMS, LOOSE)
    put, call = res.put_leg, res.call_leg
    assert put is not None and call is not None
    calls = q[(q.kind == "call") & (q.strike > S0)]
    best = calls.iloc[(put.ask - calls.bid).abs().argmin()]
    assert call.strike == best.strike
    flex = res.analytics["zero_cost_flex"]
    assert abs(flex["net_per_unit"]) <= MARKET.tick
    assert abs(res.analytics["zero_cost_net_per_unit"] - (put.ask - call.bid)) < 1e-12


@given(floor=st.floats(0.80, 0.97), vol=st.floats(0.10, 0.45), tick=st.sampled_from([0.01, 0.05, 0.10]))
@settings(max_examples=60, deadline=None)
def test_zero_cost_collar_net_premium_within_one_tick(floor: float, vol: float, tick: float) -> None:
    k_put = S0 * floor
    put_premium = float(bsm_price("put", S0, k_put, T, R, vol, Q))

    def call(k: float) -> float:
        return float(bsm_price("call", S0, k, T, R, vol, Q))

    k, net = solve_zero_cost_call_strike(put_premium, call, S0, 5 * S0, tick)
    assert k >= S0
    assert abs(put_premium - call(k)) <= tick
    assert abs(net) <= tick


def test_put_spread_short_lower_put() -> None:
    res = build_strategy("put_spread", quotes(), MARKET, PARAMS, LOOSE)
    long_put, short_put = res.legs
    assert long_put.side == "long" and short_put.side == "short" and short_put.kind == "put"
    # lower floor 80 %: x = (-0.2 - 0.03 + 0.01)/2 + 0.02 = -0.09 -> 910
    assert res.analytics["lower_level"] == pytest.approx(910.0, rel=1e-12)
    assert short_put.strike == 910.0
    assert res.premium_net == pytest.approx(long_put.ask * 1000 - short_put.bid * 1000)
    # worst case at index 0: portfolio falls to V(0), spread pays (960-910)*1000
    v_at_0 = 500_000 * (1 + 0.03 + 2 * (-1 + 0.01 - 0.03) - 0.01)
    assert res.analytics["max_loss"] == pytest.approx(500_000 - (v_at_0 + 50_000 - res.premium_net), abs=1e-6)
    assert res.analytics["max_loss_at_level"] == 0.0


def test_tail_hedge_budget() -> None:
    p = StrategyParams(**{**PARAMS.__dict__, "floor_pct": 0.8, "tail_budget_pct": 0.002})
    q = quotes()
    res = build_strategy("tail_hedge", q, MARKET, p, LOOSE)
    put = res.put_leg
    assert put is not None and put.strike == 910.0  # 80 % floor level
    expected = min(10, math.floor(1000.0 / (put.ask * 100)))
    assert put.contracts == expected and put.premium <= 1000.0 + 1e-9
    assert res.analytics["hedge_ratio"] == pytest.approx(expected / 10)
    with pytest.raises(QuoteRefusedError, match="buys no contract"):
        build_strategy("tail_hedge", q, MARKET, StrategyParams(**{**p.__dict__, "tail_budget_pct": 1e-6}), LOOSE)


def test_illiquid_strike_replaced_and_explained() -> None:
    q = quotes()
    q.loc[(q.kind == "put") & (q.strike == 960.0), "open_interest"] = 0
    res = build_strategy("protective_put", q, MARKET, PARAMS, LOOSE)
    assert res.put_leg is not None and res.put_leg.strike == 965.0
    assert "liquidity" in res.put_leg.strike_reason and "965" in res.put_leg.strike_reason
    assert res.put_leg.liquidity["rejected"][0]["strike"] == 960.0


def test_missing_target_strike_takes_nearest_safe_strike() -> None:
    q = quotes(strikes=np.arange(700.0, 1310.0, 25.0))  # 950, 975 listed; 960 not
    res = build_strategy("protective_put", q, MARKET, PARAMS, LOOSE)
    assert res.put_leg is not None and res.put_leg.strike == 975.0
    assert res.strike_choices["put"].guaranteed and not res.strike_choices["put"].exact


def test_bad_inputs() -> None:
    with pytest.raises(ValidationError, match="strategy"):
        build_strategy("straddle", quotes(), MARKET, PARAMS)
    with pytest.raises(QuoteRefusedError, match="no puts"):
        build_strategy("protective_put", quotes()[lambda d: d.kind == "call"], MARKET, PARAMS)


def test_select_expiry() -> None:
    ex = [dt.date(2026, 1, 16), dt.date(2026, 2, 20), dt.date(2026, 3, 20)]
    c = select_expiry(ex, dt.date(2026, 2, 1))
    assert c.expiry == dt.date(2026, 2, 20) and c.previous == dt.date(2026, 1, 16) and c.next == dt.date(2026, 3, 20)
    with pytest.raises(QuoteRefusedError, match="no listed expiry"):
        select_expiry(ex, dt.date(2026, 4, 1))


def test_collar_never_sells_more_calls_than_the_exposure() -> None:
    p = StrategyParams(**{**PARAMS.__dict__, "cap": 0.05, "contracts": 12})
    res = build_strategy("collar", quotes(), MARKET, p, LOOSE)
    # exposure 2 * 500,000 / (1000 * 100) = 10 contracts of calls at most
    assert res.put_leg.contracts == 12 and res.call_leg.contracts == 10
    assert any("naked" in w for w in res.warnings)
    assert not res.analytics["loss_unbounded_above"]


def test_collar_too_small_for_one_call_is_refused_with_useful_advice() -> None:
    # exposure 2 * 40,000 / (1000 * 100) = 0.8 of a contract: no call can be sold without going naked
    p = StrategyParams(**{**PARAMS.__dict__, "portfolio_value": 40_000, "contracts": 1})
    with pytest.raises(QuoteRefusedError, match=r"use a smaller contract \(XSP or SPY\)"):
        build_strategy("collar", quotes(), MARKET, p, LOOSE)
    with pytest.raises(QuoteRefusedError, match="no smaller contract than SPY") as exc:
        build_strategy("collar", quotes(), replace(MARKET, underlying_symbol="SPY"), p, LOOSE)
    assert "(XSP or SPY)" not in str(exc.value)


def test_over_sold_calls_flag_unbounded_loss() -> None:
    from floorguard.domain.strategies import strategy_analytics

    res = build_strategy("collar", quotes(), MARKET, StrategyParams(**{**PARAMS.__dict__, "cap": 0.05}), LOOSE)
    put, call = res.legs
    legs = [put, replace(call, contracts=12)]
    a = strategy_analytics(legs, PARAMS, MARKET, 0.0, 0.0)
    # exposure 2 * 500,000 / 1000 = 1,000 per point; 12 short calls = 1,200 per point
    assert a["loss_unbounded_above"] and "200.00 per point" in a["unbounded_note"]
    assert a["analysed_range"] == [0.0, 3000.0]
    # hand: worst point is the top of the range, H = V(3000) - 12 * 100 * (3000 - K_call) + 10 * 0
    v_top = 500_000 * (1 + 0.03 + 2 * (2.0 + 0.01 - 0.03) - 0.01)
    assert a["worst_hedged_value"] == pytest.approx(v_top - 1200 * (3000 - call.strike))


def test_short_leg_crosses_to_the_other_side_when_illiquid() -> None:
    q = quotes()
    # no liquid puts at or below 910 (the 80 % level): the short put moves up, narrowing the spread
    q.loc[(q.kind == "put") & (q.strike <= 910.0), "open_interest"] = 0
    res = build_strategy("put_spread", q, MARKET, PARAMS, LOOSE)
    short = res.legs[1]
    assert short.strike == 915.0 and not res.strike_choices["short_put"].guaranteed
    assert any("other side" in w for w in res.warnings)


def test_tick_allowance_for_cheap_options() -> None:
    from floorguard.domain.hedging import check_liquidity

    lim = LiquidityLimits(max_spread_pct=0.25, min_open_interest=0, min_volume=0, max_spread_ticks=2)
    assert not check_liquidity(0.05, 0.10, None, None, lim).ok  # 67 % of the mid, no tick given
    assert check_liquidity(0.05, 0.10, None, None, lim, tick=0.05).ok  # one tick wide
    assert not check_liquidity(0.05, 0.30, None, None, lim, tick=0.05).ok  # five ticks wide


def test_american_style_uses_the_american_greeks() -> None:
    from floorguard.core.pricing import american_greeks

    m = replace(MARKET, style="american")
    res = build_strategy("protective_put", quotes(), m, PARAMS, LOOSE)
    g = american_greeks("put", S0, 960.0, T, R, VOL, Q)
    for k in ("delta", "gamma", "vega", "theta", "rho"):
        assert res.analytics["greeks"][k] == pytest.approx(1000 * g[k], rel=1e-12)


@given(floor=st.floats(0.75, 0.97), beta=st.floats(0.3, 2.5), value=st.floats(2e5, 5e7),
       rate=st.floats(0.0, 0.08), qp=st.floats(0.0, 0.04), t=st.floats(0.03, 1.0))
@settings(max_examples=40, deadline=None)
def test_protective_put_guarantees_the_floor_before_premium(floor, beta, value, rate, qp, t) -> None:  # type: ignore[no-untyped-def]
    """Under the CAPM mapping, a put struck at or above the floor level on at least
    beta * V / (S * m) contracts keeps V(L) + payoff(L) >= floor for every final level L."""
    from floorguard.domain.hedging import size_contracts
    from floorguard.domain.strategies import hedged_value_curve

    strikes = np.arange(200.0, 1500.0, 5.0)
    rows = [{"strike": k, "kind": "put", "bid": 1.0, "ask": 1.1, "iv": 0.2, "open_interest": 100, "volume": 1}
            for k in strikes]
    m = MarketInputs("SPX", S0, rate, 0.015, EXP, t, 100.0, 0.05)
    n = size_contracts(beta * value, S0, 100.0, "up").contracts
    p = StrategyParams(floor_pct=floor, portfolio_value=value, beta=beta, contracts=n, rate=rate,
                       portfolio_dividend_yield=qp, index_dividend_yield=0.015, t_years=t, compounding="continuous")
    try:
        res = build_strategy("protective_put", pd.DataFrame(rows), m, p, LOOSE)
    except (QuoteRefusedError, ValidationError):
        return  # floor level outside the listed strikes: refused, not silently wrong
    levels = np.concatenate([np.linspace(0.0, 3 * S0, 3001), [res.put_leg.strike]])
    _, hedged = hedged_value_curve(res.legs, levels, p, m, premium_net=0.0)
    assert hedged.min() >= floor * value * (1 - 1e-9)


def test_strategy_score_matches_monte_carlo_within_3_se() -> None:
    from floorguard.domain.strategies import hedged_value_curve, strategy_score

    res = build_strategy("put_spread", quotes(), MARKET, PARAMS, LOOSE)
    sc = strategy_score(res.legs, PARAMS, MARKET, res.premium_net, 0.2)
    rng = np.random.default_rng(7)
    n = 400_000
    z = rng.standard_normal(n)
    lv = S0 * np.exp((R - Q - 0.02) * T + 0.2 * math.sqrt(T) * z)
    port, hedged = hedged_value_curve(res.legs, lv, PARAMS, MARKET, 0.0)
    f = 0.9 * 500_000
    for key, sample in (("expected_shortfall_unhedged", np.maximum(f - port, 0.0)),
                        ("expected_shortfall_hedged", np.maximum(f - hedged, 0.0))):
        se = sample.std(ddof=1) / math.sqrt(n)
        assert abs(sc[key] - sample.mean()) <= 3 * se + 1e-9, key
    assert sc["residual_risk"] == pytest.approx(hedged.std(ddof=1), rel=0.01)
    assert sc["score"] == pytest.approx((sc["shortfall_reduction"] - res.premium_net) / sc["residual_risk"])
    # no hedge: no reduction
    none = strategy_score([], PARAMS, MARKET, 0.0, 0.2)
    assert none["shortfall_reduction"] == 0.0 and none["expected_shortfall_unhedged"] > 0
