"""The FastAPI application factory.

There is no module-level app: build one with :func:`create_app`, e.g.
``uvicorn --factory floorguard.api.app:create_app`` or ``floorguard serve``.
Each app owns its settings, its :class:`~floorguard.services.context.AppContext`
(engine, market data, broker, all lazy), its metrics registry and its rate
limiter, so tests can run many apps side by side.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from floorguard import __version__
from floorguard.api._observability import ApiMetrics, RequestContextMiddleware, configure_logging
from floorguard.api._ratelimit import RateLimiter
from floorguard.api.errors import PROBLEM_RESPONSES, Problem, install_error_handlers
from floorguard.config import Settings, get_settings
from floorguard.services.context import AppContext

__all__ = ["create_app"]

logger = logging.getLogger("floorguard.api")

_DESCRIPTION = """\
Portfolio risk analytics and portfolio insurance with listed index options.

Authenticate with `Authorization: Bearer <token>` (tokens come from
`floorguard user create`). Errors are RFC 9457 `application/problem+json`
documents; validation errors list each bad field in `errors`.
Prices marked *synthetic* are model estimates, not market quotes.
"""


def create_app(settings: Settings | None = None, *, ctx: AppContext | None = None) -> FastAPI:
    """Build the API application.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`floorguard.config.get_settings` (environment).
    ctx : AppContext, optional
        Pre-built context (tests inject one with a fault-injecting broker).

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings or (ctx.settings if ctx is not None else get_settings())
    ctx = ctx or AppContext(settings)
    if settings.env != "test":
        configure_logging()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if settings.scheduler_enabled and settings.env != "test":
            from floorguard.jobs.scheduler import start_scheduler

            scheduler = start_scheduler(ctx, metrics=app.state.metrics)
        if settings.warm_up_on_start and settings.env != "test":
            from floorguard.services.warmup import warm_up_and_freeze

            # in the background: the server answers (more slowly) while it warms up
            threading.Thread(target=warm_up_and_freeze, args=(ctx,), name="floorguard-warm-up", daemon=True).start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            with contextlib.suppress(Exception):
                ctx.close()

    app = FastAPI(
        title="floorguard",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.metrics = ApiMetrics()
    app.state.metrics.watch_group_commit(lambda: ctx.resources.get("group_committer"))
    app.state.quote_limiter = RateLimiter(settings.quote_rate_limit_per_minute, 60.0)

    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,  # type: ignore[arg-type]
        metrics=app.state.metrics,
        max_body_bytes=settings.max_request_bytes,
    )

    from floorguard.api.routes import admin, analytics, health, insurance, me, portfolios

    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(portfolios.router)
    app.include_router(insurance.router)
    app.include_router(importlib.import_module("floorguard.api.routes.opportunities").router)
    app.include_router(analytics.router)
    app.include_router(admin.router)
    # The web dashboard (pages at "/", assets under "/static"). floorguard.web builds on
    # this package (it uses api.deps), so it is mounted by module name, not imported here.
    importlib.import_module("floorguard.web").mount_web(app)

    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Put the ``Problem`` schema into the OpenAPI components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in problem.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["Problem"] = problem
        # FastAPI documents its own 422 shape; ours is problem+json.
        for path in schema.get("paths", {}).values():
            for op in path.values():
                if not isinstance(op, dict):
                    continue
                resp = op.get("responses", {}).get("422")
                if resp is not None:
                    resp["content"] = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                    resp["description"] = "Invalid input; `errors` names each field"
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
