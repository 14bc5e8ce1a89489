"""Insurance lifecycle over HTTP: quote, bind (idempotent), policies, monitor, claim, settle, ledger.

Numbers are checked against the seed's section 11 formulas computed here from
the bundled closes (independent of the service): shortfall =
max(0, floor - final value), put intrinsic = max(0, K - L) * multiplier *
contracts, compensation = min(shortfall, hedge payoff); tolerance 1 cent
(amounts are stored to the cent).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.api.conftest import assert_problem, closes_on, needs_synthetic, quote_body

pytestmark = needs_synthetic


def do_quote(client: Any, user: Any, body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/api/insurance/quote", json=body, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def do_bind(client: Any, user: Any, draft_id: str, key: str = "key-1") -> Any:
    return client.post("/api/insurance/bind", json={"draft_id": draft_id},
                       headers={**user.headers, "Idempotency-Key": key})


def ledger(ctx: Any) -> dict[str, Decimal]:
    from floorguard.persistence.repositories import trial_balance

    with ctx.session() as s:
        return trial_balance(s)


def test_quote_returns_the_seed_envelope_and_stores_a_draft(client: Any, svc_ctx: Any, clock: Any, alice: Any) -> None:
    out = do_quote(client, alice, quote_body(svc_ctx))
    assert out["ok"] is True and len(out["draft_id"]) == 32
    draft = out["draft"]
    for key in ("portfolio_value", "beta", "coverage_notional", "floor_pct", "put_leg", "premium_net", "legs"):
        assert key in draft
    c = closes_on(svc_ctx, ("AAPL", "MSFT", "JPM", "HD"), dt.date(2022, 6, 1))
    expected_value = 400 * c["AAPL"] + 200 * c["MSFT"] + 300 * c["JPM"] + 150 * c["HD"]
    assert draft["portfolio_value"] == pytest.approx(expected_value, rel=1e-12)
    assert draft["pricing_source"]["synthetic"] is True
    assert dt.datetime.fromisoformat(out["expires_at"]) == clock.t + dt.timedelta(seconds=900)
    from floorguard.persistence.lifecycle import QuoteDraft

    with svc_ctx.session() as s:
        row = s.get(QuoteDraft, out["draft_id"])
        assert row.user_id == alice.id and row.status == "open" and row.request["floor_pct"] == 0.95


def test_quote_validation_and_suitability(client: Any, svc_ctx: Any, clock: Any, alice: Any, make_user: Any) -> None:
    bad = assert_problem(client.post("/api/insurance/quote", json={"floor_pct": 1.5, "term_days": 0},
                                     headers=alice.headers), 422)
    assert {"floor_pct", "term_days"} <= {e["field"] for e in bad["errors"]}
    refused = assert_problem(
        client.post("/api/insurance/quote", json=quote_body(svc_ctx, strategy="put_spread"), headers=alice.headers), 422
    )
    assert "needs strategy approval level 2" in refused["detail"] and "level 1" in refused["detail"]
    approved = make_user("pro", level=2)
    resp = client.post("/api/insurance/quote", json=quote_body(svc_ctx, strategy="put_spread", term_days=45),
                       headers=approved.headers)
    # past the suitability gate: either a draft, or a market refusal that is not about approval
    if resp.status_code == 200:
        assert resp.json()["draft"]["strategy"] == "put_spread"
    else:
        assert "approval" not in assert_problem(resp, 422)["detail"]
    none = assert_problem(client.post("/api/insurance/quote", json={"floor_pct": 0.9}, headers=alice.headers), 422)
    assert none["errors"][0]["field"] == "positions"


def test_quote_rate_limit_answers_429_with_retry_after(svc_ctx: Any, clock: Any, alice: Any) -> None:
    from fastapi.testclient import TestClient

    from floorguard.api.app import create_app

    settings = svc_ctx.settings.model_copy(update={"quote_rate_limit_per_minute": 1})
    with TestClient(create_app(settings, ctx=svc_ctx)) as c:
        assert c.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=alice.headers).status_code == 200
        resp = c.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=alice.headers)
        assert_problem(resp, 429)
        assert int(resp.headers["retry-after"]) >= 1


def test_bind_is_idempotent_and_books_the_premium(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any, quoted: Any
) -> None:
    draft = {"draft_id": store_draft(alice.id, "collar"), "draft": quoted["collar"]["draft"]}
    first = do_bind(client, alice, draft["draft_id"])
    assert first.status_code == 201, first.text
    policy = first.json()["policy"]
    assert policy["status"] == "active" and first.headers["idempotent-replayed"] == "false"
    again = do_bind(client, alice, draft["draft_id"])
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    orders = paper.orders()
    assert len(orders) == len(draft["draft"]["legs"])
    assert all(o.state == "filled" for o in orders)
    # premium = sum of fills at the ask (buys) minus the bid (sells), to the cent
    paid = sum((1 if o.request.side == "buy" else -1) * o.avg_fill_price * o.filled_quantity
               * o.request.instrument.multiplier for o in orders)
    bal = ledger(svc_ctx)
    assert bal[f"insurance_premium:user:{alice.id}"] == Decimal(str(round(paid, 2)))
    assert bal[f"wallet:user:{alice.id}"] == -Decimal(str(round(paid, 2)))
    # another key on the bound draft: conflict, nothing placed
    assert_problem(do_bind(client, alice, draft["draft_id"], key="key-2"), 409)
    assert len(paper.orders()) == len(orders)
    # the key cannot be reused for another draft
    assert_problem(do_bind(client, alice, store_draft(alice.id), key="key-1"), 409)


def test_bind_needs_a_key_and_a_live_draft(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any
) -> None:
    draft = {"draft_id": store_draft(alice.id)}
    missing = assert_problem(client.post("/api/insurance/bind", json={"draft_id": draft["draft_id"]},
                                         headers=alice.headers), 422)
    assert missing["errors"][0]["field"] == "header.Idempotency-Key"
    assert_problem(do_bind(client, alice, "0" * 32), 404)
    clock.t = clock.t + dt.timedelta(seconds=901)
    expired = assert_problem(do_bind(client, alice, draft["draft_id"], key="late"), 422)
    assert "expired" in expired["detail"]
    assert paper.orders() == []


def test_price_move_beyond_tolerance_refuses_bind(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any
) -> None:
    from floorguard.brokers import BidAsk
    from floorguard.services.market_quotes import LegQuotes

    draft = {"draft_id": store_draft(alice.id)}
    svc_ctx.resources["leg_quotes"] = lambda ctx, d, now: LegQuotes(
        [BidAsk(leg.bid * 1.2, leg.ask * 1.2) for leg in d.legs], "test feed"
    )
    body = assert_problem(do_bind(client, alice, draft["draft_id"]), 422)
    assert "moved" in body["detail"] and "tolerance" in body["detail"]
    assert paper.orders() == []


def test_policy_views_monitoring_and_settlement(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, admin: Any, store_draft: Any, quoted: Any
) -> None:
    draft = {"draft_id": store_draft(alice.id), "draft": quoted["protective_put"]["draft"]}
    pid = do_bind(client, alice, draft["draft_id"]).json()["policy"]["id"]
    listed = client.get("/api/insurance/policies", headers=alice.headers).json()["policies"]
    assert [p["id"] for p in listed] == [pid]
    clock.set(2022, 6, 14, 21, 0)  # SPX 3735.48, -8.9 % since the quote
    mon = client.post("/api/insurance/monitor", headers=admin.headers)
    assert mon.status_code == 200 and mon.json()["monitored"] == 1 and not mon.json()["errors"], mon.text
    view = client.get(f"/api/insurance/policies/{pid}", headers=alice.headers).json()
    assert view["mtm"] is not None and len(view["nav_history"]) == 1
    assert view["days_remaining"] == pytest.approx(
        (dt.datetime.fromisoformat(view["end_utc"]) - clock.t).total_seconds() / 86400)
    events = [e["type"] for e in view["events"]]
    assert events[:1] == ["bind_started"] and "bound" in events and "floor_breach" in events
    assert view["breach_flag"] is True
    # settlement: seed section 11 recomputed here from the bundled closes
    clock.set(2022, 6, 21, 21, 0)
    out = client.post("/api/insurance/settle", json={}, headers=admin.headers).json()
    assert [s["policy_id"] for s in out["settled"]] == [pid]
    end = dt.datetime.fromisoformat(view["end_utc"]).date()
    c = closes_on(svc_ctx, ("AAPL", "MSFT", "JPM", "HD", "SPX"), end)
    final_value = 400 * c["AAPL"] + 200 * c["MSFT"] + 300 * c["JPM"] + 150 * c["HD"]
    shortfall = max(0.0, 0.95 * view["portfolio_value_at_bind"] - final_value)
    d = draft["draft"]
    ratio = d["contract_spec"].get("index_ratio", 1.0)
    level = c["SPX"] * ratio
    payoff = sum((1 if leg["side"] == "long" else -1) * leg["multiplier"] * leg["contracts"]
                 * (max(0.0, leg["strike"] - level) if leg["kind"] == "put" else max(0.0, level - leg["strike"]))
                 for leg in d["legs"])
    expected = min(shortfall, max(0.0, payoff))
    settled = client.get(f"/api/insurance/policies/{pid}", headers=alice.headers).json()
    assert settled["status"] == "settled"
    assert settled["settlement"]["final_portfolio_value"] == pytest.approx(final_value, abs=0.01)
    assert settled["settlement"]["shortfall"] == pytest.approx(shortfall, abs=0.01)
    assert settled["settlement"]["compensation"] == pytest.approx(expected, abs=0.01)
    assert expected > 0
    assert ledger(svc_ctx)[f"insurance_payout:user:{alice.id}"] == -Decimal(str(round(expected, 2)))
    # a rerun credits nothing
    rerun = client.post("/api/insurance/settle", json={"policy_ids": [pid]}, headers=admin.headers).json()
    assert rerun["settled"] == [] and rerun["skipped"][0]["reason"] == "already settled"
    assert ledger(svc_ctx)[f"insurance_payout:user:{alice.id}"] == -Decimal(str(round(expected, 2)))


def test_parallel_settlement_runs_credit_once(
    svc_ctx: Any, clock: Any, paper: Any, alice: Any, client: Any, store_draft: Any
) -> None:
    import threading

    from floorguard.services.policies import settle_due

    draft = {"draft_id": store_draft(alice.id)}
    pid = do_bind(client, alice, draft["draft_id"]).json()["policy"]["id"]
    clock.set(2022, 6, 21, 21, 0)
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(settle_due(svc_ctx))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r["settled"]) for r in results) == 1
    from floorguard.persistence.orm import JournalEntry

    with svc_ctx.session() as s:
        refs = s.scalars(sa.select(JournalEntry.reference).where(JournalEntry.policy_id == pid)).all()
    assert sorted(refs) == sorted({f"premium:policy:{pid}", f"payout:policy:{pid}"})


def test_settlement_waits_for_prices(client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, admin: Any) -> None:
    """Past the bundled data's end there is no settlement level: deferred, unless given."""
    clock.set(2022, 12, 20, 15, 0)
    body = quote_body(svc_ctx, day=dt.date(2022, 12, 20), term_days=30)
    pid = do_bind(client, alice, do_quote(client, alice, body)["draft_id"]).json()["policy"]["id"]
    clock.set(2023, 3, 1, 0, 0)
    out = client.post("/api/insurance/settle", json={}, headers=admin.headers).json()
    assert out["settled"] == [] and out["deferred"][0]["policy_id"] == pid
    assert client.get(f"/api/insurance/policies/{pid}", headers=alice.headers).json()["status"] == "active"


