"""Hedge arithmetic: floor to strike (CAPM), notional, sizing, instrument, liquidity.

Everything here is pure: numbers and small frozen dataclasses in, the same out.
The method is the one of Hull, *Options, Futures, and Other Derivatives*
(8th ed., section 17.4 "Portfolio insurance", Examples 17.1 and 17.2; the same
examples are 16.1/16.2 in the 7th edition): the portfolio floor is mapped to an
index level with the CAPM, accounting for the risk-free rate, the dividend
yields of the portfolio and of the index, and the term; the number of put
contracts is ``beta * portfolio value / (index level * multiplier)``.

Units: rates and yields are per year, ``t_years`` is the term in years, index
levels and strikes are in the units of the option's underlying (SPX points for
SPX, dollars for SPY).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from floorguard.domain._plain import NotPlain, asdict_plain
from floorguard.exceptions import QuoteRefusedError, ValidationError

__all__ = [
    "CapmFloorMapping",
    "HedgeNotional",
    "InstrumentCandidate",
    "InstrumentChoice",
    "LiquidityLimits",
    "LiquidityCheck",
    "Sizing",
    "StrikeChoice",
    "Compounding",
    "NotionalMode",
    "RoundingPolicy",
    "capm_portfolio_return",
    "capm_index_return_for_portfolio_return",
    "choose_instrument",
    "floor_to_index_level",
    "hedge_notional",
    "check_liquidity",
    "select_listed_strike",
    "select_liquid_strike",
    "size_contracts",
]


def _asdict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)``, in one pass when its fields are plain values."""
    try:
        return asdict_plain(obj)
    except NotPlain:
        return asdict(obj)


Compounding = Literal["simple", "continuous"]
NotionalMode = Literal["full", "beta_adjusted", "partial"]
RoundingPolicy = Literal["up", "down", "nearest"]

_EPS = 1e-12


def _finite(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValidationError.for_field(name, f"must be finite, got {value!r}")
    return out


def _period_growth(rate: float, t_years: float, compounding: Compounding) -> float:
    """Return over the term of a per-year rate: ``r*T`` (simple) or ``exp(r*T)-1``."""
    if compounding == "simple":
        return rate * t_years
    if compounding == "continuous":
        return math.expm1(rate * t_years)
    raise ValidationError.for_field("compounding", f"must be 'simple' or 'continuous', got {compounding!r}")


def capm_portfolio_return(
    index_return: float,
    beta: float,
    rate: float,
    t_years: float,
    portfolio_dividend_yield: float = 0.0,
    index_dividend_yield: float = 0.0,
    compounding: Compounding = "simple",
) -> float:
    """Expected change of the portfolio value (ex dividends) given the index change.

    Hull (8th ed., section 17.4, Table 17.1): the total index return is the price
    change plus its dividends; the CAPM gives the portfolio's excess return as
    ``beta`` times the index's; the portfolio's value change is its total return
    less its own dividends::

        R_p = r T + beta * (x + q_m T - r T) - q_p T

    Parameters
    ----------
    index_return : float
        Index price change over the term, ``I_T / I_0 - 1``.
    beta : float
        Portfolio beta against the index.
    rate, portfolio_dividend_yield, index_dividend_yield : float
        Per year (continuous or simple, see ``compounding``).
    t_years : float
        Term in years.
    compounding : {"simple", "continuous"}
        ``"simple"`` reproduces Hull's table (``r T``); ``"continuous"`` uses
        ``exp(r T) - 1``.

    Returns
    -------
    float
        ``V_T / V_0 - 1`` (portfolio value change, dividends excluded).
    """
    r = _period_growth(rate, t_years, compounding)
    qp = _period_growth(portfolio_dividend_yield, t_years, compounding)
    qm = _period_growth(index_dividend_yield, t_years, compounding)
    return r + beta * (index_return + qm - r) - qp


def capm_index_return_for_portfolio_return(
    portfolio_return: float,
    beta: float,
    rate: float,
    t_years: float,
    portfolio_dividend_yield: float = 0.0,
    index_dividend_yield: float = 0.0,
    compounding: Compounding = "simple",
) -> float:
    """Index change ``x`` that the CAPM pairs with a portfolio change (inverse of
    :func:`capm_portfolio_return`)::

        x = (R_p - r T + q_p T) / beta + r T - q_m T
    """
    if abs(beta) < _EPS:
        raise ValidationError.for_field("beta", "must be non-zero to map a floor to an index level")
    r = _period_growth(rate, t_years, compounding)
    qp = _period_growth(portfolio_dividend_yield, t_years, compounding)
    qm = _period_growth(index_dividend_yield, t_years, compounding)
    return (portfolio_return - r + qp) / beta + r - qm


@dataclass(frozen=True)
class CapmFloorMapping:
    """A portfolio floor mapped to an index level.

    Attributes
    ----------
    floor_pct : float
        Floor as a fraction of today's portfolio value (0.90).
    beta : float
        Portfolio beta used.
    index_level : float
        Today's level of the option's underlying.
    index_return : float
        Index change ``x`` at which the portfolio is expected to sit at the floor.
    target_level : float
        ``index_level * (1 + index_return)``: the put strike that insures the floor.
    rate, portfolio_dividend_yield, index_dividend_yield, t_years, compounding
        Inputs, echoed for the draft's assumptions.
    """

    floor_pct: float
    beta: float
    index_level: float
    index_return: float
    target_level: float
    rate: float
    portfolio_dividend_yield: float
    index_dividend_yield: float
    t_years: float
    compounding: str

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)


