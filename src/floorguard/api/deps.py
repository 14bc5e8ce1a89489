"""Typed FastAPI dependencies: settings, application context, caller, limits.

Routes receive plain values (``Settings``, ``AppContext``, ``Principal``);
transactions belong to the services, which open their own sessions from the
context, so nothing here holds a session across the response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from floorguard.api._observability import ApiMetrics
from floorguard.api._ratelimit import RateLimiter
from floorguard.config import Settings
from floorguard.exceptions import AuthenticationError, PermissionDeniedError
from floorguard.services.context import AppContext
from floorguard.services.users import Principal, authenticate_ctx, cached_principal

__all__ = [
    "AdminDep",
    "CtxDep",
    "MetricsDep",
    "SettingsDep",
    "UserDep",
    "get_ctx",
    "get_current_user",
    "get_metrics",
    "get_settings_dep",
    "quote_rate_limit",
    "require_admin",
]

_bearer = HTTPBearer(auto_error=False, description="API token from `floorguard user create`")


# Trivial dependencies are ``async def``: FastAPI runs plain ``def`` dependencies
# in the thread pool, a hop per dependency per request.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CtxDep = Annotated[AppContext, Depends(get_ctx)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


async def get_current_user(
    request: Request,
    ctx: CtxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller named by ``Authorization: Bearer <token>`` (401 otherwise).

    A token looked up in the last ``settings.auth_cache_seconds`` is answered
    from memory on the event loop; otherwise the database lookup runs on a
    worker thread (the loop never waits for the database here).
    """
    if credentials is None:
        header = request.headers.get("authorization")
        if header:
            raise AuthenticationError("malformed Authorization header: expected 'Bearer <token>'")
        raise AuthenticationError("missing API token: send 'Authorization: Bearer <token>'")
    user = cached_principal(ctx, credentials.credentials)
    if user is None:
        user = await run_in_threadpool(authenticate_ctx, ctx, credentials.credentials)
    request.state.user_id = user.id
    return user


UserDep = Annotated[Principal, Depends(get_current_user)]


async def require_admin(user: UserDep) -> Principal:
    """The caller, if an administrator (403 otherwise)."""
    if not user.is_admin:
        raise PermissionDeniedError("this action needs the admin role")
    return user


AdminDep = Annotated[Principal, Depends(require_admin)]


async def quote_rate_limit(request: Request, user: UserDep) -> Principal:
    """Take one token of the caller's quote bucket (429 with Retry-After when empty)."""
    limiter: RateLimiter = request.app.state.quote_limiter
    limiter.hit(user.id, "quote")
    return user
