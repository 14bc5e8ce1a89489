"""Uncertainty & opportunity engine (seed section 20): windows, ranked hedges, scenarios, feedback.

Every figure in these responses is a model estimate (``label`` says so).

``GET /api/insurance/opportunities?portfolio_id=N`` returns::

    {
      "label": "estimate (model output; not a guarantee)",
      "recommendation_id": "3f2a...",            # pass back to /feedback and /hedge
      "as_of": "2022-12-28",                     # last data date used
      "data_note": "bundled historical data ..., not live prices",
      "portfolio": {"name", "id", "value", "positions": [...], "left_out": [...], "forecast_vol"},
      "models": [{"name": "garch:SPX", "version": 3, "kind", "data_start", "data_end", "n_obs", "metrics"}, ...],
      "signals": {"vol_forecast": {...}, "p_high_vol", "correlation", "anomaly", "tail", "credit",
                  "event_moves", "vol_risk_premium"?, "sentiment"?},
      "windows": [{
          "id": "w1", "start": "2023-01-31", "end": "2023-02-03", "trading_days": 26,
          "reason": "FOMC + high-volatility regime", "severity": 0.71,
          "drivers": [{"kind": "event:fomc", "detail": "...", "severity": 0.4, "value": 0.011}, ...],
          "vol_band": {"lower", "central", "upper"},            # annualised forecast vol to the end
          "move_band": {"lower", "upper"},                      # index return quantiles
          "drawdown_band": {"lower", "upper"},                  # index running-minimum quantiles
          "band_probabilities": [0.05, 0.95], "p_high_vol": 0.57,
          "events": [{"date", "type", "name", "expected_abs_move", "move_ratio", "symbol"}],
          "drawdown": {"p5", "median", "p95", "es", "level", "p_loss_5", "p_loss_10", "p5_se", "es_se", "n_paths"},
          "label": "estimate ..."}],
      "primary_window": "w1",
      "recommendations": {
          "window_id": "w1",
          "columns": ["Expiry", "Structure", "Put Strike", "Call Strike", "Premium", "Coverage%", "Breakeven", "Score"],
          "table": [{"Expiry": "2023-02-03", "Structure": "collar", "Put Strike": 347.0, "Call Strike": 394.0,
                     "Premium": -20.0, "Coverage%": 100.1, "Breakeven": 378.5, "Score": 0.55}, ...],
          "candidates": [{"expiry", "structure", "put_strike", "call_strike", "instrument", "premium",
                          "coverage_pct", "breakeven", "es_unhedged", "es_gross", "es_hedged", "es_reduction",
                          "residual_risk", "score", "projected_variance", "theta": {"decay", "decay_share",
                          "residual_value"}, "role": "before|covering|after", "term_days", "floor_pct",
                          "note", "suitability": {"required_level", "allowed"}}, ...],
          "score_formula": "...", "label": "..."},
      "narrative": {"text": "Uncertainty expected (...) between ... → .... Opportunity: ...",
                    "choice": "template|llm", "template_text", "reason", "label"},
      "kpis": {"hedge_cost_efficiency", "hit_rate", "over_hedge_ratio", "user_adoption", "drift_alerts",
               "n_windows_settled", "n_recommendations", "n_accepted", "n_rejected", "n_bound", "sources", "label"},
      "warnings": ["..."]
    }

``POST /api/insurance/scenario`` takes ``{"portfolio_id": N}`` or ``{"positions": [{"symbol", "quantity",
"price"?}]}``, a hedge (``"draft_id"`` of a stored quote, or ``"strategy"`` with ``floor_pct``/``term_days``,
or ``"strategy": null`` for unhedged only), and the scenario: ``"preset"`` (mild, base, severe, tail) or
``"custom": {"index_move": -0.12, "vol_multiplier": 1.5, "horizon_days": 21}``, plus ``n_paths``, ``seed``,
``level``, ``innovations`` (normal, bootstrap), ``monitor_path``. It returns::

    {"label", "as_of", "scenario": {"name", "index_move", "vol_multiplier", "horizon_days", ...},
     "portfolio": {"name", "id", "value", "left_out"},
     "hedge": {"strategy", "expiry", "instrument", "premium_net", "floor_pct", "legs", "synthetic"} | null,
     "result": {"n_paths", "level", "initial_value", "hedge_premium",
                "unhedged": {"p5": {"value", "se"}, "median", "p95", "mean",
                             "histogram": {"edges", "centers", "counts", "density"}}, "hedged": {...},
                "expected_net_payoff": {"value", "se"}, "var_unhedged", "var_hedged", "es_unhedged", "es_hedged",
                "floor", "p_floor_breach_unhedged", "p_floor_breach_hedged", "tail_unhedged", "tail_hedged",
                "monitored_path", "label"},
     "narrative": {"text": "Under Severe scenario (-12.0% index, ...) ...", "choice", "reason", "label"},
     "warnings": [...]}
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from floorguard.api.deps import CtxDep, UserDep
from floorguard.domain.opportunities import STRUCTURES
from floorguard.exceptions import ValidationError
from floorguard.services import opportunities as svc

router = APIRouter(prefix="/api/insurance", tags=["opportunities"])

Structure = Literal["protective_put", "collar", "put_spread", "tail_hedge"]


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(min_length=1, max_length=32)
    quantity: float
    price: float | None = None
    asset_type: str | None = None
    beta: float | None = None
    sector: str | None = None


class CustomShock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index_move: float = Field(gt=-0.9, lt=1.0, description="Index simple return over the horizon (-0.12 = -12%)")
    vol_multiplier: float = Field(1.0, gt=0, le=10)
    horizon_days: int = Field(21, ge=1, le=252, description="Trading days")


class ScenarioIn(BaseModel):
    """A section 20.4 scenario: positions or a portfolio, a hedge, a preset or a custom shock."""

    model_config = ConfigDict(extra="forbid")
    portfolio_id: int | None = Field(None, ge=1, le=2**31 - 1)
    positions: list[PositionIn] | None = Field(None, max_length=500)
    draft_id: str | None = Field(None, max_length=64, description="A stored quote draft (POST /api/insurance/quote)")
    strategy: Structure | None = Field("protective_put", description="Hedge quoted by the insurance engine; null = unhedged")
    floor_pct: float = Field(0.90, gt=0, lt=1)
    term_days: int = Field(45, ge=1, le=1095)
    preset: Literal["mild", "base", "severe", "tail"] | None = "severe"
    custom: CustomShock | None = None
    n_paths: int = Field(20_000, ge=1_000, le=200_000)
    seed: int = Field(7, ge=0, le=2**31 - 1)
    level: float = Field(0.95, gt=0.5, lt=1)
    innovations: Literal["normal", "bootstrap"] = "normal"
    monitor_path: bool = False


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recommendation_id: str = Field(min_length=1, max_length=64)
    structure: Structure
    expiry: dt.date | None = None
    decision: Literal["accepted", "rejected"]
    note: str | None = Field(None, max_length=500)


class HedgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recommendation_id: str = Field(min_length=1, max_length=64)
    structure: Structure
    expiry: dt.date | None = None


@router.get(
    "/opportunities",
    summary="Upcoming uncertainty windows and ranked hedges for a portfolio (estimates)",
    description=("Prices every structure at three listed expiries through the insurance engine: a cold request "
                 "with all four structures takes seconds (about 3.4 s of CPU); pass `structures=` to limit it. "
                 "An identical request (same portfolio, data date, models and parameters) reuses the priced hedges."),
    responses={200: {"description": "Windows, recommendation table, narrative and KPIs (see the module docs)"},
               404: {"description": "No such portfolio of yours"}},
)
def get_opportunities(
    ctx: CtxDep,
    user: UserDep,
    portfolio_id: Annotated[int, Query(ge=1, le=2**31 - 1, description="One of your stored portfolios")],
    horizon_days: Annotated[int, Query(ge=5, le=126, description="Forecast horizon, trading days")] = 21,
    target_drawdown: Annotated[float, Query(gt=0, lt=0.5, description="floor_pct = 1 - target_drawdown")] = 0.10,
    structures: Annotated[str | None, Query(description="Comma-separated subset of " + ", ".join(STRUCTURES))] = None,
    n_paths: Annotated[int, Query(ge=1_000, le=200_000)] = 20_000,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 7,
    as_of: Annotated[dt.date | None, Query(description="Use data up to this date (default: the latest close)")] = None,
) -> dict[str, Any]:
    portfolio = svc.portfolio_for_user(ctx, user.id, portfolio_id)
    picked = tuple(s.strip() for s in structures.split(",") if s.strip()) if structures else STRUCTURES
    req = svc.OpportunityRequest(horizon_days=horizon_days, target_drawdown=target_drawdown, structures=picked,
                                 n_paths=n_paths, seed=seed, as_of=as_of)
    return svc.opportunities(ctx, portfolio, req, user_id=user.id, strategy_level=user.strategy_level)


@router.post(
    "/scenario",
    summary="Run a Mild/Base/Severe/Tail or custom scenario, hedged against unhedged (estimates)",
    responses={200: {"description": "Distribution, VaR/ES with Monte Carlo errors, narrative (see the module docs)"},
               404: {"description": "No such portfolio or draft of yours"}},
)
def post_scenario(body: ScenarioIn, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    portfolio, pid = svc.positions_from_payload(
        ctx, user.id, portfolio_id=body.portfolio_id,
        positions=[p.model_dump() for p in body.positions] if body.positions else None)
    if body.custom is not None and body.preset not in (None, "severe"):
        raise ValidationError.for_field("custom", "give a preset or a custom shock, not both")
    req = svc.ScenarioRequest(
        preset=None if body.custom is not None else body.preset,
        index_move=body.custom.index_move if body.custom else None,
        vol_multiplier=body.custom.vol_multiplier if body.custom else 1.0,
        horizon_days=body.custom.horizon_days if body.custom else 21,
        strategy=body.strategy, floor_pct=body.floor_pct, term_days=body.term_days, n_paths=body.n_paths,
        seed=body.seed, level=body.level, innovations=body.innovations, monitor_path=body.monitor_path,
    )
    return svc.run_portfolio_scenario(ctx, portfolio, req, draft=body.draft_id, user_id=user.id, portfolio_id=pid)


@router.post(
    "/opportunities/feedback",
    status_code=201,
    summary="Accept or reject a recommended hedge (stored; nudges future rankings)",
    responses={201: {"description": '`{"id", "recommendation_id", "structure", "expiry", "decision", "draft_id"}`'},
               404: {"description": "No such recommendation of yours"}},
)
def post_feedback(body: FeedbackIn, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.record_feedback(ctx, user_id=user.id, recommendation_id=body.recommendation_id,
                               structure=body.structure, decision=body.decision, expiry=body.expiry, note=body.note)


@router.post(
    "/opportunities/hedge",
    summary='"Hedge now": quote a policy draft for a recommended hedge (then bind it with /bind)',
    responses={200: {"description": '`{"ok": true, "draft_id", "expires_at", "draft", "feedback", "recommended"}`'},
               404: {"description": "No such recommendation of yours"}},
)
def post_hedge_now(body: HedgeIn, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.hedge_now(ctx, user, recommendation_id=body.recommendation_id, structure=body.structure,
                         expiry=body.expiry)


@router.get(
    "/opportunities/kpis",
    summary="Section 20.9 KPIs of my recommendations, and of the historical backtest (estimates)",
    responses={200: {"description": '`{"hedge_cost_efficiency", "hit_rate", "over_hedge_ratio", "user_adoption", '
                                    '"drift_alerts", "n_windows_settled", "n_recommendations", "n_accepted", '
                                    '"n_rejected", "n_bound", "sources", "label", "historical": {"pput": {...}, '
                                    '"collar": {...}}}`'}},
)
def get_kpis(
    ctx: CtxDep,
    user: UserDep,
    historical: Annotated[bool, Query(description="Add the backtest's KPIs (PPUT/CLL-style, whole history)")] = True,
) -> dict[str, Any]:
    return svc.opportunity_kpis(ctx, user_id=user.id, historical=historical)
