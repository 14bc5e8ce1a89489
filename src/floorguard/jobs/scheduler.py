"""In-process APScheduler: monitoring, settlement and the nightly risk batch.

``start_scheduler(ctx)`` is called by ``create_app`` when
``settings.scheduler_enabled`` (and not under ``env="test"``). Jobs never
overlap themselves (``max_instances=1``, ``coalesce=True``); a failing run is
logged and counted, the next one runs on schedule. With several API workers
use one scheduler process (``FLOORGUARD_SCHEDULER_ENABLED=false`` elsewhere):
settlement is exactly-once anyway, monitoring would just write extra marks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from floorguard.jobs import batch
from floorguard.services import opportunities
from floorguard.services.context import AppContext

__all__ = ["JOBS", "start_scheduler"]

log = logging.getLogger("floorguard.jobs")

#: job id -> (function of ctx, interval seconds from settings)
JOBS: dict[str, tuple[Callable[[AppContext], Any], Callable[[Any], int]]] = {
    "monitor": (lambda ctx: batch.monitor_every_policy(ctx), lambda s: int(s.monitor_interval_seconds)),
    "settle": (lambda ctx: batch.settle_matured(ctx), lambda s: 3600),
    "risk_batch": (lambda ctx: batch.risk_report_every_portfolio(ctx), lambda s: 86400),
    "reconcile_binds": (lambda ctx: batch.reconcile_binds(ctx), lambda s: 300),
    # Forecasting models are artefacts: refit weekly, stored with their data window
    # and fit metrics; scoring uses the latest stored version (seed 000 §20.6).
    "forecast_models": (lambda ctx: opportunities.fit_forecast_models(ctx), lambda s: 7 * 86400),
}


def _wrap(name: str, fn: Callable[[AppContext], Any], ctx: AppContext, metrics: Any | None) -> Callable[[], None]:
    def run() -> None:
        try:
            out = fn(ctx)
            log.info("job %s done", name, extra={"job": name, "summary": str(out)[:500]})
            if metrics is not None:
                metrics.job_runs.labels(name, "ok").inc()
        except Exception:  # noqa: BLE001 - a scheduled job must never kill the scheduler
            log.exception("job %s failed", name)
            if metrics is not None:
                metrics.job_runs.labels(name, "error").inc()

    return run


def start_scheduler(ctx: AppContext, *, metrics: Any | None = None, start: bool = True) -> Any:
    """Build (and start) a ``BackgroundScheduler`` with the floorguard jobs."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    for name, (fn, interval) in JOBS.items():
        scheduler.add_job(
            _wrap(name, fn, ctx, metrics), "interval", seconds=max(1, interval(ctx.settings)), id=name,
            max_instances=1, coalesce=True, replace_existing=True,
        )
    if start:
        scheduler.start()
    return scheduler
