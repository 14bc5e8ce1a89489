"""Current option quotes for a draft's legs, and the feed the paper broker fills from.

At bind time the draft's legs are re-quoted "now":

* a draft priced on the **synthetic** chain is re-priced with the pricing
  engine at the current time and current index level (the index's last close
  in the market data, scaled from the level the quote used), at each leg's
  quoted implied volatility, with the synthetic chain's bid/ask model
  (:class:`floorguard.domain.chains.SpreadModel`) - a model estimate,
  labelled ``synthetic``;
* a draft priced on a **chain file** has no newer quotes than that snapshot:
  its own leg quotes are used and labelled ``snapshot``.

Tests and deployments with a live feed replace this with
``ctx.resources["leg_quotes"] = callable(ctx, draft, now) -> LegQuotes``.

:class:`QuoteFeed` is the thread-safe top of book the
:class:`~floorguard.brokers.PaperBroker` fills against; binds publish their
legs' current quotes into it before placing orders.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from floorguard.brokers.base import BidAsk, OptionInstrument
from floorguard.domain.policy import HedgeLeg, PolicyDraft
from floorguard.exceptions import DataError, SymbolNotFoundError

__all__ = ["LegQuotes", "QuoteFeed", "current_leg_quotes", "leg_instrument"]

_SECONDS_PER_YEAR = 365.0 * 86400.0


def leg_instrument(draft: PolicyDraft, leg: HedgeLeg) -> OptionInstrument:
    """The listed option of a draft leg."""
    return OptionInstrument(
        underlying=(leg.symbol or draft.underlying_symbol or draft.index_symbol).upper(),
        expiry=leg.expiry,
        strike=float(leg.strike),
        option_type=leg.kind,
        multiplier=float(leg.multiplier),
    )


@dataclass(frozen=True)
class LegQuotes:
    """Current bid/ask of each leg (same order as ``draft.legs``) and where they came from."""

    quotes: list[BidAsk]
    source: str
    details: dict[str, Any] = field(default_factory=dict)


class QuoteFeed:
    """Thread-safe top of book by instrument key (a :class:`~floorguard.brokers.QuoteSource`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._book: dict[str, BidAsk] = {}

    def publish(self, instrument: OptionInstrument, quote: BidAsk) -> None:
        with self._lock:
            self._book[instrument.key] = quote

    def quote(self, instrument: OptionInstrument) -> BidAsk:
        with self._lock:
            q = self._book.get(instrument.key)
        if q is None:
            raise DataError(f"no current quote for {instrument.key}")
        return q


def _snapshot(draft: PolicyDraft) -> LegQuotes:
    quotes = [BidAsk(float(leg.bid), float(leg.ask)) for leg in draft.legs]
    as_of = draft.pricing_source.as_of if draft.pricing_source else None
    return LegQuotes(quotes, "snapshot", {"note": "the chain snapshot the draft was quoted on", "as_of": as_of})


def _index_ratio(ctx: Any, draft: PolicyDraft, now: dt.datetime) -> tuple[float, dict[str, Any]]:
    """Index close as of ``now`` / index level the quote used (1.0 when no usable close)."""
    level_meta = (draft.metadata.get("instrument") or {}).get("index_level") or {}
    quoted = level_meta.get("level") or draft.metadata.get("index_level")
    if not quoted:
        return 1.0, {"index_level": "as quoted (the draft does not record it)"}
    try:
        frame = ctx.market_data().price_history([draft.index_symbol], None, now.date())
        col = frame[draft.index_symbol].dropna()
    except (SymbolNotFoundError, DataError) as exc:
        return 1.0, {"index_level": f"as quoted ({exc})"}
    if col.empty or (now.date() - col.index[-1].date()).days > ctx.settings.stale_price_days:
        return 1.0, {"index_level": "as quoted (no recent close in the market data)"}
    level = float(col.iloc[-1])
    return level / float(quoted), {
        "index_level_now": level,
        "index_level_quoted": float(quoted),
        "index_level_source": f"close of {col.index[-1].date().isoformat()}",
    }


def _synthetic(ctx: Any, draft: PolicyDraft, now: dt.datetime) -> LegQuotes:
    from floorguard.core import pricing
    from floorguard.domain.chains import SpreadModel
    from floorguard.domain.contracts import get_contract_spec

    spec = get_contract_spec(draft.underlying_symbol or draft.index_symbol)
    ratio, meta = _index_ratio(ctx, draft, now)
    spot = float(draft.underlying_level) * ratio
    rate = float(draft.assumptions.get("rate", ctx.settings.risk_free_rate))
    div = float(draft.assumptions.get("index_dividend_yield", ctx.settings.index_dividend_yield))
    t = max((draft.end_utc - now).total_seconds() / _SECONDS_PER_YEAR, 0.0)
    model = SpreadModel()
    quotes: list[BidAsk] = []
    for leg in draft.legs:
        if t <= 0.0:
            price = max(0.0, leg.strike - spot) if leg.kind == "put" else max(0.0, spot - leg.strike)
        else:
            vol = float(leg.iv)
            if not (math.isfinite(vol) and vol > 0):
                return _snapshot(draft)
            fn = pricing.american_price if spec.style == "american" else pricing.bsm_price
            price = float(fn(leg.kind, spot, float(leg.strike), t, rate, vol, div))
        bid, ask = model.quote(spec, [price])
        quotes.append(BidAsk(float(bid[0]), float(ask[0]), now))
    return LegQuotes(
        quotes,
        "synthetic",
        {"note": "SYNTHETIC: legs re-priced at bind time with the pricing engine at the quoted implied vols",
         "spot": spot, "t_years": t, **meta},
    )


def current_leg_quotes(ctx: Any, draft: PolicyDraft, now: dt.datetime) -> LegQuotes:
    """Current quotes of ``draft``'s legs (see the module docstring)."""
    override: Callable[[Any, PolicyDraft, dt.datetime], LegQuotes] | None = ctx.resources.get("leg_quotes")
    if override is not None:
        return override(ctx, draft, now)
    if draft.pricing_source is not None and draft.pricing_source.synthetic:
        return _synthetic(ctx, draft, now)
    return _snapshot(draft)
