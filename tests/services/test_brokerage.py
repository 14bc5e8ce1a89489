"""Which broker the service builds, and the paper book surviving a restart."""

from __future__ import annotations

from typing import Any

import pytest

from floorguard.brokers import PaperBroker, UpstoxBroker
from floorguard.exceptions import ConfigurationError
from floorguard.services.context import AppContext
from floorguard.services.policies import get_broker
from tests.api.conftest import principal


def test_paper_is_the_default_and_its_book_survives_a_restart(
    svc_ctx: Any, clock: Any, alice: Any, store_draft: Any
) -> None:
    from floorguard.services import policies

    broker = get_broker(svc_ctx)
    assert isinstance(broker, PaperBroker) and get_broker(svc_ctx) is broker
    assert broker.book_path == svc_ctx.settings.data_home / "paper_broker.sqlite"
    out = policies.bind(svc_ctx, principal(svc_ctx, alice), store_draft(alice.id), "k")
    assert out.status_code == 201
    placed = {o.client_order_id: o for o in broker.orders()}
    svc_ctx.close()  # restart: a new context, a new broker object on the same book
    again = AppContext(svc_ctx.settings)
    try:
        reopened = get_broker(again)
        assert reopened is not broker and {o.client_order_id: o for o in reopened.orders()} == placed
    finally:
        again.close()


def test_upstox_needs_its_instrument_master(svc_settings: Any) -> None:
    ctx = AppContext(svc_settings.model_copy(update={"broker": "upstox", "upstox_access_token": "t"}))
    try:
        with pytest.raises(ConfigurationError, match="complete.json.gz"):
            get_broker(ctx)
        master = svc_settings.data_home / "upstox" / "complete.json.gz"
        master.parent.mkdir(parents=True, exist_ok=True)
        import gzip
        import shutil
        from pathlib import Path

        src = Path(__file__).parents[1] / "brokers" / "recordings" / "instruments.json"
        with open(src, "rb") as fin, gzip.open(master, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        broker = get_broker(ctx)
        assert isinstance(broker, UpstoxBroker) and broker.sandbox is True and len(broker.instruments) == 2
    finally:
        ctx.close()
