"""UpstoxBroker against recorded Upstox responses.

The SDK runs unmodified (request serialisation, URL choice, status handling,
deserialisation into its models); only urllib3's pool manager is replaced by
one that replays the JSON files in ``recordings/`` and records each request.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import urllib3

from floorguard.brokers import OptionInstrument, OrderRequest, UpstoxBroker, UpstoxInstrumentMaster
from floorguard.exceptions import (
    BrokerError,
    BrokerTimeoutError,
    ConfigurationError,
    NotFoundError,
    OrderRejectedError,
    ValidationError,
)

upstox_client = pytest.importorskip("upstox_client")

REC = Path(__file__).parent / "recordings"
EXPIRY = dt.date(2025, 4, 24)
PUT = OptionInstrument("NIFTY", EXPIRY, 22000.0, "put", 75.0)
CALL = OptionInstrument("NIFTY", EXPIRY, 24500.0, "call", 75.0)


class FakeResponse:
    def __init__(self, status: int, payload: bytes) -> None:
        self.status = status
        self.reason = "OK" if status < 400 else "Error"
        self.data = payload

    def getheaders(self) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def getheader(self, name: str, default: Any = None) -> Any:
        return self.getheaders().get(name, default)


class Replay:
    """Stands in for urllib3.PoolManager: (method, path) -> queued responses."""

    def __init__(self) -> None:
        self.queue: dict[tuple[str, str], list[Any]] = {}
        self.calls: list[dict[str, Any]] = []

    def add(self, method: str, path: str, recording: str | Exception, status: int = 200) -> None:
        item: Any = recording if isinstance(recording, Exception) else (status, (REC / recording).read_bytes())
        self.queue.setdefault((method, path), []).append(item)

    def request(self, method: str, url: str, **kw: Any) -> FakeResponse:
        parsed = urllib3.util.parse_url(url)
        self.calls.append({"method": method, "host": parsed.host, "path": parsed.path, "query": parsed.query, **kw})
        items = self.queue.get((method, parsed.path))
        if not items:
            raise AssertionError(f"unexpected call {method} {parsed.path}")
        item = items.pop(0)
        if isinstance(item, Exception):
            raise item
        return FakeResponse(*item)


@pytest.fixture()
def master() -> UpstoxInstrumentMaster:
    return UpstoxInstrumentMaster.from_file(REC / "instruments.json")


def make(master: UpstoxInstrumentMaster, sandbox: bool = False) -> tuple[UpstoxBroker, Replay]:
    config = UpstoxBroker.build_configuration("test-token", sandbox)
    client = upstox_client.ApiClient(config)
    replay = Replay()
    client.rest_client.pool_manager = replay
    return UpstoxBroker("test-token", master, sandbox=sandbox, timeout_seconds=3.0, api_client=client), replay


def test_master_keeps_only_index_options(master: UpstoxInstrumentMaster) -> None:
    assert len(master) == 2
    assert master.resolve(PUT).instrument_key == "NSE_FO|54452"
    # Upstox expiries are epoch ms at IST midnight: 1745433000000 -> 24 Apr 2025
    assert master.by_key("NSE_FO|54460").option == CALL
    with pytest.raises(ValidationError, match="lot size 75"):
        master.resolve(OptionInstrument("NIFTY", EXPIRY, 22000.0, "put", 50.0))
    with pytest.raises(ValidationError, match="no Upstox instrument"):
        master.resolve(OptionInstrument("NIFTY", EXPIRY, 21000.0, "put", 75.0))


def test_place_sends_v3_order_and_reads_status(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master)
    replay.add("GET", "/v2/order/retrieve-all", "order_book_empty.json")
    replay.add("POST", "/v3/order/place", "place_order_v3.json")
    replay.add("GET", "/v2/order/details", "order_details_complete.json")
    order = broker.place(OrderRequest("fg-test-leg0", PUT, "buy", 2))
    assert order.broker_order_id == "250421000123456"
    assert order.state == "filled" and order.filled_quantity == 2  # 150 units / lot 75
    assert order.avg_fill_price == pytest.approx(101.35)
    assert order.filled_value == pytest.approx(101.35 * 2 * 75)
    place = replay.calls[1]
    assert place["host"] == "api-hft.upstox.com"
    body = json.loads(place["body"])
    assert body == {
        "quantity": 150, "product": "D", "validity": "IOC", "price": 0.0, "tag": "fg-test-leg0",
        "slice": False, "instrument_token": "NSE_FO|54452", "order_type": "MARKET",
        "transaction_type": "BUY", "disclosed_quantity": 0, "trigger_price": 0.0, "is_amo": False,
    }
    assert place["headers"]["Authorization"] == "Bearer test-token"
    assert place["timeout"].read_timeout == 3.0
    assert "order_id=250421000123456" in (replay.calls[2]["query"] or "") or replay.calls[2]["fields"] == [
        ("order_id", "250421000123456")
    ]


def test_known_client_id_is_not_placed_again(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master)
    replay.add("GET", "/v2/order/retrieve-all", "order_book.json")
    order = broker.place(OrderRequest("fg-test-leg0", PUT, "buy", 2))
    assert order.broker_order_id == "250421000123456" and order.state == "filled"
    assert [c["path"] for c in replay.calls] == ["/v2/order/retrieve-all"]


def test_rejected_status_carries_the_reason(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master)
    replay.add("GET", "/v2/order/details", "order_details_rejected.json")
    order = broker.status("250421000123457")
    assert order.state == "rejected" and order.reason == "Insufficient margin for the order"
    assert order.request.side == "sell" and order.request.limit_price == 60.0
    assert order.request.instrument == CALL and order.client_order_id == "fg-test-leg1"


def test_http_errors_map_to_domain_errors(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master)
    replay.add("GET", "/v2/order/retrieve-all", "order_book_empty.json")
    replay.add("POST", "/v3/order/place", "error_invalid_instrument.json", status=400)
    with pytest.raises(OrderRejectedError, match=r"Invalid instrument_token \(UDAPI1052\)"):
        broker.place(OrderRequest("fg-x", PUT, "buy", 1))
    replay.add("GET", "/v2/order/details", "error_server.json", status=500)
    with pytest.raises(BrokerError, match="HTTP 500"):
        broker.status("1")
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/v2/order/details", "read timed out")
    replay.add("GET", "/v2/order/details", timeout)
    with pytest.raises(BrokerTimeoutError):
        broker.status("1")
    wrapped = urllib3.exceptions.MaxRetryError(None, "/v2/order/details", reason=urllib3.exceptions.ConnectTimeoutError())
    replay.add("GET", "/v2/order/details", wrapped)
    with pytest.raises(BrokerTimeoutError):
        broker.status("1")


def test_fills_and_cancel(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master)
    replay.add("GET", "/v2/order/trades", "trades.json")
    fills = broker.fills("250421000123456")
    assert [(f.fill_id, f.quantity, f.price) for f in fills] == [("50000012", 1, 101.3), ("50000013", 1, 101.4)]
    assert fills[0].ts == dt.datetime(2025, 4, 21, 4, 45, 3, tzinfo=dt.UTC)  # 10:15:03 IST
    replay.add("GET", "/v2/order/details", "order_details_open.json")
    replay.add("DELETE", "/v3/order/cancel", "cancel_order_v3.json")
    replay.add("GET", "/v2/order/details", "order_details_cancelled.json")
    cancelled = broker.cancel("250421000123458")
    assert cancelled.state == "cancelled" and cancelled.request.time_in_force == "day"


def test_sandbox_places_but_cannot_report(master: UpstoxInstrumentMaster) -> None:
    broker, replay = make(master, sandbox=True)
    replay.add("POST", "/v3/order/place", "place_order_v3.json")
    order = broker.place(OrderRequest("fg-sbx", PUT, "buy", 1, limit_price=120.0))
    assert replay.calls[0]["host"] == "api-sandbox.upstox.com"
    assert json.loads(replay.calls[0]["body"])["order_type"] == "LIMIT"
    assert order.state == "open" and "sandbox" in (order.reason or "")
    assert broker.place(OrderRequest("fg-sbx", PUT, "buy", 1, limit_price=120.0)) == order
    assert len(replay.calls) == 1
    replay.add("DELETE", "/v3/order/cancel", "cancel_order_v3.json")
    assert broker.cancel(order.broker_order_id).state == "cancelled"
    assert broker.fills(order.broker_order_id) == []
    with pytest.raises(NotFoundError):
        broker.status("unknown")


def test_missing_token_is_a_configuration_error(master: UpstoxInstrumentMaster) -> None:
    with pytest.raises(ConfigurationError, match="UPSTOX_ACCESS_TOKEN"):
        UpstoxBroker(None, master)
