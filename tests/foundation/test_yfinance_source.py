"""YFinanceSource with a fake yfinance: empty answers are errors, the cache is used."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from floorguard.exceptions import DataError, SymbolNotFoundError
from floorguard.marketdata import BundledSource, ProviderChain
from floorguard.marketdata.yfinance import YFinanceSource


class FakeTicker:
    calls: list[tuple[str, dict[str, Any]]] = []
    data: dict[str, pd.DataFrame] = {}
    fail = False

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, **kwargs: Any) -> pd.DataFrame:
        FakeTicker.calls.append((self.symbol, kwargs))
        if FakeTicker.fail:
            raise ConnectionError("network down")
        return FakeTicker.data.get(self.symbol, pd.DataFrame())

    @property
    def info(self) -> dict[str, Any]:
        if self.symbol not in FakeTicker.data:
            return {}
        return {"longName": "Nvidia Corp", "quoteType": "EQUITY", "sector": "Technology",
                "currency": "USD", "exchange": "NMS"}


@pytest.fixture(autouse=True)
def _reset() -> None:
    idx = pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-06"], tz="America/New_York")
    FakeTicker.calls = []
    FakeTicker.fail = False
    FakeTicker.data = {"NVDA": pd.DataFrame({"Close": [138.31, 144.47, 149.43]}, index=idx)}


class MemoryCache:
    def __init__(self) -> None:
        self.rows: dict[str, pd.Series] = {}

    def load(self, symbol: str, *, source: str) -> pd.Series:
        return self.rows.get(symbol, pd.Series(dtype="float64"))

    def store(self, symbol: str, closes: pd.Series, *, source: str, sector: str | None = None) -> int:
        old = self.rows.get(symbol)
        merged = closes if old is None else pd.concat([old, closes]).groupby(level=0).last()
        self.rows[symbol] = merged.sort_index()
        return len(closes)

    def symbols(self, *, source: str | None = None) -> list[str]:
        return sorted(self.rows)


def _src(cache: Any = None) -> YFinanceSource:
    return YFinanceSource(cache, ticker_factory=FakeTicker, today=lambda: dt.date(2025, 1, 6))


def test_history_and_metadata() -> None:
    src = _src()
    h = src.price_history("NVDA", "2025-01-01", "2025-01-06")
    assert list(h.index.date) == [dt.date(2025, 1, 2), dt.date(2025, 1, 3), dt.date(2025, 1, 6)]
    assert h["NVDA"].tolist() == [138.31, 144.47, 149.43]
    assert h.attrs["provenance"]["NVDA"]["source"] == "yfinance"
    # Yahoo's end is exclusive: one day is added
    assert FakeTicker.calls[0][1]["end"] == "2025-01-07"
    inst = src.instrument("NVDA")
    assert inst.sector == "Information Technology" and inst.asset_type == "equity"


def test_empty_answer_is_an_error() -> None:
    with pytest.raises(DataError, match="no prices for ZZZZ"):
        _src().price_history("ZZZZ", "2025-01-01", "2025-01-06")
    with pytest.raises(SymbolNotFoundError):
        _src().instrument("ZZZZ")


def test_index_symbols_map_to_yahoo() -> None:
    FakeTicker.data["^GSPC"] = FakeTicker.data["NVDA"].rename(columns={"Close": "Close"}) * 40
    h = _src().price_history("SPX", "2025-01-01", "2025-01-06")
    assert FakeTicker.calls[0][0] == "^GSPC" and h["SPX"].iloc[0] == pytest.approx(5532.4)


def test_cache_is_used_and_survives_outages() -> None:
    cache = MemoryCache()
    src = _src(cache)
    src.price_history("NVDA", "2025-01-02", "2025-01-06")
    n = len(FakeTicker.calls)
    assert cache.rows["NVDA"].iloc[-1] == 149.43
    # fresh cache: no new request
    h = src.price_history("NVDA", "2025-01-02", "2025-01-06")
    assert len(FakeTicker.calls) == n and h.attrs["provenance"]["NVDA"]["cached"] is True
    # outage on a window the cache does not fully cover: cached data, labelled
    FakeTicker.fail = True
    h2 = src.price_history("NVDA", "2024-12-01", "2025-01-06")
    assert h2.attrs["provenance"]["NVDA"]["cached"] is True and len(h2) == 3
    # outage with nothing cached: error
    with pytest.raises(DataError, match="network down"):
        src.price_history("AMZN", "2025-01-02", "2025-01-06")


def test_in_chain_after_bundled() -> None:
    chain = ProviderChain([BundledSource(), _src()])
    h = chain.price_history(["AAPL", "NVDA"], "2022-12-27", "2025-01-06")
    assert h.attrs["provenance"]["AAPL"]["source"] == "bundled"
    assert h.attrs["provenance"]["NVDA"]["source"] == "yfinance"
    assert chain.last_price("NVDA").source == "yfinance"


def test_cached_in_the_database(ctx: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real market_data_cache table (SQLite and PostgreSQL), then shown by data status."""
    from floorguard.persistence.cache import DbPriceCache

    cache = DbPriceCache(ctx.session_factory)
    src = _src(cache)
    src.price_history("NVDA", "2025-01-02", "2025-01-06")
    n = len(FakeTicker.calls)
    again = _src(DbPriceCache(ctx.session_factory))  # a new process would see the same rows
    h = again.price_history("NVDA", "2025-01-02", "2025-01-06")
    assert len(FakeTicker.calls) == n and h["NVDA"].tolist() == [138.31, 144.47, 149.43]
    assert again.symbols() == ["NVDA"]

    from floorguard.cli import main

    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", ctx.database_url)
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(ctx.settings.data_home))
    main(["data", "status", "--json"])  # returns normally on success
    import json

    cache_info = json.loads(capsys.readouterr().out)["cache"]
    (series,) = cache_info["series"]
    assert (series["symbol"], series["source"], series["n"], series["sector"]) == ("NVDA", "yfinance", 3, "Information Technology")
    assert series["quality_flags"] == []


def test_default_window_and_coverage() -> None:
    cache = MemoryCache()
    src = _src(cache)
    src.last_price("NVDA")  # fetches a 14-day window only
    assert FakeTicker.calls[-1][1]["start"] == "2024-12-23"
    n = len(FakeTicker.calls)
    # no start: ten years are wanted, the 14-day cache does not cover them -> a new request
    src.price_history("NVDA")
    assert len(FakeTicker.calls) == n + 1
    assert FakeTicker.calls[-1][1]["start"] == "2015-01-06"  # 3653 days = ten years with three leap days
