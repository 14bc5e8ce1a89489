"""A simulated broker that fills against the option chain's bid and ask.

``PaperBroker`` is the default broker. Buy orders fill at the ask and sell
orders at the bid, each moved against the trader by ``slippage_bps``; a limit
price that the touch does not reach leaves an IOC order cancelled unfilled.
Orders and fills live in an SQLite *book* (a file under the data home by
default) kept apart from the application database, as a real broker's would
be: the application can lose its database mid-bind and still find, by client
order id, what the broker executed.

Faults are injected with a :class:`FaultPlan`: rejections, partial fills,
timeouts before the order reaches the book (nothing placed) and timeouts after
(placed, answer lost), and plain broker errors.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from floorguard.brokers.base import (
    Fill,
    Order,
    OrderRequest,
    QuoteSource,
)
from floorguard.exceptions import (
    BrokerError,
    BrokerTimeoutError,
    DataError,
    NotFoundError,
    ValidationError,
)

__all__ = ["FaultAction", "FaultPlan", "FaultRule", "PaperBroker"]

FaultAction = Literal["reject", "partial", "timeout", "timeout_after_place", "error"]


@dataclass
class FaultRule:
    """One injected fault.

    Parameters
    ----------
    action : {"reject", "partial", "timeout", "timeout_after_place", "error"}
        ``"timeout"`` raises before the order reaches the book;
        ``"timeout_after_place"`` books (and fills) the order, then raises, as
        when the broker's answer is lost; ``"partial"`` fills
        ``floor(quantity * fill_ratio)`` contracts; ``"error"`` raises
        :class:`BrokerError` without booking.
    on_call : int or None
        Apply only to the n-th ``place`` call this broker sees (0-based).
    match : callable or None
        Apply only to requests for which ``match(request)`` is true.
    times : int or None
        How many times the rule fires (``None``: every time).
    fill_ratio : float
        Share filled by ``"partial"``, in [0, 1).
    reason : str
        Text recorded with a rejection.
    delay_seconds : float
        Sleep before a timeout is raised (to exercise caller timeouts).
    """

    action: FaultAction
    on_call: int | None = None
    match: Callable[[OrderRequest], bool] | None = None
    times: int | None = 1
    fill_ratio: float = 0.5
    reason: str = "simulated rejection"
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.action not in ("reject", "partial", "timeout", "timeout_after_place", "error"):
            raise ValidationError.for_field("action", f"unknown fault {self.action!r}")
        if not 0.0 <= self.fill_ratio < 1.0:
            raise ValidationError.for_field("fill_ratio", f"must be in [0, 1), got {self.fill_ratio!r}")


class FaultPlan:
    """Thread-safe list of :class:`FaultRule`; the first live matching rule fires."""

    def __init__(self, rules: Sequence[FaultRule] = ()) -> None:
        self._rules = list(rules)
        self._left = [r.times for r in self._rules]
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)
            self._left.append(rule.times)

    def pick(self, call_index: int, request: OrderRequest) -> FaultRule | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if self._left[i] is not None and self._left[i] <= 0:
                    continue
                if rule.on_call is not None and rule.on_call != call_index:
                    continue
                if rule.match is not None and not rule.match(request):
                    continue
                if self._left[i] is not None:
                    self._left[i] -= 1
                return rule
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_orders (
    broker_order_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_fills (
    fill_id TEXT PRIMARY KEY,
    broker_order_id TEXT NOT NULL REFERENCES paper_orders(broker_order_id),
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_paper_fills_order ON paper_fills(broker_order_id);
"""


