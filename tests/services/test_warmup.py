"""Start-up warm-up: the demo quote is priced (nothing stored) and the heap is frozen out of the collector."""

from __future__ import annotations

import gc
from typing import Any

import sqlalchemy as sa

from floorguard.persistence.lifecycle import QuoteDraft
from floorguard.services.warmup import freeze_heap, warm_up, warm_up_and_freeze


def test_warm_up_prices_without_storing(svc_ctx: Any) -> None:
    seconds, error = warm_up(svc_ctx)
    assert error is None and seconds > 0
    with svc_ctx.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(QuoteDraft)) == 0


def test_warm_up_reports_a_failure_instead_of_raising(svc_ctx: Any) -> None:
    svc_ctx.settings.default_index = "NOPE"
    seconds, error = warm_up(svc_ctx)
    assert error is not None and "index" in error


def test_freeze_moves_live_objects_out_of_collections() -> None:
    try:
        frozen = freeze_heap()
        assert frozen > 1000 and gc.get_freeze_count() == frozen
        keep = [[i] for i in range(1000)]  # new objects: tracked again, outside the frozen set
        assert gc.get_freeze_count() == frozen and len(keep) == 1000
    finally:
        gc.unfreeze()


def test_warm_up_and_freeze_summary(svc_ctx: Any) -> None:
    try:
        out = warm_up_and_freeze(svc_ctx).to_dict()
    finally:
        gc.unfreeze()
    assert out["priced"] is True and out["error"] is None and out["frozen_objects"] > 1000
