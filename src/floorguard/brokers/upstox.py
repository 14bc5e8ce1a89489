"""Upstox (NSE index options) through ``upstox-python-sdk``.

Instruments are resolved through the Upstox instrument master (the
``complete.json.gz`` file Upstox publishes): an :class:`OptionInstrument`
(``underlying="NIFTY"``, expiry, strike, put/call) maps to an
``instrument_key`` such as ``"NSE_FO|54452"`` and a lot size, which must equal
the instrument's ``multiplier``. Quantities sent to Upstox are in units
(``contracts * lot_size``); the client order id travels as the order ``tag``.

Sandbox mode (``sandbox=True``) talks to ``api-sandbox.upstox.com``, which
accepts only place, modify and cancel: order status and trades are not
available there, so sandbox orders are reported ``open`` with that reason and
a bind through the sandbox never completes (it is for connectivity checks).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from floorguard.brokers.base import Fill, OptionInstrument, Order, OrderRequest, OrderState
from floorguard.exceptions import (
    BrokerError,
    BrokerTimeoutError,
    ConfigurationError,
    NotFoundError,
    OrderRejectedError,
    ValidationError,
)

__all__ = ["UpstoxBroker", "UpstoxInstrument", "UpstoxInstrumentMaster"]

_IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
_API_VERSION = "2.0"


class UpstoxInstrument:
    """One row of the instrument master (options only)."""

    __slots__ = ("instrument_key", "lot_size", "option", "trading_symbol")

    def __init__(self, instrument_key: str, option: OptionInstrument, lot_size: int, trading_symbol: str) -> None:
        self.instrument_key = instrument_key
        self.option = option
        self.lot_size = int(lot_size)
        self.trading_symbol = trading_symbol


def _expiry_date(value: Any) -> dt.date:
    """Upstox expiries are epoch milliseconds (IST midnight) or ISO dates."""
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value) / 1000.0, tz=_IST).date()
    return dt.date.fromisoformat(str(value)[:10])


class UpstoxInstrumentMaster:
    """Lookup between option contracts and Upstox instrument keys.

    Build it from the records of Upstox's instrument master JSON
    (:meth:`from_records`) or the downloaded file (:meth:`from_file`). Rows
    other than NSE_FO index options (``instrument_type`` ``CE``/``PE``) are ignored.
    """

    def __init__(self, instruments: Iterable[UpstoxInstrument]) -> None:
        self._by_contract: dict[tuple[str, dt.date, float, str], UpstoxInstrument] = {}
        self._by_key: dict[str, UpstoxInstrument] = {}
        for inst in instruments:
            o = inst.option
            self._by_contract[(o.underlying.upper(), o.expiry, round(o.strike, 4), o.option_type)] = inst
            self._by_key[inst.instrument_key] = inst

    def __len__(self) -> int:
        return len(self._by_key)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> UpstoxInstrumentMaster:
        out = []
        for r in records:
            kind = str(r.get("instrument_type", "")).upper()
            if kind not in ("CE", "PE") or r.get("segment") not in (None, "NSE_FO", "BSE_FO"):
                continue
            underlying = str(r.get("underlying_symbol") or r.get("asset_symbol") or r.get("name"))
            lot = int(r.get("lot_size") or r.get("minimum_lot"))
            option = OptionInstrument(
                underlying=underlying.upper(),
                expiry=_expiry_date(r["expiry"]),
                strike=float(r["strike_price"]),
                option_type="call" if kind == "CE" else "put",
                multiplier=float(lot),
            )
            out.append(UpstoxInstrument(str(r["instrument_key"]), option, lot, str(r.get("trading_symbol", ""))))
        return cls(out)

    @classmethod
    def from_file(cls, path: str | Path) -> UpstoxInstrumentMaster:
        """Read ``complete.json`` or ``complete.json.gz`` (a JSON list of records)."""
        p = Path(path)
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as fh:
            return cls.from_records(json.load(fh))

    def resolve(self, option: OptionInstrument) -> UpstoxInstrument:
        key = (option.underlying.upper(), option.expiry, round(option.strike, 4), option.option_type)
        inst = self._by_contract.get(key)
        if inst is None:
            raise ValidationError.for_field("instrument", f"no Upstox instrument for {option.key}")
        if abs(inst.lot_size - option.multiplier) > 1e-9:
            raise ValidationError.for_field(
                "instrument.multiplier",
                f"{option.key} has lot size {inst.lot_size} at Upstox, not {option.multiplier:g}",
            )
        return inst

    def by_key(self, instrument_key: str) -> UpstoxInstrument:
        inst = self._by_key.get(instrument_key)
        if inst is None:
            raise NotFoundError(f"instrument {instrument_key} is not in the instrument master")
        return inst


def _map_state(status: str | None, filled: int, quantity: int) -> OrderState:
    s = (status or "").strip().lower()
    if s == "complete":
        return "filled"
    if s == "rejected":
        return "rejected"
    if s == "cancelled":
        return "cancelled"
    if s == "open":
        return "partially_filled" if filled > 0 else "open"
    return "pending"


def _parse_ts(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return dt.datetime.now(dt.UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_IST)
    return parsed.astimezone(dt.UTC)


class UpstoxBroker:
    """Orders on NSE index options through the Upstox API.

    Parameters
    ----------
    access_token : str
        OAuth access token of the trading account.
    instruments : UpstoxInstrumentMaster
        Contract -> instrument key lookup.
    sandbox : bool
        Use Upstox's sandbox host (place/modify/cancel only).
    timeout_seconds : float
        Connect and read timeout of every call.
    product : str
        Upstox product code; ``"D"`` (delivery/NRML) carries F&O overnight.
    api_client : upstox_client.ApiClient, optional
        Pre-built client (tests pass one whose transport replays recordings).
    """

    name = "upstox"

    def __init__(
        self,
        access_token: str | None,
        instruments: UpstoxInstrumentMaster,
        *,
        sandbox: bool = True,
        timeout_seconds: float = 10.0,
        product: str = "D",
        api_client: Any | None = None,
    ) -> None:
        if not access_token and api_client is None:
            raise ConfigurationError("FLOORGUARD_UPSTOX_ACCESS_TOKEN is required for the Upstox broker")
        self.access_token = access_token
        self.instruments = instruments
        self.sandbox = bool(sandbox)
        self.timeout = (float(timeout_seconds), float(timeout_seconds))
        self.product = product
        self._api_client = api_client
        self._lock = threading.Lock()
        # Sandbox cannot report orders: remember what we placed, by client id.
        self._sandbox_orders: dict[str, Order] = {}

    # -- SDK plumbing ------------------------------------------------------------
    @staticmethod
    def build_configuration(access_token: str | None, sandbox: bool) -> Any:
        """An ``upstox_client.Configuration`` for live or sandbox hosts.

        The SDK's ``Configuration`` copies the first instance ever built
        (``TypeWithDefault``), so ``Configuration(sandbox=True)`` after a live
        one silently keeps the live hosts; set them explicitly.
        """
        import upstox_client

        config = upstox_client.Configuration(sandbox=sandbox)
        config.sandbox = bool(sandbox)
        if sandbox:
            config.host = config.order_host = "https://api-sandbox.upstox.com"
        else:
            config.host = "https://api.upstox.com"
            config.order_host = "https://api-hft.upstox.com"
        config.access_token = access_token or ""
        return config

    def _client(self) -> Any:
        with self._lock:
            if self._api_client is None:
                import upstox_client

                config = self.build_configuration(self.access_token, self.sandbox)
                self._api_client = upstox_client.ApiClient(config)
            return self._api_client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import urllib3
        from upstox_client.rest import ApiException

        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            message = self._error_message(exc)
            status = int(exc.status or 0)
            if 400 <= status < 500:
                if status == 404:
                    raise NotFoundError(f"Upstox {what}: {message}") from None
                raise OrderRejectedError(f"Upstox refused {what}: {message}") from None
            raise BrokerError(f"Upstox {what} failed (HTTP {status}): {message}") from None
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.MaxRetryError) as exc:
            reason = getattr(exc, "reason", None)
            if isinstance(exc, urllib3.exceptions.TimeoutError) or isinstance(
                reason, urllib3.exceptions.TimeoutError
            ):
                raise BrokerTimeoutError(f"Upstox {what} timed out after {self.timeout[1]:g} s") from None
            raise BrokerError(f"Upstox {what}: connection failed ({reason})") from None
        except urllib3.exceptions.HTTPError as exc:
            raise BrokerError(f"Upstox {what}: {type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # the SDK refuses endpoints absent from the sandbox
            raise BrokerError(f"Upstox {what}: {exc}") from None

    @staticmethod
    def _error_message(exc: Any) -> str:
        body = getattr(exc, "body", None)
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return str(body or exc.reason)
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            parts = []
            for e in errors:
                code = e.get("errorCode") or e.get("error_code")
                parts.append(f"{e.get('message', 'error')} ({code})" if code else str(e.get("message")))
            return "; ".join(parts)
        return str(exc.reason or "error")

    # -- mapping -------------------------------------------------------------------
    def _order_from_upstox(self, data: Any, known: OrderRequest | None = None) -> Order:
        inst = self.instruments.by_key(str(data.instrument_token))
        units = int(data.quantity or 0)
        filled_units = int(data.filled_quantity or 0)
        quantity = units // inst.lot_size
        filled = filled_units // inst.lot_size
        if known is not None:
            request = known
        else:
            price = float(data.price or 0.0)
            request = OrderRequest(
                client_order_id=str(data.tag or data.order_id)[:40],
                instrument=inst.option,
                side="buy" if str(data.transaction_type).upper() == "BUY" else "sell",
                quantity=max(quantity, 1),
                limit_price=price if str(data.order_type).upper() == "LIMIT" else None,
                time_in_force="ioc" if str(data.validity).upper() == "IOC" else "day",
                tag=data.tag,
            )
        state = _map_state(data.status, filled, quantity)
        avg = float(data.average_price) if filled and data.average_price else None
        reason = data.status_message or None
        if state in ("filled", "open", "pending"):
            reason = None if state == "filled" else reason
        ts = _parse_ts(getattr(data, "order_timestamp", None))
        return Order(
            broker_order_id=str(data.order_id),
            request=request,
            state=state,
            filled_quantity=filled,
            avg_fill_price=avg,
            reason=reason,
            created_at=ts,
            updated_at=_parse_ts(getattr(data, "exchange_timestamp", None) or getattr(data, "order_timestamp", None)),
        )

    # -- Broker protocol -------------------------------------------------------------
    def find(self, client_order_id: str) -> Order | None:
        if self.sandbox:
            with self._lock:
                return self._sandbox_orders.get(client_order_id)
        import upstox_client

        api = upstox_client.OrderApi(self._client())
        book = self._call("order book", api.get_order_book, _API_VERSION)
        for data in book.data or []:
            if data.tag == client_order_id:
                return self._order_from_upstox(data)
        return None

    def place(self, request: OrderRequest) -> Order:
        existing = self.find(request.client_order_id)
        if existing is not None:
            return existing
        import upstox_client

        inst = self.instruments.resolve(request.instrument)
        body = upstox_client.PlaceOrderV3Request(
            quantity=int(request.quantity) * inst.lot_size,
            product=self.product,
            validity="IOC" if request.time_in_force == "ioc" else "DAY",
            price=float(request.limit_price) if request.limit_price is not None else 0.0,
            tag=request.client_order_id,
            instrument_token=inst.instrument_key,
            order_type="LIMIT" if request.limit_price is not None else "MARKET",
            transaction_type="BUY" if request.side == "buy" else "SELL",
            disclosed_quantity=0,
            trigger_price=0.0,
            is_amo=False,
            slice=False,
        )
        api = upstox_client.OrderApiV3(self._client())
        resp = self._call("place order", api.place_order, body)
        ids = list(getattr(resp.data, "order_ids", None) or [])
        if not ids:
            raise BrokerError(f"Upstox accepted {request.client_order_id} but returned no order id")
        if self.sandbox:
            now = dt.datetime.now(dt.UTC)
            order = Order(
                broker_order_id=str(ids[0]),
                request=request,
                state="open",
                reason="sandbox: order status is not available in Upstox sandbox mode",
                created_at=now,
                updated_at=now,
            )
            with self._lock:
                self._sandbox_orders[request.client_order_id] = order
            return order
        return self._status(str(ids[0]), request)

    def _status(self, broker_order_id: str, known: OrderRequest | None) -> Order:
        if self.sandbox:
            with self._lock:
                for order in self._sandbox_orders.values():
                    if order.broker_order_id == broker_order_id:
                        return order
            raise NotFoundError(f"no sandbox order {broker_order_id} was placed by this process")
        import upstox_client

        api = upstox_client.OrderApi(self._client())
        resp = self._call("order status", api.get_order_status, order_id=broker_order_id)
        return self._order_from_upstox(resp.data, known)

    def status(self, broker_order_id: str) -> Order:
        return self._status(broker_order_id, None)

    def cancel(self, broker_order_id: str) -> Order:
        current = self._status(broker_order_id, None)
        if current.is_terminal:
            return current
        import upstox_client

        api = upstox_client.OrderApiV3(self._client())
        self._call("cancel order", api.cancel_order, broker_order_id)
        if self.sandbox:
            cancelled = current.evolve(state="cancelled", reason="cancelled by client (sandbox)")
            with self._lock:
                self._sandbox_orders[cancelled.client_order_id] = cancelled
            return cancelled
        return self._status(broker_order_id, current.request)

    def fills(self, broker_order_id: str) -> list[Fill]:
        if self.sandbox:
            self._status(broker_order_id, None)
            return []
        import upstox_client

        api = upstox_client.OrderApi(self._client())
        resp = self._call("order trades", api.get_trades_by_order, broker_order_id, _API_VERSION)
        out = []
        for t in resp.data or []:
            inst = self.instruments.by_key(str(t.instrument_token))
            out.append(
                Fill(
                    fill_id=str(t.trade_id),
                    broker_order_id=str(t.order_id),
                    quantity=int(t.quantity) // inst.lot_size,
                    price=float(t.average_price),
                    ts=_parse_ts(t.exchange_timestamp or t.order_timestamp),
                )
            )
        return out
