"""Fixtures of the service tests: a migrated database per test (SQLite, and
PostgreSQL when ``FLOORGUARD_TEST_POSTGRES_URL`` is set), an app, users.

Migrating takes most of a second, so each backend is migrated once per
session into a template (an SQLite file, a PostgreSQL template database) and
every test gets a fresh copy. After every test the ledger must balance.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

PG_ENV = "FLOORGUARD_TEST_POSTGRES_URL"


@dataclass
class Db:
    backend: str
    url: str


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from floorguard.persistence.db import upgrade

    path = tmp_path_factory.mktemp("svc-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV)


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str | None]:
    base = _pg_admin_url()
    if not base:
        yield None
        return
    from floorguard.persistence.db import make_engine, upgrade

    name = f"fg_svc_tmpl_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _backends() -> list[Any]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set"),
            ],
        ),
    ]


@pytest.fixture(params=_backends())
def svc_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A freshly migrated database, on each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "svc.db"
        shutil.copyfile(template, path)
        yield Db("sqlite", f"sqlite:///{path}")
        return
    from floorguard.persistence.db import make_engine

    template = request.getfixturevalue("_pg_template")
    base = _pg_admin_url()
    assert base and template
    name = f"fg_svc_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield Db("postgresql", url)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def svc_settings(svc_db: Db, tmp_path: Path) -> Any:
    from floorguard.config import Settings

    return Settings(
        env="test",
        database_url=svc_db.url,
        data_home=tmp_path / "home",
        secret_key="test-secret-pepper",
        scheduler_enabled=False,
        market_data_sources=["bundled"],
        quote_rate_limit_per_minute=1000,
    )


@pytest.fixture()
def svc_ctx(svc_settings: Any) -> Iterator[Any]:
    """The application context; on teardown the ledger must balance."""
    from floorguard.services.context import AppContext

    ctx = AppContext(svc_settings)
    try:
        yield ctx
        debit, credit = ledger_totals(ctx)
        assert debit == credit, f"ledger out of balance: debits {debit} != credits {credit}"
    finally:
        ctx.close()


def ledger_totals(ctx: Any) -> tuple[Decimal, Decimal]:
    from floorguard.persistence.orm import JournalLine

    with ctx.session() as session:
        rows = session.execute(sa.select(JournalLine.debit, JournalLine.credit)).all()
    return (sum((d for d, _ in rows), Decimal(0)), sum((c for _, c in rows), Decimal(0)))


@pytest.fixture()
def app(svc_ctx: Any) -> Any:
    from floorguard.api.app import create_app

    return create_app(svc_ctx.settings, ctx=svc_ctx)


@pytest.fixture()
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class UserHandle:
    id: int
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture()
def make_user(svc_ctx: Any) -> Any:
    from floorguard.services.users import create_user

    def make(name: str, *, role: str = "investor", level: int = 1) -> UserHandle:
        with svc_ctx.session() as session:
            created = create_user(
                session, name=name, secret_key=svc_ctx.settings.secret_key, role=role, strategy_level=level
            )
        return UserHandle(created.user.id, created.user.name, created.token)

    return make


@pytest.fixture()
def alice(make_user: Any) -> UserHandle:
    return make_user("alice")


@pytest.fixture()
def bob(make_user: Any) -> UserHandle:
    return make_user("bob")


@pytest.fixture()
def admin(make_user: Any) -> UserHandle:
    return make_user("root", role="admin", level=3)


def assert_problem(resp: Any, status: int) -> dict[str, Any]:
    """``resp`` is an RFC 9457 problem document with ``status``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert isinstance(body["errors"], list)
    return body


# ------------------------------------------------------------------ lifecycle helpers

def synthetic_surface_available() -> bool:
    import floorguard.core.pricing as pricing

    return hasattr(pricing, "ModelSurface")


needs_synthetic = pytest.mark.skipif(
    not synthetic_surface_available(),
    reason="the synthetic chain's ModelSurface (floorguard.core.pricing) is not available yet",
)


class Clock:
    """A settable service clock (``ctx.resources["clock"]``)."""

    def __init__(self, start: Any) -> None:
        self.t = start

    def __call__(self) -> Any:
        return self.t

    def set(self, *args: int) -> None:
        import datetime as dt

        self.t = dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture()
def clock(svc_ctx: Any) -> Clock:
    import datetime as dt

    c = Clock(dt.datetime(2022, 6, 1, 15, 0, tzinfo=dt.UTC))
    svc_ctx.resources["clock"] = c
    return c


@pytest.fixture()
def paper(svc_ctx: Any) -> Any:
    """An in-memory PaperBroker with an empty fault plan (``paper.faults.add(...)``)."""
    from floorguard.brokers import FaultPlan, PaperBroker
    from floorguard.services.policies import quote_feed

    broker = PaperBroker(quote_feed(svc_ctx), faults=FaultPlan())
    svc_ctx.resources["broker"] = broker
    return broker


QUOTE_SYMBOLS = ("AAPL", "MSFT", "JPM", "HD")


def closes_on(ctx: Any, symbols: Any, day: Any) -> dict[str, float]:
    frame = ctx.market_data().price_history(list(symbols), None, day)
    return {s: float(frame[s].dropna().iloc[-1]) for s in symbols}


