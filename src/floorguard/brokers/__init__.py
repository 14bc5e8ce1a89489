"""Brokers behind one protocol: the simulated :class:`PaperBroker` and Upstox."""

from floorguard.brokers.base import (
    TERMINAL_STATES,
    BidAsk,
    Broker,
    Fill,
    OptionInstrument,
    Order,
    OrderRequest,
    OrderSide,
    OrderState,
    QuoteSource,
    TimeInForce,
)
from floorguard.brokers.paper import FaultPlan, FaultRule, PaperBroker
from floorguard.brokers.upstox import UpstoxBroker, UpstoxInstrument, UpstoxInstrumentMaster

__all__ = [
    "TERMINAL_STATES",
    "BidAsk",
    "Broker",
    "FaultPlan",
    "FaultRule",
    "Fill",
    "OptionInstrument",
    "Order",
    "OrderRequest",
    "OrderSide",
    "OrderState",
    "PaperBroker",
    "QuoteSource",
    "TimeInForce",
    "UpstoxBroker",
    "UpstoxInstrument",
    "UpstoxInstrumentMaster",
]
