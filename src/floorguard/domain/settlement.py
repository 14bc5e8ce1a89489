"""Payoff and settlement of a policy (the seed's section 11, extended).

At expiry::

    floor_value   = floor_pct * initial_portfolio_value
    shortfall     = max(0, floor_value - final_portfolio_value)
    leg intrinsic = sign * max(0, K - L)  (put)  or  sign * max(0, L - K)  (call)
                    * multiplier * contracts,   sign = +1 long, -1 short
    put_intrinsic = sum over put legs   (a put spread's short put is subtracted)
    call_intrinsic= sum over call legs of |intrinsic|  (a collar's short call, subtracted)
    hedge_payoff  = sum over all legs of the signed intrinsic
    compensation  = min(coverage_ratio * shortfall - deductible, max(0, hedge_payoff)),
                    floored at 0 and capped by ``cap`` (default terms)

Before expiry the hedge is marked to market with the pricing engine over its
remaining life (:func:`mark_to_market`); an early termination is valued as
the unwind at the bid: long legs sold at the bid, short legs bought back at
the ask (:func:`unwind_value`).

These are clean functions over numbers and :class:`HedgeLeg` objects; the
settlement job and the API call them directly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from floorguard._typing import FloatArray
from floorguard.domain.policy import HedgeLeg, PolicyDraft
from floorguard.exceptions import ValidationError

__all__ = [
    "CompensationRule",
    "MarkToMarket",
    "SettlementBatch",
    "SettlementResult",
    "SettlementTerms",
    "UnwindResult",
    "hedge_payoff_curve",
    "leg_intrinsic",
    "mark_to_market",
    "settle",
    "settle_batch",
    "settle_policy",
    "unwind_value",
]

CompensationRule = Literal["min", "hedge_payoff", "shortfall"]


@dataclass(frozen=True)
class SettlementTerms:
    """Contract terms of the compensation.

    Attributes
    ----------
    coverage_ratio : float
        Share of the shortfall the policy covers, in (0, 1].
    rule : {"min", "hedge_payoff", "shortfall"}
        ``"min"`` (default, the seed's): ``min(covered shortfall, net hedge
        payoff)``; ``"hedge_payoff"``: the net hedge payoff (the investor keeps
        the hedge); ``"shortfall"``: the covered shortfall, whatever the hedge
        paid (a guarantee: the insurer carries the basis risk).
    deductible : float
        Dollars of shortfall the investor bears first.
    cap : float or None
        Maximum compensation in dollars.
    """

    coverage_ratio: float = 1.0
    rule: CompensationRule = "min"
    deductible: float = 0.0
    cap: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.coverage_ratio) and 0.0 < self.coverage_ratio <= 1.0):
            raise ValidationError.for_field("coverage_ratio", f"must be in (0, 1], got {self.coverage_ratio}")
        if self.rule not in ("min", "hedge_payoff", "shortfall"):
            raise ValidationError.for_field("rule", f"must be min, hedge_payoff or shortfall, got {self.rule!r}")
        if not (math.isfinite(self.deductible) and self.deductible >= 0.0):
            raise ValidationError.for_field("deductible", f"must be >= 0, got {self.deductible}")
        if self.cap is not None and not (math.isfinite(self.cap) and self.cap >= 0.0):
            raise ValidationError.for_field("cap", f"must be >= 0, got {self.cap}")

    def to_dict(self) -> dict[str, Any]:
        return {"coverage_ratio": self.coverage_ratio, "rule": self.rule, "deductible": self.deductible,
                "cap": self.cap}


def leg_intrinsic(leg: HedgeLeg, final_level: float) -> float:
    """Signed intrinsic value of a leg at ``final_level``, dollars.

    ``sign * max(0, K - L) * multiplier * contracts`` for a put and
    ``sign * max(0, L - K) * ...`` for a call; ``sign`` is -1 for a short leg.
    """
    per_unit = max(0.0, leg.strike - final_level) if leg.kind == "put" else max(0.0, final_level - leg.strike)
    # "+ 0.0" turns the -0.0 of a worthless short leg into 0.0 (printed as "-0.0" otherwise)
    return leg.sign * per_unit * leg.multiplier * leg.contracts + 0.0


@dataclass(frozen=True)
class SettlementResult:
    """Outcome of a policy at expiry, dollars.

    ``put_intrinsic`` is the net of the put legs (long minus short),
    ``call_intrinsic`` the intrinsic of the short call(s) as a positive
    number (it is subtracted), ``hedge_payoff = put_intrinsic -
    call_intrinsic`` (plus any long call). ``coverage_ratio`` echoes the
    terms; ``covered_pct`` is ``compensation / shortfall`` (NaN when there is
    no shortfall).
    """

    initial_portfolio_value: float
    final_portfolio_value: float
    final_index_level: float
    floor_value: float
    shortfall: float
    put_intrinsic: float
    call_intrinsic: float
    hedge_payoff: float
    covered_shortfall: float
    compensation: float
    coverage_ratio: float
    covered_pct: float
    residual_loss: float
    legs: list[dict[str, Any]] = field(default_factory=list)
    terms: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


def _check_value(name: str, value: float, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0.0 or (positive and v == 0.0):
        raise ValidationError.for_field(name, f"must be {'> 0' if positive else '>= 0'} and finite, got {value!r}")
    return v


def settle(
    initial_portfolio_value: float,
    floor_pct: float,
    legs: Sequence[HedgeLeg],
    final_portfolio_value: float,
    final_index_level: float,
    terms: SettlementTerms | None = None,
) -> SettlementResult:
    """Settle a hedge at expiry (the seed's section 11, extended).

    Parameters
    ----------
    initial_portfolio_value : float
        Portfolio value when the policy started (dollars, > 0).
    floor_pct : float
        Floor as a fraction of it.
    legs : sequence of HedgeLeg
        The hedge's legs.
    final_portfolio_value : float
        Portfolio value at expiry (dollars, >= 0).
    final_index_level : float
        Settlement level of the options' underlying (strike units, >= 0).
    terms : SettlementTerms, optional
        Compensation terms; default ``min(shortfall, net hedge payoff)``.

    Returns
    -------
    SettlementResult
    """
    terms = terms or SettlementTerms()
    v0 = _check_value("initial_portfolio_value", initial_portfolio_value, positive=True)
    vt = _check_value("final_portfolio_value", final_portfolio_value)
    lt = _check_value("final_index_level", final_index_level)
    fp = _check_value("floor_pct", floor_pct, positive=True)
    floor_value = fp * v0
    shortfall = max(0.0, floor_value - vt)
    put_intr = 0.0
    call_intr = 0.0
    rows = []
    for leg in legs:
        x = leg_intrinsic(leg, lt)
        rows.append({"kind": leg.kind, "side": leg.side, "strike": leg.strike, "contracts": leg.contracts,
                     "intrinsic": x})
        if leg.kind == "put":
            put_intr += x
        else:
            call_intr -= x  # short call: positive number, subtracted below
    hedge = put_intr - call_intr
    covered = max(0.0, terms.coverage_ratio * shortfall - terms.deductible)
    if terms.rule == "min":
        comp = min(covered, max(0.0, hedge))
    elif terms.rule == "hedge_payoff":
        comp = max(0.0, hedge)
    else:
        comp = covered
    if terms.cap is not None:
        comp = min(comp, terms.cap)
    comp = max(0.0, comp)
    return SettlementResult(
        initial_portfolio_value=v0,
        final_portfolio_value=vt,
        final_index_level=lt,
        floor_value=floor_value,
        shortfall=shortfall,
        put_intrinsic=put_intr,
        call_intrinsic=call_intr,
        hedge_payoff=hedge,
        covered_shortfall=covered,
        compensation=comp,
        coverage_ratio=terms.coverage_ratio,
        covered_pct=comp / shortfall if shortfall > 0.0 else float("nan"),
        residual_loss=shortfall - min(comp, shortfall),
        legs=rows,
        terms=terms.to_dict(),
    )


def settle_policy(
    draft: PolicyDraft,
    final_portfolio_value: float,
    final_index_level: float,
    terms: SettlementTerms | None = None,
) -> SettlementResult:
    """:func:`settle` for a :class:`PolicyDraft`; the terms default to the draft's coverage ratio."""
    if terms is None:
        terms = SettlementTerms(coverage_ratio=draft.coverage_ratio if math.isfinite(draft.coverage_ratio) else 1.0)
    return settle(draft.portfolio_value, draft.floor_pct, draft.legs, final_portfolio_value,
                  final_index_level, terms)


@dataclass(frozen=True)
class SettlementBatch:
    """Vectorised settlement of many scenarios (arrays of shape (n,), dollars)."""

    floor_value: float
    shortfall: FloatArray
    put_intrinsic: FloatArray
    call_intrinsic: FloatArray
    hedge_payoff: FloatArray
    compensation: FloatArray

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


def settle_batch(
    initial_portfolio_value: float,
    floor_pct: float,
    legs: Sequence[HedgeLeg],
    final_portfolio_values: FloatArray,
    final_index_levels: FloatArray,
    terms: SettlementTerms | None = None,
) -> SettlementBatch:
    """:func:`settle` for many scenarios at once (same formulas, vectorised).

    Parameters
    ----------
    final_portfolio_values, final_index_levels : array_like, shape (n,)
        Scenario outcomes (>= 0, finite).

    Raises
    ------
    ValidationError
        Shapes differ, or values are negative or not finite.
    """
    terms = terms or SettlementTerms()
    v0 = _check_value("initial_portfolio_value", initial_portfolio_value, positive=True)
    fp = _check_value("floor_pct", floor_pct, positive=True)
    vt = np.asarray(final_portfolio_values, dtype=float)
    lt = np.asarray(final_index_levels, dtype=float)
    if vt.shape != lt.shape or vt.ndim != 1:
        raise ValidationError.for_field("final_index_levels", f"shape {lt.shape} does not match {vt.shape}")
    for name, arr in (("final_portfolio_values", vt), ("final_index_levels", lt)):
        if not (np.all(np.isfinite(arr)) and np.all(arr >= 0.0)):
            raise ValidationError.for_field(name, "must be finite and >= 0")
    floor_value = fp * v0
    shortfall = np.maximum(floor_value - vt, 0.0)
    put = np.zeros_like(lt)
    call = np.zeros_like(lt)
    for leg in legs:
        scale = leg.sign * leg.multiplier * leg.contracts
        if leg.kind == "put":
            put += scale * np.maximum(leg.strike - lt, 0.0)
        else:
            call -= scale * np.maximum(lt - leg.strike, 0.0)
    hedge = put - call
    covered = np.maximum(terms.coverage_ratio * shortfall - terms.deductible, 0.0)
    if terms.rule == "min":
        comp = np.minimum(covered, np.maximum(hedge, 0.0))
    elif terms.rule == "hedge_payoff":
        comp = np.maximum(hedge, 0.0)
    else:
        comp = covered
    if terms.cap is not None:
        comp = np.minimum(comp, terms.cap)
    return SettlementBatch(floor_value, shortfall, put, call, hedge, np.maximum(comp, 0.0))


def hedge_payoff_curve(legs: Sequence[HedgeLeg], levels: FloatArray) -> FloatArray:
    """Net hedge payoff (dollars) at each final level, vectorised.

    Parameters
    ----------
    legs : sequence of HedgeLeg
    levels : ndarray, shape (n,)
        Final underlying levels.

    Returns
    -------
    ndarray, shape (n,)
    """
    lv = np.asarray(levels, dtype=float)
    out = np.zeros_like(lv)
    for leg in legs:
        if leg.kind == "put":
            intr = np.maximum(leg.strike - lv, 0.0)
        else:
            intr = np.maximum(lv - leg.strike, 0.0)
        out += leg.sign * leg.multiplier * leg.contracts * intr
    return out


# --------------------------------------------------------------------------- before expiry


@dataclass(frozen=True)
class MarkToMarket:
    """Model value of a hedge before expiry, dollars.

    ``hedge_value`` is the signed model value of all legs (long positive);
    ``intrinsic`` what they would pay if exercised now; ``time_value`` the
    difference; ``pnl`` is ``hedge_value`` minus the net premium paid.
    ``floor_gap`` is ``portfolio_value - floor_value`` (negative = breached).
    ``warnings`` says when legs are past their settlement (valued at intrinsic).
    """

    as_of: str
    t_years: float
    underlying_level: float
    hedge_value: float
    intrinsic: float
    time_value: float
    premium_paid: float
    pnl: float
    portfolio_value: float | None
    floor_value: float
    floor_gap: float | None
    greeks: dict[str, float]
    legs: list[dict[str, Any]]
    model: str = "black-scholes-merton (European), estimate"
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


VolInput = float | Callable[[float, float], float]


def mark_to_market(
    draft: PolicyDraft,
    as_of: dt.datetime,
    underlying_level: float,
    rate: float,
    dividend_yield: float,
    vol: VolInput | None = None,
    portfolio_value: float | None = None,
) -> MarkToMarket:
    """Mark the hedge to market with the pricing engine over its remaining life.

    European contracts (SPX, XSP) use Black-Scholes-Merton; American ones
    (SPY, ``draft.contract_spec["style"] == "american"``) the pricing
    engine's American pricer and its finite-difference greeks.

    Parameters
    ----------
    draft : PolicyDraft
    as_of : datetime
        Valuation time (UTC); at or after the settlement moment (``draft.end_utc``
        for legs of the draft's expiry, else 21:00 UTC on the expiry date) the
        legs are worth their intrinsic value.
    underlying_level : float
        Current level of the options' underlying.
    rate, dividend_yield : float
        Continuously compounded, per year.
    vol : float or callable(strike, t_years) -> vol, optional
        Volatility per 1.00; default each leg's implied vol at the quote.
    portfolio_value : float, optional
        Current portfolio value, to report the distance to the floor.
    """
    from floorguard.core.pricing import american_greeks, american_price, bsm_greeks, bsm_price

    american = str(draft.contract_spec.get("style", "european")).lower() == "american"
    price_fn, greeks_fn = (american_price, american_greeks) if american else (bsm_price, bsm_greeks)

    s = _check_value("underlying_level", underlying_level, positive=True)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.timezone.utc)
    rows = []
    total = intr_total = 0.0
    greeks = {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0, "rho": 0.0}
    t_min = math.inf
    expired: list[str] = []
    for leg in draft.legs:
        if draft.expiry is not None and leg.expiry == draft.expiry:
            expiry_dt = draft.end_utc  # the listed settlement moment recorded at the quote
        else:
            expiry_dt = dt.datetime.combine(leg.expiry, dt.time(21, 0), tzinfo=dt.timezone.utc)
        t = max(0.0, (expiry_dt - as_of).total_seconds() / (365.0 * 86400.0))
        t_min = min(t_min, t)
        intr = max(0.0, leg.strike - s) if leg.kind == "put" else max(0.0, s - leg.strike)
        scale = leg.sign * leg.multiplier * leg.contracts
        if t <= 0.0:
            expired.append(f"{leg.side} {leg.kind} {leg.strike:g} settled at {expiry_dt.isoformat()}")
            unit = intr
            g = {k: 0.0 for k in greeks}
            sigma = float("nan")
        else:
            if vol is None:
                sigma = leg.iv
            elif callable(vol):
                sigma = float(vol(leg.strike, t))
            else:
                sigma = float(vol)
            if not (math.isfinite(sigma) and sigma > 0.0):
                raise ValidationError.for_field("vol", f"no usable volatility for the {leg.kind} {leg.strike:g}")
            unit = float(price_fn(leg.kind, s, leg.strike, t, rate, sigma, dividend_yield))
            gg = greeks_fn(leg.kind, s, leg.strike, t, rate, sigma, dividend_yield)
            g = {k: float(_greek(gg, k)) for k in greeks}
        for k in greeks:
            greeks[k] += scale * g[k] + 0.0
        total += scale * unit
        intr_total += scale * intr
        # "+ 0.0": a worthless short leg is 0.0, not -0.0
        rows.append({"kind": leg.kind, "side": leg.side, "strike": leg.strike, "contracts": leg.contracts,
                     "t_years": t, "vol": sigma, "unit_value": unit, "value": scale * unit + 0.0,
                     "intrinsic": scale * intr + 0.0})
    premium = draft.premium_net
    pv = None if portfolio_value is None else _check_value("portfolio_value", portfolio_value)
    return MarkToMarket(
        as_of=as_of.isoformat(),
        t_years=0.0 if not math.isfinite(t_min) else t_min,
        underlying_level=s,
        hedge_value=total,
        intrinsic=intr_total,
        time_value=total - intr_total,
        premium_paid=premium,
        pnl=total - premium,
        portfolio_value=pv,
        floor_value=draft.floor_value,
        floor_gap=None if pv is None else pv - draft.floor_value,
        greeks=greeks,
        legs=rows,
        model=("American (pricing engine ALO), estimate" if american
               else "black-scholes-merton (European), estimate"),
        warnings=tuple(
            [f"as of {as_of.isoformat()} the hedge is past its settlement; these legs are valued at their "
             f"intrinsic value at the given level: " + "; ".join(expired)] if expired else []
        ),
    )


