"""Concurrency: 20 binds of one draft at once place one set of orders."""

from __future__ import annotations

import threading
from typing import Any

from tests.api.conftest import assert_consistent


def _hammer(client: Any, user: Any, draft_id: str, keys: list[str]) -> list[Any]:
    barrier = threading.Barrier(len(keys))
    out: list[Any] = [None] * len(keys)

    def go(i: int) -> None:
        barrier.wait()
        out[i] = client.post("/api/insurance/bind", json={"draft_id": draft_id},
                             headers={**user.headers, "Idempotency-Key": keys[i]})

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_twenty_binds_same_key_place_one_set(client: Any, svc_ctx: Any, paper: Any, alice: Any, store_draft: Any) -> None:
    draft_id = store_draft(alice.id, "collar")
    responses = _hammer(client, alice, draft_id, ["same-key"] * 20)
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["policy"]["id"] for r in responses}) == 1
    assert sum(r.headers["idempotent-replayed"] == "false" for r in responses) == 1
    assert sorted(o.client_order_id for o in paper.orders()) == [f"fo-{draft_id}-0", f"fo-{draft_id}-1"]
    assert_consistent(svc_ctx, paper)


def test_twenty_binds_different_keys_one_wins(client: Any, svc_ctx: Any, paper: Any, alice: Any, store_draft: Any) -> None:
    draft_id = store_draft(alice.id, "collar")
    responses = _hammer(client, alice, draft_id, [f"key-{i}" for i in range(20)])
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, [r.text for r in responses]
    assert len(paper.orders()) == 2
    assert_consistent(svc_ctx, paper)
