"""Hedge strategies built over a table of option quotes.

Four families (seed section 20.3): ``protective_put``, ``collar`` (short call at
a cap, or solved for a zero net premium), ``put_spread`` (long put at the
floor, short lower put) and ``tail_hedge`` (far out-of-the-money puts sized to
a premium budget).

The quote table is one expiry of an option chain: a ``pandas.DataFrame`` with
columns ``strike, kind ("put"/"call"), bid, ask`` and, when known,
``open_interest, volume, iv, last`` and ``symbol``. Premiums are at the
execution side (buy at the ask, sell at the bid) with the mid as the estimate.

Each strategy reports its legs, premium, greeks, breakeven, the maximum loss
with the hedge, the premium as a percent of the portfolio and the hedge ratio
achieved, using the CAPM link of :mod:`floorguard.domain.hedging` between the
final index level and the portfolio value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from floorguard.domain.hedging import (
    CapmFloorMapping,
    LiquidityLimits,
    StrikeChoice,
    capm_portfolio_return,
    floor_to_index_level,
    select_liquid_strike,
)
from floorguard.domain.policy import STRATEGIES, HedgeLeg
from floorguard.domain.settlement import hedge_payoff_curve
from floorguard.exceptions import PricingError, QuoteRefusedError, ValidationError

__all__ = [
    "ExpiryChoice",
    "MarketInputs",
    "QuoteRows",
    "STRATEGY_COLUMNS",
    "StrategyParams",
    "StrategyResult",
    "build_strategy",
    "hedged_value_curve",
    "quote_rows",
    "select_expiry",
    "solve_zero_cost_call_strike",
    "strategy_analytics",
    "strategy_score",
]


@dataclass(frozen=True)
class MarketInputs:
    """Market state for one expiry.

    Attributes
    ----------
    underlying_symbol : str
        What the strikes refer to (``"SPX"``, ``"SPY"``).
    underlying_level : float
        Spot level of the underlying.
    rate, dividend_yield : float
        Continuously compounded per year (for greeks and model prices).
    expiry : date
    t_years : float
        Time to expiry in years (> 0).
    multiplier : float
        Dollars per point per contract.
    tick : float
        Minimum premium increment (for the zero-cost collar tolerance).
    tick_fn : callable(price) -> float, optional
        Tick as a function of the premium (the contract's tick bands); overrides ``tick``.
    style : {"european", "american"}
        Exercise style: greeks (and implied vols where the quote has none) come
        from Black-Scholes-Merton or from the pricing engine's American pricer.
    """

    underlying_symbol: str
    underlying_level: float
    rate: float
    dividend_yield: float
    expiry: dt.date
    t_years: float
    multiplier: float
    tick: float = 0.05
    tick_fn: Callable[[float], float] | None = None
    style: str = "european"

    def tick_at(self, price: float) -> float:
        """Premium tick at ``price``."""
        return float(self.tick_fn(price)) if self.tick_fn is not None else self.tick


@dataclass(frozen=True)
class StrategyParams:
    """What the investor asked for, and the CAPM inputs.

    Attributes
    ----------
    floor_pct : float
        Portfolio floor (0.90).
    portfolio_value : float
        Hedged portfolio value (dollars).
    beta : float
    contracts : int
        Contracts of the main long put (from the sizing step).
    rate, portfolio_dividend_yield, index_dividend_yield, t_years, compounding
        CAPM floor-to-level inputs (see :func:`floor_to_index_level`).
    cap : float or None
        Collar: portfolio upside cap (0.05 = +5 %); None solves a zero-cost collar.
    lower_floor_pct : float or None
        Put spread: portfolio level of the short put (default ``floor_pct - 0.10``).
    tail_budget_pct : float
        Tail hedge: premium budget as a fraction of the portfolio (default 0.5 %).
    max_strike_distance : float
        How far (fraction of the target) an alternative liquid strike may be.
    """

    floor_pct: float
    portfolio_value: float
    beta: float
    contracts: int
    rate: float
    portfolio_dividend_yield: float
    index_dividend_yield: float
    t_years: float
    compounding: str = "simple"
    cap: float | None = None
    lower_floor_pct: float | None = None
    tail_budget_pct: float = 0.005
    max_strike_distance: float = 0.05


@dataclass(frozen=True)
class StrategyResult:
    """A priced strategy: legs and analytics (dollars, levels in strike units)."""

    strategy: str
    legs: list[HedgeLeg]
    premium_net: float
    premium_net_mid: float
    analytics: dict[str, Any]
    floor_mapping: CapmFloorMapping
    strike_choices: dict[str, StrikeChoice]
    warnings: list[str] = field(default_factory=list)

    @property
    def put_leg(self) -> HedgeLeg | None:
        return next((lg for lg in self.legs if lg.kind == "put" and lg.side == "long"), None)

    @property
    def call_leg(self) -> HedgeLeg | None:
        return next((lg for lg in self.legs if lg.kind == "call"), None)


# --------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class ExpiryChoice:
    """The listed expiry covering the term, with one before and one after (seed 20.3)."""

    expiry: dt.date
    previous: dt.date | None
    next: dt.date | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        d = {"expiry": self.expiry, "previous": self.previous, "next": self.next, "reason": self.reason}
        if any(type(v) not in (dt.date, str, type(None)) for v in d.values()):
            d = asdict(self)  # other types: the deep copy of asdict
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in d.items()}


def select_expiry(expiries: Sequence[dt.date], term_end: dt.date) -> ExpiryChoice:
    """First listed expiry on or after ``term_end``.

    Raises
    ------
    QuoteRefusedError
        No listed expiry covers the term.
    """
    dates = sorted({e if isinstance(e, dt.date) else pd.Timestamp(e).date() for e in expiries})
    if not dates:
        raise QuoteRefusedError("the chain lists no expiries")
    covering = [d for d in dates if d >= term_end]
    if not covering:
        raise QuoteRefusedError(
            f"no listed expiry on or after the term end {term_end.isoformat()} "
            f"(last listed: {dates[-1].isoformat()})"
        )
    e = covering[0]
    i = dates.index(e)
    prev = dates[i - 1] if i > 0 else None
    nxt = dates[i + 1] if i + 1 < len(dates) else None
    reason = (
        f"listed expiry {e.isoformat()} is the first on or after the term end {term_end.isoformat()}"
        + ("" if e == term_end else f" ({(e - term_end).days} days of extra cover)")
    )
    return ExpiryChoice(e, prev, nxt, reason)


# --------------------------------------------------------------------------- quotes


def _check_columns(quotes: pd.DataFrame) -> None:
    need = {"strike", "kind", "bid", "ask"}
    missing = need - set(quotes.columns)
    if missing:
        raise ValidationError.for_field("quotes", f"missing columns: {', '.join(sorted(missing))}")


def _rows_reference(quotes: pd.DataFrame, kind: str) -> list[dict[str, Any]]:
    """Records of one kind, sorted by strike: ``DataFrame.to_dict(orient="records")`` of its rows.

    The readable reference of :func:`_rows` (one pass over plain column lists).
    """
    _check_columns(quotes)
    keep = np.fromiter((str(k).lower() == kind for k in quotes["kind"].tolist()), dtype=bool, count=len(quotes))
    sub = quotes[keep]
    cols = list(sub.columns)
    out = []
    for values in zip(*(sub[c].tolist() for c in sub.columns), strict=True):
        rec = dict(zip(cols, values, strict=True))
        k = float(rec["strike"])
        if math.isfinite(k) and k > 0:
            out.append(rec)
    out.sort(key=lambda r: float(r["strike"]))
    return out


#: numpy dtype kinds whose ``ndarray.tolist`` boxes as ``Series.tolist`` does
_PLAIN_KINDS = frozenset("biufcO")


def _rows(quotes: pd.DataFrame, kind: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """:func:`_rows_reference` on numpy columns: the kind and strike filters and the strike sort vectorised.

    ``columns`` keeps only those keys of each record (in the table's order).
    Kinds other than exactly ``"put"``/``"call"``, a non-numeric strike column
    or repeated column names take the reference.
    """
    _check_columns(quotes)
    kinds = quotes["kind"].to_numpy()
    strikes = quotes["strike"].to_numpy()
    fast = not (quotes.columns.has_duplicates or not isinstance(strikes.dtype, np.dtype)
                or strikes.dtype.kind not in "iuf" or kinds.dtype != object)
    if fast:
        is_kind = kinds == kind
        other = kinds == ("call" if kind == "put" else "put")
        fast = bool((is_kind | other).all())
    keep = [c for c in quotes.columns if columns is None or c in columns]
    if not fast:
        ref = _rows_reference(quotes, kind)
        return ref if columns is None else [{c: r[c] for c in keep} for r in ref]
    k = strikes.astype(float)
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero(is_kind & np.isfinite(k) & (k > 0))
    idx = idx[np.argsort(k[idx], kind="stable")]
    values = []
    for name in keep:
        col = quotes[name]
        dtype = col.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in _PLAIN_KINDS:
            values.append(col.to_numpy()[idx].tolist())
        else:  # datetimes, categoricals, extension types: pandas boxes them
            values.append(col.iloc[idx].tolist())
    return [dict(zip(keep, row, strict=True)) for row in zip(*values, strict=True)]


#: the record keys the strategies read (``_pick``, ``_make_leg``, the liquidity checks)
STRATEGY_COLUMNS: tuple[str, ...] = (
    "strike", "kind", "bid", "ask", "open_interest", "volume", "iv", "symbol", "option_symbol")


class QuoteRows:
    """One expiry's quotes as records for the strategies, puts and calls each sorted by strike.

    What :func:`build_strategy` reads from a quote table: :func:`_rows` of
    each kind, keeping the :data:`STRATEGY_COLUMNS` present (the strategies
    read no other key). Build it once with :func:`quote_rows` to price many
    strategies on the same expiry. Each kind's records are built on first use
    (a protective put never reads the calls) and then shared: they are
    read-only by contract (no strategy writes to a record; a test checks it)
    and, holding only numbers and text, are not tracked by the garbage
    collector, so a cache of many expiries does not slow its full passes.
    The table must not change afterwards.

    Raises
    ------
    ValidationError
        The table lacks ``strike``, ``kind``, ``bid`` or ``ask``.
    """

    __slots__ = ("_calls", "_puts", "_quotes")

    def __init__(self, quotes: pd.DataFrame) -> None:
        _check_columns(quotes)
        self._quotes = quotes
        self._puts: tuple[Mapping[str, Any], ...] | None = None
        self._calls: tuple[Mapping[str, Any], ...] | None = None

    @property
    def puts(self) -> tuple[Mapping[str, Any], ...]:
        """The puts' records (two threads racing here build equal tuples; either is kept)."""
        if self._puts is None:
            self._puts = tuple(_rows(self._quotes, "put", STRATEGY_COLUMNS))
        return self._puts

    @property
    def calls(self) -> tuple[Mapping[str, Any], ...]:
        """The calls' records."""
        if self._calls is None:
            self._calls = tuple(_rows(self._quotes, "call", STRATEGY_COLUMNS))
        return self._calls


def quote_rows(quotes: pd.DataFrame) -> QuoteRows:
    """The records :func:`build_strategy` uses, from a table of one expiry (see :class:`QuoteRows`)."""
    return QuoteRows(quotes)


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v if math.isfinite(v) else float("nan")


def _leg_iv(row: Mapping[str, Any], m: MarketInputs, kind: str) -> float:
    iv = _f(row.get("iv"))
    if math.isfinite(iv) and 0.005 < iv < 5.0:
        return iv
    bid, ask = _f(row.get("bid")), _f(row.get("ask"))
    if math.isfinite(bid) and math.isfinite(ask) and ask > 0:
        from floorguard.core.pricing import implied_vol

        try:
            v = float(implied_vol(0.5 * (bid + ask), kind, m.underlying_level, float(row["strike"]),
                                  m.t_years, m.rate, m.dividend_yield, style=m.style))
        except (PricingError, ValidationError, ValueError):
            return float("nan")
        return v if math.isfinite(v) and v > 0 else float("nan")
    return float("nan")


def _greeks(m: MarketInputs, strike: float, kind: str, iv: float) -> dict[str, float]:
    if not math.isfinite(iv):
        return {k: float("nan") for k in ("delta", "gamma", "vega", "theta", "rho")}
    from floorguard.core.pricing import american_greeks, bsm_greeks

    fn = american_greeks if m.style == "american" else bsm_greeks
    g = fn(kind, m.underlying_level, strike, m.t_years, m.rate, iv, m.dividend_yield)
    out = {}
    for k in ("delta", "gamma", "vega", "theta", "rho"):
        v = g[k] if isinstance(g, dict) else getattr(g, k)
        out[k] = float(np.asarray(v))
    return out


def _make_leg(
    row: Mapping[str, Any], kind: str, side: str, contracts: int, m: MarketInputs, choice: StrikeChoice,
    liquidity: dict[str, Any],
) -> HedgeLeg:
    bid, ask = _f(row.get("bid")), _f(row.get("ask"))
    if side == "long":
        if not (math.isfinite(ask) and ask > 0):
            raise QuoteRefusedError(f"no ask for the {kind} {choice.strike:g}")
        price = ask
    else:
        if not (math.isfinite(bid) and bid >= 0):
            raise QuoteRefusedError(f"no bid for the {kind} {choice.strike:g}")
        price = bid
    mid = 0.5 * (bid + ask) if math.isfinite(bid) and math.isfinite(ask) else price
    iv = _leg_iv(row, m, kind)
    unit = _greeks(m, choice.strike, kind, iv)
    sign = 1 if side == "long" else -1
    scale = sign * contracts * m.multiplier
    greeks = {k: scale * v for k, v in unit.items()}
    sym = row.get("symbol") or row.get("option_symbol")
    return HedgeLeg(
        kind=kind,  # type: ignore[arg-type]
        side=side,  # type: ignore[arg-type]
        strike=float(choice.strike),
        contracts=int(contracts),
        expiry=m.expiry,
        multiplier=m.multiplier,
        price=price,
        premium=price * contracts * m.multiplier,
        mid=mid,
        bid=bid,
        ask=ask,
        iv=iv,
        symbol=m.underlying_symbol,
        option_symbol=str(sym) if isinstance(sym, str) and sym else None,
        greeks=greeks,
        strike_reason=choice.reason,
        liquidity=liquidity,
    )


def _pick(
    rows: Sequence[Mapping[str, Any]], target: float, side: str, limits: LiquidityLimits, p: StrategyParams,
    label: str, below: float | None = None, above: float | None = None, m: MarketInputs | None = None,
    either_side: bool = False,
) -> tuple[Mapping[str, Any], StrikeChoice, dict[str, Any]]:
    """Listed, liquid strike for a leg; ``either_side`` (short legs) may cross the target.

    A short leg that has no liquid strike on its safe side within reach is
    moved to the nearest liquid strike on the other side (between the bounds),
    which narrows the protection; the reason says so.
    """
    usable = [r for r in rows if (below is None or float(r["strike"]) < below)
              and (above is None or float(r["strike"]) > above)]
    if either_side:  # a short leg: selling at a zero bid would bring nothing
        usable = [r for r in usable if _f(r.get("bid")) > 0.0]
    if not usable:
        raise QuoteRefusedError(f"no listed strikes available for the {label}")
    tick_fn = m.tick_at if m is not None else None
    try:
        choice, chk, rejected = select_liquid_strike(
            target, usable, limits, side, p.max_strike_distance, tick_fn)  # type: ignore[arg-type]
    except QuoteRefusedError as first_err:
        if not either_side:
            raise
        other = "at_or_above" if side == "at_or_below" else "at_or_below"
        span = max(abs(float(r["strike"]) - target) for r in usable) / target + 1e-9
        try:
            alt, chk, rejected = select_liquid_strike(
                target, usable, limits, other, span, tick_fn)  # type: ignore[arg-type]
        except QuoteRefusedError:
            raise first_err from None
        choice = StrikeChoice(
            alt.strike, target, False, False,
            f"{first_err}; took the nearest liquid strike on the other side, {alt.strike:g}, which "
            f"narrows the protection",
        )
    row = next(r for r in usable if float(r["strike"]) == choice.strike)
    liq = chk.to_dict()
    liq["rejected"] = rejected
    return row, choice, liq


# --------------------------------------------------------------------------- zero-cost collar


def solve_zero_cost_call_strike(
    put_premium: float,
    call_price: Callable[[float], float],
    lo: float,
    hi: float,
    tick: float,
) -> tuple[float, float]:
    """Call strike whose price equals the put premium (a zero-cost collar, FLEX strike).

    Parameters
    ----------
    put_premium : float
        Per-unit premium of the put to finance.
    call_price : callable(strike) -> float
        Per-unit call price, decreasing in the strike (model or interpolated bids).
    lo, hi : float
        Strike bracket with ``call_price(lo) >= put_premium >= call_price(hi)``.
    tick : float
        Premium tick; the solution's net premium is within it.

    Returns
    -------
    (strike, net)
        ``net = put_premium - call_price(strike)``, ``|net| <= tick``.

    Raises
    ------
    QuoteRefusedError
        When the bracket does not contain a zero-cost strike.
    """
    f_lo = put_premium - call_price(lo)
    f_hi = put_premium - call_price(hi)
    if f_lo > 0.0:
        raise QuoteRefusedError(
            f"even a call at {lo:g} ({call_price(lo):.4f}) does not finance the put ({put_premium:.4f})"
        )
    if f_hi < 0.0:
        return hi, f_hi
    k = brentq(lambda x: put_premium - call_price(x), lo, hi, xtol=1e-10 * max(1.0, hi), rtol=1e-12,
               maxiter=200)
    net = put_premium - call_price(k)
    if abs(net) > tick:  # pragma: no cover - brentq converges far inside one tick
        raise PricingError(f"zero-cost strike solve left {net:.6f} > one tick {tick}")
    return float(k), float(net)


def _zero_cost_call(
    calls: Sequence[Mapping[str, Any]], put_price: float, put_strike: float, m: MarketInputs,
    limits: LiquidityLimits,
) -> tuple[Mapping[str, Any], StrikeChoice, dict[str, Any], dict[str, Any]]:
    """Listed call whose bid best finances the put's ask, plus the exact FLEX strike."""
    from floorguard.domain.hedging import check_liquidity

    cands = []
    for r in calls:
        k = float(r["strike"])
        if k <= max(put_strike, m.underlying_level):
            continue
        chk = check_liquidity(r.get("bid"), r.get("ask"), r.get("open_interest"), r.get("volume"), limits,
                              m.tick_at(_f(r.get("ask"))))
        bid = _f(r.get("bid"))
        if chk.ok and math.isfinite(bid) and bid > 0:
            cands.append((k, bid, r, chk))
    if not cands:
        raise QuoteRefusedError("no liquid out-of-the-money call to finance the collar")
    k, bid, row, chk = min(cands, key=lambda c: (abs(put_price - c[1]), -c[0]))
    net = put_price - bid
    tick = m.tick_at(put_price)
    within = abs(net) <= tick + 1e-12
    reason = (
        f"zero-cost collar: listed call {k:g} bid {bid:.2f} against put ask {put_price:.2f} "
        f"(net {net:+.2f} per unit, {'within' if within else 'beyond'} one tick {tick:g})"
    )
    # exact strike by linear interpolation of the listed bids (a FLEX strike)
    ks = np.array([c[0] for c in cands])
    bs = np.array([c[1] for c in cands])
    order = np.argsort(ks)
    ks, bs = ks[order], bs[order]
    flex: dict[str, Any] = {"strike": None, "net_per_unit": None}
    if bs[0] >= put_price >= bs[-1] and ks.size >= 2:
        def price(x: float) -> float:
            return float(np.interp(x, ks, bs))
        fk, fnet = solve_zero_cost_call_strike(put_price, price, float(ks[0]), float(ks[-1]), tick)
        flex = {"strike": fk, "net_per_unit": fnet,
                "note": "FLEX strike interpolated between listed call bids; an estimate"}
    liq = chk.to_dict()
    liq["rejected"] = []
    choice = StrikeChoice(k, float("nan"), False, True, reason)
    return row, choice, liq, flex


# --------------------------------------------------------------------------- analytics


def hedged_value_curve(
    legs: Sequence[HedgeLeg], levels: np.ndarray, p: StrategyParams, m: MarketInputs, premium_net: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Portfolio value (CAPM, ex dividends) and hedged value at final underlying levels.

    ``hedged = V0 * (1 + R_p(L / S0 - 1)) + hedge_payoff(L) - premium_net``.
    """
    lv = np.asarray(levels, dtype=float)
    x = lv / m.underlying_level - 1.0
    port = p.portfolio_value * (
        1.0 + capm_portfolio_return(0.0, p.beta, p.rate, p.t_years, p.portfolio_dividend_yield,
                                    p.index_dividend_yield, p.compounding)  # type: ignore[arg-type]
        + p.beta * x
    )
    hedged = port + hedge_payoff_curve(legs, lv) - premium_net
    return port, hedged


def strategy_analytics(
    legs: Sequence[HedgeLeg], p: StrategyParams, m: MarketInputs, premium_net: float, premium_net_mid: float,
    full_contracts: int | None = None,
    range_multiple: float = 3.0,
) -> dict[str, Any]:
    """Premium, greeks, breakeven, maximum loss and hedge ratio of a set of legs.

    The hedged value ``H(L)`` (see :func:`hedged_value_curve`) is piecewise
    linear in the final level ``L`` with kinks at the strikes, so over the
    analysed range ``[0, range_multiple * S0]`` its minimum is at 0, a strike
    or the top of the range. ``max_loss = V0 - min H``. When more calls are
    sold than the portfolio's exposure covers, ``H`` falls without bound as
    ``L`` rises: ``loss_unbounded_above`` says so. The breakeven is the lowest
    level at which ``H`` climbs back to today's value ``V0``.
    """
    v0 = p.portfolio_value
    strikes = sorted({lg.strike for lg in legs})
    top = max(range_multiple * m.underlying_level, max(strikes) * 1.5)
    pts = np.array([0.0, *strikes, top], dtype=float)
    _, hv = hedged_value_curve(legs, pts, p, m, premium_net)
    slope_right = p.beta * v0 / m.underlying_level + sum(
        lg.sign * lg.contracts * lg.multiplier for lg in legs if lg.kind == "call"
    )
    unbounded = slope_right < -1e-12
    worst_i = int(np.argmin(hv))
    max_loss = float(v0 - hv[worst_i])
    breakeven = float("nan")
    for i in range(1, len(pts)):
        a, b, ha, hb = pts[i - 1], pts[i], hv[i - 1], hv[i]
        if ha < v0 <= hb:
            breakeven = float(a + (v0 - ha) * (b - a) / (hb - ha))
            break
    greeks = {k: float(sum(lg.greeks.get(k, float("nan")) for lg in legs))
              for k in ("delta", "gamma", "vega", "theta", "rho")}
    delta_dollars = greeks["delta"] * m.underlying_level
    exposure = p.beta * v0
    long_put_contracts = sum(lg.contracts for lg in legs if lg.kind == "put" and lg.side == "long")
    hedge_ratio = long_put_contracts * m.multiplier * m.underlying_level / exposure
    floor_value = p.floor_pct * v0
    below = [lg.strike for lg in legs if lg.kind == "put" and lg.side == "long"]
    floor_at = max(below) if below else m.underlying_level
    _, h_floor = hedged_value_curve(legs, np.array([floor_at]), p, m, premium_net)
    out = {
        "premium_net": premium_net,
        "premium_net_mid": premium_net_mid,
        "premium_paid": float(sum(lg.premium for lg in legs if lg.side == "long")),
        "premium_received": float(sum(lg.premium for lg in legs if lg.side == "short")),
        "premium_pct": premium_net / v0,
        "premium_pct_mid": premium_net_mid / v0,
        "greeks": greeks,
        "delta_dollars": delta_dollars,
        "delta_hedge_ratio": -delta_dollars / exposure if math.isfinite(delta_dollars) else float("nan"),
        "hedge_ratio": hedge_ratio,
        "hedge_ratio_note": "long put notional / beta-adjusted exposure",
        "breakeven_level": breakeven,
        "breakeven_return": breakeven / m.underlying_level - 1.0 if math.isfinite(breakeven) else float("nan"),
        "max_loss": max_loss,
        "max_loss_pct": max_loss / v0,
        "max_loss_at_level": float(pts[worst_i]),
        "analysed_range": [0.0, float(top)],
        "loss_unbounded_above": unbounded,
        "worst_hedged_value": float(hv[worst_i]),
        "hedged_value_at_put_strike": float(h_floor[0]),
        "floor_value": floor_value,
        "floor_holds_net_of_premium": bool(float(hv[: len(pts) - 1].min()) >= floor_value - 1e-6),
        "model_note": "portfolio value mapped from the index by the CAPM (Hull 8th ed. 17.4); an estimate",
    }
    if unbounded:
        out["unbounded_note"] = (
            f"short calls exceed the portfolio's exposure: above the top strike the hedged value falls "
            f"{-slope_right:,.2f} per point"
        )
    if full_contracts:
        out["contracts_full_hedge"] = full_contracts
    return out


def strategy_score(
    legs: Sequence[HedgeLeg],
    p: StrategyParams,
    m: MarketInputs,
    premium_net: float,
    vol: float,
    drift: float | None = None,
    nodes: int = 201,
) -> dict[str, float]:
    """Seed section 20.3 score ``(expected shortfall reduction - premium) / residual risk``.

    The final level is lognormal, ``L = S0 exp((mu - vol^2 / 2) T + vol sqrt(T) Z)``
    with ``mu = drift`` (default the risk-neutral ``r - q``: an estimate, not a
    forecast); the portfolio follows the CAPM line of :func:`hedged_value_curve`.
    With ``F`` the floor value, ``V(L)`` the portfolio and ``P(L)`` the hedge payoff:

    * ``es_unhedged = E[max(0, F - V(L))]``, ``es_hedged = E[max(0, F - V(L) - P(L))]``;
    * ``reduction = es_unhedged - es_hedged``;
    * ``residual_risk`` = standard deviation of the hedged value ``V(L) + P(L)``;
    * ``score = (reduction - premium_net) / residual_risk``.

    Expectations use Gauss-Hermite quadrature on ``nodes`` points (deterministic).
    """
    if not (math.isfinite(vol) and vol > 0):
        raise ValidationError.for_field("vol", f"must be > 0, got {vol}")
    mu = (m.rate - m.dividend_yield) if drift is None else float(drift)
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    sd = vol * math.sqrt(m.t_years)
    levels = m.underlying_level * np.exp((mu - 0.5 * vol * vol) * m.t_years + sd * z)
    port, hedged = hedged_value_curve(legs, levels, p, m, 0.0)
    floor_value = p.floor_pct * p.portfolio_value
    es_u = float(w @ np.maximum(floor_value - port, 0.0))
    es_h = float(w @ np.maximum(floor_value - hedged, 0.0))
    mean_h = float(w @ hedged)
    resid = math.sqrt(max(float(w @ (hedged - mean_h) ** 2), 0.0))
    reduction = es_u - es_h
    return {
        "expected_shortfall_unhedged": es_u,
        "expected_shortfall_hedged": es_h,
        "shortfall_reduction": reduction,
        "residual_risk": resid,
        "score": (reduction - premium_net) / resid if resid > 0 else float("nan"),
        "vol": vol,
        "drift": mu,
    }


# --------------------------------------------------------------------------- builder


def _level(p: StrategyParams, m: MarketInputs, pct: float) -> CapmFloorMapping:
    return floor_to_index_level(pct, p.beta, m.underlying_level, p.rate, p.t_years,
                                p.portfolio_dividend_yield, p.index_dividend_yield, p.compounding)  # type: ignore[arg-type]


def build_strategy(
    strategy: str,
    quotes: pd.DataFrame | QuoteRows,
    market: MarketInputs,
    params: StrategyParams,
    limits: LiquidityLimits | None = None,
) -> StrategyResult:
    """Build and price one strategy over one expiry's quotes.

    Parameters
    ----------
    strategy : {"protective_put", "collar", "put_spread", "tail_hedge"}
    quotes : DataFrame or QuoteRows
        One expiry: ``strike, kind, bid, ask`` (+ ``open_interest, volume, iv, symbol``), or its
        :func:`quote_rows` (built once for many quotes on the same expiry).
    market : MarketInputs
    params : StrategyParams
    limits : LiquidityLimits, optional
        Default :class:`LiquidityLimits()`.

    Returns
    -------
    StrategyResult

    Raises
    ------
    ValidationError
        Unknown strategy or bad parameters.
    QuoteRefusedError
        No liquid strike can implement it, or the tail budget buys no contract.
    """
    if strategy not in STRATEGIES:
        raise ValidationError.for_field("strategy", f"must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if market.t_years <= 0 or market.underlying_level <= 0:
        raise ValidationError.for_field("market", "t_years and underlying_level must be > 0")
    if params.contracts < 1:
        raise ValidationError.for_field("contracts", f"must be >= 1, got {params.contracts}")
    limits = limits or LiquidityLimits()
    rows = quotes if isinstance(quotes, QuoteRows) else QuoteRows(quotes)  # the calls built if used
    puts = rows.puts
    if not puts:
        raise QuoteRefusedError("the chain has no puts for this expiry")
    warnings: list[str] = []
    mapping = _level(params, market, params.floor_pct)
    choices: dict[str, StrikeChoice] = {}
    legs: list[HedgeLeg] = []
    n = params.contracts
    extra: dict[str, Any] = {}

    put_row, put_choice, put_liq = _pick(puts, mapping.target_level, "at_or_above", limits, params, "put",
                                         m=market)
    if not put_choice.guaranteed:
        warnings.append(put_choice.reason)
    choices["put"] = put_choice

    if strategy == "tail_hedge":
        ask = _f(put_row.get("ask"))
        if not (math.isfinite(ask) and ask > 0):
            raise QuoteRefusedError(f"no ask for the put {put_choice.strike:g}")
        budget = params.tail_budget_pct * params.portfolio_value
        if not (0.0 < params.tail_budget_pct < 1.0):
            raise ValidationError.for_field("tail_budget_pct", f"must be in (0, 1), got {params.tail_budget_pct}")
        per_contract = ask * market.multiplier
        affordable = int(math.floor(budget / per_contract + 1e-9))
        if affordable < 1:
            raise QuoteRefusedError(
                f"tail budget {budget:,.2f} buys no contract of the put {put_choice.strike:g} "
                f"({per_contract:,.2f} each)"
            )
        n_tail = min(affordable, n)
        if affordable > n:
            warnings.append(f"budget buys {affordable} contracts; capped at the full hedge of {n}")
        elif n_tail < n:
            warnings.append(f"tail hedge covers {n_tail} of {n} contracts ({n_tail / n:.0%}) within the budget")
        extra["tail_budget"] = budget
        legs.append(_make_leg(put_row, "put", "long", n_tail, market, put_choice, put_liq))
    else:
        legs.append(_make_leg(put_row, "put", "long", n, market, put_choice, put_liq))

    if strategy == "collar":
        exposure_contracts = params.beta * params.portfolio_value / (market.underlying_level * market.multiplier)
        n_call = min(n, int(math.floor(exposure_contracts + 1e-9)))
        if n_call < 1:
            root = market.underlying_symbol.upper()
            advice = ("use a smaller contract (XSP or SPY)" if root in ("SPX", "SPXW")
                      else f"no smaller contract than {root} is listed on this index; a protective put or a "
                           "put spread sells no call")
            raise QuoteRefusedError(
                f"collar refused: one short call ({market.underlying_level * market.multiplier:,.0f} of "
                f"exposure) exceeds the portfolio's beta-adjusted exposure "
                f"({params.beta * params.portfolio_value:,.0f}); {advice}"
            )
        if n_call < n:
            warnings.append(
                f"collar sells {n_call} calls against {n} puts: more would exceed the portfolio's exposure "
                "(naked calls)"
            )
        extra["call_contracts"] = n_call
        if params.cap is not None:
            if not params.cap > 0:
                raise ValidationError.for_field("cap", f"must be > 0, got {params.cap}")
            cap_map = _level(params, market, 1.0 + params.cap)
            call_row, call_choice, call_liq = _pick(
                rows.calls, cap_map.target_level, "at_or_above", limits, params, "call", above=put_choice.strike,
                m=market, either_side=True)
            extra["cap_level"] = cap_map.target_level
        else:
            # per call unit, the call bid must finance n / n_call put asks
            put_price = legs[0].price * n / n_call
            call_row, call_choice, call_liq, flex = _zero_cost_call(
                rows.calls, put_price, put_choice.strike, market, limits)
            extra["zero_cost_flex"] = flex
            net_unit = put_price - _f(call_row.get("bid"))
            extra["zero_cost_net_per_unit"] = net_unit
            extra["zero_cost_tick"] = market.tick_at(put_price)
            if abs(net_unit) > market.tick_at(put_price) + 1e-12:
                warnings.append(
                    f"no listed call makes the collar zero-cost within one tick; nearest leaves "
                    f"{net_unit:+.2f} per unit"
                )
        choices["call"] = call_choice
        if not call_choice.guaranteed:
            warnings.append(f"short call: {call_choice.reason}")
        legs.append(_make_leg(call_row, "call", "short", n_call, market, call_choice, call_liq))

    if strategy == "put_spread":
        lower = params.lower_floor_pct if params.lower_floor_pct is not None else params.floor_pct - 0.10
        if not 0 < lower < params.floor_pct:
            raise ValidationError.for_field("lower_floor_pct", f"must be in (0, floor_pct), got {lower}")
        low_map = _level(params, market, lower)
        low_row, low_choice, low_liq = _pick(
            puts, low_map.target_level, "at_or_below", limits, params, "short put", below=put_choice.strike,
            m=market, either_side=True)
        choices["short_put"] = low_choice
        if not low_choice.guaranteed:
            warnings.append(f"short put: {low_choice.reason}")
        extra["lower_floor_pct"] = lower
        extra["lower_level"] = low_map.target_level
        legs.append(_make_leg(low_row, "put", "short", n, market, low_choice, low_liq))
        warnings.append(
            f"put spread: no protection below {low_choice.strike:g} (portfolio ~{lower:.0%} of today)"
        )

    premium_net = float(sum(lg.sign * lg.premium for lg in legs))
    premium_mid = float(sum(lg.sign * lg.premium_mid for lg in legs))
    analytics = strategy_analytics(legs, params, market, premium_net, premium_mid, full_contracts=n)
    analytics.update(extra)
    analytics["floor_level"] = mapping.target_level
    if any(not math.isfinite(lg.iv) for lg in legs):
        warnings.append("some legs have no usable implied volatility; their greeks are unknown")
    return StrategyResult(strategy, legs, premium_net, premium_mid, analytics, mapping, choices, warnings)
