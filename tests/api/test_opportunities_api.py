"""Opportunities, scenario, feedback and "Hedge now" over HTTP (seed section 20).

Auth and ownership as the other routes: no token -> 401, another user's
portfolio or recommendation -> 404, bad input -> 422 problem+json naming the
field. The service clock is 2022-06-01, so every figure comes from the
bundled closes up to that day (labelled estimates).
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem, needs_synthetic

pytestmark = needs_synthetic

POSITIONS = [{"symbol": "AAPL", "quantity": 400}, {"symbol": "MSFT", "quantity": 200}, {"symbol": "JPM", "quantity": 300}]


def _portfolio(client: Any, user: Any) -> int:
    resp = client.post("/api/portfolios", json={"name": "core", "positions": POSITIONS}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def _opps(client: Any, user: Any, pid: int, **params: Any) -> Any:
    q = {"portfolio_id": pid, "structures": "protective_put", "n_paths": 2000, **params}
    return client.get("/api/insurance/opportunities", params=q, headers=user.headers)


def test_opportunities_shape_ownership_feedback_and_hedge_now(client: Any, svc_ctx: Any, clock: Any,
                                                              alice: Any, bob: Any) -> None:
    pid = _portfolio(client, alice)
    assert client.get("/api/insurance/opportunities", params={"portfolio_id": pid}).status_code == 401
    assert_problem(_opps(client, bob, pid), 404)
    resp = _opps(client, alice, pid)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert "estimate" in out["label"] and out["as_of"] == "2022-06-01"
    assert out["recommendations"]["columns"] == ["Expiry", "Structure", "Put Strike", "Call Strike", "Premium",
                                                 "Coverage%", "Breakeven", "Score"]
    table = out["recommendations"]["table"]
    assert table and all(r["Structure"] == "protective_put" for r in table)
    scores = [r["Score"] for r in table]
    assert scores == sorted(scores, reverse=True)
    assert {c["role"] for c in out["recommendations"]["candidates"]} <= {"before", "covering", "after"}
    # alice has the default approval (level 1): puts are suitable for her
    assert all(c["suitability"] == {"required_level": 1, "allowed": True} for c in out["recommendations"]["candidates"])
    w = out["windows"][0]
    assert w["drawdown"]["n_paths"] == 2000 and w["drawdown"]["p5"] < w["drawdown"]["median"] < w["drawdown"]["p95"]
    assert "unhedged" in out["narrative"]["text"].lower() and out["narrative"]["choice"] == "template"
    rec = out["recommendation_id"]
    best = out["recommendations"]["candidates"][0]
    # feedback: bob cannot answer alice's recommendation; bad decision is 422
    body = {"recommendation_id": rec, "structure": "protective_put", "decision": "rejected"}
    assert_problem(client.post("/api/insurance/opportunities/feedback", json=body, headers=bob.headers), 404)
    bad = assert_problem(client.post("/api/insurance/opportunities/feedback",
                                     json={**body, "decision": "maybe"}, headers=alice.headers), 422)
    assert any(e["field"].endswith("decision") for e in bad["errors"])
    ok = client.post("/api/insurance/opportunities/feedback", json=body, headers=alice.headers)
    assert ok.status_code == 201 and ok.json()["decision"] == "rejected"
    # hedge now creates a stored draft through the insurance engine
    hn = client.post("/api/insurance/opportunities/hedge",
                     json={"recommendation_id": rec, "structure": "protective_put", "expiry": best["expiry"]},
                     headers=alice.headers)
    assert hn.status_code == 200, hn.text
    h = hn.json()
    assert len(h["draft_id"]) == 32 and h["draft"]["strategy"] == "protective_put"
    assert h["feedback"]["decision"] == "accepted" and h["feedback"]["draft_id"] == h["draft_id"]
    kp = client.get("/api/insurance/opportunities/kpis", headers=alice.headers).json()
    assert kp["n_recommendations"] == 1 and kp["n_accepted"] == 1 and kp["n_rejected"] == 1 and kp["n_bound"] == 0
    assert kp["user_adoption"] == 0.0
    # the backtest's KPIs over the whole bundled history, as the backtest reports them
    from floorguard.services.opportunities import index_backtest

    ref = index_backtest(svc_ctx, "collar")
    assert kp["historical"]["collar"]["hit_rate"] == ref["hit_rate"]
    assert kp["historical"]["pput"]["over_hedge_ratio"] == index_backtest(svc_ctx, "pput")["over_hedge_ratio"]


def test_scenario_presets_custom_seed_and_errors(client: Any, svc_ctx: Any, clock: Any, alice: Any, bob: Any) -> None:
    pid = _portfolio(client, alice)
    body = {"portfolio_id": pid, "preset": "severe", "n_paths": 2000, "seed": 3}
    r1 = client.post("/api/insurance/scenario", json=body, headers=alice.headers)
    assert r1.status_code == 200, r1.text
    out = r1.json()
    assert out["scenario"]["name"] == "severe" and out["hedge"]["strategy"] == "protective_put"
    res = out["result"]
    assert res["n_paths"] == 2000 and "estimate" in res["label"]
    # the put cuts the tail: hedged ES below unhedged ES (both loss fractions)
    assert res["es_hedged"]["value"] < res["es_unhedged"]["value"]
    assert out["narrative"]["text"].startswith("Under Severe scenario (-12.0% index")
    r2 = client.post("/api/insurance/scenario", json=body, headers=alice.headers)
    assert r2.json()["result"] == res  # same seed, same numbers
    custom = client.post("/api/insurance/scenario", headers=alice.headers, json={
        "positions": POSITIONS, "strategy": None, "custom": {"index_move": -0.2, "vol_multiplier": 1.5, "horizon_days": 10},
        "n_paths": 2000})
    assert custom.status_code == 200, custom.text
    c = custom.json()
    assert c["hedge"] is None and c["scenario"]["index_move"] == -0.2 and c["scenario"]["horizon_days"] == 10
    assert c["result"]["unhedged"]["median"]["value"] < c["result"]["initial_value"]
    assert_problem(client.post("/api/insurance/scenario", json=body, headers=bob.headers), 404)
    err = assert_problem(client.post("/api/insurance/scenario", json={**body, "n_paths": 10}, headers=alice.headers), 422)
    assert any("n_paths" in e["field"] for e in err["errors"])
    both = assert_problem(client.post("/api/insurance/scenario", json={**body, "positions": POSITIONS},
                                      headers=alice.headers), 422)
    assert any(e["field"] == "portfolio_id" for e in both["errors"])
    assert_problem(client.post("/api/insurance/scenario", json={**body, "draft_id": "nope"}, headers=alice.headers), 404)


def test_openapi_documents_the_routes(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/insurance/opportunities", "/api/insurance/scenario", "/api/insurance/opportunities/feedback",
                 "/api/insurance/opportunities/hedge"):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/insurance/scenario"]["post"]["responses"]["422"]["content"][
        "application/problem+json"]
