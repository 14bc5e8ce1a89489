"""Tables of the policy lifecycle: quote drafts, idempotency keys, broker orders, settlements.

They sit on the same declarative ``Base`` as :mod:`floorguard.persistence.orm`
and are created by the migration ``0100_policy_lifecycle``. Exactly-once
behaviour rests on their unique constraints:

* ``quote_drafts.policy_id`` unique: a draft binds into at most one policy;
* ``idempotency_keys (user_id, scope, key)`` unique: a retried request finds
  the first one's record (and its stored response) instead of running again;
* ``broker_orders.client_order_id`` unique: one order row per intended order
  (the same id goes to the broker, which dedupes on it too);
* ``policy_settlements.policy_id`` primary key, plus the unique
  ``journal_entries.reference``: a policy is settled and paid at most once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from floorguard.persistence.orm import Base, utcnow
from floorguard.persistence.types import JSONType

__all__ = [
    "BrokerOrderRow",
    "DRAFT_STATUSES",
    "IdempotencyKey",
    "ORDER_STATES",
    "PolicySettlement",
    "QuoteDraft",
]

DRAFT_STATUSES = ("open", "binding", "bound", "failed", "expired")
ORDER_STATES = (
    "submitting", "pending", "open", "partially_filled", "filled", "cancelled", "rejected", "unknown",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class QuoteDraft(Base):
    """A stored quote, bindable until ``expires_at``."""

    __tablename__ = "quote_drafts"
    __table_args__ = (
        sa.CheckConstraint(_in("status", DRAFT_STATUSES), name="status"),
        sa.Index("ix_quote_drafts_user_created", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    portfolio_id: Mapped[int | None] = mapped_column(sa.ForeignKey("portfolios.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    strategy: Mapped[str] = mapped_column(sa.String(32))
    index_symbol: Mapped[str] = mapped_column(sa.String(16))
    coverage_notional: Mapped[Decimal]
    premium_net: Mapped[Decimal]
    #: the quote request (positions, prices, floor, term, strategy, options)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: ``PolicyDraft.to_dict()``
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    policy_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="SET NULL"), unique=True
    )


class IdempotencyKey(Base):
    """First outcome of a request sent with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "scope", "key"),
        sa.CheckConstraint(_in("status", ("in_progress", "completed")), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(200))
    #: SHA-256 of the request it was first used with
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="in_progress")
    #: a worker holds the key until then; a retry after it may take over
    locked_until: Mapped[dt.datetime]
    response_status: Mapped[int | None]
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("insurance_policies.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BrokerOrderRow(Base):
    """An order sent (or about to be sent) to the broker for a policy leg."""

    __tablename__ = "broker_orders"
    __table_args__ = (
        sa.CheckConstraint(_in("state", ORDER_STATES), name="state"),
        sa.CheckConstraint(_in("purpose", ("open", "unwind")), name="purpose"),
        sa.CheckConstraint(_in("side", ("buy", "sell")), name="side"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(16))
    leg_index: Mapped[int]
    client_order_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    broker: Mapped[str] = mapped_column(sa.String(16))
    broker_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    side: Mapped[str] = mapped_column(sa.String(4))
    instrument: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    quantity: Mapped[int]
    limit_price: Mapped[float | None] = mapped_column(sa.Double)
    state: Mapped[str] = mapped_column(sa.String(20), default="submitting")
    filled_quantity: Mapped[int] = mapped_column(default=0)
    avg_fill_price: Mapped[float | None] = mapped_column(sa.Double)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicySettlement(Base):
    """The one settlement of a policy (its primary key forbids a second)."""

    __tablename__ = "policy_settlements"

    policy_id: Mapped[int] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="RESTRICT"), primary_key=True
    )
    settled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date)
    final_index_level: Mapped[float] = mapped_column(sa.Double)
    final_portfolio_value: Mapped[Decimal]
    shortfall: Mapped[Decimal]
    hedge_payoff: Mapped[Decimal]
    compensation: Mapped[Decimal]
    kind: Mapped[str] = mapped_column(sa.String(16), default="expiry")
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    journal_entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal_entries.id", ondelete="RESTRICT"))