def floor_to_index_level(
    floor_pct: float,
    beta: float,
    index_level: float,
    rate: float,
    t_years: float,
    portfolio_dividend_yield: float = 0.0,
    index_dividend_yield: float = 0.0,
    compounding: Compounding = "simple",
) -> CapmFloorMapping:
    """Index level at which the portfolio is expected to be worth ``floor_pct`` of today.

    Hull 8th ed. Example 17.2: beta 2, r = 12 %/yr, dividend yield 4 %/yr on
    portfolio and index, index 1000, 3 months, floor 450,000 of 500,000 gives
    a strike of 960. Used with ``floor_pct = 1 + cap`` it gives the collar's
    call strike for an upside cap.

    Raises
    ------
    ValidationError
        Non-positive beta (index puts cannot insure a portfolio that rises when
        the index falls), non-positive level or term, a floor outside (0, 2),
        or a target index level that is not positive.
    """
    floor_pct = _finite("floor_pct", floor_pct)
    beta = _finite("beta", beta)
    index_level = _finite("index_level", index_level)
    t_years = _finite("t_years", t_years)
    rate = _finite("rate", rate)
    qp = _finite("portfolio_dividend_yield", portfolio_dividend_yield)
    qm = _finite("index_dividend_yield", index_dividend_yield)
    if not 0.0 < floor_pct < 2.0:
        raise ValidationError.for_field("floor_pct", f"must be in (0, 2), got {floor_pct}")
    if beta <= 0.0:
        raise ValidationError.for_field(
            "beta", f"must be > 0 to insure with index puts, got {beta:g}"
        )
    if index_level <= 0.0:
        raise ValidationError.for_field("index_level", f"must be > 0, got {index_level}")
    if t_years <= 0.0:
        raise ValidationError.for_field("t_years", f"must be > 0, got {t_years}")
    x = capm_index_return_for_portfolio_return(
        floor_pct - 1.0, beta, rate, t_years, qp, qm, compounding
    )
    target = index_level * (1.0 + x)
    if target <= 0.0:
        raise ValidationError.for_field(
            "floor_pct",
            f"floor {floor_pct:g} with beta {beta:g} maps to a non-positive index level ({target:.4g})",
        )
    return CapmFloorMapping(
        floor_pct=floor_pct,
        beta=beta,
        index_level=index_level,
        index_return=x,
        target_level=target,
        rate=rate,
        portfolio_dividend_yield=qp,
        index_dividend_yield=qm,
        t_years=t_years,
        compounding=compounding,
    )


