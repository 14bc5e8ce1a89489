"""Accounts: users, roles, suitability levels and API tokens.

Tokens look like ``fg_<43 url-safe characters>`` (256 random bits). Only
``HMAC-SHA256(secret_key, token)`` is stored, so a copy of the database does
not reveal usable tokens and the pepper (``settings.secret_key``) stays out of
the database. The clear token is returned once, at creation.

Strategy levels (``users.approved_strategy_level``)::

    0  no insurance
    1  protective puts and collars (every investor, the default)
    2  + put spreads
    3  + ratio and tail-hedge structures
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from floorguard.exceptions import AuthenticationError, ConflictError, NotFoundError, ValidationError
from floorguard.persistence.orm import ApiToken, User
from floorguard.persistence.repositories import hash_api_token

__all__ = [
    "STRATEGY_LEVELS",
    "CreatedUser",
    "Principal",
    "authenticate",
    "authenticate_ctx",
    "cached_principal",
    "create_user",
    "get_user",
    "hash_token",
    "issue_token",
    "list_users",
    "required_level",
    "revoke_tokens",
    "forget_principals",
    "set_strategy_level",
]

#: Minimum approved level for each strategy family.
STRATEGY_LEVELS: dict[str, int] = {
    "protective_put": 1,
    "collar": 1,
    "put_spread": 2,
    "ratio": 3,
    "ratio_spread": 3,
    "tail_hedge": 3,
}
_LEVEL_TEXT = {
    0: "no insurance strategies",
    1: "protective puts and collars",
    2: "protective puts, collars and put spreads",
    3: "every strategy, including ratio and tail structures",
}

TOKEN_PREFIX = "fg_"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (a plain value, safe outside any session)."""

    id: int
    name: str
    role: str
    strategy_level: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "strategy_level": self.strategy_level,
            "strategy_level_allows": _LEVEL_TEXT.get(self.strategy_level, "unknown"),
        }


@dataclass(frozen=True)
class CreatedUser:
    """A new user and the clear API token, shown once."""

    user: Principal
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.user.to_dict(), "token": self.token,
                "note": "store this token now: it is shown once and kept only as a hash"}


def required_level(strategy: str) -> int:
    """Approved level a strategy needs (unknown strategies need the top level)."""
    return STRATEGY_LEVELS.get(strategy, 3)


def hash_token(token: str, secret_key: str) -> str:
    """``HMAC-SHA256(secret_key, token)`` as hex (the persistence layer's definition)."""
    return hash_api_token(token, secret=secret_key)


def _principal(user: User) -> Principal:
    return Principal(id=user.id, name=user.name, role=user.role, strategy_level=user.approved_strategy_level)


def _check_fields(name: str, role: str, strategy_level: int) -> str:
    clean = name.strip()
    if not clean or len(clean) > 120:
        raise ValidationError.for_field("name", "must be 1-120 characters")
    if role not in ("investor", "admin"):
        raise ValidationError.for_field("role", f"must be investor or admin, got {role!r}")
    if not isinstance(strategy_level, int) or not 0 <= strategy_level <= 3:
        raise ValidationError.for_field("strategy_level", f"must be 0, 1, 2 or 3, got {strategy_level!r}")
    return clean


def issue_token(session: Session, user_id: int, secret_key: str, label: str | None = None) -> str:
    """Create a token for ``user_id``; returns the clear token (store only its hash)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, token_hash=hash_token(token, secret_key), label=label))
    session.flush()
    return token


def create_user(
    session: Session,
    *,
    name: str,
    secret_key: str,
    role: str = "investor",
    strategy_level: int = 1,
) -> CreatedUser:
    """Create a user with one API token.

    Raises
    ------
    ValidationError
        Bad name, role or level.
    ConflictError
        The name is taken.
    """
    clean = _check_fields(name, role, strategy_level)
    if session.scalar(sa.select(User.id).where(User.name == clean)) is not None:
        raise ConflictError(f"a user named {clean!r} already exists")
    user = User(name=clean, role=role, approved_strategy_level=strategy_level)
    session.add(user)
    session.flush()
    token = issue_token(session, user.id, secret_key, label="created with the user")
    return CreatedUser(user=_principal(user), token=token)


def authenticate(session: Session, token: str | None, secret_key: str) -> Principal:
    """The user owning ``token``; ``AuthenticationError`` if missing, unknown or revoked."""
    if not token:
        raise AuthenticationError("missing API token: send 'Authorization: Bearer <token>'")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationError("malformed API token")
    digest = hash_token(token, secret_key)
    row = session.execute(
        sa.select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise AuthenticationError("unknown or revoked API token")
    api_token, user = row
    now = dt.datetime.now(dt.UTC)
    last = api_token.last_used_at
    if last is None or (now - last).total_seconds() > 60:
        api_token.last_used_at = now  # coarse, to keep reads cheap
    return _principal(user)


def _principal_cache(ctx: Any) -> Any:
    from floorguard.services._cache import context_cache

    return context_cache(ctx, "principals", ttl=ctx.settings.auth_cache_seconds, size=10_000)


def cached_principal(ctx: Any, token: str | None) -> Principal | None:
    """The caller of ``token`` if this process looked it up less than ``auth_cache_seconds`` ago.

    Never touches the database (an event loop may call it); ``None`` means
    "call :func:`authenticate_ctx`". Keyed by the token's HMAC, not the token.
    """
    if not token or ctx.settings.auth_cache_seconds <= 0:
        return None
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return _principal_cache(ctx).peek(hash_token(token, ctx.settings.secret_key or ""))  # type: ignore[no-any-return]


def authenticate_ctx(ctx: Any, token: str | None) -> Principal:
    """:func:`authenticate` in its own transaction, remembered for ``auth_cache_seconds``."""
    secret = ctx.settings.secret_key or ""
    with ctx.session() as session:
        principal = authenticate(session, token, secret)
    if ctx.settings.auth_cache_seconds > 0 and token:
        _principal_cache(ctx).put(hash_token(token, secret), principal)
    return principal


def forget_principals(ctx: Any) -> None:
    """Drop this process's remembered token lookups (after a role, level or token change)."""
    if ctx.settings.auth_cache_seconds > 0:
        _principal_cache(ctx).clear()


def get_user(session: Session, user_id: int) -> Principal:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return _principal(user)


def list_users(session: Session) -> list[Principal]:
    return [_principal(u) for u in session.scalars(sa.select(User).order_by(User.id))]


def set_strategy_level(session: Session, user_id: int, level: int) -> Principal:
    """Approve a user for a strategy level (admin action)."""
    if not isinstance(level, int) or not 0 <= level <= 3:
        raise ValidationError.for_field("strategy_level", f"must be 0, 1, 2 or 3, got {level!r}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    user.approved_strategy_level = level
    session.flush()
    return _principal(user)


def revoke_tokens(session: Session, user_id: int) -> int:
    """Revoke every live token of a user; returns how many."""
    now = dt.datetime.now(dt.UTC)
    result = session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)
