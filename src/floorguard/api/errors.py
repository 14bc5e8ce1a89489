"""The one place where errors become HTTP responses (RFC 9457 problem details).

Every error response of the API is ``application/problem+json``::

    {"type": "https://floorguard.dev/problems/validation-error",
     "title": "Validation error", "status": 422,
     "detail": "floor_pct: must be between 0.5 and 1.0",
     "instance": "/api/insurance/quote", "request_id": "3f2c...",
     "errors": [{"field": "floor_pct", "reason": "must be between 0.5 and 1.0"}]}

Domain errors (:mod:`floorguard.exceptions`) map to statuses here and nowhere
else; FastAPI's request validation becomes the same 422 shape, naming each
field; unknown exceptions become a 500 whose body reveals nothing but the
request id (the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from floorguard.exceptions import (
    AuthenticationError,
    BrokerError,
    BrokerTimeoutError,
    ConfigurationError,
    ConflictError,
    DataError,
    FieldError,
    FloorguardError,
    LimitExceededError,
    NotFoundError,
    OrderRejectedError,
    PermissionDeniedError,
    PricingError,
    QuoteRefusedError,
    RateLimitedError,
    ServiceBusyError,
    ValidationError,
)

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_RESPONSES",
    "Problem",
    "ProblemFieldError",
    "install_error_handlers",
    "problem_response",
    "status_for",
]

logger = logging.getLogger("floorguard.api")

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://floorguard.dev/problems/"

# Most specific first: the first isinstance match wins.
_MAPPING: tuple[tuple[type[FloorguardError], int, str, str], ...] = (
    (LimitExceededError, 422, "limit-exceeded", "Risk limit exceeded"),
    (QuoteRefusedError, 422, "quote-refused", "Quote refused"),
    (ValidationError, 422, "validation-error", "Validation error"),
    (DataError, 422, "market-data-error", "Market data unusable"),
    (PricingError, 422, "pricing-error", "Cannot price"),
    (NotFoundError, 404, "not-found", "Not found"),
    (AuthenticationError, 401, "unauthenticated", "Authentication required"),
    (PermissionDeniedError, 403, "forbidden", "Forbidden"),
    (ConflictError, 409, "conflict", "Conflict"),
    (RateLimitedError, 429, "rate-limited", "Too many requests"),
    (BrokerTimeoutError, 504, "broker-timeout", "Broker timed out"),
    (OrderRejectedError, 502, "order-rejected", "Order rejected by the broker"),
    (BrokerError, 502, "broker-error", "Broker error"),
    (ConfigurationError, 500, "configuration-error", "Service misconfigured"),
    (ServiceBusyError, 503, "service-busy", "Service busy"),
)


class ProblemFieldError(BaseModel):
    """One bad field of the request."""

    field: str = Field(description="Dotted name of the field, e.g. 'positions.0.quantity'.")
    reason: str = Field(description="Why the value was refused.")
    line: int | None = Field(None, description="1-based line, when the input came from a file.")


class Problem(BaseModel):
    """RFC 9457 problem details, extended with ``request_id`` and ``errors``."""

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] = Field(default_factory=list)


def _problem_content(status: int) -> dict[str, Any]:
    return {
        "description": {
            400: "Bad request",
            401: "Missing or unknown API token",
            403: "Authenticated but not allowed",
            404: "Unknown id, or another user's object",
            409: "Conflicting state or idempotency key",
            413: "Request body too large",
            422: "Invalid input; `errors` names each field",
            429: "Rate limited; see Retry-After",
            502: "Broker failure",
            503: "Busy; see Retry-After",
        }.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


#: ``responses=`` for routers: every documented error is problem+json.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: _problem_content(s) for s in (400, 401, 404, 413, 422, 429)
}


def status_for(exc: FloorguardError) -> tuple[int, str, str]:
    """HTTP status, problem type slug and title for a domain error."""
    for cls, status, slug, title in _MAPPING:
        if isinstance(exc, cls):
            return status, slug, title
    return 500, "internal-error", "Internal error"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    request_id: str | None = None,
    errors: Iterable[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": _TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
        "errors": [e.to_dict() for e in errors],
    }
    hdrs = dict(headers or {})
    if request_id:
        hdrs.setdefault("X-Request-ID", request_id)
    return Response(
        content=json.dumps(body, allow_nan=False),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=hdrs,
    )


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) if parts else "body"


def _reason(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    typ = err.get("type", "")
    if typ == "missing":
        return "required"
    if typ == "json_invalid":
        return "malformed JSON: " + str((err.get("ctx") or {}).get("error", msg))
    return msg


def request_validation_field_errors(exc: RequestValidationError) -> list[FieldError]:
    """One :class:`FieldError` per problem FastAPI found in the request."""
    out: list[FieldError] = []
    for err in exc.errors():
        out.append(FieldError(_loc_to_field(err.get("loc", ())), _reason(err)))
    return out


async def _floorguard_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FloorguardError)
    status, slug, title = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, (RateLimitedError, ServiceBusyError)):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    detail = exc.message
    if status >= 500 and isinstance(exc, ConfigurationError):
        logger.error("configuration error: %s", exc.message)
    elif status >= 500:
        logger.warning("%s: %s", type(exc).__name__, exc.message)
    return problem_response(
        status=status,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=exc.errors,
        headers=headers,
    )


async def _request_validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = request_validation_field_errors(exc)
    detail = "; ".join(str(e) for e in errors[:5]) or "invalid request"
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return problem_response(
        status=422,
        slug="validation-error",
        title="Validation error",
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
    )


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        headers=dict(exc.headers or {}),
    )


async def _unhandled_handler(request: Request, exc: Exception) -> Response:
    rid = _request_id(request)
    logger.exception("unhandled error (request_id=%s)", rid, exc_info=exc)
    return problem_response(
        status=500,
        slug="internal-error",
        title="Internal error",
        detail=f"internal error; quote request id {rid} when reporting it",
        instance=request.url.path,
        request_id=rid,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register every exception handler on ``app``."""
    app.add_exception_handler(FloorguardError, _floorguard_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
