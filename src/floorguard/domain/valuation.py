"""Portfolio valuation with price provenance, and the portfolio beta against an index.

Valuation: each position is priced by the user's price, else the primary
market data, else (when configured) a fallback source; a position without a
price refuses the quote, listing every such symbol. Private (illiquid) assets
and cash are valued but left out of the hedge, and reported.

Beta: exposure-weighted with shorts signed, ``beta_p = sum(MV_i * beta_i) /
sum(MV_i)`` over the hedged positions (aggregated by
:func:`floorguard.core.risk.portfolio_beta`). Each position's beta is the
risk layer's hybrid beta: the user's when given, else a regression estimate on
history (with its provenance), else 1.0 with a warning. An absurd regression beta (beyond ``max_abs_beta``) is shrunk
towards 1 with Vasicek's Bayesian adjustment (Vasicek 1973, J. Finance 28(5)):
``b* = (s0^2 * b + se^2 * 1) / (s0^2 + se^2)``, ``s0`` the prior standard
deviation of betas. The plain average of position betas is never used.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from floorguard.domain._plain import NotPlain, asdict_plain
from floorguard.exceptions import QuoteRefusedError, ValidationError

__all__ = [
    "HedgeBeta",
    "PriceLike",
    "ValuedPosition",
    "Valuation",
    "EXCLUDED_ASSET_TYPES",
    "hedge_portfolio_beta",
    "value_positions",
    "vasicek_beta",
]

#: Asset types valued but not hedged with index options.
EXCLUDED_ASSET_TYPES: dict[str, str] = {
    "private": "private/illiquid asset: no market price history and no index hedge",
    "cash": "cash: no market risk to hedge",
}


class PriceLike(Protocol):
    """A price with provenance (``floorguard.marketdata.PricePoint`` fits)."""

    price: float
    as_of: dt.date
    source: str


class _PositionLike(Protocol):
    symbol: str
    quantity: float
    price: float | None
    asset_type: str
    beta: float | None


@dataclass(frozen=True)
class ValuedPosition:
    """A position with its price, value and where the price came from."""

    symbol: str
    quantity: float
    asset_type: str
    price: float
    market_value: float
    price_source: str
    price_as_of: str | None
    hedged: bool
    excluded_reason: str | None = None
    user_beta: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)`` (one pass over plain values; ``asdict`` itself otherwise)."""
        try:
            return asdict_plain(self)
        except NotPlain:
            return asdict(self)


@dataclass(frozen=True)
class Valuation:
    """Valued portfolio.

    Attributes
    ----------
    positions : list of ValuedPosition
    total_value : float
        Signed sum of all market values (dollars).
    hedged_value : float
        Signed sum over the hedged positions (what the policy insures).
    excluded : list of dict
        ``{"symbol", "market_value", "reason"}`` for positions left out.
    fallback_used : list of str
        Symbols priced by the fallback source.
    warnings : list of str
    """

    positions: list[ValuedPosition]
    total_value: float
    hedged_value: float
    excluded: list[dict[str, Any]] = field(default_factory=list)
    fallback_used: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def hedged_positions(self) -> list[ValuedPosition]:
        return [p for p in self.positions if p.hedged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "positions": [p.to_dict() for p in self.positions],
            "total_value": self.total_value,
            "hedged_value": self.hedged_value,
            "excluded": list(self.excluded),
            "fallback_used": list(self.fallback_used),
            "warnings": list(self.warnings),
        }


def _as_of(p: Any) -> str | None:
    a = getattr(p, "as_of", None)
    if a is None:
        return None
    return a.isoformat() if hasattr(a, "isoformat") else str(a)