# --------------------------------------------------------------------------- notional


@dataclass(frozen=True)
class HedgeNotional:
    """Dollar exposure to hedge.

    ``notional = portfolio_value * coverage * (beta if beta-adjusted else 1)``.
    """

    mode: str
    portfolio_value: float
    beta: float
    coverage: float
    notional: float

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)


def hedge_notional(
    portfolio_value: float,
    beta: float,
    mode: NotionalMode = "beta_adjusted",
    coverage: float = 1.0,
) -> HedgeNotional:
    """Notional to hedge, in dollars of index exposure.

    Parameters
    ----------
    portfolio_value : float
        Hedgeable portfolio value (excluded assets already removed).
    beta : float
        Portfolio beta against the hedge index.
    mode : {"full", "beta_adjusted", "partial"}
        ``full``: the portfolio value; ``beta_adjusted``: value times beta
        (Hull's sizing); ``partial``: value times beta times ``coverage``.
    coverage : float
        Coverage ratio in (0, 1] (only used, and required < 1 meaningful, for
        ``partial``; ignored otherwise and echoed as 1).
    """
    portfolio_value = _finite("portfolio_value", portfolio_value)
    beta = _finite("beta", beta)
    coverage = _finite("coverage", coverage)
    if portfolio_value <= 0.0:
        raise ValidationError.for_field("portfolio_value", f"must be > 0, got {portfolio_value}")
    if mode == "full":
        return HedgeNotional(mode, portfolio_value, beta, 1.0, portfolio_value)
    if mode == "beta_adjusted":
        return HedgeNotional(mode, portfolio_value, beta, 1.0, portfolio_value * beta)
    if mode == "partial":
        if not 0.0 < coverage <= 1.0:
            raise ValidationError.for_field("coverage", f"must be in (0, 1], got {coverage}")
        return HedgeNotional(mode, portfolio_value, beta, coverage, portfolio_value * beta * coverage)
    raise ValidationError.for_field("mode", f"must be full, beta_adjusted or partial, got {mode!r}")


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class Sizing:
    """Contracts for a notional, and the granularity error.

    Attributes
    ----------
    contracts : int
        Contracts after the rounding policy.
    exact_contracts : float
        ``target_notional / (underlying_level * multiplier)``.
    contract_notional : float
        Dollar notional of one contract, ``underlying_level * multiplier``.
    target_notional, achieved_notional : float
        Wanted and obtained notional (dollars).
    over_hedge : float
        ``achieved - target`` in dollars (negative = under-hedged).
    over_hedge_pct : float
        ``over_hedge / target``.
    """

    contracts: int
    exact_contracts: float
    contract_notional: float
    multiplier: float
    underlying_level: float
    target_notional: float
    achieved_notional: float
    over_hedge: float
    over_hedge_pct: float
    rounding: str

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)


