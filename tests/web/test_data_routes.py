"""The dashboard's JSON routes through the real app: auth, ownership, admin-only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

CSV = "symbol,quantity\nAAPL,10\nMSFT,5\nJPM,8\n"


@pytest.fixture
def client_and_tokens(ctx: Any) -> Any:
    from floorguard.api.app import create_app
    from floorguard.services.users import create_user

    tokens = {}
    with ctx.session() as session:
        for name, role in (("ann", "investor"), ("ben", "investor"), ("adm", "admin")):
            tokens[name] = create_user(
                session, name=name, secret_key=ctx.settings.secret_key, role=role
            ).token
    app = create_app(ctx.settings, ctx=ctx)
    with TestClient(app) as client:
        yield client, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_dashboard_is_served_by_the_api_app(client_and_tokens: Any) -> None:
    client, _ = client_and_tokens
    assert client.get("/", follow_redirects=False).headers["location"] == "/portfolio"
    assert client.get("/risk").status_code == 200
    assert client.get("/static/vendor/plotly.min.js").status_code == 200


def test_valuation_and_drawdown_are_owned(client_and_tokens: Any) -> None:
    client, tokens = client_and_tokens
    r = client.post(
        "/api/portfolios/upload",
        headers=_auth(tokens["ann"]),
        files={"file": ("p.csv", CSV.encode(), "text/csv")},
        data={"name": "ann's"},
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    assert client.get(f"/ui/api/portfolios/{pid}/valuation").status_code == 401
    own = client.get(f"/ui/api/portfolios/{pid}/valuation", headers=_auth(tokens["ann"]))
    assert own.status_code == 200
    body = own.json()
    assert body["id"] == pid and [p["symbol"] for p in body["positions"]] == ["AAPL", "MSFT", "JPM"]

    other = client.get(f"/ui/api/portfolios/{pid}/valuation", headers=_auth(tokens["ben"]))
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "AAPL" not in other.text

    q = "start=2022-01-03&end=2022-12-28&symbols=AAPL,MSFT"
    dd = client.get(f"/ui/api/portfolios/{pid}/drawdown?{q}", headers=_auth(tokens["ann"]))
    assert dd.status_code == 200
    assert dd.json()["max_drawdown"] < 0
    assert (
        client.get(
            f"/ui/api/portfolios/{pid}/drawdown?{q}", headers=_auth(tokens["ben"])
        ).status_code
        == 404
    )
    bad = client.get(
        f"/ui/api/portfolios/{pid}/drawdown?start=2022-01-03&end=2022-12-28&symbols=TSLA",
        headers=_auth(tokens["ann"]),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "symbols"


def test_admin_overview_is_admin_only(client_and_tokens: Any) -> None:
    client, tokens = client_and_tokens
    assert client.get("/ui/api/admin/overview", headers=_auth(tokens["ann"])).status_code == 403
    r = client.get("/ui/api/admin/overview", headers=_auth(tokens["adm"]))
    assert r.status_code == 200
    body = r.json()
    assert body["by_index"] == [] and body["settlement_runs"] == []
    assert body["limit_per_index"] == client.app.state.settings.max_insured_notional_per_index