def value_positions(
    positions: Sequence[_PositionLike],
    prices: Mapping[str, PriceLike],
    fallback_prices: Mapping[str, PriceLike] | None = None,
) -> Valuation:
    """Value positions, recording each price's source.

    Parameters
    ----------
    positions : sequence of Position
        ``symbol, quantity, price (optional), asset_type, beta (optional)``.
    prices : mapping symbol -> PricePoint
        Prices from the primary market data.
    fallback_prices : mapping symbol -> PricePoint, optional
        Prices from the configured fallback source, used only where the user
        and the primary source have none (each use is reported).

    Raises
    ------
    QuoteRefusedError
        Some position has no price anywhere (every such symbol is listed), or
        the hedged value is not positive.
    """
    out: list[ValuedPosition] = []
    missing: list[str] = []
    fallback_used: list[str] = []
    warnings: list[str] = []
    for pos in positions:
        sym = pos.symbol
        if pos.price is not None:
            price, source, as_of = float(pos.price), "user", None
        elif sym in prices:
            pp = prices[sym]
            price, source, as_of = float(pp.price), str(pp.source), _as_of(pp)
        elif fallback_prices is not None and sym in fallback_prices:
            pp = fallback_prices[sym]
            price, source, as_of = float(pp.price), f"fallback:{pp.source}", _as_of(pp)
            fallback_used.append(sym)
        else:
            missing.append(sym)
            continue
        if not (math.isfinite(price) and price > 0.0):
            missing.append(sym)
            continue
        reason = EXCLUDED_ASSET_TYPES.get(pos.asset_type)
        out.append(
            ValuedPosition(
                symbol=sym,
                quantity=float(pos.quantity),
                asset_type=pos.asset_type,
                price=price,
                market_value=float(pos.quantity) * price,
                price_source=source,
                price_as_of=as_of,
                hedged=reason is None,
                excluded_reason=reason,
                user_beta=None if pos.beta is None else float(pos.beta),
            )
        )
    if missing:
        raise QuoteRefusedError(
            f"quote refused: no price for {', '.join(missing)} (give a price in the portfolio file "
            "or configure a fallback market-data source)"
        )
    if fallback_used:
        warnings.append(f"priced by the fallback source: {', '.join(fallback_used)}")
    excluded = [
        {"symbol": p.symbol, "market_value": p.market_value, "reason": p.excluded_reason}
        for p in out
        if not p.hedged
    ]
    if excluded:
        warnings.append(
            "left out of the hedge: " + ", ".join(f"{e['symbol']} ({e['reason'].split(':')[0]})" for e in excluded)
        )
    total = sum(p.market_value for p in out)
    hedged = sum(p.market_value for p in out if p.hedged)
    if not hedged > 0.0:
        raise QuoteRefusedError(
            f"quote refused: the hedgeable (liquid, non-cash) value is {hedged:,.2f}; index puts "
            "insure only a net long portfolio"
        )
    return Valuation(out, total, hedged, excluded, fallback_used, warnings)


# --------------------------------------------------------------------------- beta


def vasicek_beta(beta: float, std_error: float, prior_mean: float = 1.0, prior_sd: float = 0.5) -> float:
    """Vasicek (1973) Bayesian beta: precision-weighted mean of estimate and prior.

    ``(prior_sd^2 * beta + std_error^2 * prior_mean) / (prior_sd^2 + std_error^2)``.
    """
    if not (math.isfinite(beta) and math.isfinite(std_error) and std_error >= 0.0 and prior_sd > 0.0):
        raise ValidationError.for_field("beta", "Vasicek adjustment needs a finite beta and standard error")
    w = prior_sd**2 / (prior_sd**2 + std_error**2)
    return w * beta + (1.0 - w) * prior_mean