def quote_body(ctx: Any, day: Any = None, **overrides: Any) -> dict[str, Any]:
    """The seed's request body with prices and the SPX level as of ``day`` (bundled closes)."""
    import datetime as dt

    day = day or dt.date(2022, 6, 1)
    c = closes_on(ctx, (*QUOTE_SYMBOLS, "SPX"), day)
    body: dict[str, Any] = {
        "positions": [{"symbol": s, "quantity": q} for s, q in zip(QUOTE_SYMBOLS, (400, 200, 300, 150))],
        "prices": {s: c[s] for s in QUOTE_SYMBOLS},
        "floor_pct": 0.95,
        "term_days": 14,
        "strategy": "protective_put",
        "index_level": c["SPX"],
    }
    body.update(overrides)
    return body


# ------------------------------------------------------------------ drafts quoted once per session

QUOTE_DAY = dt.date(2022, 6, 1)


@pytest.fixture(scope="session")
def quoted(_sqlite_template: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real drafts from the insurance engine (synthetic chain, 2022-06-01), by strategy; quoted once."""
    import shutil

    from floorguard.config import Settings
    from floorguard.services.context import AppContext
    from floorguard.services.insurance import QuoteRequest, quote_policy

    if not synthetic_surface_available():
        pytest.skip(needs_synthetic.kwargs["reason"])
    from floorguard.domain.portfolio import Position

    path = tmp_path_factory.mktemp("quote") / "q.db"
    shutil.copyfile(_sqlite_template, path)
    ctx = AppContext(Settings(env="test", database_url=f"sqlite:///{path}", scheduler_enabled=False))
    c = closes_on(ctx, (*QUOTE_SYMBOLS, "SPX"), QUOTE_DAY)
    positions = [Position(s, q, price=c[s]) for s, q in zip(QUOTE_SYMBOLS, (400, 200, 300, 150))]
    as_of = dt.datetime(2022, 6, 1, 15, 0, tzinfo=dt.UTC)
    out = {}
    for strategy in ("protective_put", "collar"):
        draft = quote_policy(ctx, positions, QuoteRequest(floor_pct=0.95, term_days=14, strategy=strategy,
                                                          index_level=c["SPX"], as_of=as_of))
        out[strategy] = {
            "draft": draft.to_dict(),
            "request": {"floor_pct": 0.95, "term_days": 14, "strategy": strategy,
                        "positions_used": [p.to_dict() for p in positions]},
        }
    ctx.close()
    return out


@pytest.fixture()
def store_draft(svc_ctx: Any, quoted: dict[str, Any], clock: Any) -> Any:
    """Insert a stored draft (as ``quote`` would) for a user; returns its id."""
    import uuid
    from decimal import Decimal

    from floorguard.persistence.lifecycle import QuoteDraft

    def store(user_id: int, strategy: str = "protective_put", **request: Any) -> str:
        q = quoted[strategy]
        draft_id = uuid.uuid4().hex
        with svc_ctx.session() as s:
            s.add(QuoteDraft(
                id=draft_id, user_id=user_id, status="open", created_at=clock.t,
                expires_at=clock.t + dt.timedelta(seconds=900), strategy=strategy, index_symbol="SPX",
                coverage_notional=Decimal(str(round(q["draft"]["coverage_notional"], 2))),
                premium_net=Decimal(str(round(q["draft"]["premium_net"], 2))),
                request={**q["request"], **request}, draft=q["draft"],
            ))
        return draft_id

    return store


def principal(ctx: Any, user: Any) -> Any:
    from floorguard.services.users import get_user

    with ctx.session() as s:
        return get_user(s, user.id)


def assert_consistent(ctx: Any, broker: Any) -> None:
    """Database orders, broker orders and the ledger agree."""
    from decimal import Decimal

    import sqlalchemy as sa

    from floorguard.persistence.lifecycle import BrokerOrderRow
    from floorguard.persistence.orm import InsurancePolicy
    from floorguard.persistence.repositories import trial_balance

    book = {o.client_order_id: o for o in broker.orders()}
    with ctx.session() as s:
        rows = s.scalars(sa.select(BrokerOrderRow)).all()
        policies = {p.id: p for p in s.scalars(sa.select(InsurancePolicy))}
        balances = trial_balance(s)
    by_coid = {r.client_order_id: r for r in rows}
    # every order the broker has is recorded, with the broker's state and fills
    for coid, order in book.items():
        assert coid in by_coid, f"broker order {coid} missing from the database"
        row = by_coid[coid]
        assert row.broker_order_id == order.broker_order_id
        assert (row.state, row.filled_quantity) == (order.state, order.filled_quantity), coid
    # nothing recorded as sent that the broker does not have
    for coid, row in by_coid.items():
        if row.broker_order_id is not None:
            assert coid in book
    # ledger: premium per user = buys - sells of fills, to the cent
    per_user: dict[int, Decimal] = {}
    for row in rows:
        if row.filled_quantity and row.avg_fill_price is not None:
            sign = 1 if row.side == "buy" else -1
            cash = Decimal(str(row.avg_fill_price)) * row.filled_quantity * Decimal(str(row.instrument["multiplier"]))
            uid = policies[row.policy_id].user_id
            per_user[uid] = per_user.get(uid, Decimal(0)) + sign * cash
    for uid, cash in per_user.items():
        booked = balances.get(f"insurance_premium:user:{uid}", Decimal(0))
        assert abs(booked - cash) <= Decimal("0.02"), (uid, booked, cash)
    assert sum(balances.values(), Decimal(0)) == 0