def test_claim_checks_the_early_trigger(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any
) -> None:
    draft = {"draft_id": store_draft(alice.id, early_trigger_pct=0.08)}
    pid = do_bind(client, alice, draft["draft_id"]).json()["policy"]["id"]
    clock.set(2022, 6, 3, 21, 0)  # SPX 4108.54: no trigger
    refused = assert_problem(client.post("/api/insurance/claim", json={"policy_id": pid}, headers=alice.headers), 409)
    assert "above the early-trigger level" in refused["detail"]
    clock.set(2022, 6, 14, 21, 0)  # SPX 3735.48: -8.9 % from 4101.23, before expiry
    ok = client.post("/api/insurance/claim", json={"policy_id": pid}, headers=alice.headers)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["claim"] == "accepted" and body["settled"] is True and body["kind"] == "early"
    assert body["compensation"] == pytest.approx(min(body["shortfall"], max(0.0, body["hedge_proceeds"])), abs=0.01)
    view = client.get(f"/api/insurance/policies/{pid}", headers=alice.headers).json()
    assert view["status"] == "settled" and "claim_refused" in [e["type"] for e in view["events"]]
    assert_problem(client.post("/api/insurance/claim", json={"policy_id": pid}, headers=alice.headers), 409)
    closing = [o for o in paper.orders() if o.client_order_id.startswith("fc-")]
    assert closing and all(o.state == "filled" for o in closing)


