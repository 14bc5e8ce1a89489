"""Portfolio analytics (seed 004 Phase 3): full risk metrics and sector exposure."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path

from floorguard.api.deps import CtxDep, UserDep
from floorguard.services import user_portfolios

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
log = logging.getLogger("floorguard.api.analytics")

PortfolioId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _report(ctx: Any, user: Any, portfolio_id: int, *, include_correlation: bool) -> dict[str, Any]:
    from floorguard.services.risk import RiskMetricsService

    portfolio = user_portfolios.get_portfolio(ctx, user, portfolio_id)
    t0 = time.perf_counter()
    report = RiskMetricsService(ctx).report(portfolio, include_correlation=include_correlation)
    log.info("risk report for portfolio %s in %.1f ms", portfolio_id, (time.perf_counter() - t0) * 1000.0,
             extra={"portfolio_id": portfolio_id})
    return report


@router.get(
    "/portfolio/{portfolio_id}/risk-metrics",
    summary="Full risk metrics of one of my portfolios, with validation metadata",
)
def risk_metrics(portfolio_id: PortfolioId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return _report(ctx, user, portfolio_id, include_correlation=True)


@router.get(
    "/portfolio/{portfolio_id}/sector-exposure",
    summary="Sector weights against the S&P 500 and concentration (HHI, top weights)",
)
def sector_exposure(portfolio_id: PortfolioId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    report = _report(ctx, user, portfolio_id, include_correlation=False)
    return {
        "portfolio_id": portfolio_id,
        "sectors": report.get("sectors"),
        "concentration": report.get("concentration"),
        "metadata": report.get("metadata"),
    }