def size_contracts(
    target_notional: float,
    underlying_level: float,
    multiplier: float,
    rounding: RoundingPolicy = "up",
) -> Sizing:
    """Number of contracts ``target / (underlying_level * multiplier)`` under a rounding policy.

    ``up`` (default) never under-hedges; ``down`` never over-hedges; ``nearest``
    minimises the error. Hull 8th ed. Example 17.2: 2 * 500,000 / (1000 * 100)
    = 10 contracts.

    Raises
    ------
    ValidationError
        Non-positive inputs, or a policy that rounds to zero contracts.
    """
    target_notional = _finite("target_notional", target_notional)
    underlying_level = _finite("underlying_level", underlying_level)
    multiplier = _finite("multiplier", multiplier)
    for name, value in (
        ("target_notional", target_notional),
        ("underlying_level", underlying_level),
        ("multiplier", multiplier),
    ):
        if value <= 0.0:
            raise ValidationError.for_field(name, f"must be > 0, got {value}")
    unit = underlying_level * multiplier
    exact = target_notional / unit
    # tolerate float noise: 9.9999999999 contracts is 10
    snapped = round(exact)
    base = float(snapped) if abs(exact - snapped) < 1e-9 * max(1.0, exact) else exact
    if rounding == "up":
        n = int(math.ceil(base))
    elif rounding == "down":
        n = int(math.floor(base))
    elif rounding == "nearest":
        n = int(math.floor(base + 0.5))
    else:
        raise ValidationError.for_field("rounding", f"must be up, down or nearest, got {rounding!r}")
    if n < 1:
        raise ValidationError.for_field(
            "rounding",
            f"'{rounding}' gives 0 contracts: one contract ({unit:,.2f}) exceeds the notional "
            f"{target_notional:,.2f}",
        )
    achieved = n * unit
    over = achieved - target_notional
    return Sizing(
        contracts=n,
        exact_contracts=exact,
        contract_notional=unit,
        multiplier=multiplier,
        underlying_level=underlying_level,
        target_notional=target_notional,
        achieved_notional=achieved,
        over_hedge=over,
        over_hedge_pct=over / target_notional,
        rounding=rounding,
    )


@dataclass(frozen=True)
class InstrumentCandidate:
    """An option instrument on the hedge index.

    ``underlying_level`` is the level of the option's own underlying (SPX
    points, XSP = SPX / 10, SPY dollars); ``multiplier`` dollars per point.
    """

    symbol: str
    underlying_level: float
    multiplier: float


@dataclass(frozen=True)
class InstrumentChoice:
    """The chosen instrument and every candidate's sizing, for the report."""

    symbol: str
    sizing: Sizing
    reason: str
    candidates: dict[str, Sizing] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "reason": self.reason,
            "sizing": self.sizing.to_dict(),
            "candidates": {k: v.to_dict() for k, v in self.candidates.items()},
        }


def choose_instrument(
    target_notional: float,
    candidates: Sequence[InstrumentCandidate],
    rounding: RoundingPolicy = "up",
    fixed: str | None = None,
) -> InstrumentChoice:
    """Pick the instrument whose contract size fits the notional best.

    The granularity error is ``|achieved - target| / target`` after rounding;
    ties go to the larger contract (fewer tickets). With ``fixed`` the user's
    instrument is kept and the others are only reported.

    Raises
    ------
    ValidationError
        No candidates, an unknown ``fixed`` symbol, or no candidate can be sized.
    """
    if not candidates:
        raise ValidationError.for_field("instrument", "no candidate instruments")
    sized: dict[str, Sizing] = {}
    errors: dict[str, str] = {}
    for c in candidates:
        try:
            sized[c.symbol] = size_contracts(target_notional, c.underlying_level, c.multiplier, rounding)
        except ValidationError as exc:
            errors[c.symbol] = str(exc)
    if fixed is not None:
        key = fixed.upper()
        if key not in {c.symbol.upper() for c in candidates}:
            raise ValidationError.for_field("instrument", f"unknown instrument {fixed!r}")
        sym = next(c.symbol for c in candidates if c.symbol.upper() == key)
        if sym not in sized:
            raise ValidationError.for_field("instrument", errors[sym])
        return InstrumentChoice(sym, sized[sym], "fixed by the user", sized)
    if not sized:
        raise ValidationError.for_field("instrument", "; ".join(f"{k}: {v}" for k, v in errors.items()))
    best = min(
        sized.items(),
        key=lambda kv: (round(abs(kv[1].over_hedge_pct), 12), -kv[1].contract_notional),
    )
    sym, sz = best
    reason = (
        f"least granularity error: {sz.contracts} x {sz.contract_notional:,.0f} = "
        f"{sz.achieved_notional:,.0f} for {sz.target_notional:,.0f} ({sz.over_hedge_pct:+.2%})"
    )
    return InstrumentChoice(sym, sz, reason, sized)


