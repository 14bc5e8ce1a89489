"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from floorguard import __version__
from floorguard.api.deps import CtxDep, MetricsDep
from floorguard.api.errors import PROBLEM_JSON, problem_response
from floorguard.services.health import readiness

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    version: str


class Ready(BaseModel):
    ready: bool
    database: str
    database_reachable: bool
    current_revision: str | None
    head_revision: str | None
    detail: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: database reachable and migrated to head",
    responses={503: {"description": "Not ready", "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
)
def readyz(request: Request, ctx: CtxDep) -> Response:
    report = readiness(ctx)
    if report.ready:
        return JSONResponse(report.to_dict())
    return problem_response(
        status=503,
        slug="not-ready",
        title="Service not ready",
        detail=report.detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
