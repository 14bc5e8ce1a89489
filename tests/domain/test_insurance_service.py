"""The full quote flow on the real CBOE chains (SPX 2022-02-04, SPY 2025-05-01 and
2025-09-03) and the bundled market data: valuation, betas, expiry, CAPM strike,
liquidity, strategy, draft JSON, settlement. Expectations are recomputed by hand
from the chain rows (exact; 1e-9 relative)."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from floorguard.config import Settings
from floorguard.domain.hedging import floor_to_index_level
from floorguard.domain.policy import PolicyDraft
from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import QuoteRefusedError, ValidationError
from floorguard.services.context import AppContext
from floorguard.services.insurance import QuoteRequest, multi_index_for_portfolio, quote_policy, settle_draft

pytestmark = pytest.mark.shared_data

PORTFOLIO = """symbol,quantity,price,asset_type,beta,sector
AAPL,3000,,equity,,
MSFT,1500,,equity,,
JPM,2500,,equity,,
XOM,-1000,,equity,,
CUSTOMFUND,20000,95.5,custom,0.9,
PRIVCO,1,250000,private,0.8,
"""


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> AppContext:
    home = tmp_path_factory.mktemp("home")
    c = AppContext(Settings(env="test", data_home=home))
    yield c
    c.close()


@pytest.fixture(scope="module")
def portfolio_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pf") / "p.csv"
    p.write_text(PORTFOLIO)
    return p


def _chain_rows(chain_file: Path, expiry: str, kind: str) -> pd.DataFrame:
    from floorguard.marketdata.cboe import read_cboe_csv

    q = read_cboe_csv(chain_file).quotes
    return q[(q.expiry == pd.Timestamp(expiry)) & (q.kind == kind)]


def test_protective_put_on_real_spx_chain(ctx: AppContext, portfolio_file: Path, spx_chain_file: Path) -> None:
    d = quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 30, "protective_put", chain_path=spx_chain_file))
    assert d.pricing_source is not None and not d.pricing_source.synthetic
    assert d.pricing_source.kind == "chain" and "spx_2022-02-04" in d.pricing_source.source
    # valuation: private asset excluded and reported; custom instrument priced by the user
    val = d.metadata["valuation"]
    assert [e["symbol"] for e in val["excluded"]] == ["PRIVCO"]
    assert {p["symbol"]: p["price_source"] for p in val["positions"]}["CUSTOMFUND"] == "user"
    assert {p["symbol"]: p["price_source"] for p in val["positions"]}["AAPL"] == "bundled"
    # beta: exposure-weighted, regression for stocks (provenance), provided for the custom fund
    pos = d.metadata["beta"]["positions"]
    assert pos["AAPL"]["observations"] > 500
    # the multi-factor regression runs on the risk service's long-short factors (ETF minus market),
    # so the hedge uses exactly the market beta of the risk report (same window, same hybrid path)
    assert d.metadata["beta"]["history"]["factors"] == ["market", "size", "value", "momentum", "quality",
                                                        "low_volatility"]
    from floorguard.services.risk import RiskMetricsService

    rb = RiskMetricsService(ctx).betas(Portfolio("aapl", (Position("AAPL", 1.0),)))
    ref = {r["symbol"]: r for r in rb["positions"]}["AAPL"]
    assert pos["AAPL"]["source"] == ref["path"] == "multivariate"
    assert pos["AAPL"]["beta"] == pytest.approx(ref["beta"], abs=1e-12)
    assert pos["CUSTOMFUND"]["source"] == "provided"
    assert d.beta == pytest.approx(sum(p["weight"] * p["beta"] for p in pos.values()), rel=1e-12)
    # expiry: the first listed on/after 2022-02-05 (New York) + 30 days is 2022-03-07, whose SPXW
    # puts near the floor have no open interest; the engine moves to the next covering expiry and says why
    assert d.expiry == dt.date(2022, 3, 11)
    assert any("2022-03-07" in w and "open interest 0" in w for w in d.warnings)
    assert d.end_utc == dt.datetime(2022, 3, 11, 21, tzinfo=dt.timezone.utc)  # SPXW PM settlement, 16:00 ET
    # strike: the nearest listed liquid strike at or above the CAPM level
    a = d.assumptions
    m = floor_to_index_level(0.9, d.beta, d.underlying_level, a["rate"], a["t_years"],
                             a["portfolio_dividend_yield"], a["index_dividend_yield"], "continuous")
    put = d.put_leg
    assert put is not None and put.strike >= m.target_level
    rows = _chain_rows(spx_chain_file, "2022-03-11", "put")
    rows = rows[rows.root == d.metadata["root"]]
    listed = sorted(rows.strike)
    assert put.strike == min(k for k in listed if k >= m.target_level) or "liquidity" in put.strike_reason
    row = rows[rows.strike == put.strike].iloc[0]
    assert put.price == row.ask and put.premium == pytest.approx(row.ask * 100 * put.contracts)
    assert row.open_interest >= ctx.settings.min_open_interest
    # sizing: contracts = ceil(beta * V / (S * 100))
    assert put.contracts == math.ceil(d.beta * d.portfolio_value / (d.underlying_level * 100) - 1e-9)
    # JSON round trip
    assert PolicyDraft.from_dict(json.loads(json.dumps(d.to_dict()))).to_dict() == d.to_dict()


@pytest.mark.parametrize("strategy", ["collar", "put_spread", "tail_hedge"])
def test_strategies_on_real_spy_chain(ctx: AppContext, portfolio_file: Path, spy_chain_file_may: Path,
                                      strategy: str) -> None:
    req = QuoteRequest(0.9, 25, strategy, chain_path=spy_chain_file_may,
                       tail_budget_pct=0.003, **({"cap": 0.06} if strategy == "collar" else {}))
    d = quote_policy(ctx, portfolio_file, req)
    assert d.underlying_symbol == "SPY" and d.expiry is not None and d.expiry == dt.date(2025, 5, 30)
    assert any("American" in w for w in d.warnings)
    assert any(w.startswith("stale prices: AAPL") and "2022-12-28" in w for w in d.warnings)
    net = sum(leg.sign * leg.premium for leg in d.legs)
    assert d.premium_net == pytest.approx(net)
    if strategy == "collar":
        assert d.call_leg is not None and d.call_leg.side == "short"
        assert d.call_leg.strike >= d.analytics["cap_level"]
        assert d.call_leg.price == d.call_leg.bid
    if strategy == "put_spread":
        short = [leg for leg in d.legs if leg.side == "short"][0]
        assert short.kind == "put" and short.strike <= d.analytics["lower_level"] < d.put_leg.strike
    if strategy == "tail_hedge":
        assert d.put_leg.premium <= 0.003 * d.portfolio_value + 1e-9
        assert 0 < d.analytics["hedge_ratio"] <= 1.1
    # settlement at a 20 % fall of SPY, portfolio down per its beta
    s0 = d.underlying_level
    res = settle_draft(d, d.portfolio_value * (1 - 0.2 * d.beta), 0.8 * s0)
    assert res.shortfall > 0 and 0 <= res.compensation <= min(res.shortfall, max(res.hedge_payoff, 0)) + 1e-9


def test_zero_cost_collar_on_real_spy_chain(ctx: AppContext, portfolio_file: Path, spy_chain_file_sep: Path) -> None:
    d = quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 45, "collar", chain_path=spy_chain_file_sep))
    put, call = d.put_leg, d.call_leg
    assert put is not None and call is not None
    calls = _chain_rows(spy_chain_file_sep, d.expiry.isoformat(), "call")
    calls = calls[(calls.strike > d.underlying_level) & (calls.bid > 0) & (calls.open_interest >= 10)
                  & (((calls.ask - calls.bid) / ((calls.ask + calls.bid) / 2) <= 0.25)
                     | (calls.ask - calls.bid <= 0.02 + 1e-9))]
    # never more short calls than the exposure covers; each call's bid finances n_put / n_call puts
    assert call.contracts == min(put.contracts, math.floor(d.beta * d.portfolio_value / (d.underlying_level * 100)))
    target = put.ask * put.contracts / call.contracts
    best = (target - calls.bid).abs().min()
    assert abs(target - call.bid) == pytest.approx(best)
    assert d.analytics["zero_cost_net_per_unit"] == pytest.approx(target - call.bid)
    assert d.premium_net == pytest.approx((put.ask * put.contracts - call.bid * call.contracts) * 100)


def test_missing_price_refused_listing_symbols(ctx: AppContext, spy_chain_file_may: Path) -> None:
    positions = [Position("AAPL", 100), Position("NOPE1", 10), Position("NOPE2", 5)]
    with pytest.raises(QuoteRefusedError, match="NOPE1, NOPE2"):
        quote_policy(ctx, positions, QuoteRequest(0.9, 20, chain_path=spy_chain_file_may))


def test_request_validation(ctx: AppContext, portfolio_file: Path) -> None:
    with pytest.raises(ValidationError) as err:
        quote_policy(ctx, portfolio_file, QuoteRequest(1.2, 0, "straddle", cap=0.05))
    fields = {e.field for e in err.value.errors}
    assert {"floor_pct", "term_days", "strategy", "cap"} <= fields


def test_instrument_must_match_chain(ctx: AppContext, portfolio_file: Path, spy_chain_file_may: Path) -> None:
    with pytest.raises(ValidationError, match="chain is on SPY"):
        quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 20, instrument="SPX", chain_path=spy_chain_file_may))


def test_beta_override(ctx: AppContext, portfolio_file: Path, spy_chain_file_may: Path) -> None:
    d = quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 20, beta=1.5, chain_path=spy_chain_file_may))
    assert d.beta == 1.5 and d.metadata["beta"]["beta_source"] == "provided"


def test_multi_index_on_bundled_history(ctx: AppContext, portfolio_file: Path) -> None:
    res = multi_index_for_portfolio(ctx, portfolio_file, ("SPX", "IXIC"), 30)
    assert set(res.ratios) == {"SPX", "IXIC"} and all(v >= 0 for v in res.ratios.values())
    assert 0.5 < res.r_squared < 1 and res.basis_risk > 0
    assert res.residual_vol <= min(s["residual_vol"] for s in res.single_index.values()) + 1e-12
    assert any("CUSTOMFUND" in w for w in res.warnings)


def test_immediate_unwind_costs_the_spread(ctx: AppContext, portfolio_file: Path, spy_chain_file_sep: Path) -> None:
    from floorguard.services.insurance import mark_draft, unwind_draft

    d = quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 45, "collar", cap=0.05, chain_path=spy_chain_file_sep))
    u = unwind_draft(d, spy_chain_file_sep)
    spread_cost = sum((leg.ask - leg.bid) * leg.contracts * leg.multiplier for leg in d.legs)
    assert u.pnl == pytest.approx(-spread_cost, abs=1e-9)
    assert u.proceeds == pytest.approx(sum(leg.sign * (leg.bid if leg.side == "long" else leg.ask)
                                           * leg.contracts * leg.multiplier for leg in d.legs))
    # SPY is American: marking at the quote with the (American) vol implied from each leg's mid
    # reproduces the mid premium (round trip through the pricing engine, 1e-6 relative)
    from floorguard.core.pricing import implied_vol
    from floorguard.domain.settlement import mark_to_market

    a = d.assumptions
    t = d.legs[0].expiry
    ivs = {}
    m0 = mark_draft(ctx, d, d.underlying_level, as_of=d.start_utc)
    for leg, row in zip(d.legs, m0.legs, strict=True):
        ivs[leg.strike] = implied_vol(leg.mid, leg.kind, d.underlying_level, leg.strike, row["t_years"],
                                      a["rate"], a["index_dividend_yield"], style="american")
    m = mark_to_market(d, d.start_utc, d.underlying_level, a["rate"], a["index_dividend_yield"],
                       vol=lambda k, _t: ivs[k])
    assert t == d.expiry
    assert m.hedge_value == pytest.approx(d.premium_net_mid, rel=1e-6)
    assert m.model.startswith("American")
    # with the vendor IVs (CBOE's own rate/dividend/day-count conventions) each leg is within 10 % of its mid
    for leg, row in zip(d.legs, m0.legs, strict=True):
        assert row["unit_value"] == pytest.approx(leg.mid, rel=0.10)
    with pytest.raises(ValidationError, match="chain is on SPY"):
        unwind_draft(replace(d, underlying_symbol="SPX"), spy_chain_file_sep)


AS_OF = dt.datetime(2025, 6, 2, 15, 0, tzinfo=dt.timezone.utc)  # a Monday, 11:00 New York


def test_synthetic_quote_is_labelled_and_listed(ctx: AppContext, portfolio_file: Path) -> None:
    from floorguard.core.pricing import bsm_price
    from floorguard.domain.contracts import get_contract_spec, listed_expiries

    req = QuoteRequest(0.9, 30, "protective_put", instrument="SPX", index_level=5900.0, vol=0.18, as_of=AS_OF)
    d = quote_policy(ctx, portfolio_file, req)
    assert d.pricing_source is not None and d.pricing_source.synthetic and d.pricing_source.kind == "synthetic"
    assert d.warnings[0].startswith("SYNTHETIC")
    assert "ATM vol 0.1800" in d.pricing_source.source
    assert d.metadata["instrument"]["reason"] == "fixed by the user"
    assert d.contract_spec["symbol"] == "SPXW"
    # expiry: the first SPXW expiry on or after 2025-07-02
    exp = [e for e in listed_expiries(get_contract_spec("SPXW"), dt.date(2025, 6, 2), dt.date(2025, 8, 1))
           if e >= dt.date(2025, 7, 2)]
    assert d.expiry == min(exp)
    put = d.put_leg
    assert put is not None and put.strike >= d.analytics["floor_level"]
    assert put.strike % 5 == 0  # SPX strikes near the money are listed every 5 points
    # the mid is the model price at the leg's surface vol within half the spread plus a tick
    t = d.assumptions["t_years"]
    model = bsm_price("put", 5900.0, put.strike, t, d.assumptions["rate"], put.iv, d.assumptions["index_dividend_yield"])
    assert abs(model - put.mid) <= 0.5 * (put.ask - put.bid) + 0.10
    assert put.iv > 0.18  # the surface's put skew raises the vol below the money


def test_instrument_choice_least_granularity(ctx: AppContext, portfolio_file: Path) -> None:
    d = quote_policy(ctx, portfolio_file, QuoteRequest(0.9, 30, index_level=5900.0, vol=0.2, as_of=AS_OF))
    cands = d.metadata["instrument"]["candidates"]
    assert set(cands) == {"SPX", "XSP", "SPY"}
    errs = {k: abs(v["over_hedge_pct"]) for k, v in cands.items()}
    assert errs[d.underlying_symbol] == pytest.approx(min(errs.values()))
    # hand: target = beta * V; SPX contract 590,000, XSP and SPY 59,000 (SPY ~ SPX / 10)
    target = d.beta * d.portfolio_value
    assert cands["SPX"]["contracts"] == math.ceil(target / 590_000)
    assert cands["XSP"]["contracts"] == math.ceil(target / 59_000)
