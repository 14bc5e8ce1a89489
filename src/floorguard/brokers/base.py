"""The broker protocol: place, status, cancel and fills of listed option orders.

Idempotency rests on the **client order id**: the caller derives it
deterministically (for a bind: draft, idempotency key and leg), and a broker
that already knows the id returns the existing order instead of placing a
second one. :meth:`Broker.find` looks an order up by that id, which is how a
retried bind finds orders placed before a crash or a lost response.

Quantities are in **contracts** (lots); prices are **per unit of the
underlying index**, so the cash value of a fill is
``price * quantity * instrument.multiplier``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from floorguard.exceptions import ValidationError

__all__ = [
    "BidAsk",
    "Broker",
    "Fill",
    "OptionInstrument",
    "Order",
    "OrderRequest",
    "OrderSide",
    "OrderState",
    "QuoteSource",
    "TERMINAL_STATES",
    "TimeInForce",
]

OrderSide = Literal["buy", "sell"]
OrderState = Literal["pending", "open", "partially_filled", "filled", "cancelled", "rejected"]
TimeInForce = Literal["ioc", "day"]

#: States after which an order never changes again.
TERMINAL_STATES: frozenset[str] = frozenset({"filled", "cancelled", "rejected"})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OptionInstrument:
    """A listed index option.

    Parameters
    ----------
    underlying : str
        Index symbol as the product names it ("SPX", "NIFTY").
    expiry : datetime.date
        Expiration date.
    strike : float
        Strike in index points.
    option_type : {"put", "call"}
    multiplier : float
        Index units per contract (100 for SPX, the lot size for NSE).
    """

    underlying: str
    expiry: dt.date
    strike: float
    option_type: Literal["put", "call"]
    multiplier: float = 100.0

    def __post_init__(self) -> None:
        if self.option_type not in ("put", "call"):
            raise ValidationError.for_field("option_type", f"must be 'put' or 'call', got {self.option_type!r}")
        if not self.strike > 0:
            raise ValidationError.for_field("strike", f"must be positive, got {self.strike!r}")
        if not self.multiplier > 0:
            raise ValidationError.for_field("multiplier", f"must be positive, got {self.multiplier!r}")

    @property
    def key(self) -> str:
        """Stable text key, e.g. ``"SPX:2022-03-18:P:4000"``."""
        return f"{self.underlying}:{self.expiry.isoformat()}:{self.option_type[0].upper()}:{self.strike:g}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["expiry"] = self.expiry.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptionInstrument:
        expiry = data["expiry"]
        if isinstance(expiry, str):
            expiry = dt.date.fromisoformat(expiry[:10])
        return cls(
            underlying=str(data["underlying"]),
            expiry=expiry,
            strike=float(data["strike"]),
            option_type=data["option_type"],
            multiplier=float(data.get("multiplier", 100.0)),
        )


@dataclass(frozen=True)
class BidAsk:
    """Top of book of one option, prices per index unit."""

    bid: float
    ask: float
    ts: dt.datetime | None = None

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)


@runtime_checkable
class QuoteSource(Protocol):
    """Where a simulated broker reads the current top of book."""

    def quote(self, instrument: OptionInstrument) -> BidAsk:
        """Current bid and ask; raises ``DataError`` if the option is not listed."""
        ...


@dataclass(frozen=True)
class OrderRequest:
    """An order to send.

    Parameters
    ----------
    client_order_id : str
        Caller's id, unique per intended order (1-40 characters of
        ``[A-Za-z0-9_-]``); resending it never creates a second order.
    instrument : OptionInstrument
    side : {"buy", "sell"}
    quantity : int
        Contracts, > 0.
    limit_price : float or None
        Worst acceptable price per index unit; ``None`` takes the touch.
    time_in_force : {"ioc", "day"}
        ``"ioc"`` fills what it can at once and cancels the rest.
    tag : str or None
        Free text kept with the order (policy id, leg name).
    """

    client_order_id: str
    instrument: OptionInstrument
    side: OrderSide
    quantity: int
    limit_price: float | None = None
    time_in_force: TimeInForce = "ioc"
    tag: str | None = None

    def __post_init__(self) -> None:
        coid = self.client_order_id
        if not (1 <= len(coid) <= 40) or not all(c.isalnum() or c in "-_" for c in coid):
            raise ValidationError.for_field(
                "client_order_id", f"must be 1-40 characters of letters, digits, '-' or '_', got {coid!r}"
            )
        if self.side not in ("buy", "sell"):
            raise ValidationError.for_field("side", f"must be 'buy' or 'sell', got {self.side!r}")
        if int(self.quantity) != self.quantity or self.quantity <= 0:
            raise ValidationError.for_field("quantity", f"must be a positive whole number, got {self.quantity!r}")
        if self.limit_price is not None and not self.limit_price >= 0:
            raise ValidationError.for_field("limit_price", f"must be >= 0, got {self.limit_price!r}")
        if self.time_in_force not in ("ioc", "day"):
            raise ValidationError.for_field("time_in_force", f"must be 'ioc' or 'day', got {self.time_in_force!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "instrument": self.instrument.to_dict(),
            "side": self.side,
            "quantity": int(self.quantity),
            "limit_price": self.limit_price,
            "time_in_force": self.time_in_force,
            "tag": self.tag,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderRequest:
        return cls(
            client_order_id=data["client_order_id"],
            instrument=OptionInstrument.from_dict(data["instrument"]),
            side=data["side"],
            quantity=int(data["quantity"]),
            limit_price=None if data.get("limit_price") is None else float(data["limit_price"]),
            time_in_force=data.get("time_in_force", "ioc"),
            tag=data.get("tag"),
        )


@dataclass(frozen=True)
class Fill:
    """One execution: ``quantity`` contracts at ``price`` per index unit."""

    fill_id: str
    broker_order_id: str
    quantity: int
    price: float
    ts: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill_id": self.fill_id,
            "broker_order_id": self.broker_order_id,
            "quantity": int(self.quantity),
            "price": float(self.price),
            "ts": self.ts.isoformat(),
        }


@dataclass(frozen=True)
class Order:
    """The broker's view of an order."""

    broker_order_id: str
    request: OrderRequest
    state: OrderState
    filled_quantity: int = 0
    avg_fill_price: float | None = None
    reason: str | None = None
    created_at: dt.datetime = field(default_factory=_utcnow)
    updated_at: dt.datetime = field(default_factory=_utcnow)

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def remaining(self) -> int:
        return int(self.request.quantity) - int(self.filled_quantity)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def filled_value(self) -> float:
        """Cash value of the fills: ``avg_fill_price * filled * multiplier``."""
        if not self.filled_quantity or self.avg_fill_price is None:
            return 0.0
        return float(self.avg_fill_price) * int(self.filled_quantity) * self.request.instrument.multiplier

    def evolve(self, **changes: Any) -> Order:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "broker_order_id": self.broker_order_id,
            "client_order_id": self.client_order_id,
            "request": self.request.to_dict(),
            "state": self.state,
            "filled_quantity": int(self.filled_quantity),
            "avg_fill_price": self.avg_fill_price,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        return cls(
            broker_order_id=data["broker_order_id"],
            request=OrderRequest.from_dict(data["request"]),
            state=data["state"],
            filled_quantity=int(data.get("filled_quantity", 0)),
            avg_fill_price=None if data.get("avg_fill_price") is None else float(data["avg_fill_price"]),
            reason=data.get("reason"),
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            updated_at=dt.datetime.fromisoformat(data["updated_at"]),
        )


@runtime_checkable
class Broker(Protocol):
    """What the bind, unwind and settlement steps need from a broker.

    Every method may raise :class:`~floorguard.exceptions.BrokerTimeoutError`
    (state unknown: look the order up again by client id),
    :class:`~floorguard.exceptions.OrderRejectedError` or
    :class:`~floorguard.exceptions.BrokerError`.
    """

    name: str

    def place(self, request: OrderRequest) -> Order:
        """Send ``request``; a known ``client_order_id`` returns the existing order."""
        ...

    def status(self, broker_order_id: str) -> Order:
        """Current state of an order (``NotFoundError`` if unknown)."""
        ...

    def find(self, client_order_id: str) -> Order | None:
        """The order sent with ``client_order_id``, or ``None``."""
        ...

    def cancel(self, broker_order_id: str) -> Order:
        """Cancel what is left of an order; terminal orders are returned unchanged."""
        ...

    def fills(self, broker_order_id: str) -> list[Fill]:
        """Executions of an order, oldest first."""
        ...