def test_other_users_cannot_read_bind_claim_or_settle(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, bob: Any, store_draft: Any
) -> None:
    draft = {"draft_id": store_draft(alice.id)}
    assert_problem(do_bind(client, bob, draft["draft_id"]), 404)
    pid = do_bind(client, alice, draft["draft_id"]).json()["policy"]["id"]
    assert_problem(client.get(f"/api/insurance/policies/{pid}", headers=bob.headers), 404)
    assert client.get("/api/insurance/policies", headers=bob.headers).json()["policies"] == []
    assert_problem(client.post("/api/insurance/claim", json={"policy_id": pid}, headers=bob.headers), 404)
    assert_problem(client.post(f"/api/insurance/policies/{pid}/mark", headers=bob.headers), 404)
    clock.set(2022, 6, 2, 21, 0)
    mark = client.post(f"/api/insurance/policies/{pid}/mark", headers=alice.headers)
    assert mark.status_code == 200 and mark.json()["policy_id"] == pid, mark.text
    mtm = client.get(f"/api/insurance/policies/{pid}", headers=alice.headers).json()["mtm"]
    assert mtm["age_seconds"] == 0.0
    assert_problem(client.post("/api/insurance/settle", json={"policy_ids": [pid]}, headers=bob.headers), 403)
    assert_problem(client.get("/api/insurance/policies?all=true", headers=bob.headers), 403)
    assert_problem(client.post("/api/insurance/monitor", headers=bob.headers), 403)
    portfolio = client.post("/api/portfolios", json={"name": "p", "positions": [{"symbol": "AAPL", "quantity": 1}]},
                            headers=alice.headers).json()
    quote = client.post("/api/insurance/quote", json={"portfolio_id": portfolio["id"]}, headers=bob.headers)
    assert_problem(quote, 404)


