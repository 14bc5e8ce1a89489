"""The quote path under load: memoised drafts, group-committed rows, insured-notional limits, store timeout.

Limits are checked against figures computed here from the stored policies
(sum of ``coverage_notional`` of live policies per index and per user), not
against the service's own query.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from floorguard.persistence.lifecycle import QuoteDraft
from floorguard.persistence.orm import InsurancePolicy
from floorguard.services import policies as svc
from tests.api.conftest import assert_problem, needs_synthetic, quote_body

pytestmark = needs_synthetic


def drafts(ctx: Any) -> list[QuoteDraft]:
    with ctx.session() as s:
        return list(s.scalars(sa.select(QuoteDraft).order_by(QuoteDraft.created_at)))


def test_identical_quotes_share_the_pricing_but_each_stores_its_own_draft(
    client: Any, svc_ctx: Any, clock: Any, alice: Any
) -> None:
    body = quote_body(svc_ctx)
    a = client.post("/api/insurance/quote", json=body, headers=alice.headers)
    b = client.post("/api/insurance/quote", json=body, headers=alice.headers)
    assert a.status_code == b.status_code == 200
    assert a.json()["draft_id"] != b.json()["draft_id"]
    assert a.json()["draft"] == b.json()["draft"]  # one engine run (the memo)
    rows = drafts(svc_ctx)
    assert {r.id for r in rows} == {a.json()["draft_id"], b.json()["draft_id"]}
    assert all(r.draft == a.json()["draft"] and r.status == "open" for r in rows)
    assert rows[0].request["limits"]["user_total_after"] == pytest.approx(a.json()["draft"]["coverage_notional"])
    samples = dict(line.split(" ", 1) for line in client.get("/metrics").text.splitlines()
                   if line.startswith("floorguard_group_commit_"))
    assert float(samples["floorguard_group_commit_items"]) == 2.0
    assert float(samples["floorguard_group_commit_transactions"]) in (1.0, 2.0)


def test_concurrent_quotes_are_all_stored(client: Any, svc_ctx: Any, clock: Any, alice: Any, bob: Any) -> None:
    body = quote_body(svc_ctx)

    def one(k: int) -> Any:
        user = (alice, bob)[k % 2]
        return client.post("/api/insurance/quote", json={**body, "floor_pct": 0.9 + 0.01 * (k % 3)},
                           headers=user.headers)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(one, range(24)))
    assert [r.status_code for r in responses] == [200] * 24, [r.text for r in responses if r.status_code != 200][:2]
    ids = {r.json()["draft_id"] for r in responses}
    rows = drafts(svc_ctx)
    assert len(ids) == 24 and {r.id for r in rows} == ids
    by_user = {r.id: r.user_id for r in rows}
    for k, r in enumerate(responses):
        assert by_user[r.json()["draft_id"]] == (alice, bob)[k % 2].id


def test_limits_count_live_policies_per_index_and_per_user(
    client: Any, svc_ctx: Any, clock: Any, paper: Any, alice: Any, bob: Any, store_draft: Any
) -> None:
    bound = client.post("/api/insurance/bind", json={"draft_id": store_draft(alice.id)},
                        headers={**alice.headers, "Idempotency-Key": "k1"})
    assert bound.status_code == 201, bound.text
    with svc_ctx.session() as s:
        live = float(s.scalar(sa.select(InsurancePolicy.coverage_notional)
                              .where(InsurancePolicy.user_id == alice.id, InsurancePolicy.status == "active")))
    probe = client.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=bob.headers).json()
    new = probe["draft"]["coverage_notional"]
    n_before = len(drafts(svc_ctx))
    settings = svc_ctx.settings
    # per index: alice's live policy counts against bob's quote on the same index
    settings.max_insured_notional_per_index = live + new - 1.0
    refused = assert_problem(client.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=bob.headers), 422)
    assert refused["type"].endswith("/limit-exceeded") and "per-index" in refused["detail"]
    assert len(drafts(svc_ctx)) == n_before  # nothing stored for a refused quote
    settings.max_insured_notional_per_index = live + new + 1.0
    ok = client.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=bob.headers)
    assert ok.status_code == 200
    # per user: alice's own live policy counts, bob's does not
    settings.max_insured_notional_per_index = 1e12
    settings.max_insured_notional_per_user = live + new - 1.0
    assert client.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=bob.headers).status_code == 200
    mine = assert_problem(client.post("/api/insurance/quote", json=quote_body(svc_ctx), headers=alice.headers), 422)
    assert "per-user" in mine["detail"]
    stored = {r.user_id: r.request["limits"] for r in drafts(svc_ctx) if r.user_id == bob.id}
    assert stored[bob.id]["user_total_after"] == pytest.approx(new)


def test_grouped_totals_match_a_direct_sum(svc_ctx: Any, clock: Any, paper: Any, alice: Any, bob: Any,
                                           client: Any, store_draft: Any) -> None:
    for user, key in ((alice, "a1"), (alice, "a2"), (bob, "b1")):
        r = client.post("/api/insurance/bind", json={"draft_id": store_draft(user.id)},
                        headers={**user.headers, "Idempotency-Key": key})
        assert r.status_code == 201, r.text
    with svc_ctx.session() as s:
        rows = s.execute(sa.select(InsurancePolicy.user_id, InsurancePolicy.index_symbol,
                                   InsurancePolicy.coverage_notional, InsurancePolicy.status)).all()
        by_index, by_user = svc._live_notional(s, user_ids=[alice.id, bob.id], index_symbols=["SPX"])
    live = [r for r in rows if r.status in ("active", "partially_bound", "draft")]
    assert len(live) == 3
    assert by_index["SPX"] == pytest.approx(sum(float(r.coverage_notional) for r in live if r.index_symbol == "SPX"))
    for user in (alice, bob):
        assert by_user[user.id] == pytest.approx(sum(float(r.coverage_notional) for r in live if r.user_id == user.id))


def test_a_draft_not_stored_in_time_answers_503(
    client: Any, svc_ctx: Any, clock: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = quote_body(svc_ctx)
    assert client.post("/api/insurance/quote", json=body, headers=alice.headers).status_code == 200
    monkeypatch.setattr(svc, "QUOTE_STORE_TIMEOUT_SECONDS", 0.3)
    gate, running = threading.Event(), threading.Event()

    def stall(conn: Any, items: list[Any]) -> list[Any]:
        running.set()
        gate.wait(30)
        return [None] * len(items)

    blocker = svc_ctx.group_committer().submit(stall, None)
    assert running.wait(10)  # the committer is busy: the quote's write waits in the queue
    try:
        resp = client.post("/api/insurance/quote", json=body, headers=alice.headers)
    finally:
        gate.set()
    blocker.result(timeout=30)
    problem = assert_problem(resp, 503)
    assert problem["type"].endswith("/service-busy") and resp.headers["retry-after"] == "5"
    svc_ctx.group_committer().close()  # drain the queue
    assert len(drafts(svc_ctx)) == 1  # the timed-out write was cancelled before it began: nothing stored
