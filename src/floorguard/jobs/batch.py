"""Batch jobs as plain functions: risk report of every portfolio, monitoring of
every policy, settlement of matured policies.

Work items carry the (picklable) settings and an id; each worker builds its own
:class:`~floorguard.services.context.AppContext` once per settings and process
(:func:`worker_context`), so the same functions run in this process or on Dask
workers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

from floorguard.config import Settings
from floorguard.exceptions import FloorguardError
from floorguard.jobs.executor import Executor, get_executor
from floorguard.services.context import AppContext

__all__ = [
    "close_worker_contexts",
    "monitor_every_policy",
    "monitor_one",
    "reconcile_binds",
    "risk_one",
    "risk_report_every_portfolio",
    "settle_matured",
    "worker_context",
]

_contexts: dict[str, AppContext] = {}
_lock = threading.Lock()


def worker_context(settings: Settings) -> AppContext:
    """This process's context for ``settings`` (built on first use, then reused)."""
    key = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    with _lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = AppContext(settings)
            _contexts[key] = ctx
        return ctx


def close_worker_contexts() -> None:
    """Close every context built by :func:`worker_context` in this process."""
    with _lock:
        for ctx in _contexts.values():
            ctx.close()
        _contexts.clear()


def risk_one(item: tuple[Settings, int]) -> dict[str, Any]:
    """Risk report of one stored portfolio (persisted as a snapshot)."""
    from floorguard.persistence import repositories as repo
    from floorguard.services.risk import RiskMetricsService

    settings, portfolio_id = item
    ctx = worker_context(settings)
    t0 = time.perf_counter()
    try:
        with ctx.session() as session:
            portfolio = repo.get_portfolio_by_id(session, portfolio_id=portfolio_id)
        report = RiskMetricsService(ctx).report(portfolio, persist=True, include_correlation=False)
        measures = report.get("measures") or {}
        return {"portfolio_id": portfolio_id, "ok": True, "name": portfolio.name,
                "beta": (report.get("beta") or {}).get("portfolio_beta"),
                "measures": {k: measures.get(k) for k in list(measures)[:8]},
                "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3)}
    except FloorguardError as exc:
        return {"portfolio_id": portfolio_id, "ok": False, "error": exc.message,
                "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3)}


def monitor_one(item: tuple[Settings, int, str | None]) -> dict[str, Any]:
    """Monitor one policy (NAV snapshot, alerts) at ``as_of`` (ISO) or now."""
    from floorguard.services.policies import monitor_policy

    settings, policy_id, as_of = item
    ctx = worker_context(settings)
    when = None if as_of is None else dt.datetime.fromisoformat(as_of)
    try:
        out = monitor_policy(ctx, policy_id, as_of=when)
        return {"policy_id": policy_id, "ok": True, "alerts": [a["type"] for a in out.get("alerts", [])],
                "portfolio_value": out.get("portfolio_value"), "skipped": out.get("skipped")}
    except FloorguardError as exc:
        return {"policy_id": policy_id, "ok": False, "error": exc.message}


def risk_report_every_portfolio(ctx: AppContext, executor: Executor | None = None) -> dict[str, Any]:
    """Risk report of every stored portfolio through ``executor`` (default from settings)."""
    from floorguard.persistence import repositories as repo

    with ctx.session() as session:
        ids = [p.id for p in repo.list_portfolios(session, owner_id=None)]
    ex = executor or get_executor(ctx.settings)
    try:
        results = ex.map(risk_one, [(ctx.settings, pid) for pid in ids])
    finally:
        if executor is None:
            ex.close()
    return {"executor": ex.name, "portfolios": len(ids), "ok": sum(r["ok"] for r in results), "results": results}


def monitor_every_policy(
    ctx: AppContext, executor: Executor | None = None, *, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """Monitor every live policy through ``executor``."""
    from floorguard.services.policies import live_policy_ids, now

    when = (as_of or now(ctx)).isoformat()
    ids = live_policy_ids(ctx)
    ex = executor or get_executor(ctx.settings)
    try:
        results = ex.map(monitor_one, [(ctx.settings, pid, when) for pid in ids])
    finally:
        if executor is None:
            ex.close()
    return {"executor": ex.name, "as_of": when, "policies": len(ids), "ok": sum(r["ok"] for r in results),
            "results": results}


def reconcile_binds(ctx: AppContext) -> dict[str, Any]:
    """Finish binds whose client never retried (see ``services.policies.reconcile_binds``)."""
    from floorguard.services.policies import reconcile_binds as run

    return run(ctx)


def settle_matured(ctx: AppContext, *, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Settle every policy whose term has ended (exactly once each)."""
    from floorguard.services.policies import settle_due

    return settle_due(ctx, as_of=as_of)