def test_admin_sees_every_policy(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, bob: Any, admin: Any, store_draft: Any
) -> None:
    for user in (alice, bob):
        assert do_bind(client, user, store_draft(user.id)).status_code == 201
    everyone = client.get("/api/insurance/policies?all=true", headers=admin.headers).json()["policies"]
    assert sorted(p["user_id"] for p in everyone) == sorted([alice.id, bob.id])
    one = everyone[0]["id"]
    assert client.get(f"/api/insurance/policies/{one}", headers=admin.headers).status_code == 200


def test_quote_from_a_stored_portfolio(client: Any, svc_ctx: Any, clock: Any, alice: Any) -> None:
    c = closes_on(svc_ctx, ("AAPL", "MSFT"), dt.date(2022, 6, 1))
    made = client.post("/api/portfolios", json={"name": "p", "positions": [
        {"symbol": "AAPL", "quantity": 500, "price": c["AAPL"]}, {"symbol": "MSFT", "quantity": 300, "price": c["MSFT"]}]},
        headers=alice.headers).json()
    out = do_quote(client, alice, {"portfolio_id": made["id"], "floor_pct": 0.9, "term_days": 30,
                                   "index_level": 4101.23})
    assert out["draft"]["portfolio_value"] == pytest.approx(500 * c["AAPL"] + 300 * c["MSFT"], rel=1e-12)
