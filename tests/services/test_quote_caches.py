"""The quote path's caches change speed, never results.

* the regression-beta cache (``services/_cache.ContentCache`` in ``ctx.resources``):
  a quote with a warm cache equals the same quote from a fresh context, a new
  as-of date is a new key, the cache is bounded, expires and is single flight;
* the vectorised synthetic-chain quoting (``domain/chains``) agrees exactly
  with the per-element reference functions ``tick_size`` / ``round_to_tick`` /
  ``occ_symbol`` of ``domain/contracts`` and ``domain/chains``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from floorguard.domain.portfolio import Position

POS = [Position("AAPL", 400), Position("MSFT", 200), Position("JPM", 300), Position("KO", 150)]
AS_OF = dt.datetime(2022, 6, 1, 20, 0, tzinfo=dt.UTC)


def _quote(ctx: Any, as_of: dt.datetime = AS_OF, positions: list[Position] = POS) -> dict[str, Any]:
    from floorguard.services.insurance import QuoteRequest, quote_policy

    return quote_policy(ctx, positions, QuoteRequest(floor_pct=0.9, term_days=30, strategy="protective_put",
                                                     as_of=as_of)).to_dict()


def test_cached_quote_equals_uncached(svc_ctx: Any, svc_settings: Any) -> None:
    from floorguard.services.context import AppContext

    first = _quote(svc_ctx)
    cache = svc_ctx.resources["insurance.betas"]
    assert (cache.hits, cache.misses) == (0, 1)
    second = _quote(svc_ctx)  # served from the beta cache
    assert (cache.hits, cache.misses) == (1, 1)
    fresh = AppContext(svc_settings)
    try:
        uncached = _quote(fresh)
    finally:
        fresh.close()
    assert second == first == uncached
    # another portfolio on the same symbols: same betas, different quantities -> its own, correct quote
    other = [Position(p.symbol, p.quantity * 2) for p in POS]
    fresh = AppContext(svc_settings)
    try:
        expected = _quote(fresh, positions=other)
    finally:
        fresh.close()
    assert _quote(svc_ctx, positions=other) == expected
    assert cache.hits == 2


def test_beta_cache_is_keyed_on_the_as_of_date_and_symbols(svc_ctx: Any) -> None:
    _quote(svc_ctx)
    cache = svc_ctx.resources["insurance.betas"]
    _quote(svc_ctx, AS_OF + dt.timedelta(days=1))
    assert (cache.hits, cache.misses) == (0, 2)
    _quote(svc_ctx, positions=POS[:3])
    assert (cache.hits, cache.misses) == (0, 3)
    assert len(cache) == 3


def test_cached_betas_are_not_shared_mutable_state(svc_ctx: Any) -> None:
    a = _quote(svc_ctx)
    a["metadata"]["beta"]["history"]["symbols"].append("XXX")  # a caller editing its draft
    assert _quote(svc_ctx)["metadata"]["beta"]["history"]["symbols"] == [p.symbol for p in POS]


def test_content_cache_bounded_expiring_single_flight_and_errors_not_cached() -> None:
    from floorguard.services._cache import ContentCache

    c: ContentCache[int] = ContentCache(ttl=60.0, size=2)
    for k in range(5):
        assert c.get_or_compute(k, lambda k=k: k * 10) == k * 10
    assert len(c) == 2 and c.get_or_compute(4, lambda: -1) == 40 and c.get_or_compute(0, lambda: -1) == -1

    calls = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 7

    out: list[int] = []
    threads = [threading.Thread(target=lambda: out.append(c.get_or_compute("x", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [7] * 8 and len(calls) == 1

    def boom() -> int:
        raise RuntimeError("no data")

    with pytest.raises(RuntimeError):
        c.get_or_compute("y", boom)
    assert c.get_or_compute("y", lambda: 3) == 3

    short: ContentCache[int] = ContentCache(ttl=0.01, size=4)
    short.get_or_compute("k", lambda: 1)
    time.sleep(0.02)
    assert short.get_or_compute("k", lambda: 2) == 2
    with pytest.raises(ValueError):
        ContentCache(ttl=0, size=1)


@pytest.mark.parametrize("symbol", ["SPX", "XSP", "SPY"])
def test_vectorised_ticks_and_rounding_match_the_reference(symbol: str) -> None:
    from floorguard.domain.chains import _round_to_ticks, _tick_sizes
    from floorguard.domain.contracts import get_contract_spec, round_to_tick, tick_size

    spec = get_contract_spec(symbol)
    rng = np.random.default_rng(3)
    edges = [b.below for b in spec.tick_sizes if b.below is not None]
    prices = np.concatenate([rng.uniform(0, 60, 500), np.asarray(edges, float), np.asarray(edges, float) - 1e-9,
                             [0.0, 0.05, 3.0, 2.999999999]])
    assert np.array_equal(_tick_sizes(spec, prices), [tick_size(spec, float(p)) for p in prices])
    for direction in ("up", "down", "nearest"):
        ref = np.asarray([round_to_tick(spec, float(p), direction) for p in prices])  # type: ignore[arg-type]
        assert np.array_equal(_round_to_ticks(spec, prices, direction), ref)


def test_synthetic_chain_symbols_and_quotes_match_the_reference() -> None:
    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import SpreadModel, occ_symbol, synthetic_chain
    from floorguard.domain.contracts import get_contract_spec, round_to_tick, tick_size

    spec = get_contract_spec("SPX")
    chain = synthetic_chain(spec, 4100.0, pd.Timestamp("2022-06-01 20:00", tz="UTC"), ModelSurface(atm_vol=0.22),
                            0.03, 0.015, horizon_days=45)
    q = chain.quotes
    assert list(q["symbol"]) == [occ_symbol(r, e, k, s) for r, e, k, s in
                                 zip(q["root"], q["expiry"], q["kind"], q["strike"], strict=True)]
    # bid/ask: the per-element spread model of SpreadModel's docstring, on the model prices (iv column)
    model = SpreadModel()
    rows = q.sample(60, random_state=1)
    from floorguard.core.pricing import bsm_price

    for _, r in rows.iterrows():
        ty = chain.t_years(r["expiry"].date(), r["root"])
        p = float(bsm_price(r["kind"], 4100.0, r["strike"], ty, 0.03, r["iv"], 0.015))
        tick = tick_size(spec, p)
        spread = max(model.min_ticks * tick, model.rel * p) + model.abs_spread
        bid = round_to_tick(spec, max(p - spread / 2, 0.0), "down")
        ask = max(round_to_tick(spec, p + spread / 2, "up"), tick_size(spec, 0.0))
        assert (r["bid"], r["ask"]) == pytest.approx((bid, ask), abs=1e-9)