# --------------------------------------------------------------------------- strikes


@dataclass(frozen=True)
class StrikeChoice:
    """A listed strike chosen for a target level, and why.

    ``guaranteed`` is True when the strike is on the safe side of the target
    (a put strike at or above the floor level; a cap call strike at or above
    the cap level).
    """

    strike: float
    target: float
    exact: bool
    guaranteed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)


def select_listed_strike(
    target: float,
    listed_strikes: Iterable[float],
    side: Literal["at_or_above", "at_or_below"] = "at_or_above",
) -> StrikeChoice:
    """Nearest listed strike on the safe side of ``target``.

    For a protective put the safe side is *at or above* the CAPM floor level
    (a higher put strike pays out earlier, so the floor still holds). When no
    listed strike is on the safe side, the nearest one on the other side is
    taken with ``guaranteed=False`` and the reason says so.
    """
    strikes = np.unique(np.asarray([float(s) for s in listed_strikes], dtype=float))
    strikes = strikes[np.isfinite(strikes) & (strikes > 0)]
    if strikes.size == 0:
        raise QuoteRefusedError("no listed strikes to choose from")
    tol = 1e-9 * max(1.0, abs(target))
    exact_hits = strikes[np.abs(strikes - target) <= tol]
    if exact_hits.size:
        k = float(exact_hits[0])
        return StrikeChoice(k, target, True, True, f"listed strike {k:g} equals the target {target:.4f}")
    if side == "at_or_above":
        safe = strikes[strikes > target]
        if safe.size:
            k = float(safe.min())
            return StrikeChoice(
                k, target, False, True,
                f"no strike at {target:.4f}; took the nearest listed strike above it, {k:g}, "
                "which still guarantees the level",
            )
        k = float(strikes.max())
    else:
        safe = strikes[strikes < target]
        if safe.size:
            k = float(safe.max())
            return StrikeChoice(
                k, target, False, True,
                f"no strike at {target:.4f}; took the nearest listed strike below it, {k:g}, "
                "which still guarantees the level",
            )
        k = float(strikes.min())
    return StrikeChoice(
        k, target, False, False,
        f"no listed strike on the safe side of {target:.4f}; nearest is {k:g}, "
        "which does NOT fully guarantee the level",
    )


# --------------------------------------------------------------------------- liquidity


@dataclass(frozen=True)
class LiquidityLimits:
    """Limits a quote must meet (from ``Settings``: max_spread_pct, min_open_interest, min_volume).

    ``max_spread_pct`` is ``(ask - bid) / mid``; a quote whose spread is at
    most ``max_spread_ticks`` ticks passes too (a one-tick market on a 0.10
    option is as tight as it gets, though 67 % of the mid).
    """

    max_spread_pct: float = 0.25
    min_open_interest: int = 10
    min_volume: int = 0
    #: a spread of at most this many ticks passes whatever its percentage (cheap options)
    max_spread_ticks: int = 2


@dataclass(frozen=True)
class LiquidityCheck:
    """Result of :func:`check_liquidity` for one option quote."""

    ok: bool
    spread_pct: float | None
    open_interest: float | None
    volume: float | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = _asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def check_liquidity(
    bid: float | None,
    ask: float | None,
    open_interest: float | None,
    volume: float | None,
    limits: LiquidityLimits,
    tick: float | None = None,
) -> LiquidityCheck:
    """Whether a quote meets the spread, open-interest and volume limits.

    A quote without a positive ask, or without a bid, has no usable spread and
    fails. Unknown open interest or volume (NaN, as in a synthetic chain)
    passes, as in :meth:`floorguard.domain.chains.OptionChain.liquid`.
    """
    b, a, oi, vol = _num(bid), _num(ask), _num(open_interest), _num(volume)
    reasons: list[str] = []
    spread: float | None = None
    if a is None or a <= 0.0:
        reasons.append("no ask")
    elif b is None or b < 0.0:
        reasons.append("no bid")
    else:
        mid = 0.5 * (a + b)
        spread = (a - b) / mid if mid > 0 else None
        if spread is None:
            reasons.append("zero mid")
        elif spread > limits.max_spread_pct + 1e-12:
            if tick is None or (a - b) > limits.max_spread_ticks * tick + 1e-9:
                reasons.append(f"spread {spread:.1%} > {limits.max_spread_pct:.1%}")
    # unknown open interest or volume (a synthetic chain) is not held against the quote
    if limits.min_open_interest > 0 and oi is not None and oi < limits.min_open_interest:
        reasons.append(f"open interest {oi:g} < {limits.min_open_interest}")
    if limits.min_volume > 0 and vol is not None and vol < limits.min_volume:
        reasons.append(f"volume {vol:g} < {limits.min_volume}")
    return LiquidityCheck(not reasons, spread, oi, vol, tuple(reasons))