@dataclass(frozen=True)
class HedgeBeta:
    """Portfolio beta against the hedge index, with per-position provenance.

    Attributes
    ----------
    beta : float
        ``sum(MV_i * beta_i) / sum(MV_i)`` over hedged positions (shorts signed).
    beta_source : str
        Dominant source by gross exposure (``multivariate``, ``single_factor``,
        ``provided``, ``default``; ``vasicek``/``clipped`` after a robust fix).
    sources : dict
        Share of gross exposure per source.
    positions : dict
        Per symbol: beta, source, weight, market value, r_squared, observations, note.
    defaulted : list of str
        Symbols on the 1.0 default (flagged).
    warnings : list of str
    """

    beta: float
    beta_source: str
    sources: dict[str, float]
    positions: dict[str, dict[str, Any]]
    defaulted: list[str]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)`` (one pass over plain values; ``asdict`` itself otherwise)."""
        try:
            return asdict_plain(self)
        except NotPlain:
            return asdict(self)


def hedge_portfolio_beta(
    valuation: Valuation,
    estimates: Mapping[str, Any],
    max_abs_beta: float = 3.0,
    min_beta: float = 0.05,
) -> HedgeBeta:
    """Exposure-weighted beta of the hedged positions, made robust.

    Parameters
    ----------
    valuation : Valuation
    estimates : mapping symbol -> HybridBetaResult
        The risk layer's hybrid beta per hedged position
        (:func:`floorguard.core.risk.hybrid_beta`: the user's beta when
        given, else a regression on history, else the 1.0 default).
    max_abs_beta : float
        A regression beta beyond this is implausible: it is shrunk with
        :func:`vasicek_beta` using the regression's standard error (clipped
        when none is known) and flagged.
    min_beta : float
        Below this the quote is refused: index puts would not hedge the portfolio.

    Raises
    ------
    ValidationError
        A hedged position has no estimate.
    QuoteRefusedError
        Portfolio beta below ``min_beta`` (zero or negative market exposure).
    """
    from floorguard.core.risk import portfolio_beta as _aggregate

    warnings: list[str] = []
    betas: dict[str, Any] = {}
    exposures: dict[str, float] = {}
    detail: dict[str, dict[str, Any]] = {}
    defaulted: list[str] = []
    for p in valuation.hedged_positions:
        est = estimates.get(p.symbol)
        if est is None:
            raise ValidationError.for_field("beta", f"no beta estimate for {p.symbol}")
        note = est.fallback_reason
        sf = getattr(est, "single_factor", None)
        if est.beta_source in ("single_factor", "multivariate") and abs(est.beta) > max_abs_beta:
            se = getattr(sf, "std_error", float("nan")) if sf is not None else float("nan")
            if math.isfinite(se):
                b = max(-max_abs_beta, min(max_abs_beta, vasicek_beta(est.beta, se)))
                src = "vasicek"
            else:
                b, src = math.copysign(max_abs_beta, est.beta), "clipped"
            note = f"regression beta {est.beta:.3f} is implausible; {src} to {b:.3f}"
            warnings.append(f"{p.symbol}: {note}")
            est = replace(est, beta=b, beta_source=src)
        if est.beta_source == "default":
            defaulted.append(p.symbol)
        betas[p.symbol] = est
        exposures[p.symbol] = p.market_value
        detail[p.symbol] = {
            "beta": float(est.beta),
            "source": est.beta_source,
            "market_value": p.market_value,
            "weight": p.market_value / valuation.hedged_value,
            "r_squared": float(est.r_squared),
            "observations": int(est.observations),
            "note": note,
        }
    agg = _aggregate(exposures, betas)
    if not getattr(agg, "available", False):
        raise QuoteRefusedError(f"quote refused: {agg.message}")
    if defaulted:
        warnings.append(
            f"beta 1.0 assumed (no price history, no user beta) for: {', '.join(defaulted)} (an assumption)"
        )
    warnings.extend(w for w in agg.warnings if "default beta" not in w)
    if not agg.beta >= min_beta:
        raise QuoteRefusedError(
            f"quote refused: portfolio beta {agg.beta:.3f} against the index is below {min_beta}; "
            "index puts would not protect this portfolio"
        )
    return HedgeBeta(float(agg.beta), agg.beta_source, dict(agg.sources), detail, defaulted, warnings)
