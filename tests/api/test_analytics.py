"""Seed 004 Phase 3: the risk-metrics and sector-exposure routes (not deprecated, owner-scoped)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem

POSITIONS = [{"symbol": "AAPL", "quantity": 50}, {"symbol": "JPM", "quantity": 80}, {"symbol": "XOM", "quantity": 100},
             {"symbol": "PRIVATE-CO", "quantity": 1, "price": 50000, "asset_type": "private", "beta": 0.8}]


def test_risk_metrics_and_sector_exposure(client: Any, svc_ctx: Any, alice: Any, bob: Any) -> None:
    pid = client.post("/api/portfolios", json={"name": "r", "positions": POSITIONS}, headers=alice.headers).json()["id"]
    resp = client.get(f"/api/v1/analytics/portfolio/{pid}/risk-metrics", headers=alice.headers)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    for section in ("measures", "beta", "sectors", "concentration", "metadata"):
        assert section in report, section
    # the same figures as the service called directly (the route adds nothing of its own)
    from floorguard.services.risk import RiskMetricsService
    from floorguard.services.user_portfolios import get_portfolio
    from tests.api.conftest import principal

    direct = RiskMetricsService(svc_ctx).report(get_portfolio(svc_ctx, principal(svc_ctx, alice), pid))
    assert report["measures"] == direct["measures"]
    sectors = client.get(f"/api/v1/analytics/portfolio/{pid}/sector-exposure", headers=alice.headers).json()
    assert sectors["portfolio_id"] == pid and sectors["sectors"] == direct["sectors"]
    assert sectors["concentration"] == direct["concentration"]
    for path in ("risk-metrics", "sector-exposure"):
        assert_problem(client.get(f"/api/v1/analytics/portfolio/{pid}/{path}", headers=bob.headers), 404)
        assert_problem(client.get(f"/api/v1/analytics/portfolio/{pid}/{path}"), 401)
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/analytics/portfolio/{portfolio_id}/risk-metrics"]["get"]
    assert not op.get("deprecated", False)
