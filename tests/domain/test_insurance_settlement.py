"""Payoff and settlement (seed section 11, extended), policy draft JSON round trip.

Every section-11 formula is checked against numbers worked by hand in the
comments (exact arithmetic; tolerance 1e-9 absolute on dollars). Hull 8th ed.
Example 17.2 (section 17.4): with the index at 880 the 10 puts struck at 960
pay 80,000 and lift the 370,000 portfolio back to the 450,000 floor.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floorguard.domain._insurance_reference import settle_reference
from floorguard.domain.policy import HedgeLeg, PolicyDraft, PricingSource
from floorguard.domain.settlement import (
    SettlementTerms,
    hedge_payoff_curve,
    leg_intrinsic,
    settle,
    settle_policy,
    unwind_value,
)
from floorguard.exceptions import ValidationError

EXP = dt.date(2026, 3, 20)


def leg(kind: str, side: str, strike: float, n: int, mult: float = 100.0, price: float = 1.0) -> HedgeLeg:
    return HedgeLeg(kind, side, strike, n, EXP, mult, price, price * n * mult, price)  # type: ignore[arg-type]


def draft(legs: list[HedgeLeg], strategy: str = "protective_put", v0: float = 500_000.0) -> PolicyDraft:
    put = next((x for x in legs if x.kind == "put" and x.side == "long"), None)
    call = next((x for x in legs if x.kind == "call"), None)
    return PolicyDraft(
        portfolio_value=v0, beta=2.0, coverage_notional=1e6, floor_pct=0.9,
        start_utc=dt.datetime(2026, 1, 2, 15, tzinfo=dt.timezone.utc),
        end_utc=dt.datetime(2026, 3, 20, 21, tzinfo=dt.timezone.utc),
        strategy=strategy, index_symbol="SPX", put_leg=put, call_leg=call,
        premium_net=sum(x.sign * x.premium for x in legs), legs=legs, underlying_symbol="SPX",
        underlying_level=1000.0, expiry=EXP, contract_spec={"symbol": "SPX", "multiplier": 100},
        pricing_source=PricingSource("synthetic", "model surface", "2026-01-02", True),
        premium_net_mid=1.0, analytics={"breakeven_level": float("nan"), "greeks": {"delta": -0.5}},
        assumptions={"rate": 0.04}, warnings=["synthetic prices: estimates"], metadata={"k": [1, 2]},
    )


def test_hull_example_17_2_settles_to_the_floor() -> None:
    res = settle(500_000, 0.9, [leg("put", "long", 960, 10)], 370_000, 880)
    assert res.floor_value == 450_000
    assert res.shortfall == 80_000
    assert res.put_intrinsic == 80_000  # (960 - 880) * 100 * 10
    assert res.call_intrinsic == 0
    assert res.hedge_payoff == 80_000
    assert res.compensation == 80_000
    assert res.residual_loss == 0
    assert res.covered_pct == 1.0


def test_collar_subtracts_short_call_intrinsic() -> None:
    legs = [leg("put", "long", 4000, 3), leg("call", "short", 4700, 3)]
    up = settle(1_400_000, 0.9, legs, 1_500_000, 4800)
    # put 0; call (4800-4700)*100*3 = 30,000 owed -> hedge payoff -30,000; no shortfall
    assert up.put_intrinsic == 0 and up.call_intrinsic == 30_000
    assert up.hedge_payoff == -30_000 and up.shortfall == 0 and up.compensation == 0
    down = settle(1_400_000, 0.9, legs, 1_200_000, 3900)
    # floor 1,260,000; shortfall 60,000; put (4000-3900)*300 = 30,000
    assert down.shortfall == pytest.approx(60_000)
    assert down.put_intrinsic == 30_000 and down.compensation == 30_000
    assert down.residual_loss == pytest.approx(30_000)
    assert down.covered_pct == pytest.approx(0.5)
    # the worthless short call is +0.0, never -0.0 (which JSON prints as "-0.0")
    short_call = next(x for x in down.to_dict()["legs"] if x["kind"] == "call")
    assert short_call["intrinsic"] == 0.0 and math.copysign(1.0, short_call["intrinsic"]) == 1.0


def test_put_spread_subtracts_short_put() -> None:
    legs = [leg("put", "long", 4000, 2), leg("put", "short", 3600, 2)]
    r = settle(900_000, 0.9, legs, 600_000, 3000)
    # long (4000-3000)*200 = 200,000; short (3600-3000)*200 = 120,000; net 80,000
    assert r.put_intrinsic == 80_000 and r.hedge_payoff == 80_000
    assert r.shortfall == pytest.approx(210_000)  # 810,000 - 600,000
    assert r.compensation == 80_000
    assert [x["intrinsic"] for x in r.legs] == [200_000, -120_000]


def test_terms_coverage_deductible_cap_and_rules() -> None:
    legs = [leg("put", "long", 1000, 10)]
    # floor 900,000; final 800,000 -> shortfall 100,000; hedge pays (1000-850)*1000 = 150,000
    base = settle(1_000_000, 0.9, legs, 800_000, 850)
    assert base.compensation == 100_000  # min(shortfall, hedge)
    half = settle(1_000_000, 0.9, legs, 800_000, 850, SettlementTerms(coverage_ratio=0.5))
    assert half.covered_shortfall == 50_000 and half.compensation == 50_000 and half.coverage_ratio == 0.5
    ded = settle(1_000_000, 0.9, legs, 800_000, 850, SettlementTerms(deductible=20_000))
    assert ded.compensation == 80_000
    cap = settle(1_000_000, 0.9, legs, 800_000, 850, SettlementTerms(cap=30_000))
    assert cap.compensation == 30_000
    hp = settle(1_000_000, 0.9, legs, 800_000, 850, SettlementTerms(rule="hedge_payoff"))
    assert hp.compensation == 150_000
    # guarantee: pays the shortfall even when the hedge paid less (basis risk on the insurer)
    g = settle(1_000_000, 0.9, legs, 800_000, 990, SettlementTerms(rule="shortfall"))
    assert g.hedge_payoff == 10_000 and g.compensation == 100_000
    with pytest.raises(ValidationError, match="coverage_ratio"):
        SettlementTerms(coverage_ratio=0)
    with pytest.raises(ValidationError, match="final_portfolio_value"):
        settle(1_000_000, 0.9, legs, -1, 850)


def test_settle_policy_uses_draft_coverage_ratio() -> None:
    d = draft([leg("put", "long", 960, 10)])
    d2 = PolicyDraft.from_dict({**d.to_dict(), "coverage_ratio": 0.5})
    assert settle_policy(d2, 370_000, 880).compensation == 40_000
    assert settle_policy(d, 370_000, 880).compensation == 80_000


LEGSETS = st.sampled_from([
    [("put", "long", 1000.0)],
    [("put", "long", 1000.0), ("call", "short", 1100.0)],
    [("put", "long", 1000.0), ("put", "short", 900.0)],
    [("put", "long", 850.0)],
])


@given(legset=LEGSETS, n=st.integers(1, 50), v0=st.floats(1e4, 1e8), vt=st.floats(0, 2e8),
       lt=st.floats(0, 3000), cov=st.floats(0.01, 1.0))
@settings(max_examples=150, deadline=None)
def test_compensation_bounds(legset, n, v0, vt, lt, cov) -> None:  # type: ignore[no-untyped-def]
    legs = [leg(k, s, x, n) for k, s, x in legset]
    r = settle(v0, 0.9, legs, vt, lt, SettlementTerms(coverage_ratio=cov))
    assert 0.0 <= r.compensation <= r.shortfall + 1e-9
    assert r.compensation <= max(0.0, r.hedge_payoff) + 1e-9
    ref = settle_reference(v0, 0.9, [(x.kind, x.side, x.strike, x.contracts, x.multiplier) for x in legs], vt, lt, cov)
    assert r.compensation == pytest.approx(ref["compensation"], abs=1e-6)
    assert r.hedge_payoff == pytest.approx(ref["hedge_payoff"], abs=1e-6)


@given(legset=LEGSETS, n=st.integers(1, 50), lvls=st.lists(st.floats(0, 3000), min_size=2, max_size=20))
@settings(max_examples=100, deadline=None)
def test_payoff_monotone_in_final_index_level(legset, n, lvls) -> None:  # type: ignore[no-untyped-def]
    # a put-only hedge pays more the lower the index; a collar's net is also non-increasing
    legs = [leg(k, s, x, n) for k, s, x in legset]
    lv = np.sort(np.asarray(lvls))
    pay = hedge_payoff_curve(legs, lv)
    assert np.all(np.diff(pay) <= 1e-9)
    # and the curve agrees with the scalar leg intrinsic
    for x, p in zip(lv, pay, strict=True):
        assert p == pytest.approx(sum(leg_intrinsic(g, float(x)) for g in legs), abs=1e-6)


def test_compensation_monotone_in_index_for_fixed_portfolio() -> None:
    legs = [leg("put", "long", 1000, 10)]
    comps = [settle(1e6, 0.9, legs, 800_000, x).compensation for x in np.linspace(0, 1200, 61)]
    assert all(a >= b for a, b in zip(comps, comps[1:]))


def test_unwind_at_bid_and_ask() -> None:
    legs = [leg("put", "long", 4000, 3), leg("call", "short", 4700, 3)]
    q = {("put", 4000.0): (50.0, 52.0), ("call", 4700.0): (10.0, 11.0)}
    u = unwind_value(legs, q, premium_paid=10_000)
    # sell puts at 50: +15,000; buy back calls at 11: -3,300
    assert u.proceeds == pytest.approx(15_000 - 3_300)
    assert u.proceeds_mid == pytest.approx(15_300 - 3_150)
    assert u.slippage == pytest.approx(450)
    assert u.pnl == pytest.approx(11_700 - 10_000)
    with pytest.raises(ValidationError, match="no quote"):
        unwind_value(legs, {("put", 4000.0): (50.0, 52.0)})


def test_draft_json_round_trip() -> None:
    d = draft([leg("put", "long", 4000, 2), leg("put", "short", 3600, 2)], "put_spread")
    text = json.dumps(d.to_dict(), allow_nan=False)
    back = PolicyDraft.from_dict(json.loads(text))
    assert back.to_dict() == d.to_dict()
    assert back.legs[1].side == "short" and back.put_leg is not None and back.put_leg.strike == 4000
    assert back.call_leg is None
    env = PolicyDraft.from_dict({"ok": True, "draft": json.loads(text)})
    assert env.to_dict() == d.to_dict()
    for key in ("portfolio_value", "beta", "coverage_notional", "floor_pct", "start_utc", "end_utc",
                "strategy", "index_symbol", "put_leg", "call_leg", "premium_net", "metadata"):
        assert key in d.to_dict()
    for key in ("strike", "contracts", "side", "premium", "expiry"):
        assert key in d.to_dict()["put_leg"]


def test_draft_validation() -> None:
    with pytest.raises(ValidationError, match="strategy"):
        draft([leg("put", "long", 1000, 1)], "straddle")
    with pytest.raises(ValidationError, match="missing keys"):
        PolicyDraft.from_dict({"beta": 1})
    with pytest.raises(ValidationError, match="leg.side"):
        leg("put", "sideways", 1000, 1)


def test_vectorised_payoff_curve_matches_reference_twin() -> None:
    from floorguard.domain._insurance_reference import payoff_curve_reference

    spec = [("put", "long", 4000.0, 3, 100.0), ("put", "short", 3600.0, 3, 100.0), ("call", "short", 4400.0, 3, 100.0)]
    legs = [leg(k, s, x, n, m) for k, s, x, n, m in spec]
    lv = np.linspace(0, 6000, 301)
    np.testing.assert_allclose(hedge_payoff_curve(legs, lv), payoff_curve_reference(spec, lv.tolist()), atol=1e-9)


def test_mark_to_market_before_and_at_expiry() -> None:
    from floorguard.core.pricing import bsm_price
    from floorguard.domain.settlement import mark_to_market

    legs = [HedgeLeg("put", "long", 960, 10, EXP, 100.0, 20.0, 20_000.0, 19.5, iv=0.2),
            HedgeLeg("call", "short", 1040, 10, EXP, 100.0, 15.0, 15_000.0, 15.5, iv=0.18)]
    d = draft(legs, "collar")
    as_of = dt.datetime(2026, 2, 18, 21, tzinfo=dt.timezone.utc)  # 30 days before the 21:00 UTC expiry
    m = mark_to_market(d, as_of, 990.0, 0.04, 0.015, portfolio_value=480_000)
    t = 30 / 365
    assert m.t_years == pytest.approx(t, rel=1e-12)
    put = bsm_price("put", 990.0, 960.0, t, 0.04, 0.2, 0.015)
    call = bsm_price("call", 990.0, 1040.0, t, 0.04, 0.18, 0.015)
    assert m.hedge_value == pytest.approx(1000 * (put - call), rel=1e-12)
    assert m.intrinsic == 0.0 and m.time_value == pytest.approx(m.hedge_value)
    assert m.pnl == pytest.approx(m.hedge_value - d.premium_net)
    assert m.floor_gap == pytest.approx(480_000 - 450_000)
    # a flat vol overrides the legs' implied vols
    flat = mark_to_market(d, as_of, 990.0, 0.04, 0.015, vol=0.25)
    assert flat.hedge_value == pytest.approx(
        1000 * (bsm_price("put", 990.0, 960.0, t, 0.04, 0.25, 0.015) - bsm_price("call", 990.0, 1040.0, t, 0.04, 0.25, 0.015)))
    after = mark_to_market(d, dt.datetime(2026, 3, 21, tzinfo=dt.timezone.utc), 900.0, 0.04, 0.015)
    assert after.hedge_value == pytest.approx(60 * 1000) and after.time_value == 0.0
    # past the settlement the mark says so (never a silent intrinsic value); before it, no warning
    assert m.warnings == () and len(after.warnings) == 1 and "past its settlement" in after.warnings[0]
    assert "short call 1040" in after.warnings[0] and after.to_dict()["warnings"] == list(after.warnings)
    short_call = next(x for x in after.to_dict()["legs"] if x["kind"] == "call")
    assert short_call["value"] == 0.0 and math.copysign(1.0, short_call["value"]) == 1.0


@given(legset=LEGSETS, n=st.integers(1, 40), cov=st.floats(0.05, 1.0), ded=st.floats(0, 1e5),
       rule=st.sampled_from(["min", "hedge_payoff", "shortfall"]), seed=st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_settle_batch_matches_scalar_settle(legset, n, cov, ded, rule, seed) -> None:  # type: ignore[no-untyped-def]
    from floorguard.domain.settlement import settle_batch

    legs = [leg(k, s, x, n) for k, s, x in legset]
    rng = np.random.default_rng(seed)
    vt = rng.uniform(0, 2e6, 50)
    lt = rng.uniform(0, 2000, 50)
    terms = SettlementTerms(coverage_ratio=cov, rule=rule, deductible=ded, cap=5e5)
    b = settle_batch(1e6, 0.9, legs, vt, lt, terms)
    for i in range(vt.size):
        r = settle(1e6, 0.9, legs, vt[i], lt[i], terms)
        assert b.compensation[i] == pytest.approx(r.compensation, abs=1e-6)
        assert b.hedge_payoff[i] == pytest.approx(r.hedge_payoff, abs=1e-6)
        assert b.call_intrinsic[i] == pytest.approx(r.call_intrinsic, abs=1e-6)
        assert b.shortfall[i] == pytest.approx(r.shortfall, abs=1e-6)
    if rule == "min" and ded == 0:
        ref = [settle_reference(1e6, 0.9, [(x.kind, x.side, x.strike, x.contracts, x.multiplier) for x in legs],
                                a, c, cov)["compensation"] for a, c in zip(vt, lt, strict=True)]
        np.testing.assert_allclose(np.minimum(b.compensation, 5e5), np.minimum(ref, 5e5), atol=1e-6)
