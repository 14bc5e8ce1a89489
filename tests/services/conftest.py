"""Service-level fixtures: the API fixtures plus drafts quoted once per session."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.api.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    _pg_template,
    _sqlite_template,
    admin,
    alice,
    app,
    bob,
    client,
    clock,
    make_user,
    paper,
    svc_ctx,
    svc_db,
    svc_settings,
)

QUOTE_DAY = dt.date(2022, 6, 1)


@pytest.fixture(scope="session")
def quoted(_sqlite_template: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real drafts from the insurance engine (synthetic chain, 2022-06-01), by strategy; quoted once."""
    import shutil

    from floorguard.config import Settings
    from floorguard.services.context import AppContext
    from floorguard.services.insurance import QuoteRequest, quote_policy
    from tests.api.conftest import QUOTE_SYMBOLS, closes_on, needs_synthetic, synthetic_surface_available

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
