"""Warm-up of a serving process: the first investor's quote should not pay for loading.

A fresh process spends about 2.5 s on its first quote: bundled histories,
exchange calendars, the listed-expiry tables, the index's GARCH fit, and the
imports behind them. :func:`warm_up` does that work once, at start-up, by
pricing (not storing) a protective put for the demo positions on the default
index. :func:`freeze_heap` then moves everything alive into the interpreter's
permanent generation (:func:`gc.freeze`): the loaded modules and data are
never garbage, yet a full collection would otherwise walk them all - about
270,000 objects and 165 ms here, every second or so under 50 concurrent
quotes, stalling every request in the process meanwhile.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import time
from typing import Any

from floorguard.services.context import AppContext

__all__ = ["WarmUp", "freeze_heap", "warm_up", "warm_up_and_freeze"]

logger = logging.getLogger("floorguard.warmup")


@dataclasses.dataclass(frozen=True)
class WarmUp:
    """What the warm-up did: seconds spent, and the error if the quote could not be priced."""

    seconds: float
    priced: bool
    error: str | None
    frozen_objects: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def warm_up(ctx: AppContext) -> tuple[float, str | None]:
    """Price one protective put for the demo positions (nothing stored); return (seconds, error or None).

    A failure (e.g. a market-data source without these symbols) is returned,
    not raised: the process still serves, only its first quote is slower.
    """
    from floorguard.domain.portfolio import Position
    from floorguard.services.demo import DEMO_POSITIONS
    from floorguard.services.insurance import QuoteRequest, quote_policy
    from floorguard.services.policies import now

    t0 = time.perf_counter()
    try:
        positions = [Position(symbol=s, quantity=float(q)) for s, q in DEMO_POSITIONS.items()]
        request = QuoteRequest(floor_pct=0.9, term_days=30, strategy="protective_put",
                               index=ctx.settings.default_index, as_of=now(ctx).replace(microsecond=0))
        quote_policy(ctx, positions, request)
    except Exception as exc:  # a warm-up failure must not stop the server
        return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t0, None


def freeze_heap() -> int:
    """Collect once, then exclude every surviving object from later collections; return how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def warm_up_and_freeze(ctx: AppContext) -> WarmUp:
    """:func:`warm_up`, then :func:`freeze_heap`; logged."""
    seconds, error = warm_up(ctx)
    frozen = freeze_heap()
    out = WarmUp(seconds=round(seconds, 3), priced=error is None, error=error, frozen_objects=frozen)
    if error is None:
        logger.info("warm-up priced a demo quote in %.2f s; %d objects frozen", seconds, frozen)
    else:
        logger.warning("warm-up could not price a demo quote (%s); %d objects frozen", error, frozen)
    return out