def _greek(g: Any, name: str) -> float:
    if isinstance(g, Mapping):
        return float(g[name])
    return float(getattr(g, name))


# --------------------------------------------------------------------------- early termination


@dataclass(frozen=True)
class UnwindResult:
    """Proceeds of closing a hedge early, dollars.

    Long legs are sold at the bid, short legs bought back at the ask;
    ``proceeds`` is the net cash received (negative = the investor pays).
    """

    proceeds: float
    proceeds_mid: float
    slippage: float
    premium_paid: float
    pnl: float
    legs: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unwind_value(
    legs: Sequence[HedgeLeg],
    quotes: Mapping[tuple[str, float], tuple[float, float]],
    premium_paid: float = 0.0,
) -> UnwindResult:
    """Unwind value of a hedge at the current quotes.

    Parameters
    ----------
    legs : sequence of HedgeLeg
    quotes : mapping (kind, strike) -> (bid, ask)
        Current quotes of the legs' options (same expiry).
    premium_paid : float
        Net premium paid at the start, to report the P&L.

    Raises
    ------
    ValidationError
        A leg has no quote, or a quote without the side needed.
    """
    rows = []
    proceeds = proceeds_mid = 0.0
    for leg in legs:
        key = (leg.kind, float(leg.strike))
        if key not in quotes:
            raise ValidationError.for_field("quotes", f"no quote for the {leg.kind} {leg.strike:g}")
        bid, ask = (float(x) for x in quotes[key])
        if leg.side == "long":
            if not (math.isfinite(bid) and bid >= 0.0):
                raise ValidationError.for_field("quotes", f"no bid for the {leg.kind} {leg.strike:g}")
            price = bid
        else:
            if not (math.isfinite(ask) and ask > 0.0):
                raise ValidationError.for_field("quotes", f"no ask for the {leg.kind} {leg.strike:g}")
            price = ask
        mid = 0.5 * (bid + ask) if math.isfinite(bid) and math.isfinite(ask) else price
        cash = leg.sign * price * leg.multiplier * leg.contracts
        cash_mid = leg.sign * mid * leg.multiplier * leg.contracts
        proceeds += cash
        proceeds_mid += cash_mid
        rows.append({"kind": leg.kind, "side": leg.side, "strike": leg.strike, "contracts": leg.contracts,
                     "price": price, "cash": cash})
    return UnwindResult(
        proceeds=proceeds,
        proceeds_mid=proceeds_mid,
        slippage=proceeds_mid - proceeds,
        premium_paid=premium_paid,
        pnl=proceeds - premium_paid,
        legs=rows,
    )
