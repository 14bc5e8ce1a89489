"""Batch work through the executors: a real in-process Dask ``LocalCluster`` and the local one.

The Dask and local runs must give the same results (same function, same data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from floorguard.jobs import DaskExecutor, LocalExecutor, get_executor
from floorguard.jobs.batch import close_worker_contexts, monitor_every_policy, risk_report_every_portfolio
from floorguard.persistence.orm import InsurancePolicyNav, PortfolioSnapshot
from floorguard.services import policies
from tests.api.conftest import principal


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    close_worker_contexts()


def test_get_executor_follows_settings(svc_settings: Any, dask_client: Any) -> None:
    assert isinstance(get_executor(svc_settings), LocalExecutor)
    address = dask_client.scheduler.address
    ex = get_executor(svc_settings.model_copy(update={"dask_scheduler": address}))
    try:
        assert isinstance(ex, DaskExecutor) and ex.map(abs, [-1, 2, -3]) == [1, 2, 3]
    finally:
        ex.close()
    from floorguard.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=0.5)


def test_local_executor_keeps_order() -> None:
    assert LocalExecutor(max_workers=4).map(lambda x: x * x, list(range(10))) == [x * x for x in range(10)]


def test_monitoring_every_policy_on_dask(
    svc_ctx: Any, clock: Any, paper: Any, alice: Any, bob: Any, store_draft: Any, dask_client: Any
) -> None:
    ids = []
    for user in (alice, bob, alice):
        out = policies.bind(svc_ctx, principal(svc_ctx, user), store_draft(user.id), f"k-{len(ids)}")
        ids.append(out.policy_id)
    when = dt.datetime(2022, 6, 14, 21, 0, tzinfo=dt.UTC)
    result = monitor_every_policy(svc_ctx, DaskExecutor(client=dask_client), as_of=when)
    assert result["executor"] == "dask" and result["policies"] == 3 and result["ok"] == 3, result
    assert sorted(r["policy_id"] for r in result["results"]) == sorted(ids)
    assert all("floor_breach" in r["alerts"] for r in result["results"])  # -9.9 % vs a 95 % floor
    local = monitor_every_policy(svc_ctx, LocalExecutor(), as_of=when + dt.timedelta(hours=1))
    assert [r["portfolio_value"] for r in local["results"]] == [r["portfolio_value"] for r in result["results"]]
    with svc_ctx.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(InsurancePolicyNav)) == 6


def test_risk_report_every_portfolio_on_dask(client: Any, svc_ctx: Any, alice: Any, bob: Any, dask_client: Any) -> None:
    for user, syms in ((alice, ("AAPL", "MSFT", "KO")), (bob, ("JNJ", "XOM"))):
        resp = client.post("/api/portfolios", json={"name": "p", "positions": [{"symbol": s, "quantity": 10} for s in syms]},
                           headers=user.headers)
        assert resp.status_code == 201
    on_dask = risk_report_every_portfolio(svc_ctx, DaskExecutor(client=dask_client))
    assert on_dask["executor"] == "dask" and on_dask["portfolios"] == 2 and on_dask["ok"] == 2, on_dask
    local = risk_report_every_portfolio(svc_ctx, LocalExecutor())
    strip = lambda rs: [(r["portfolio_id"], r["beta"], r["measures"]) for r in rs]  # noqa: E731
    assert strip(on_dask["results"]) == strip(local["results"])
    with svc_ctx.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PortfolioSnapshot)) == 4


def test_scheduler_registers_the_jobs(svc_ctx: Any) -> None:
    from floorguard.jobs.scheduler import start_scheduler

    scheduler = start_scheduler(svc_ctx, start=False)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"monitor", "settle", "risk_batch", "reconcile_binds", "forecast_models"}
    assert jobs["forecast_models"].trigger.interval.total_seconds() == 7 * 86400
    assert jobs["monitor"].trigger.interval.total_seconds() == svc_ctx.settings.monitor_interval_seconds
