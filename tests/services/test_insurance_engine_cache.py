"""The insurance engine's per-context caches change its speed, never its drafts.

A new portfolio on known symbols reuses, from ``ctx.resources``: the last
closes, the VIX look-up, the GARCH fit, the listed-expiry table and the priced
synthetic expiries. These tests check that

* a draft quoted on a warm context (after other portfolios, floors, terms and
  strategies) equals the draft quoted on a cold context, exactly;
* the keys follow their inputs (another term is another expiry, another quote
  time another priced chain, another horizon reuses the one GARCH fit);
* the fast pieces agree with their references: the one-expiry synthetic chain
  with the full chain's slice, the listing cut at a horizon with the listing
  up to it, ``synthetic_expiries`` with the chain's expiries, and the
  strategies' records with ``DataFrame.to_dict(orient="records")``;
* the vectorised records equal their reference on odd tables, a strategy built
  on the shared read-only records (``quote_rows``, cached with the priced
  expiry) equals the one built on the table, the engine's drafts' one-pass
  ``to_dict`` equals the reference, and the listed expiries are shared per
  quote time and horizon.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from floorguard.domain.portfolio import Position

SYMS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
        "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM")
#: VIX is current at this date (bundled data end 2022): the VIX path
AS_OF = dt.datetime(2022, 6, 1, 19, 30, 5, tzinfo=dt.UTC)
#: VIX is stale here: the GARCH path
LATE = dt.datetime(2026, 3, 4, 15, 0, 0, tzinfo=dt.UTC)


def _positions(symbols: tuple[str, ...], step: int) -> list[Position]:
    return [Position(s, 20 + 3 * i + step) for i, s in enumerate(symbols)]


def _draft(ctx: Any, positions: list[Position], **kw: Any) -> dict[str, Any]:
    from floorguard.services.insurance import QuoteRequest, quote_policy

    args = {"floor_pct": 0.9, "term_days": 30, "strategy": "protective_put", "index": "SPX", "as_of": AS_OF, **kw}
    return quote_policy(ctx, positions, QuoteRequest(**args)).to_dict()


def _cold(settings: Any, positions: list[Position], **kw: Any) -> dict[str, Any]:
    from floorguard.services.context import AppContext

    fresh = AppContext(settings)
    try:
        return _draft(fresh, positions, **kw)
    finally:
        fresh.close()


def _warm_up(ctx: Any, symbols: tuple[str, ...] = SYMS, as_of: dt.datetime = AS_OF) -> None:
    for step, (floor, term, strategy) in enumerate([(0.9, 30, "protective_put"), (0.85, 45, "collar"),
                                                    (0.95, 14, "put_spread"), (0.9, 30, "collar")]):
        _draft(ctx, _positions(symbols, 100 + step), floor_pct=floor, term_days=term, strategy=strategy,
               as_of=as_of)


@pytest.mark.parametrize("strategy", ["protective_put", "collar", "put_spread"])
def test_warm_draft_equals_cold_draft(svc_ctx: Any, svc_settings: Any, strategy: str) -> None:
    _warm_up(svc_ctx)
    assert svc_ctx.resources["insurance.synthetic_expiry"].hits > 0  # the warm-up reused priced expiries
    for positions, kw in [
        (_positions(SYMS, 7), {}),  # new quantities
        (_positions(SYMS, 11), {"floor_pct": 0.87, "term_days": 33}),  # new quantities, floor and term
        (_positions(SYMS, 13), {"as_of": AS_OF + dt.timedelta(seconds=1)}),  # another quote time
    ]:
        warm = _draft(svc_ctx, positions, strategy=strategy, **kw)
        assert warm == _cold(svc_settings, positions, strategy=strategy, **kw)


def test_new_symbols_after_warm_up_and_the_garch_path(svc_ctx: Any, svc_settings: Any) -> None:
    _warm_up(svc_ctx, SYMS[:8], as_of=LATE)
    fits = svc_ctx.resources["garch_fit"]
    assert (fits.hits, fits.misses) == (3, 1)  # one fit for the four quotes on three horizons
    unseen = (*SYMS[8:], "MTUM")
    for strategy in ("protective_put", "collar"):
        warm = _draft(svc_ctx, _positions(unseen, 5), strategy=strategy, as_of=LATE, term_days=60)
        cold = _cold(svc_settings, _positions(unseen, 5), strategy=strategy, as_of=LATE, term_days=60)
        assert warm == cold
        assert "GARCH(1,1)" in warm["assumptions"]["volatility"]


def test_keys_follow_the_term_and_the_quote_time(svc_ctx: Any) -> None:
    pos = _positions(SYMS, 1)
    a = _draft(svc_ctx, pos)
    priced = svc_ctx.resources["insurance.synthetic_expiry"]
    tables = svc_ctx.resources["insurance.expiry_table"]
    assert (priced.misses, tables.misses) == (1, 1)
    assert _draft(svc_ctx, pos) == a and priced.hits == 1
    b = _draft(svc_ctx, pos, term_days=60)  # another term: another expiry and price
    assert b["expiry"] > a["expiry"] and b["put_leg"]["price"] > a["put_leg"]["price"]
    assert b["assumptions"]["t_years"] > a["assumptions"]["t_years"]
    assert priced.misses == 2 and tables.misses == 1  # the day's listing serves every horizon
    c = _draft(svc_ctx, pos, as_of=AS_OF + dt.timedelta(minutes=10))  # same expiry, later: re-priced
    assert c["expiry"] == a["expiry"] and priced.misses == 3
    assert c["assumptions"]["t_years"] < a["assumptions"]["t_years"]
    assert c["put_leg"]["price"] != a["put_leg"]["price"] or c["put_leg"]["iv"] != a["put_leg"]["iv"]
    _draft(svc_ctx, pos, as_of=AS_OF + dt.timedelta(days=1))  # another day: another listing
    assert tables.misses == 2


def test_cached_quotes_are_not_modified_by_a_quote(svc_ctx: Any) -> None:
    pos = _positions(SYMS, 2)
    _draft(svc_ctx, pos, strategy="collar")
    cache = svc_ctx.resources["insurance.synthetic_expiry"]
    ((_, (quotes, *_)),) = [(k, v) for k, (_, v) in cache._done.items()]  # noqa: SLF001
    before = quotes.copy()
    _draft(svc_ctx, _positions(SYMS, 3), strategy="collar")
    _draft(svc_ctx, _positions(SYMS, 4), strategy="protective_put")
    pd.testing.assert_frame_equal(quotes, before)


# --------------------------------------------------------------------------- references


def _spec(name: str) -> Any:
    from floorguard.domain.contracts import get_contract_spec

    return get_contract_spec(name)


@pytest.mark.parametrize(("name", "as_of", "horizon"), [
    ("SPXW", pd.Timestamp("2022-06-01 19:30:05", tz="UTC"), 90),
    ("SPXW", pd.Timestamp("2022-06-04 12:00:00", tz="UTC"), 400),  # a Saturday: valued at Friday's close
    ("XSP", pd.Timestamp("2026-03-04 15:00:00", tz="UTC"), 120),
    ("SPY", pd.Timestamp("2022-12-23 14:00:07.123456", tz="UTC"), 70),
])
def test_one_expiry_synthetic_chain_equals_the_full_chain_slice(name: str, as_of: pd.Timestamp,
                                                                 horizon: int) -> None:
    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import synthetic_chain, synthetic_expiries
    from floorguard.services.insurance import _chain_expiry

    spec = _spec(name)
    level = {"SPXW": 4101.23, "XSP": 410.123, "SPY": 409.87}[name]
    surface = ModelSurface(atm_vol=0.2137)
    full = synthetic_chain(spec, level, as_of, surface, 0.031, 0.014, horizon_days=horizon)
    assert synthetic_expiries(spec, as_of, horizon_days=horizon) == full.expiries()
    picks = full.expiries()
    for expiry in [picks[0], picks[len(picks) // 2], picks[-1]]:
        ref = _chain_expiry(full, expiry)
        for h in (horizon, max(1, (expiry - as_of.tz_convert(spec.timezone).date()).days)):
            one = synthetic_chain(spec, level, as_of, surface, 0.031, 0.014, horizon_days=h, expiries=[expiry])
            got = _chain_expiry(one, expiry)
            pd.testing.assert_frame_equal(got[0], ref[0], check_exact=True)
            assert got[1:] == ref[1:]


def test_listing_cut_at_a_horizon_equals_the_listing_to_it(svc_ctx: Any) -> None:
    from floorguard.domain.contracts import listed_expiry_table
    from floorguard.services.insurance import _cached_listing

    listing = _cached_listing(svc_ctx)
    for name in ("SPXW", "XSP", "SPY"):
        spec = _spec(name)
        for start in (dt.date(2022, 6, 1), dt.date(2022, 12, 23), dt.date(2026, 3, 4)):
            for days in (1, 7, 31, 61, 90, 95, 400, 1155, 1200):
                end = start + dt.timedelta(days=days)
                pd.testing.assert_frame_equal(listing(spec, start, end, start),
                                              listed_expiry_table(spec, start, end, as_of=start),
                                              check_exact=True)
    assert len(svc_ctx.resources["insurance.expiry_table"]) == 9


def test_strategy_records_equal_pandas_records() -> None:
    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import synthetic_chain
    from floorguard.domain.strategies import _rows

    chain = synthetic_chain(_spec("SPXW"), 4000.0, pd.Timestamp("2022-06-01 19:30", tz="UTC"),
                            ModelSurface(atm_vol=0.2), 0.03, 0.015, horizon_days=20)
    q = chain.quotes.copy()
    q.loc[3, "strike"] = np.nan  # dropped by both
    q.loc[5, "kind"] = " PUT"  # kept as a put by neither the reference nor the fast path (strip is not done)
    for kind in ("put", "call"):
        sub = q[q["kind"].astype(str).str.lower() == kind]
        ref = [r for r in sub.to_dict(orient="records") if np.isfinite(float(r["strike"])) and r["strike"] > 0]
        ref.sort(key=lambda r: float(r["strike"]))
        got = _rows(q, kind)
        assert len(got) == len(ref) > 10
        for g, r in zip(got, ref, strict=True):
            assert list(g) == list(r)
            assert all(type(g[k]) is type(r[k]) for k in g)
            assert all(g[k] == r[k] or (g[k] != g[k] and r[k] != r[k]) for k in g)


def test_expiry_root_time_table_equals_the_pandas_group_by() -> None:
    from floorguard.domain.chains import _max_t_by_expiry_root

    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame({
        "expiry": pd.to_datetime(rng.choice(["2022-06-03", "2022-06-17", "2022-07-15", "2022-06-10"], n)),
        "root": rng.choice(["SPX", "SPXW", ""], n),
        "t": rng.uniform(0.0, 0.2, n),
    })
    frame.loc[rng.choice(n, 30, replace=False), "t"] = np.nan
    frame.loc[(frame["expiry"] == "2022-07-15") & (frame["root"] == "SPX"), "t"] = np.nan  # a NaN-only group
    grouped = frame.groupby(["expiry", "root"], sort=False)["t"].max()
    ref: dict[pd.Timestamp, dict[str, float]] = {}
    for (e, r), t in grouped.items():
        ref.setdefault(pd.Timestamp(e), {})[str(r)] = float(t)
    got = _max_t_by_expiry_root(frame["expiry"].tolist(), frame["root"].tolist(), frame["t"].tolist())
    assert list(got) == list(ref)
    for e in ref:
        assert list(got[e]) == list(ref[e])
        assert all(got[e][r] == ref[e][r] or (np.isnan(got[e][r]) and np.isnan(ref[e][r])) for r in ref[e])
    assert any(np.isnan(v) for d in got.values() for v in d.values())


@pytest.mark.parametrize("model", ["garch", "gjr"])
def test_garch_term_vols_equal_forecast_vol_at_every_horizon(model: str) -> None:
    from floorguard.core.forecast import fit_garch, forecast_vol, garch_term_vols
    from floorguard.services.insurance import GARCH_MAX_HORIZON

    returns = np.random.default_rng(4).standard_t(5, 1500) * 0.011
    fit = fit_garch(returns, model=model)
    terms = garch_term_vols(fit, GARCH_MAX_HORIZON)
    assert terms.shape == (756,) and GARCH_MAX_HORIZON == round(1095 * 252 / 365)
    for h in (1, 2, 10, 21, 22, 41, 63, 252, 500, 755, 756):
        assert terms[h - 1] == forecast_vol(fit, h, n_sims=100, seed=0).term_vol_annual[-1]
    assert np.all(np.diff(terms) != 0)  # the horizons are not all one number


# --------------------------------------------------------------------------- records and drafts


def _expiry_quotes() -> pd.DataFrame:
    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import synthetic_chain
    from floorguard.services.insurance import _chain_expiry

    expiry = dt.date(2022, 7, 1)
    chain = synthetic_chain(_spec("SPXW"), 4000.0, pd.Timestamp("2022-06-01 19:30", tz="UTC"),
                            ModelSurface(atm_vol=0.2), 0.03, 0.015, horizon_days=40, expiries=[expiry])
    return _chain_expiry(chain, expiry)[0]


def _frames() -> list[pd.DataFrame]:
    """Quote tables the fast records take (and some they leave to the reference)."""
    q = _expiry_quotes()
    rng = np.random.default_rng(2)
    shuffled = q.sample(frac=1.0, random_state=3).reset_index(drop=True)
    obj = shuffled.astype({"kind": object, "symbol": object, "root": object})
    ints = obj.copy()
    ints["strike"] = ints["strike"].round().astype(np.int64)
    holes = obj.copy()
    holes.loc[rng.choice(len(holes), 12, replace=False), "strike"] = np.nan
    holes.loc[[0, 1], "strike"] = [-5.0, 0.0]
    again = obj.iloc[:40].assign(bid=obj["bid"].iloc[:40] + 0.05)
    dup = pd.concat([obj.iloc[:40], again], ignore_index=True)  # repeated strikes: a stable sort keeps the order
    extra = obj.copy()
    extra["stamp"] = pd.Timestamp("2022-06-01 19:30", tz="UTC")
    extra["oi"] = pd.array(rng.integers(0, 50, len(extra)), dtype="Int64")
    extra["flag"] = rng.random(len(extra)) > 0.5
    odd_kinds = obj.copy()
    odd_kinds.loc[[2, 3], "kind"] = ["PUT", "Call"]  # the reference path (lower-cased there)
    nan_kind = obj.copy()
    nan_kind.loc[4, "kind"] = np.nan
    cat = obj.astype({"kind": "category"})
    text_strike = obj.astype({"strike": str})
    return [q, shuffled, obj, ints, holes, dup, extra, odd_kinds, nan_kind, cat, text_strike]


@pytest.mark.parametrize("case", range(11))
def test_fast_records_equal_the_reference(case: int) -> None:
    from floorguard.domain.strategies import STRATEGY_COLUMNS, _rows, _rows_reference, quote_rows

    q = _frames()[case]
    for kind in ("put", "call"):
        got, ref = _rows(q, kind), _rows_reference(q, kind)
        assert len(got) == len(ref) > 10
        for g, r in zip(got, ref, strict=True):
            assert list(g) == list(r)
            assert all(type(g[k]) is type(r[k]) for k in g)
            assert all(g[k] == r[k] or (g[k] != g[k] and r[k] != r[k]) for k in g)
    rows = quote_rows(q)
    for got_rows, kind in ((rows.puts, "put"), (rows.calls, "call")):
        ref = [{c: r[c] for c in r if c in STRATEGY_COLUMNS} for r in _rows_reference(q, kind)]
        assert len(got_rows) == len(ref) and set(ref[0]) == set(STRATEGY_COLUMNS) & set(q.columns)
        assert all(list(g) == list(r) and all(type(g[k]) is type(r[k]) for k in r)
                   and all(g[k] == r[k] or (g[k] != g[k] and r[k] != r[k]) for k in r)
                   for g, r in zip(got_rows, ref, strict=True))
    if case == 0:  # numbers and text only: the cached records are not tracked by the garbage collector
        gc.collect()
        assert not any(gc.is_tracked(r) for r in rows.puts + rows.calls)


@pytest.mark.parametrize(("strategy", "extra"), [("protective_put", {}), ("collar", {}), ("collar", {"cap": 0.04}),
                                                 ("put_spread", {}), ("tail_hedge", {"tail_budget_pct": 0.01})])
def test_strategy_on_records_equals_strategy_on_the_table(strategy: str, extra: dict[str, Any]) -> None:
    from floorguard.domain.hedging import LiquidityLimits
    from floorguard.domain.strategies import MarketInputs, StrategyParams, build_strategy, quote_rows

    q = _expiry_quotes()
    market = MarketInputs("SPXW", 4000.0, 0.03, 0.015, dt.date(2022, 7, 1), 30 / 365, 100.0, 0.05)
    for floor, contracts in ((0.9, 4), (0.85, 9), (0.95, 2)):
        params = StrategyParams(floor_pct=floor, portfolio_value=contracts * 4000.0 * 100 / 1.1, beta=1.1,
                                contracts=contracts, rate=0.03, portfolio_dividend_yield=0.01,
                                index_dividend_yield=0.015, t_years=30 / 365, **extra)
        a = build_strategy(strategy, q, market, params, LiquidityLimits())
        rows = quote_rows(q)
        before = json.dumps([rows.puts, rows.calls])
        rows = quote_rows(q)
        b = build_strategy(strategy, rows, market, params, LiquidityLimits())
        assert (rows._calls is None) == (strategy != "collar")  # noqa: SLF001 - the calls built when read
        assert json.dumps([rows.puts, rows.calls]) == before  # the shared records are only read
        assert [leg.to_dict() for leg in a.legs] == [leg.to_dict() for leg in b.legs]
        assert (a.premium_net, a.premium_net_mid, a.warnings) == (b.premium_net, b.premium_net_mid, b.warnings)
        assert json.dumps(a.analytics, default=str) == json.dumps(b.analytics, default=str)
        assert json.dumps({k: v.to_dict() for k, v in a.strike_choices.items()}) == json.dumps(
            {k: v.to_dict() for k, v in b.strike_choices.items()})  # a FLEX choice's target is NaN


@pytest.mark.parametrize("strategy", ["protective_put", "collar", "put_spread", "tail_hedge"])
def test_engine_draft_to_dict_equals_the_reference(svc_ctx: Any, strategy: str) -> None:
    from floorguard.domain.policy import _draft_dict_reference
    from floorguard.services.insurance import QuoteRequest, quote_policy

    for as_of, step in ((AS_OF, 3), (LATE, 4)):
        draft = quote_policy(svc_ctx, _positions(SYMS, step * 40), QuoteRequest(
            floor_pct=0.9, term_days=30, strategy=strategy, index="SPX", as_of=as_of,
            tail_budget_pct=0.01))
        got, ref = draft.to_dict(), _draft_dict_reference(draft)
        assert json.dumps(got, separators=(",", ":")) == json.dumps(ref, separators=(",", ":"))
        assert got == ref and list(got) == list(ref)


def test_listed_expiries_are_shared_within_a_quote_time(svc_ctx: Any) -> None:
    from floorguard.domain.chains import synthetic_expiries

    _draft(svc_ctx, _positions(SYMS, 1))
    cache = svc_ctx.resources["insurance.synthetic_expiries"]
    assert (cache.hits, cache.misses) == (0, 1)
    _draft(svc_ctx, _positions(SYMS, 2), floor_pct=0.85)
    assert (cache.hits, cache.misses) == (1, 1)
    _draft(svc_ctx, _positions(SYMS, 2), as_of=AS_OF + dt.timedelta(seconds=1))
    _draft(svc_ctx, _positions(SYMS, 2), term_days=90)  # another horizon
    assert cache.misses == 3
    done = cache._done.items()  # noqa: SLF001
    ((key, (_, value)),) = [(k, v) for k, v in done if k[1] == pd.Timestamp(AS_OF) and k[2] == 90]
    assert list(value) == synthetic_expiries(key[0].obj, pd.Timestamp(AS_OF), horizon_days=90)
    assert len(value) > 5