def _skipped(rejected: list[dict[str, Any]], shown: int = 3) -> str:
    text = "; ".join(f"{d['strike']:g}: {', '.join(d['reasons'])}" for d in rejected[:shown])
    if len(rejected) > shown:
        text += f"; and {len(rejected) - shown} more"
    return text


def select_liquid_strike(
    target: float,
    rows: Sequence[dict[str, Any]],
    limits: LiquidityLimits,
    side: Literal["at_or_above", "at_or_below"] = "at_or_above",
    max_distance: float = 0.05,
    tick_fn: Callable[[float], float] | None = None,
) -> tuple[StrikeChoice, LiquidityCheck, list[dict[str, Any]]]:
    """Listed strike for ``target`` that also passes the liquidity limits.

    The listed strike is chosen as in :func:`select_listed_strike`. If its
    quote fails the limits, the next strikes on the safe side (moving away from
    the target, within ``max_distance`` of it as a fraction) are tried in order;
    the first liquid one is taken and the substitution explained.

    Parameters
    ----------
    rows : sequence of dict
        Quotes of one kind and expiry with keys ``strike, bid, ask,
        open_interest, volume``.
    tick_fn : callable(price) -> tick, optional
        Premium tick, for the ``max_spread_ticks`` allowance.

    Returns
    -------
    (StrikeChoice, LiquidityCheck, rejected)
        ``rejected`` lists ``{"strike", "reasons"}`` of the strikes skipped.

    Raises
    ------
    QuoteRefusedError
        When no strike within reach passes the limits.
    """
    if not rows:
        raise QuoteRefusedError("no quotes to choose a strike from")
    by_strike = {float(r["strike"]): r for r in rows}
    first = select_listed_strike(target, by_strike.keys(), side)
    strikes = np.array(sorted(by_strike), dtype=float)
    if first.guaranteed:
        if side == "at_or_above":
            ordered = [k for k in strikes if k >= first.strike]
        else:
            ordered = [k for k in strikes[::-1] if k <= first.strike]
    else:
        ordered = [first.strike]
    rejected: list[dict[str, Any]] = []
    for k in ordered:
        if abs(k - target) > max_distance * target and k != first.strike:
            break
        r = by_strike[k]
        tick = tick_fn(_num(r.get("ask")) or 0.0) if tick_fn is not None else None
        chk = check_liquidity(r.get("bid"), r.get("ask"), r.get("open_interest"), r.get("volume"), limits, tick)
        if chk.ok:
            if k == first.strike:
                return first, chk, rejected
            skipped = _skipped(rejected)
            choice = StrikeChoice(
                float(k), target, False, first.guaranteed,
                f"{first.reason}; it failed the liquidity limits ({skipped}); "
                f"took the next liquid strike {k:g} on the safe side",
            )
            return choice, chk, rejected
        rejected.append({"strike": float(k), "reasons": list(chk.reasons)})
    skipped = _skipped(rejected) or "no strike on the safe side within reach"
    raise QuoteRefusedError(
        f"no liquid strike within {max_distance:.0%} of {target:.2f} on the safe side ({skipped})"
    )
