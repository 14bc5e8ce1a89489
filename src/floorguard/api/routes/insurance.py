"""Insurance: quote (rate-limited), bind (idempotent), policies, claim, settle, monitor."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from floorguard.api.deps import AdminDep, CtxDep, MetricsDep, UserDep, quote_rate_limit
from floorguard.api.errors import PROBLEM_JSON, problem_response
from floorguard.api.schemas import BindRequest, ClaimRequest, QuoteRequest, SettleRequest
from floorguard.exceptions import FieldError, ValidationError
from floorguard.services import policies as svc
from floorguard.services.users import Principal

router = APIRouter(prefix="/api/insurance", tags=["insurance"])

PolicyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
QuoteUser = Annotated[Principal, Depends(quote_rate_limit)]


@router.post(
    "/quote",
    summary="Quote a policy draft (stored with a time to live)",
    responses={200: {"description": '`{"ok": true, "draft_id", "expires_at", "draft": {...}}`'},
               503: {"description": "The draft could not be stored in time (database busy); see Retry-After",
                     "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
)
async def quote(body: QuoteRequest, ctx: CtxDep, user: QuoteUser, metrics: MetricsDep) -> Response:
    # On the event loop: the checks and the quote memo. Off it: a stored portfolio's read
    # and the engine run (worker threads; the engine once per identical request in flight)
    # and the draft's write (the group committer's thread; awaited: the answer follows the commit).
    raw = body.model_dump(exclude_none=True)
    try:
        if raw.get("portfolio_id") is None:
            prepared = svc.prepare_quote(ctx, user, raw)
        else:
            prepared = await run_in_threadpool(svc.prepare_quote, ctx, user, raw)
        if prepared.priced is None:
            prepared = await run_in_threadpool(svc.price_quote, ctx, prepared)
        try:
            stored = await asyncio.wait_for(asyncio.wrap_future(svc.store_quote(ctx, prepared)),
                                            svc.QUOTE_STORE_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise svc.store_timeout() from exc
    except Exception:
        metrics.quotes.labels("refused").inc()
        raise
    metrics.quotes.labels("ok").inc()
    return Response(stored.to_json(), media_type="application/json")  # the draft's JSON is encoded once per run


@router.post(
    "/bind",
    status_code=201,
    summary="Bind a draft through the broker (send an Idempotency-Key; retries replay the first result)",
    responses={409: {"description": "Key reused for another draft, or still in progress"},
               502: {"description": "A leg failed; filled legs were unwound"},
               504: {"description": "Broker did not answer; retry with the same key to resume"}},
)
def bind(
    request: Request,
    body: BindRequest,
    ctx: CtxDep,
    user: UserDep,
    metrics: MetricsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    if not idempotency_key:
        raise ValidationError(
            "the Idempotency-Key header is required for bind",
            errors=[FieldError("header.Idempotency-Key", "required: a unique value per intended bind")],
        )
    if not body.confirm:
        raise ValidationError.for_field("confirm", "must be true: the investor accepts the draft's terms")
    outcome = svc.bind(ctx, user, body.draft_id, idempotency_key)
    headers = {"Idempotent-Replayed": "true" if outcome.replayed else "false"}
    if outcome.status_code >= 400:
        detail = str(outcome.body.get("detail", "bind failed"))
        titles = {404: "Not found", 409: "Conflict", 422: "Bind refused", 502: "Order rejected by the broker",
                  403: "Forbidden"}
        slug = {404: "not-found", 409: "conflict", 422: "quote-refused", 502: "order-rejected",
                403: "forbidden"}.get(outcome.status_code, "bind-failed")
        errors = [FieldError(e["field"], e["reason"]) for e in outcome.body.get("errors", [])]
        return problem_response(
            status=outcome.status_code, slug=slug, title=titles.get(outcome.status_code, "Bind failed"),
            detail=detail, instance=request.url.path, request_id=getattr(request.state, "request_id", None),
            errors=errors, headers=headers,
        )
    if not outcome.replayed:
        metrics.binds.labels(outcome.body.get("policy", {}).get("status", "unknown")).inc()
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("/policies", summary="My policies (admins: ?all=true for everybody's)")
def list_policies(
    ctx: CtxDep,
    user: UserDep,
    all: Annotated[bool, Query(description="Admin only: every user's policies.")] = False,  # noqa: A002
    status: Annotated[str | None, Query(pattern="^(draft|active|partially_bound|expired|settled|cancelled)$")] = None,
) -> dict[str, Any]:
    return {"policies": svc.list_policy_views(ctx, user, all_users=all, status=status)}


@router.get("/policies/{policy_id}", summary="One policy: MTM, shortfall, days remaining, NAV history, events")
def get_policy(policy_id: PolicyId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.get_policy_view(ctx, user, policy_id)


@router.post("/policies/{policy_id}/mark", summary="Mark one of my live policies now (NAV snapshot, alerts)")
def mark_policy(policy_id: PolicyId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.mark_policy(ctx, user, policy_id)


@router.post("/claim", summary="Early-trigger claim, checked against the policy's terms")
def claim(body: ClaimRequest, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.claim(ctx, user, body.policy_id)


@router.post("/settle", summary="Settle matured policies (admin or scheduler)")
def settle(body: SettleRequest, ctx: CtxDep, admin: AdminDep, metrics: MetricsDep) -> dict[str, Any]:
    as_of = body.as_of
    if as_of is not None and as_of.tzinfo is None:
        raise ValidationError.for_field("as_of", "must include a time zone (e.g. 2022-07-01T21:00:00Z)")
    out = svc.settle_due(ctx, as_of=as_of, policy_ids=body.policy_ids, settlement_prices=body.settlement_prices)
    metrics.settlements.inc(len(out["settled"]))
    return out


@router.post("/monitor", summary="Revalue every live policy now (admin or scheduler)")
def monitor(ctx: CtxDep, admin: AdminDep) -> dict[str, Any]:
    return svc.monitor_all(ctx)
