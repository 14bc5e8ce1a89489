"""JSON the dashboard needs that the public API does not shape for a page.

Four routes, authenticated with the API's own bearer dependency:

* a stored portfolio valued position by position (price, source, as-of date,
  value, weight) with the data-quality flags of each market-priced symbol's
  recent history;
* the admin overview: insured notional of live policies by index and by
  user against the configured limits, and the settlement runs (settlements
  grouped by the time they were made);
* a draft's payoff diagram (portfolio value at expiry, unhedged and hedged,
  against the index move), computed by the insurance engine's own
  :func:`floorguard.domain.strategies.hedged_value_curve`;
* the underwater (drawdown) curve of the portfolio's public sleeve held at
  today's weights over a window, the series behind the risk report's
  ``max_drawdown`` (the report itself carries only the summary).
 The figures come from the services
(:func:`floorguard.services.portfolios.value_portfolio`,
:func:`floorguard.marketdata.check_quality`); this module only assembles them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Path, Query

from floorguard.api.deps import AdminDep, CtxDep, UserDep
from floorguard.core.risk import drawdown_series, simple_returns
from floorguard.exceptions import DataError, ValidationError
from floorguard.marketdata import check_quality
from floorguard.services import user_portfolios
from floorguard.services.portfolios import value_portfolio

__all__ = [
    "QUALITY_WINDOW_DAYS",
    "admin_overview",
    "drawdown_payload",
    "payoff_curve_payload",
    "router",
    "valuation_payload",
]

#: Calendar days of history checked for data-quality issues before each price.
QUALITY_WINDOW_DAYS = 365

router = APIRouter(prefix="/ui/api", tags=["dashboard"], include_in_schema=False)

PortfolioId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Portfolio id")]


def valuation_payload(ctx: Any, portfolio: Any, today: dt.date | None = None) -> dict[str, Any]:
    """Valuation of ``portfolio`` plus per-symbol data-quality flags.

    Parameters
    ----------
    ctx : AppContext
        Gives the market data and settings.
    portfolio : floorguard.domain.portfolio.Portfolio
        A stored portfolio (its ``id`` is echoed back).
    today : datetime.date, optional
        Reference date for the age of each price (default: the service clock's
        date, :func:`floorguard.services.policies.now`).

    Returns
    -------
    dict
        ``valuation.to_dict()`` keys, plus ``id`` and, per position,
        ``age_days`` (calendar days since the price's date) and ``flags``
        (``"stale"``, ``"gap"``, ``"nan"``, ``"non_positive"`` found in the
        last :data:`QUALITY_WINDOW_DAYS` days of history, and ``"old_price"``
        when the price is older than ``settings.stale_price_days``).
    """
    if today is None:
        from floorguard.services.policies import now

        today = now(ctx).date()  # the service clock
    stale_days = int(ctx.settings.stale_price_days)
    valuation = value_portfolio(ctx, portfolio)
    out = valuation.to_dict()
    out["id"] = getattr(portfolio, "id", None)
    market = ctx.market_data()
    issues_by_symbol: dict[str, list[dict[str, Any]]] = {}
    for pos in out["positions"]:
        flags: list[str] = []
        as_of = valuation_date(pos.get("price_as_of"))
        pos["age_days"] = (today - as_of).days if as_of else None
        if pos.get("price_source") != "user" and as_of is not None:
            start = as_of - dt.timedelta(days=QUALITY_WINDOW_DAYS)
            try:
                history = market.price_history(pos["symbol"], start, as_of)
            except DataError as exc:
                flags.append("no_history")
                issues_by_symbol[pos["symbol"]] = [{"kind": "no_history", "detail": str(exc)}]
            else:
                report = check_quality(history, stale_days=stale_days)
                flags.extend(report.flags(pos["symbol"]))
                if report.issues:
                    issues_by_symbol[pos["symbol"]] = [i.to_dict() for i in report.issues]
        if pos["age_days"] is not None and pos["age_days"] > stale_days:
            flags.append("old_price")
        pos["flags"] = flags
    out["quality"] = {
        "stale_days": stale_days,
        "window_days": QUALITY_WINDOW_DAYS,
        "as_of": today.isoformat(),
        "issues": issues_by_symbol,
    }
    return out


def valuation_date(value: Any) -> dt.date | None:
    """Parse an ISO date (or pass a date through); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@router.get(
    "/portfolios/{portfolio_id}/valuation",
    summary="A portfolio valued, with provenance and quality flags",
)
def portfolio_valuation(portfolio_id: PortfolioId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    """The caller's portfolio, valued; another user's id is a 404."""
    portfolio = user_portfolios.get_portfolio(ctx, user, portfolio_id)
    return valuation_payload(ctx, portfolio)


def drawdown_payload(
    ctx: Any, portfolio: Any, symbols: list[str], start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Drawdown curve of ``symbols`` of ``portfolio`` held at today's values.

    Parameters
    ----------
    ctx : AppContext
    portfolio : Portfolio
        A stored portfolio; ``symbols`` must be among its positions.
    symbols : list of str
        The sleeve (the risk report's ``metadata.public_positions``).
    start, end : datetime.date
        First and last return date (the report's ``metadata.window``).

    Returns
    -------
    dict
        ``dates`` (ISO, shape (T,)), ``drawdown`` (negative fractions, shape
        (T,)), ``weights`` (today's value weights of the sleeve),
        ``max_drawdown`` (the minimum of the curve) and ``observations``.
    """
    if not symbols:
        raise ValidationError.for_field("symbols", "must name at least one position")
    if start >= end:
        raise ValidationError.for_field("start", f"must be before end ({start} >= {end})")
    valuation = value_portfolio(ctx, portfolio)
    values = {p.symbol: p.value for p in valuation.positions}
    unknown = [s for s in symbols if s not in values]
    if unknown:
        raise ValidationError.for_field(
            "symbols", f"not positions of this portfolio: {', '.join(unknown)}"
        )
    held = np.array([values[s] for s in symbols], dtype=np.float64)
    total = float(held.sum())
    if total <= 0:
        raise ValidationError.for_field("symbols", "the sleeve's net value is not positive")
    weights = held / total
    # a few days before ``start`` so its first return has a predecessor price
    prices = ctx.market_data().price_history(symbols, start - dt.timedelta(days=10), end)
    rets = simple_returns(prices)
    window = rets.loc[(rets.index >= str(start)) & (rets.index <= str(end))].dropna()
    if window.empty:
        raise DataError(
            f"no complete daily returns of {', '.join(symbols)} between {start} and {end}"
        )
    portfolio_returns = window.to_numpy(dtype=np.float64) @ weights
    dd = np.asarray(drawdown_series(portfolio_returns), dtype=np.float64)
    return {
        "dates": [d.date().isoformat() for d in window.index],
        "drawdown": dd.tolist(),
        "weights": dict(zip(symbols, weights.tolist(), strict=True)),
        "max_drawdown": float(dd.min()),
        "observations": int(dd.size),
        "start": window.index[0].date().isoformat(),
        "end": window.index[-1].date().isoformat(),
    }


@router.get("/portfolios/{portfolio_id}/drawdown", summary="Drawdown curve of a portfolio's sleeve")
def portfolio_drawdown(
    portfolio_id: PortfolioId,
    ctx: CtxDep,
    user: UserDep,
    start: Annotated[dt.date, Query(description="First return date (ISO)")],
    end: Annotated[dt.date, Query(description="Last return date (ISO)")],
    symbols: Annotated[str, Query(max_length=4000, description="Comma-separated positions")],
) -> dict[str, Any]:
    """The caller's portfolio only; another user's id is a 404."""
    portfolio = user_portfolios.get_portfolio(ctx, user, portfolio_id)
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    return drawdown_payload(ctx, portfolio, names, start, end)


def _settlement_run(key: str) -> dict[str, Any]:
    """An empty settlement run (policies settled and deferred at one time ``key``)."""
    return {"settled_at": key, "settled": 0, "policy_ids": [], "kinds": {}, "total_compensation": 0.0,
            "total_hedge_payoff": 0.0, "deferred": 0, "deferred_policies": []}


def admin_overview(ctx: Any) -> dict[str, Any]:
    """Insured exposure against the limits, and the settlement runs.

    Exposure counts live policies (``services.policies.LIVE_STATUSES``), the
    same set the quote-time limit check counts. A settlement run is the set of
    settlements made at one ``settled_at`` instant (one call of the settlement
    job settles every due policy at the same ``as_of``).
    """
    import sqlalchemy as sa

    from floorguard.persistence.lifecycle import PolicySettlement
    from floorguard.persistence.orm import InsurancePolicy, InsurancePolicyEvent
    from floorguard.services.policies import LIVE_STATUSES
    from floorguard.services.users import list_users

    settings = ctx.settings
    with ctx.session() as session:
        names = {u.id: u.name for u in list_users(session)}
        by_index_rows = session.execute(
            sa.select(
                InsurancePolicy.index_symbol,
                sa.func.sum(InsurancePolicy.coverage_notional),
                sa.func.count(),
            )
            .where(InsurancePolicy.status.in_(LIVE_STATUSES))
            .group_by(InsurancePolicy.index_symbol)
            .order_by(InsurancePolicy.index_symbol)
        ).all()
        by_user_rows = session.execute(
            sa.select(
                InsurancePolicy.user_id,
                sa.func.sum(InsurancePolicy.coverage_notional),
                sa.func.count(),
            )
            .where(InsurancePolicy.status.in_(LIVE_STATUSES))
            .group_by(InsurancePolicy.user_id)
            .order_by(InsurancePolicy.user_id)
        ).all()
        settlements = session.scalars(
            sa.select(PolicySettlement).order_by(
                PolicySettlement.settled_at.desc(), PolicySettlement.policy_id
            )
        ).all()
        deferred = session.execute(
            sa.select(
                InsurancePolicyEvent.ts,
                InsurancePolicyEvent.policy_id,
                InsurancePolicyEvent.details,
            )
            .where(InsurancePolicyEvent.event_type == "settlement_deferred")
            .order_by(InsurancePolicyEvent.ts.desc())
        ).all()
        runs: dict[str, dict[str, Any]] = {}
        for row in settlements:
            key = row.settled_at.isoformat()
            run = runs.setdefault(key, _settlement_run(key))
            run["settled"] += 1
            run["policy_ids"].append(row.policy_id)
            run["kinds"][row.kind] = run["kinds"].get(row.kind, 0) + 1
            run["total_compensation"] += float(row.compensation)
            run["total_hedge_payoff"] += float(row.hedge_payoff)
        for ts, pid, details in deferred:
            key = ts.isoformat()
            run = runs.setdefault(key, _settlement_run(key))
            run["deferred"] += 1
            run["deferred_policies"].append(
                {"policy_id": pid, "reason": (details or {}).get("reason")}
            )
    return {
        "users": {str(uid): name for uid, name in names.items()},
        "live_statuses": list(LIVE_STATUSES),
        "limit_per_index": float(settings.max_insured_notional_per_index),
        "limit_per_user": float(settings.max_insured_notional_per_user),
        "by_index": [
            {
                "index_symbol": idx,
                "insured_notional": float(total or 0),
                "policies": int(n),
                "limit": float(settings.max_insured_notional_per_index),
            }
            for idx, total, n in by_index_rows
        ],
        "by_user": [
            {
                "user_id": uid,
                "user_name": names.get(uid),
                "insured_notional": float(total or 0),
                "policies": int(n),
                "limit": float(settings.max_insured_notional_per_user),
            }
            for uid, total, n in by_user_rows
        ],
        "settlement_runs": sorted(runs.values(), key=lambda r: r["settled_at"], reverse=True),
    }


@router.get(
    "/admin/overview", summary="Exposure by index and user against the limits; settlement runs"
)
def admin_overview_route(ctx: CtxDep, admin: AdminDep) -> dict[str, Any]:
    """Admins only (403 for investors)."""
    return admin_overview(ctx)


def payoff_curve_payload(
    draft_data: dict[str, Any], *, low: float = -0.40, high: float = 0.25, points: int = 131
) -> dict[str, Any]:
    """Portfolio value at expiry, unhedged and hedged, over a grid of index moves.

    Parameters
    ----------
    draft_data : dict
        ``PolicyDraft.to_dict()`` output (as the quote endpoint returns it).
    low, high : float
        Range of the option underlying's move to expiry (fractions).
    points : int
        Grid size.

    Returns
    -------
    dict
        ``index_returns``, ``index_levels``, ``unhedged``, ``hedged`` (dollars,
        hedged net of the premium), all shape (points,), plus ``floor_value``.
        The portfolio follows the index through the CAPM (Hull 8th ed. 17.4)
        with the draft's own rate, dividend yields, term and compounding.
    """
    from floorguard.domain.policy import PolicyDraft
    from floorguard.domain.strategies import MarketInputs, StrategyParams, hedged_value_curve

    if not (-1.0 < low < high and points >= 2 and points <= 2001):
        raise ValidationError.for_field(
            "range", f"need -1 < low < high and 2..2001 points, got {low}, {high}, {points}"
        )
    draft = PolicyDraft.from_dict(draft_data)
    a = draft.assumptions or {}
    missing = [
        k
        for k in ("rate", "index_dividend_yield", "portfolio_dividend_yield", "t_years")
        if a.get(k) is None
    ]
    if missing:
        raise ValidationError.for_field("draft.assumptions", f"missing {', '.join(missing)}")
    if not draft.legs or draft.expiry is None or not (draft.underlying_level > 0):
        raise ValidationError.for_field("draft", "needs legs, an expiry and the underlying level")
    t_years = float(a["t_years"])
    params = StrategyParams(
        floor_pct=draft.floor_pct,
        portfolio_value=draft.portfolio_value,
        beta=draft.beta,
        contracts=draft.put_leg.contracts if draft.put_leg else 0,
        rate=float(a["rate"]),
        portfolio_dividend_yield=float(a["portfolio_dividend_yield"]),
        index_dividend_yield=float(a["index_dividend_yield"]),
        t_years=t_years,
        compounding=str(a.get("compounding") or "simple"),
    )
    market = MarketInputs(
        underlying_symbol=draft.underlying_symbol,
        underlying_level=draft.underlying_level,
        rate=float(a["rate"]),
        dividend_yield=float(a["index_dividend_yield"]),
        expiry=draft.expiry,
        t_years=t_years,
        multiplier=draft.legs[0].multiplier,
    )
    # the strikes are on the grid, so every kink of the payoff is drawn exactly
    kinks = [leg.strike / draft.underlying_level - 1.0 for leg in draft.legs]
    moves = np.unique(
        np.concatenate([np.linspace(low, high, points), [k for k in kinks if low < k < high]])
    )
    levels = draft.underlying_level * (1.0 + moves)
    port, hedged = hedged_value_curve(draft.legs, levels, params, market, draft.premium_net)
    return {
        "index_returns": moves.tolist(),
        "index_levels": levels.tolist(),
        "unhedged": np.asarray(port, dtype=np.float64).tolist(),
        "hedged": np.asarray(hedged, dtype=np.float64).tolist(),
        "floor_value": draft.floor_value,
        "underlying_symbol": draft.underlying_symbol,
        "compounding": params.compounding,
    }


@router.post(
    "/payoff-curve", summary="Payoff diagram of a draft (unhedged and hedged value at expiry)"
)
def payoff_curve(
    user: UserDep,
    draft: Annotated[
        dict[str, Any], Body(embed=True, description="PolicyDraft JSON from /api/insurance/quote")
    ],
) -> dict[str, Any]:
    """Pure computation on the posted draft; authenticated like every dashboard route."""
    return payoff_curve_payload(draft)