class PaperBroker:
    """Simulated broker filling at the touch, with an SQLite order book.

    Parameters
    ----------
    quotes : QuoteSource
        Current bid/ask of each option (usually the chain the quote used).
    slippage_bps : float
        Price concession in basis points: buys fill at ``ask * (1 + s)``,
        sells at ``bid * (1 - s)`` with ``s = slippage_bps / 1e4``.
    book_path : path or None
        SQLite file of the book (survives restarts); ``None`` keeps it in memory.
    faults : FaultPlan or None
        Injected faults (tests and drills).
    clock : callable
        Returns the current aware UTC datetime.
    """

    name = "paper"

    def __init__(
        self,
        quotes: QuoteSource,
        *,
        slippage_bps: float = 0.0,
        book_path: str | Path | None = None,
        faults: FaultPlan | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if not slippage_bps >= 0:
            raise ValidationError.for_field("paper_slippage_bps", f"must be >= 0, got {slippage_bps!r}")
        self.quotes = quotes
        self.slippage = float(slippage_bps) / 1e4
        self.faults = faults or FaultPlan()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.RLock()
        self._calls = 0
        self.book_path = None if book_path is None else Path(book_path)
        if self.book_path is not None:
            self.book_path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.book_path)
        else:
            target = ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._db.executescript(_SCHEMA)

    # -- book -------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _load(self, broker_order_id: str) -> Order | None:
        row = self._db.execute(
            "SELECT data FROM paper_orders WHERE broker_order_id = ?", (broker_order_id,)
        ).fetchone()
        return None if row is None else Order.from_dict(json.loads(row[0]))

    def _save(self, order: Order, *, insert: bool) -> None:
        data = json.dumps(order.to_dict())
        if insert:
            self._db.execute(
                "INSERT INTO paper_orders (broker_order_id, client_order_id, data) VALUES (?, ?, ?)",
                (order.broker_order_id, order.client_order_id, data),
            )
        else:
            self._db.execute(
                "UPDATE paper_orders SET data = ? WHERE broker_order_id = ?", (data, order.broker_order_id)
            )

    def _add_fill(self, order: Order, quantity: int, price: float) -> Fill:
        fill = Fill(
            fill_id="PF-" + uuid.uuid4().hex[:16],
            broker_order_id=order.broker_order_id,
            quantity=int(quantity),
            price=float(price),
            ts=self._clock(),
        )
        self._db.execute(
            "INSERT INTO paper_fills (fill_id, broker_order_id, data) VALUES (?, ?, ?)",
            (fill.fill_id, fill.broker_order_id, json.dumps(fill.to_dict())),
        )
        return fill

    def orders(self) -> list[Order]:
        """Every order in the book, oldest first (for reconciliation)."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM paper_orders ORDER BY rowid").fetchall()
        return [Order.from_dict(json.loads(r[0])) for r in rows]

    # -- pricing ----------------------------------------------------------------
    def _executable_price(self, request: OrderRequest) -> tuple[float | None, str | None]:
        """Price the touch offers now (with slippage), or ``None`` and why not."""
        try:
            q = self.quotes.quote(request.instrument)
        except DataError as exc:
            return None, f"no quote for {request.instrument.key}: {exc}"
        if request.side == "buy":
            if not (q.ask > 0 and math.isfinite(q.ask)):
                return None, f"no ask for {request.instrument.key}"
            price = q.ask * (1.0 + self.slippage)
            if request.limit_price is not None and price > request.limit_price * (1 + 1e-12):
                return None, f"ask {price:.4f} above limit {request.limit_price:.4f}"
        else:
            if not (q.bid > 0 and math.isfinite(q.bid)):
                return None, f"no bid for {request.instrument.key}"
            price = q.bid * (1.0 - self.slippage)
            if request.limit_price is not None and price < request.limit_price * (1 - 1e-12):
                return None, f"bid {price:.4f} below limit {request.limit_price:.4f}"
        return round(price, 6), None

    def _try_fill(self, order: Order, ratio: float | None = None) -> Order:
        """Fill what the touch allows now; IOC orders end terminal."""
        req = order.request
        price, why = self._executable_price(req)
        now = self._clock()
        qty = order.remaining
        if price is not None and ratio is not None:
            qty = int(math.floor(order.remaining * ratio))
            why = f"partial fill: {order.filled_quantity + qty} of {req.quantity}"
        if price is None or qty <= 0:
            if req.time_in_force == "ioc":
                state = "cancelled"
                reason = f"{why}; IOC remainder cancelled"
            else:
                state = "partially_filled" if order.filled_quantity else "open"
                reason = why
            return order.evolve(state=state, reason=reason, updated_at=now)
        self._add_fill(order, qty, price)
        filled = order.filled_quantity + qty
        prev = order.avg_fill_price or 0.0
        avg = (prev * order.filled_quantity + price * qty) / filled
        if filled >= req.quantity:
            return order.evolve(
                state="filled", filled_quantity=filled, avg_fill_price=avg, reason=None, updated_at=now
            )
        state = "cancelled" if req.time_in_force == "ioc" else "partially_filled"
        reason = f"{why}; IOC remainder cancelled" if req.time_in_force == "ioc" else why
        return order.evolve(state=state, filled_quantity=filled, avg_fill_price=avg, reason=reason, updated_at=now)

    # -- Broker protocol ----------------------------------------------------------
    def find(self, client_order_id: str) -> Order | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM paper_orders WHERE client_order_id = ?", (client_order_id,)
            ).fetchone()
        return None if row is None else Order.from_dict(json.loads(row[0]))

    def place(self, request: OrderRequest) -> Order:
        with self._lock:
            call = self._calls
            self._calls += 1
            rule = self.faults.pick(call, request)
        if rule is not None and rule.action in ("timeout", "error"):
            if rule.delay_seconds:
                time.sleep(rule.delay_seconds)
            if rule.action == "timeout":
                raise BrokerTimeoutError(
                    f"paper broker timed out placing {request.client_order_id} (simulated)"
                )
            raise BrokerError(f"paper broker failed placing {request.client_order_id} (simulated)")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT data FROM paper_orders WHERE client_order_id = ?", (request.client_order_id,)
                ).fetchone()
                if row is not None:
                    self._db.execute("COMMIT")
                    existing = Order.from_dict(json.loads(row[0]))
                    if existing.request.to_dict() != request.to_dict():
                        raise ValidationError.for_field(
                            "client_order_id",
                            f"{request.client_order_id} was already used for a different order",
                        )
                    return existing
                now = self._clock()
                order = Order(
                    broker_order_id="PB-" + uuid.uuid4().hex[:16],
                    request=request,
                    state="pending",
                    created_at=now,
                    updated_at=now,
                )
                self._save(order, insert=True)
                if rule is not None and rule.action == "reject":
                    order = order.evolve(state="rejected", reason=rule.reason, updated_at=now)
                else:
                    ratio = rule.fill_ratio if rule is not None and rule.action == "partial" else None
                    order = self._try_fill(order, ratio)
                self._save(order, insert=False)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if rule is not None and rule.action == "timeout_after_place":
            if rule.delay_seconds:
                time.sleep(rule.delay_seconds)
            raise BrokerTimeoutError(
                f"paper broker timed out after booking {request.client_order_id} (simulated)"
            )
        return order

    def status(self, broker_order_id: str) -> Order:
        with self._lock:
            order = self._load(broker_order_id)
            if order is None:
                raise NotFoundError(f"paper broker knows no order {broker_order_id}")
            if not order.is_terminal and order.request.time_in_force == "day":
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    order = self._try_fill(order)
                    self._save(order, insert=False)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            return order

    def cancel(self, broker_order_id: str) -> Order:
        with self._lock:
            order = self._load(broker_order_id)
            if order is None:
                raise NotFoundError(f"paper broker knows no order {broker_order_id}")
            if order.is_terminal:
                return order
            order = order.evolve(state="cancelled", reason="cancelled by client", updated_at=self._clock())
            self._save(order, insert=False)
            return order

    def fills(self, broker_order_id: str) -> list[Fill]:
        with self._lock:
            if self._load(broker_order_id) is None:
                raise NotFoundError(f"paper broker knows no order {broker_order_id}")
            rows = self._db.execute(
                "SELECT data FROM paper_fills WHERE broker_order_id = ? ORDER BY rowid", (broker_order_id,)
            ).fetchall()
        out = []
        for (data,) in rows:
            d = json.loads(data)
            out.append(
                Fill(
                    fill_id=d["fill_id"],
                    broker_order_id=d["broker_order_id"],
                    quantity=int(d["quantity"]),
                    price=float(d["price"]),
                    ts=dt.datetime.fromisoformat(d["ts"]),
                )
            )
        return out
