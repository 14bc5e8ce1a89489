"""The API's token cache: lookups reused for ``auth_cache_seconds``, never longer.

A token revoked by another process (the CLI, another worker) stops working
once the cached lookup expires; a strategy level changed through this
process's admin API applies at once.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from floorguard.services.context import AppContext
from floorguard.services.users import revoke_tokens


@pytest.fixture()
def short_cache(svc_settings: Any) -> Any:
    svc_settings.auth_cache_seconds = 0.3
    return svc_settings


def test_revocation_elsewhere_applies_within_the_cache_time(short_cache: Any, client: Any, make_user: Any) -> None:
    alice = make_user("alice")
    assert client.get("/api/me", headers=alice.headers).status_code == 200  # looked up and cached
    other = AppContext(short_cache)  # another process's view of the same database
    try:
        with other.session() as session:
            assert revoke_tokens(session, alice.id) == 1
    finally:
        other.close()
    deadline = time.monotonic() + short_cache.auth_cache_seconds + 0.05
    while time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/api/me", headers=alice.headers).status_code == 401


def test_unknown_tokens_are_never_cached(short_cache: Any, client: Any) -> None:
    bad = {"Authorization": "Bearer fg_" + "x" * 43}
    assert client.get("/api/me", headers=bad).status_code == 401
    assert client.get("/api/me", headers=bad).status_code == 401


def test_level_change_through_the_admin_api_applies_at_once(short_cache: Any, client: Any, make_user: Any) -> None:
    short_cache.auth_cache_seconds = 60.0  # a long window: only the explicit invalidation can make this pass
    admin = make_user("root", role="admin", level=3)
    bob = make_user("bob")
    assert client.get("/api/me", headers=bob.headers).json()["strategy_level"] == 1
    r = client.put(f"/api/admin/users/{bob.id}/strategy-level", json={"strategy_level": 3}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert client.get("/api/me", headers=bob.headers).json()["strategy_level"] == 3
