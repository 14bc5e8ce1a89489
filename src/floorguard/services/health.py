"""Readiness: the database answers and its schema is at the migrations' head."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from floorguard.exceptions import ConfigurationError
from floorguard.persistence.db import check_connection, current_revision, head_revision, safe_url

__all__ = ["Readiness", "readiness"]


@dataclass(frozen=True)
class Readiness:
    """Outcome of the readiness probe."""

    ready: bool
    database: str
    database_reachable: bool
    current_revision: str | None
    head_revision: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def readiness(ctx: Any) -> Readiness:
    """Check that ``ctx.engine`` connects and is migrated to the head revision."""
    url = safe_url(ctx.engine.url)
    try:
        head = head_revision()
    except ConfigurationError as exc:
        return Readiness(False, url, False, None, None, str(exc))
    try:
        check_connection(ctx.engine)
        current = current_revision(ctx.engine)
    except ConfigurationError as exc:
        return Readiness(False, url, False, None, head, str(exc))
    if current != head:
        return Readiness(
            False, url, True, current, head,
            f"database at revision {current or 'none'}, migrations head is {head}: run 'floorguard db upgrade'",
        )
    return Readiness(True, url, True, current, head, "ok")
