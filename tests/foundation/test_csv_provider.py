"""CSV source (wide and long) and the provider chain's provenance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from floorguard.config import Settings
from floorguard.exceptions import ConfigurationError, SymbolNotFoundError, ValidationError
from floorguard.marketdata import BundledSource, CsvSource, ProviderChain, build_sources

WIDE = "date,AAPL,FOO\n2024-01-02,185.64,10\n2024-01-03,184.25,\n2024-01-04,181.91,11\n"
LONG = (
    "Date,Symbol,Close,Sector\n2024-01-03,FOO,10.5,Industrials\n2024-01-02,FOO,10,Industrials\n"
    "2024-01-02,AAPL,185.64,\n"
)


def _write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_wide(tmp_path: Path) -> None:
    src = CsvSource(_write(tmp_path, WIDE))
    assert src.symbols() == ["AAPL", "FOO"]
    h = src.price_history(["FOO"])
    # the missing cell is kept as NaN (reported by quality), never dropped
    assert h["FOO"].isna().sum() == 1 and len(h) == 3
    assert src.quality().flags("FOO") == ["nan"]
    p = src.last_price("AAPL")
    assert (p.price, p.as_of, p.source) == (181.91, dt.date(2024, 1, 4), "csv")
    assert h.attrs["provenance"]["FOO"]["dataset"].endswith("p.csv")


def test_long_with_sector(tmp_path: Path) -> None:
    src = CsvSource(_write(tmp_path, LONG))
    h = src.price_history(["FOO", "AAPL"])
    assert list(h.index.date) == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]  # sorted
    np.testing.assert_allclose(h["FOO"].to_numpy(), [10.0, 10.5])
    assert src.instrument("FOO").sector == "Industrials"
    assert src.instrument("FOO").asset_type == "custom"
    # a known ticker takes the shipped metadata
    assert src.instrument("AAPL").sector == "Information Technology"


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("date,AAPL\nnot-a-date,1\n", "date", 2),
        ("date,AAPL\n2024-01-02,abc\n", "AAPL", 2),
        ("date,symbol,close\n2024-01-02,X,1\n2024-01-02,X,2\n", "symbol", 3),
        ("date,AAPL\n2024-01-02,1\n2024-01-02,2\n", "date", 3),
        ("when,AAPL\n2024-01-02,1\n", "date", None),
    ],
)
def test_bad_files_name_line_and_field(tmp_path: Path, text: str, field: str, line: int | None) -> None:
    with pytest.raises(ValidationError) as e:
        CsvSource(_write(tmp_path, text)).symbols()
    assert e.value.errors[0].field == field and e.value.errors[0].line == line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        CsvSource(tmp_path / "nope.csv").symbols()


def test_chain_provenance(tmp_path: Path) -> None:
    csv = CsvSource(_write(tmp_path, WIDE))
    chain = ProviderChain([csv, BundledSource()])
    h = chain.price_history(["SPX", "AAPL", "FOO"], start="2022-12-01")
    prov = h.attrs["provenance"]
    # the csv comes first, so its AAPL wins; SPX only exists in the bundled data
    assert prov["AAPL"]["source"] == "csv" and prov["FOO"]["source"] == "csv"
    assert prov["SPX"] == {"source": "bundled", "dataset": "skfolio:sp500_index", "first": "2022-12-01", "as_of": "2022-12-28"}
    assert list(h.columns) == ["SPX", "AAPL", "FOO"]
    assert chain.last_price("AAPL").source == "csv"
    assert chain.last_price("MSFT").source == "bundled"
    assert chain.source_of("VIX").name == "bundled"
    with pytest.raises(SymbolNotFoundError, match="no market-data source"):
        chain.last_price("NOPE")


def test_chain_order_matters(tmp_path: Path) -> None:
    csv = CsvSource(_write(tmp_path, WIDE))
    chain = ProviderChain([BundledSource(), csv])
    assert chain.last_price("AAPL").source == "bundled"
    assert chain.last_price("AAPL").price == pytest.approx(125.674)


def test_build_sources(tmp_path: Path) -> None:
    path = _write(tmp_path, WIDE)
    s = Settings(env="test", market_data_sources=["csv", "bundled"], csv_data_path=path)
    assert [x.name for x in build_sources(s)] == ["csv", "bundled"]
    with pytest.raises(ConfigurationError, match="CSV_DATA_PATH"):
        build_sources(Settings(env="test", market_data_sources=["csv"]))
    with pytest.raises(ConfigurationError, match="unknown market data source"):
        build_sources(Settings(env="test", market_data_sources=["bloomberg"]))
    with pytest.raises(ValidationError):
        ProviderChain([])
