"""Market data: one protocol, several sources, a provenance-recording chain.

Public names
------------
MarketDataSource, Instrument, PricePoint, PriceCache
    the protocol and its value types (``base``);
DataQualityReport, QualityIssue, check_quality
    NaN / non-positive / stale / gap reporting (``quality``);
BundledSource
    real offline data from the skfolio and arch wheels (``bundled``);
CsvSource, read_price_csv
    user files, wide or long (``csv``);
YFinanceSource
    live Yahoo Finance data, optional extra, cached in the database (``yfinance``);
ProviderChain
    sources in priority order with provenance (``provider``);
build_sources
    settings -> list of sources (used by ``AppContext``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floorguard.marketdata.base import Instrument, MarketDataSource, PriceCache, PricePoint
from floorguard.marketdata.bundled import BundledSource
from floorguard.marketdata.csv import CsvSource, read_price_csv
from floorguard.marketdata.provider import ProviderChain
from floorguard.marketdata.quality import DataQualityReport, QualityIssue, check_quality

if TYPE_CHECKING:
    from floorguard.config import Settings

__all__ = [
    "BundledSource",
    "CsvSource",
    "DataQualityReport",
    "Instrument",
    "MarketDataSource",
    "PriceCache",
    "PricePoint",
    "ProviderChain",
    "QualityIssue",
    "YFinanceSource",
    "build_sources",
    "check_quality",
    "read_price_csv",
]


def __getattr__(name: str) -> object:
    if name == "YFinanceSource":
        from floorguard.marketdata.yfinance import YFinanceSource

        return YFinanceSource
    raise AttributeError(f"module 'floorguard.marketdata' has no attribute {name!r}")


def build_sources(settings: Settings, *, cache: PriceCache | None = None) -> list[MarketDataSource]:
    """Build the sources named in ``settings.market_data_sources``, in order.

    Names: ``bundled``, ``csv`` (needs ``csv_data_path``), ``yfinance``
    (optional extra; uses ``cache``).
    """
    from floorguard.exceptions import ConfigurationError

    sources: list[MarketDataSource] = []
    for raw in settings.market_data_sources:
        name = raw.strip().lower()
        if name == "bundled":
            sources.append(BundledSource(settings.bundled_data_dir))
        elif name == "csv":
            if settings.csv_data_path is None:
                raise ConfigurationError(
                    "market data source 'csv' needs FLOORGUARD_CSV_DATA_PATH (a wide or long price CSV)"
                )
            sources.append(CsvSource(Path(settings.csv_data_path)))
        elif name == "yfinance":
            from floorguard.marketdata.yfinance import YFinanceSource

            sources.append(YFinanceSource(cache))
        else:
            raise ConfigurationError(
                f"unknown market data source {raw!r} in FLOORGUARD_MARKET_DATA_SOURCES "
                "(known: bundled, csv, yfinance)"
            )
    if not sources:
        raise ConfigurationError("FLOORGUARD_MARKET_DATA_SOURCES is empty")
    return sources
