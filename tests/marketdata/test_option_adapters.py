"""Live option-chain adapters (yfinance, Upstox) against recorded responses.

No network: yfinance's own ``Ticker`` code runs, with its HTTP layer
(``Ticker._data.get``) answering from ``recordings/yahoo_spy_options.json``;
Upstox responses are deserialised by the SDK's own ``ApiClient.deserialize``
into its ``GetOptionChainResponse`` models from
``recordings/upstox_nifty_option_chain.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from floorguard.exceptions import ConfigurationError, DataError, ValidationError
from floorguard.marketdata.options_yfinance import read_yfinance_chain
from floorguard.marketdata.upstox import read_upstox_chain, upstox_fetcher

REC = Path(__file__).parent / "recordings"


# ----------------------------------------------------------------------------- yfinance


class _Resp:
    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload

    def json(self) -> dict[str, Any]:
        return self._payload


class _RecordedYahoo:
    """Stands in for yfinance's ``YfData``: answers option URLs from a recording."""

    def __init__(self, by_date: dict[str, Any], empty: dict[str, Any] | None = None) -> None:
        self.by_date = by_date
        self.empty = empty
        self.urls: list[str] = []

    def get(self, url: str, **_: Any) -> _Resp:
        self.urls.append(url)
        assert "/v7/finance/options/" in url
        if self.empty is not None:
            return _Resp(self.empty)
        date = parse_qs(urlparse(url).query).get("date", [""])[0]
        return _Resp(self.by_date[date])


def _yahoo_factory(empty: bool = False) -> Any:
    import yfinance

    rec = json.loads((REC / "yahoo_spy_options.json").read_text())
    fake = _RecordedYahoo(rec["by_date"], rec["empty"] if empty else None)

    def factory(symbol: str) -> Any:
        t = yfinance.Ticker(symbol)
        t._data = fake  # the only seam: yfinance's HTTP getter
        return t

    factory.fake = fake  # type: ignore[attr-defined]
    return factory


def test_yfinance_chain_from_recording() -> None:
    factory = _yahoo_factory()
    chain = read_yfinance_chain("SPY", ticker_factory=factory)
    assert chain.source == "yfinance" and not chain.synthetic
    assert chain.underlying == "SPY" and chain.spot == 557.65 and chain.style == "american"
    assert chain.as_of == pd.Timestamp("2025-05-01 16:00:02", tz="America/New_York")
    assert [d.isoformat() for d in chain.expiries()] == ["2025-05-02", "2025-05-09"]
    q = chain.quotes
    assert len(q) == 12 and set(q["kind"]) == {"call", "put"}
    row = q[q["symbol"] == "SPY250502P00555000"].iloc[0]
    assert (row["strike"], row["bid"], row["ask"], row["volume"], row["open_interest"]) == (555.0, 2.88, 2.9, 68459, 4471)
    assert row["iv"] == pytest.approx(0.3374)  # Yahoo's IV, decimal
    assert q["delta"].isna().all()  # Yahoo gives no greeks
    assert any("/v7/finance/options/SPY?date=1746748800" in u for u in factory.fake.urls)


def test_yfinance_index_ticker_mapping_and_expiry_choice() -> None:
    factory = _yahoo_factory()
    seen: list[str] = []

    def spy_factory(sym: str) -> Any:
        seen.append(sym)
        return factory("SPY")

    chain = read_yfinance_chain("SPX", ticker_factory=spy_factory, expiries=["2025-05-09"])
    assert seen == ["^SPX"]
    assert [d.isoformat() for d in chain.expiries()] == ["2025-05-09"]
    with pytest.raises(ValidationError, match="expiries"):
        read_yfinance_chain("SPY", ticker_factory=factory, expiries=["2030-01-01"])


def test_yfinance_empty_and_failing_answers_are_errors() -> None:
    with pytest.raises(DataError, match="no option expiries"):
        read_yfinance_chain("SPY", ticker_factory=_yahoo_factory(empty=True))

    class Broken:
        @property
        def options(self) -> tuple:
            raise ConnectionError("network down")

    with pytest.raises(DataError, match="network down"):
        read_yfinance_chain("SPY", ticker_factory=lambda s: Broken())

    class EmptyChain:
        options = ("2025-05-02",)

        def option_chain(self, date: str) -> Any:
            from collections import namedtuple

            return namedtuple("Options", ["calls", "puts", "underlying"])(None, None, None)

    with pytest.raises(DataError, match="empty option chain"):
        read_yfinance_chain("SPY", ticker_factory=lambda s: EmptyChain())


# ----------------------------------------------------------------------------- Upstox


class _RawResponse:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.data = json.dumps(payload)


def _upstox_fetch(key: str = "") -> Any:
    import upstox_client

    rec = json.loads((REC / "upstox_nifty_option_chain.json").read_text())
    client = upstox_client.ApiClient()
    calls: list[tuple[str, str]] = []

    def fetch(instrument_key: str, expiry_date: str) -> Any:
        calls.append((instrument_key, expiry_date))
        payload = rec[key] if key else rec[f"{instrument_key} {expiry_date}"]
        return client.deserialize(_RawResponse(payload), "GetOptionChainResponse")

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


def test_upstox_chain_from_recording() -> None:
    from floorguard.core.pricing import bsm_price

    fetch = _upstox_fetch()
    now = pd.Timestamp("2025-09-03 09:30", tz="Asia/Kolkata")
    chain = read_upstox_chain("NIFTY", ["2025-09-30"], fetch=fetch, now=now)
    assert fetch.calls == [("NSE_INDEX|Nifty 50", "2025-09-30")]
    assert chain.source == "upstox" and chain.underlying == "NIFTY" and chain.style == "european"
    assert chain.spot == 24715.05 and chain.as_of == now
    q = chain.quotes
    assert len(q) == 10 and q["symbol"].str.startswith("NSE_FO|").all()
    call = q[(q["strike"] == 24700.0) & (q["kind"] == "call")].iloc[0]
    assert call["iv"] == pytest.approx(0.1126)  # Upstox's percent -> decimal
    assert (call["bid"], call["ask"], call["delta"]) == (351.35, 352.6, 0.555)
    # The recorded quotes straddle a Black-Scholes price at Upstox's own IV.
    t = chain.t_years("2025-09-30")
    model = bsm_price(q["kind"].to_numpy(), chain.spot, q["strike"].to_numpy(), t, 0.055, q["iv"].to_numpy(), 0.012)
    assert np.all(q["bid"].to_numpy() <= model + 0.5) and np.all(model <= q["ask"].to_numpy() + 0.5)


def test_upstox_empty_failing_and_bad_input() -> None:
    with pytest.raises(DataError, match="empty option chain"):
        read_upstox_chain("NIFTY", ["2025-09-30"], fetch=_upstox_fetch("empty"))

    def boom(key: str, exp: str) -> Any:
        raise TimeoutError("read timed out")

    with pytest.raises(DataError, match="read timed out"):
        read_upstox_chain("NIFTY", ["2025-09-30"], fetch=boom)
    with pytest.raises(DataError, match="asked for 2025-10-07"):
        read_upstox_chain("NIFTY", ["2025-10-07"], fetch=lambda k, e: _upstox_fetch()("NSE_INDEX|Nifty 50", "2025-09-30"))
    with pytest.raises(ValidationError, match="expiries"):
        read_upstox_chain("NIFTY", [], fetch=boom)
    with pytest.raises(ValidationError, match="Upstox instrument key"):
        read_upstox_chain("SPX", ["2025-09-30"], fetch=boom)
    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN"):
        upstox_fetcher(None)
