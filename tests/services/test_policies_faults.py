"""Bind under broker faults and a lost database: afterwards the database, the
broker's book and the ledger agree (``assert_consistent``), and a retry with the
same Idempotency-Key finishes the job without placing anything twice.

The collar draft has two legs: 0 = long put (buy), 1 = short call (sell).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from floorguard.brokers import FaultRule
from floorguard.exceptions import BrokerTimeoutError, ConfigurationError
from floorguard.persistence.lifecycle import QuoteDraft
from floorguard.persistence.orm import InsurancePolicy
from floorguard.services import policies
from tests.api.conftest import assert_consistent, principal


def leg(i: int) -> Any:
    return lambda req: req.client_order_id.startswith("fo-") and req.client_order_id.endswith(f"-{i}")


def status_of(ctx: Any, policy_id: int) -> str:
    with ctx.session() as s:
        return s.get(InsurancePolicy, policy_id).status


@pytest.mark.parametrize("at_leg", [0, 1])
def test_rejection_unwinds_filled_legs(svc_ctx: Any, paper: Any, alice: Any, store_draft: Any, at_leg: int) -> None:
    paper.faults.add(FaultRule("reject", match=leg(at_leg), reason="RMS: margin exceeded"))
    draft_id = store_draft(alice.id, "collar")
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), draft_id, "k")
    assert out.status_code == 502 and "margin exceeded" in out.body["detail"]
    pid = out.policy_id
    assert status_of(svc_ctx, pid) == "cancelled"
    coids = sorted(o.client_order_id for o in paper.orders())
    expected = {0: [f"fo-{draft_id}-0"], 1: [f"fo-{draft_id}-0", f"fo-{draft_id}-1", f"fu-{draft_id}-0"]}[at_leg]
    assert coids == sorted(expected)
    assert_consistent(svc_ctx, paper)
    with svc_ctx.session() as s:
        assert s.get(QuoteDraft, draft_id).status == "failed"
    # the outcome is final: a retry replays it and places nothing
    again = policies.bind(svc_ctx, principal(svc_ctx, alice), draft_id, "k")
    assert again.replayed and again.status_code == 502 and len(paper.orders()) == len(expected)


def test_partial_policy_keeps_filled_legs(svc_ctx: Any, paper: Any, alice: Any, store_draft: Any) -> None:
    svc_ctx.settings = svc_ctx.settings.model_copy(update={"partial_bind_policy": "partially_bound"})
    paper.faults.add(FaultRule("reject", match=leg(1)))
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id, "collar"), "k")
    assert out.status_code == 201 and out.body["policy"]["status"] == "partially_bound"
    assert "partially bound" in out.body["warning"]
    assert [o.state for o in paper.orders()] == ["filled", "rejected"]
    assert_consistent(svc_ctx, paper)
    assert out.policy_id in policies.live_policy_ids(svc_ctx)


def test_partial_fill_is_unwound(svc_ctx: Any, paper: Any, alice: Any, store_draft: Any) -> None:
    paper.faults.add(FaultRule("partial", match=leg(0), fill_ratio=0.5))
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id, "collar"), "k")
    assert out.status_code == 502 and status_of(svc_ctx, out.policy_id) == "cancelled"
    first, unwind = paper.orders()
    assert first.filled_quantity == first.request.quantity // 2 and unwind.filled_quantity == first.filled_quantity
    assert unwind.request.side == "sell"
    assert_consistent(svc_ctx, paper)


@pytest.mark.parametrize("at_leg", [0, 1])
def test_timeouts_resume_with_the_same_key(svc_ctx: Any, paper: Any, alice: Any, store_draft: Any, at_leg: int) -> None:
    paper.faults.add(FaultRule("timeout", match=leg(at_leg), times=3))  # every retry inside one call times out
    draft_id = store_draft(alice.id, "collar")
    user = principal(svc_ctx, alice)
    with pytest.raises(BrokerTimeoutError, match="same Idempotency-Key"):
        policies.bind(svc_ctx, user, draft_id, "k")
    assert len(paper.orders()) == at_leg  # legs before the failing one were placed
    out = policies.bind(svc_ctx, user, draft_id, "k")  # the broker answers again
    assert out.status_code == 201 and out.body["policy"]["status"] == "active" and not out.replayed
    assert sorted(o.client_order_id for o in paper.orders()) == [f"fo-{draft_id}-0", f"fo-{draft_id}-1"]
    assert_consistent(svc_ctx, paper)


@pytest.mark.parametrize("at_leg", [0, 1])
def test_lost_answer_is_found_by_client_order_id(
    svc_ctx: Any, paper: Any, alice: Any, store_draft: Any, at_leg: int
) -> None:
    paper.faults.add(FaultRule("timeout_after_place", match=leg(at_leg)))
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id, "collar"), "k")
    assert out.status_code == 201 and len(paper.orders()) == 2
    assert_consistent(svc_ctx, paper)


def _fail_once(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, int]:
    real = getattr(policies, name)
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConfigurationError("cannot reach database sqlite:///...: disk I/O error (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(policies, name, flaky)
    return calls


@pytest.mark.parametrize("where", ["_update_order_row", "_finalise"])
def test_database_lost_mid_bind(
    svc_ctx: Any, paper: Any, alice: Any, store_draft: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The broker executes, then the database fails: the retry finds the orders, places nothing twice."""
    _fail_once(monkeypatch, where)
    draft_id = store_draft(alice.id, "collar")
    user = principal(svc_ctx, alice)
    with pytest.raises(ConfigurationError, match="injected"):
        policies.bind(svc_ctx, user, draft_id, "k")
    placed = len(paper.orders())
    assert placed >= 1
    out = policies.bind(svc_ctx, user, draft_id, "k")
    assert out.status_code == 201 and out.body["policy"]["status"] == "active"
    assert len(paper.orders()) == 2 and all(o.state == "filled" for o in paper.orders())
    assert_consistent(svc_ctx, paper)
    with svc_ctx.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(InsurancePolicy)) == 1


def test_abandoned_bind_is_finished_by_the_reconcile_job(
    svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any
) -> None:
    import datetime as dt

    paper.faults.add(FaultRule("timeout", match=leg(1), times=3))
    draft_id = store_draft(alice.id, "collar")
    user = principal(svc_ctx, alice)
    with pytest.raises(BrokerTimeoutError):
        policies.bind(svc_ctx, user, draft_id, "k")
    assert policies.reconcile_binds(svc_ctx)["resumed"] == []  # within the grace period: the client may retry
    clock.t = clock.t + dt.timedelta(minutes=10)
    out = policies.reconcile_binds(svc_ctx)
    assert [r["status_code"] for r in out["resumed"]] == [201]
    assert_consistent(svc_ctx, paper)
    late = policies.bind(svc_ctx, user, draft_id, "k")  # the client's late retry replays the outcome
    assert late.replayed and late.status_code == 201 and len(paper.orders()) == 2
