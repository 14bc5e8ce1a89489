"""Floor-to-strike (CAPM), notional, sizing, instrument choice and liquidity.

References
----------
Hull, J. C., *Options, Futures, and Other Derivatives*, 8th ed. (2012),
section 17.4 "Portfolio insurance" (16.4 in the 7th ed.):

* Example 17.1: beta 1.0, portfolio $500,000, index 1,000, floor $450,000 in
  3 months -> 5 put contracts (multiplier 100) with strike 900.
* Example 17.2 and Table 17.1: beta 2.0, r = 12 %/yr, dividend yield 4 %/yr on
  portfolio and index, index 1,000, 3 months, floor $450,000 of $500,000 ->
  10 contracts with strike 960; the table pairs index levels 1080, 1040, 1000,
  960, 920, 880 with portfolio values 570,000 ... 370,000.

Hull's table uses simple per-period rates (3 % and 1 % per quarter); the
mapping is exact arithmetic, so the tolerance is 1e-9 (relative).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floorguard.domain.hedging import (
    InstrumentCandidate,
    LiquidityLimits,
    capm_index_return_for_portfolio_return,
    capm_portfolio_return,
    check_liquidity,
    choose_instrument,
    floor_to_index_level,
    hedge_notional,
    select_listed_strike,
    select_liquid_strike,
    size_contracts,
)
from floorguard.exceptions import QuoteRefusedError, ValidationError

HULL_172 = dict(beta=2.0, rate=0.12, t_years=0.25, portfolio_dividend_yield=0.04, index_dividend_yield=0.04)


def test_hull_example_17_1_beta_one() -> None:
    m = floor_to_index_level(0.9, 1.0, 1000.0, 0.12, 0.25, 0.04, 0.04)
    assert m.target_level == pytest.approx(900.0, rel=1e-12)
    sz = size_contracts(hedge_notional(500_000, 1.0).notional, 1000.0, 100.0)
    assert sz.contracts == 5
    assert sz.over_hedge == pytest.approx(0.0, abs=1e-9)


def test_hull_example_17_2_beta_two_strike_960_and_10_contracts() -> None:
    m = floor_to_index_level(450_000 / 500_000, index_level=1000.0, **HULL_172)
    assert m.target_level == pytest.approx(960.0, rel=1e-12)
    assert m.index_return == pytest.approx(-0.04, abs=1e-12)
    hn = hedge_notional(500_000, 2.0, "beta_adjusted")
    assert hn.notional == 1_000_000
    assert size_contracts(hn.notional, 1000.0, 100.0).contracts == 10


@pytest.mark.parametrize(
    ("index_level", "portfolio_value"),
    [(1080, 570_000), (1040, 530_000), (1000, 490_000), (960, 450_000), (920, 410_000), (880, 370_000)],
)
def test_hull_table_17_1(index_level: float, portfolio_value: float) -> None:
    r = capm_portfolio_return(index_level / 1000 - 1, **HULL_172)
    assert 500_000 * (1 + r) == pytest.approx(portfolio_value, rel=1e-12)


def test_continuous_compounding_differs_slightly_and_inverts() -> None:
    simple = floor_to_index_level(0.9, 2.0, 1000, 0.12, 0.25, 0.04, 0.04, "simple").target_level
    cont = floor_to_index_level(0.9, 2.0, 1000, 0.12, 0.25, 0.04, 0.04, "continuous").target_level
    # hand: r=e^.03-1, q=e^.01-1; x = (-.1 - r + q)/2 + r - q
    r, q = math.expm1(0.03), math.expm1(0.01)
    assert cont == pytest.approx(1000 * (1 + (-0.1 - r + q) / 2 + r - q), rel=1e-12)
    assert abs(cont - simple) < 1.0


@given(
    x=st.floats(-0.5, 0.5), beta=st.floats(0.2, 3.0), r=st.floats(0, 0.1), t=st.floats(0.01, 2),
    qp=st.floats(0, 0.05), qm=st.floats(0, 0.05),
)
@settings(max_examples=80, deadline=None)
def test_capm_mapping_inverts(x: float, beta: float, r: float, t: float, qp: float, qm: float) -> None:
    rp = capm_portfolio_return(x, beta, r, t, qp, qm)
    assert capm_index_return_for_portfolio_return(rp, beta, r, t, qp, qm) == pytest.approx(x, abs=1e-9)


def test_floor_mapping_rejects_bad_beta_and_impossible_floor() -> None:
    with pytest.raises(ValidationError, match="beta"):
        floor_to_index_level(0.9, 0.0, 1000, 0.04, 0.1)
    with pytest.raises(ValidationError, match="beta"):
        floor_to_index_level(0.9, -1.0, 1000, 0.04, 0.1)
    with pytest.raises(ValidationError, match="floor_pct"):
        floor_to_index_level(0.1, 0.5, 1000, 0.0, 0.1)  # needs the index below zero
    with pytest.raises(ValidationError, match="t_years"):
        floor_to_index_level(0.9, 1.0, 1000, 0.04, 0.0)


def test_hedge_notional_modes() -> None:
    assert hedge_notional(1e6, 1.2, "full").notional == 1e6
    assert hedge_notional(1e6, 1.2, "beta_adjusted").notional == pytest.approx(1.2e6)
    assert hedge_notional(1e6, 1.2, "partial", 0.5).notional == pytest.approx(0.6e6)
    with pytest.raises(ValidationError, match="coverage"):
        hedge_notional(1e6, 1.2, "partial", 1.5)
    with pytest.raises(ValidationError, match="mode"):
        hedge_notional(1e6, 1.2, "half")  # type: ignore[arg-type]


def test_sizing_rounding_policies_by_hand() -> None:
    # 1,234,567 / (4500 * 100) = 2.7435 contracts
    up = size_contracts(1_234_567, 4500, 100, "up")
    down = size_contracts(1_234_567, 4500, 100, "down")
    near = size_contracts(1_234_567, 4500, 100, "nearest")
    assert (up.contracts, down.contracts, near.contracts) == (3, 2, 3)
    assert up.exact_contracts == pytest.approx(1_234_567 / 450_000, rel=1e-15)
    assert up.over_hedge == pytest.approx(3 * 450_000 - 1_234_567)
    assert down.over_hedge == pytest.approx(2 * 450_000 - 1_234_567)
    assert down.over_hedge_pct < 0 < up.over_hedge_pct
    with pytest.raises(ValidationError, match="0 contracts"):
        size_contracts(100_000, 4500, 100, "down")


def test_choose_instrument_least_granularity_error() -> None:
    # SPX 4500 (450,000 per contract), XSP 450 (45,000), SPY 450 (45,000)
    cands = [InstrumentCandidate("SPX", 4500, 100), InstrumentCandidate("XSP", 450, 100),
             InstrumentCandidate("SPY", 449, 100)]
    ch = choose_instrument(1_000_000, cands)
    # SPX: 3 -> 1,350,000 (+35%); XSP: 23 -> 1,035,000 (+3.5%); SPY: 23 -> 1,032,700 (+3.27%)
    assert ch.symbol == "SPY"
    assert ch.sizing.contracts == 23
    # exact multiple of SPX: 900,000 = 2 SPX contracts, ties with XSP's 20 -> larger contract wins
    ch2 = choose_instrument(900_000, cands[:2])
    assert ch2.symbol == "SPX" and ch2.sizing.contracts == 2
    fixed = choose_instrument(1_000_000, cands, fixed="spx")
    assert fixed.symbol == "SPX" and fixed.sizing.contracts == 3 and "fixed" in fixed.reason
    with pytest.raises(ValidationError, match="unknown instrument"):
        choose_instrument(1_000_000, cands, fixed="NDX")


def test_select_listed_strike_never_rounds_to_fifty() -> None:
    strikes = [950, 955, 960, 965, 970]
    assert select_listed_strike(960.0, strikes).exact
    c = select_listed_strike(957.3, strikes)
    assert c.strike == 960 and c.guaranteed and not c.exact and "957.3" in c.reason
    # a round-to-50 rule would have chosen 950, which does not guarantee the floor
    c2 = select_listed_strike(951.0, [900, 950, 1000, 952.5])
    assert c2.strike == 952.5
    below = select_listed_strike(990.0, strikes)
    assert below.strike == 970 and not below.guaranteed and "NOT" in below.reason
    call = select_listed_strike(957.3, strikes, "at_or_below")
    assert call.strike == 955 and call.guaranteed


def test_liquidity_check_by_hand() -> None:
    lim = LiquidityLimits(max_spread_pct=0.10, min_open_interest=100, min_volume=5)
    ok = check_liquidity(9.5, 10.5, 500, 10, lim)
    assert ok.ok and ok.spread_pct == pytest.approx(0.1)
    bad = check_liquidity(8.0, 12.0, 50, 0, lim)
    assert not bad.ok
    assert len(bad.reasons) == 3 and "spread 40.0%" in bad.reasons[0]
    assert not check_liquidity(0.0, 0.0, 1000, 1000, lim).ok


def test_select_liquid_strike_substitutes_and_explains() -> None:
    lim = LiquidityLimits(0.2, 10, 0)
    rows = [
        {"strike": 955.0, "bid": 10, "ask": 11, "open_interest": 100, "volume": 1},
        {"strike": 960.0, "bid": 10, "ask": 16, "open_interest": 100, "volume": 1},  # wide
        {"strike": 965.0, "bid": 12, "ask": 13, "open_interest": 2, "volume": 1},  # no OI
        {"strike": 970.0, "bid": 14, "ask": 15, "open_interest": 100, "volume": 1},
    ]
    choice, chk, rejected = select_liquid_strike(957.0, rows, lim)
    assert choice.strike == 970 and choice.guaranteed and chk.ok
    assert [r["strike"] for r in rejected] == [960.0, 965.0]
    assert "liquidity" in choice.reason and "970" in choice.reason
    with pytest.raises(QuoteRefusedError, match="no liquid strike"):
        select_liquid_strike(957.0, rows, lim, max_distance=0.005)


def test_unknown_open_interest_passes() -> None:
    lim = LiquidityLimits(0.5, 10, 5)
    assert check_liquidity(1.0, 1.1, float("nan"), None, lim).ok
