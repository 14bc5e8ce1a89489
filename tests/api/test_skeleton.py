"""App skeleton: health, readiness, metrics, errors, auth, request ids, limits."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.api.conftest import assert_problem


def test_healthz_and_readyz(client: Any) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ready"] is True and body["current_revision"] == body["head_revision"]


def test_readyz_reports_unmigrated_database(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from floorguard.api.app import create_app
    from floorguard.config import Settings

    settings = Settings(env="test", database_url=f"sqlite:///{tmp_path / 'empty.db'}", scheduler_enabled=False)
    with TestClient(create_app(settings)) as c:
        body = assert_problem(c.get("/readyz"), 503)
    assert "floorguard db upgrade" in body["detail"]


def test_request_id_echoed_and_generated(client: Any) -> None:
    resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    bad = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert bad != "bad id with spaces"


def test_metrics_count_requests(client: Any) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'floorguard_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "floorguard_http_request_duration_seconds_bucket" in text


def test_unknown_route_and_method_are_problems(client: Any) -> None:
    assert_problem(client.get("/nope"), 404)
    assert_problem(client.delete("/healthz"), 405)


def test_auth_required_and_bad_tokens(client: Any, alice: Any) -> None:
    body = assert_problem(client.get("/api/me"), 401)
    assert "Bearer" in body["detail"]
    assert client.get("/api/me").headers["www-authenticate"] == "Bearer"
    assert_problem(client.get("/api/me", headers={"Authorization": "Bearer fg_wrong"}), 401)
    assert_problem(client.get("/api/me", headers={"Authorization": "Basic abc"}), 401)
    me = client.get("/api/me", headers=alice.headers)
    assert me.status_code == 200 and me.json()["name"] == "alice" and me.json()["role"] == "investor"


def test_tokens_are_stored_hashed(svc_ctx: Any, alice: Any) -> None:
    import sqlalchemy as sa

    from floorguard.persistence.orm import ApiToken
    from floorguard.services.users import hash_token

    with svc_ctx.session() as session:
        stored = session.scalars(sa.select(ApiToken.token_hash)).all()
    assert alice.token not in stored
    assert hash_token(alice.token, "test-secret-pepper") in stored
    assert hash_token(alice.token, "other-pepper") not in stored


def test_admin_routes_forbidden_to_investors(client: Any, alice: Any, admin: Any) -> None:
    assert_problem(client.get("/api/admin/users", headers=alice.headers), 403)
    resp = client.post("/api/admin/users", json={"name": "carol", "strategy_level": 2}, headers=admin.headers)
    assert resp.status_code == 201, resp.text
    carol = resp.json()
    assert carol["token"].startswith("fg_") and carol["strategy_level"] == 2
    assert client.get("/api/me", headers={"Authorization": f"Bearer {carol['token']}"}).json()["name"] == "carol"
    assert_problem(client.post("/api/admin/users", json={"name": "carol"}, headers=admin.headers), 409)
    lvl = client.put(f"/api/admin/users/{carol['id']}/strategy-level", json={"strategy_level": 3}, headers=admin.headers)
    assert lvl.json()["strategy_level"] == 3
    tb = client.get("/api/admin/ledger/trial-balance", headers=admin.headers).json()
    assert tb["balanced"] is True


def test_request_validation_is_problem_json_naming_fields(client: Any, alice: Any) -> None:
    resp = client.post(
        "/api/portfolios",
        json={"name": "", "positions": [{"symbol": "AAPL", "quantity": "lots"}], "extra": 1},
        headers=alice.headers,
    )
    body = assert_problem(resp, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "positions.0.quantity", "extra"} <= fields
    malformed = client.post(
        "/api/portfolios", content=b"{not json", headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_problem(malformed, 422)


def test_body_size_limit(svc_ctx: Any, alice: Any) -> None:
    from fastapi.testclient import TestClient

    from floorguard.api.app import create_app

    settings = svc_ctx.settings.model_copy(update={"max_request_bytes": 1000})
    with TestClient(create_app(settings, ctx=svc_ctx)) as c:
        big = {"name": "x", "positions": [{"symbol": "AAPL", "quantity": 1}] * 200}
        body = assert_problem(c.post("/api/portfolios", json=big, headers=alice.headers), 413)
        assert "1000 bytes" in body["detail"]


def test_access_log_is_json_with_request_id(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    from floorguard.api._observability import JsonLogFormatter

    with caplog.at_level(logging.INFO, logger="floorguard.access"):
        client.get("/healthz", headers={"X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "floorguard.access"]
    assert records
    line = json.loads(JsonLogFormatter().format(records[-1]))
    assert line["request_id"] == "log-me" and line["status"] == 200 and line["route"] == "/healthz"
    assert line["duration_ms"] >= 0


def test_openapi_documents_problem_json(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    assert "Problem" in doc["components"]["schemas"]
    post = doc["paths"]["/api/portfolios"]["post"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
