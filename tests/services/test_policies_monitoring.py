"""Monitoring: NAV snapshot, breach alerts once per state change, roll suggestion, webhook."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from floorguard.services import policies
from tests.api.conftest import closes_on, principal


@pytest.fixture()
def webhook() -> Any:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_monitoring_alerts_rolls_and_webhooks(
    svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any, quoted: Any, webhook: Any
) -> None:
    url, received = webhook
    svc_ctx.settings = svc_ctx.settings.model_copy(update={"webhook_url": url})
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id), "k")
    pid = out.policy_id
    ratio0 = out.body["policy"]["execution"]["hedge_ratio_at_bind"]
    assert 0.0 < ratio0 < 1.5
    # day 1: SPX up 1.8 %, no alert
    clock.set(2022, 6, 2, 21, 0)
    first = policies.monitor_policy(svc_ctx, pid)
    assert first["alerts"] == []
    c = closes_on(svc_ctx, ("AAPL", "MSFT", "JPM", "HD"), dt.date(2022, 6, 2))
    assert first["portfolio_value"] == pytest.approx(400 * c["AAPL"] + 200 * c["MSFT"] + 300 * c["JPM"] + 150 * c["HD"],
                                                     rel=1e-12)
    # day 9: the portfolio is ~10 % down, below the 95 % floor; the puts are deep in the money
    clock.set(2022, 6, 14, 21, 0)
    second = policies.monitor_policy(svc_ctx, pid)
    kinds = [a["type"] for a in second["alerts"]]
    assert "floor_breach" in kinds
    assert "roll_suggested" in kinds and abs(second["hedge_ratio"] - ratio0) > svc_ctx.settings.roll_delta_threshold
    assert second["shortfall"] == pytest.approx(0.95 * out.body["policy"]["portfolio_value_at_bind"]
                                                - second["portfolio_value"], rel=1e-9)
    # the same state again: no second alert
    clock.set(2022, 6, 14, 22, 0)
    assert [a["type"] for a in policies.monitor_policy(svc_ctx, pid)["alerts"]] == []
    assert [r["type"] for r in received] == kinds and all(r["policy_id"] == pid for r in received)
    view = policies.get_policy_view(svc_ctx, principal(svc_ctx, alice), pid)
    assert len(view["nav_history"]) == 3 and view["breach_flag"] is True


def test_webhook_failure_does_not_stop_monitoring(
    svc_ctx: Any, clock: Any, paper: Any, alice: Any, store_draft: Any
) -> None:
    svc_ctx.settings = svc_ctx.settings.model_copy(update={"webhook_url": "http://127.0.0.1:9/unreachable"})
    pid = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id), "k").policy_id
    clock.set(2022, 6, 14, 21, 0)
    out = policies.monitor_all(svc_ctx)
    assert out["monitored"] == 1 and out["errors"] == [] and out["results"][0]["alerts"]
    assert policies.get_policy_view(svc_ctx, principal(svc_ctx, alice), pid)["mtm"] is not None
