"""PaperBroker: fills at the touch with slippage, idempotent client ids, faults, restarts."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from floorguard.brokers import BidAsk, FaultPlan, FaultRule, OptionInstrument, OrderRequest, PaperBroker
from floorguard.exceptions import BrokerError, BrokerTimeoutError, DataError, NotFoundError, ValidationError

PUT = OptionInstrument("SPX", dt.date(2022, 3, 18), 4000.0, "put", 100.0)
CALL = OptionInstrument("SPX", dt.date(2022, 3, 18), 4800.0, "call", 100.0)


class Quotes:
    def __init__(self) -> None:
        self.book = {PUT.key: BidAsk(40.0, 41.0), CALL.key: BidAsk(12.0, 12.6)}

    def quote(self, instrument: OptionInstrument) -> BidAsk:
        try:
            return self.book[instrument.key]
        except KeyError:
            raise DataError(f"{instrument.key} is not listed") from None


def req(coid: str, inst: OptionInstrument = PUT, side: str = "buy", qty: int = 10, **kw) -> OrderRequest:
    return OrderRequest(client_order_id=coid, instrument=inst, side=side, quantity=qty, **kw)  # type: ignore[arg-type]


def test_buy_fills_at_ask_sell_at_bid_with_slippage() -> None:
    broker = PaperBroker(Quotes(), slippage_bps=50.0)
    buy = broker.place(req("b1"))
    sell = broker.place(req("s1", CALL, "sell", 10))
    assert buy.state == "filled" and buy.filled_quantity == 10
    # 50 bp against the trader: 41 * 1.005 and 12 * 0.995
    assert buy.avg_fill_price == pytest.approx(41.0 * 1.005, rel=1e-12)
    assert sell.avg_fill_price == pytest.approx(12.0 * 0.995, rel=1e-12)
    assert buy.filled_value == pytest.approx(41.205 * 10 * 100, rel=1e-12)
    fills = broker.fills(buy.broker_order_id)
    assert [(f.quantity, f.price) for f in fills] == [(10, pytest.approx(41.205))]


def test_limit_not_reached_ioc_cancels_unfilled() -> None:
    broker = PaperBroker(Quotes())
    order = broker.place(req("b1", limit_price=40.5))
    assert order.state == "cancelled" and order.filled_quantity == 0
    assert "above limit" in (order.reason or "")
    assert broker.fills(order.broker_order_id) == []


def test_day_order_rests_then_fills_when_market_comes() -> None:
    quotes = Quotes()
    broker = PaperBroker(quotes)
    order = broker.place(req("d1", limit_price=40.5, time_in_force="day"))
    assert order.state == "open"
    quotes.book[PUT.key] = BidAsk(39.9, 40.4)
    assert broker.status(order.broker_order_id).state == "filled"
    assert broker.status(order.broker_order_id).avg_fill_price == pytest.approx(40.4)


def test_same_client_order_id_never_places_twice() -> None:
    broker = PaperBroker(Quotes())
    first = broker.place(req("same"))
    again = broker.place(req("same"))
    assert again.broker_order_id == first.broker_order_id
    assert len(broker.orders()) == 1
    with pytest.raises(ValidationError, match="different order"):
        broker.place(req("same", qty=3))


def test_concurrent_places_with_one_client_id_book_one_order() -> None:
    broker = PaperBroker(Quotes())
    ids: list[str] = []
    barrier = threading.Barrier(16)

    def go() -> None:
        barrier.wait()
        ids.append(broker.place(req("race")).broker_order_id)

    threads = [threading.Thread(target=go) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(broker.orders()) == 1


def test_faults_reject_partial_timeouts() -> None:
    plan = FaultPlan(
        [
            FaultRule("reject", on_call=0, reason="margin"),
            FaultRule("partial", on_call=1, fill_ratio=0.5),
            FaultRule("timeout", on_call=2),
            FaultRule("timeout_after_place", on_call=3),
            FaultRule("error", on_call=4),
        ]
    )
    broker = PaperBroker(Quotes(), faults=plan)
    rejected = broker.place(req("r"))
    assert rejected.state == "rejected" and rejected.reason == "margin"
    partial = broker.place(req("p", qty=7))
    assert partial.state == "cancelled" and partial.filled_quantity == 3  # floor(7 * 0.5)
    with pytest.raises(BrokerTimeoutError):
        broker.place(req("t"))
    assert broker.find("t") is None  # timed out before reaching the book
    with pytest.raises(BrokerTimeoutError):
        broker.place(req("ta"))
    booked = broker.find("ta")  # booked and filled although the answer was lost
    assert booked is not None and booked.state == "filled"
    with pytest.raises(BrokerError):
        broker.place(req("e"))
    assert broker.place(req("t")).state == "filled"  # the retry goes through


def test_match_rule_targets_one_leg() -> None:
    plan = FaultPlan([FaultRule("reject", match=lambda r: r.instrument.option_type == "call", times=None)])
    broker = PaperBroker(Quotes(), faults=plan)
    assert broker.place(req("a")).state == "filled"
    assert broker.place(req("b", CALL, "sell")).state == "rejected"
    assert broker.place(req("c", CALL, "sell")).state == "rejected"


def test_unlisted_option_and_missing_bid() -> None:
    quotes = Quotes()
    quotes.book[CALL.key] = BidAsk(0.0, 0.05)
    broker = PaperBroker(quotes)
    other = OptionInstrument("SPX", dt.date(2022, 3, 18), 1234.0, "put")
    assert "no quote" in (broker.place(req("x", other)).reason or "")
    assert "no bid" in (broker.place(req("y", CALL, "sell")).reason or "")
    with pytest.raises(NotFoundError):
        broker.status("PB-nope")


def test_cancel_only_open_orders() -> None:
    broker = PaperBroker(Quotes())
    rest = broker.place(req("d", limit_price=1.0, time_in_force="day"))
    assert broker.cancel(rest.broker_order_id).state == "cancelled"
    done = broker.place(req("f"))
    assert broker.cancel(done.broker_order_id).state == "filled"


def test_book_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite"
    first = PaperBroker(Quotes(), book_path=path)
    order = first.place(req("keep"))
    first.close()
    second = PaperBroker(Quotes(), book_path=path)
    assert second.find("keep") == order
    assert second.place(req("keep")).broker_order_id == order.broker_order_id
    assert len(second.fills(order.broker_order_id)) == 1


def test_bad_requests_name_the_field() -> None:
    with pytest.raises(ValidationError, match="quantity"):
        req("q", qty=0)
    with pytest.raises(ValidationError, match="client_order_id"):
        req("has space")
    with pytest.raises(ValidationError, match="strike"):
        OptionInstrument("SPX", dt.date(2022, 3, 18), -1.0, "put")
    with pytest.raises(ValidationError, match="paper_slippage_bps"):
        PaperBroker(Quotes(), slippage_bps=-1)


def test_round_trip_dicts() -> None:
    broker = PaperBroker(Quotes())
    order = broker.place(req("rt", limit_price=45.0, tag="policy 1"))
    from floorguard.brokers import Order

    assert Order.from_dict(order.to_dict()) == order
