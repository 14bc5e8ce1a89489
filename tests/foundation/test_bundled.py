"""Bundled data read from the skfolio and arch wheels: real, known values.

Reference values are published index closes (S&P 500: 676.53 on 2009-03-09,
the financial-crisis low; 1565.15 on 2007-10-09, the pre-crisis high; 2237.40
on 2020-03-23, the Covid low; NASDAQ Composite 5048.62 on 2000-03-10, the
dot-com peak; VIX 40.74 on 2015-08-24) and the raw rows of the data files.
Prices are compared exactly to the file's decimals (tolerance 1e-9).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from floorguard.exceptions import DataError, SymbolNotFoundError, ValidationError
from floorguard.marketdata import BundledSource, MarketDataSource

STOCKS = "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM".split()
ETFS = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
GICS = {
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
    "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
}


@pytest.fixture(scope="module")
def src() -> BundledSource:
    return BundledSource()


def test_protocol_and_universe(src: BundledSource) -> None:
    assert isinstance(src, MarketDataSource)
    assert src.symbols() == sorted([*STOCKS, *ETFS, "SPX", "IXIC", "VIX"])


def test_date_ranges(src: BundledSource) -> None:
    for sym in STOCKS + ["SPX"]:
        assert src.date_range(sym) == (dt.date(1990, 1, 2), dt.date(2022, 12, 28)), sym
    for sym in ETFS:
        assert src.date_range(sym) == (dt.date(2014, 1, 2), dt.date(2022, 12, 28)), sym
    assert src.date_range("IXIC") == (dt.date(1999, 1, 4), dt.date(2018, 12, 31))
    assert src.date_range("VIX") == (dt.date(2014, 1, 3), dt.date(2019, 1, 3))


def test_known_index_levels(src: BundledSource) -> None:
    spx = src.closes("SPX")
    assert spx["2009-03-09"] == pytest.approx(676.53, abs=1e-9)
    assert spx["2007-10-09"] == pytest.approx(1565.15, abs=1e-9)
    assert spx["2020-03-23"] == pytest.approx(2237.40, abs=1e-9)
    assert src.closes("IXIC")["2000-03-10"] == pytest.approx(5048.620117, abs=1e-9)
    vix = src.closes("VIX")
    assert vix.max() == pytest.approx(40.74) and vix.idxmax() == pd.Timestamp("2015-08-24")


def test_aapl_rows_exact(src: BundledSource) -> None:
    h = src.price_history("AAPL", "1990-01-02", "1990-01-04")
    assert list(h.index.date) == [dt.date(1990, 1, 2), dt.date(1990, 1, 3), dt.date(1990, 1, 4)]
    np.testing.assert_allclose(h["AAPL"].to_numpy(), [0.264, 0.266, 0.267], rtol=0, atol=1e-12)
    p = src.last_price("aapl")
    assert (p.symbol, p.price, p.as_of, p.source) == ("AAPL", 125.674, dt.date(2022, 12, 28), "bundled")


def test_two_independent_files_agree_on_spx(src: BundledSource) -> None:
    """skfolio's SP500 index and arch's sp500 OHLCV are separate files: same closes."""
    sk = src.closes("SPX").loc["1999-01-04":"2018-12-31"]
    arch = src.ohlcv("SPX")["close"]
    common = sk.index.intersection(arch.index)
    assert len(common) > 5000
    np.testing.assert_allclose(sk[common].to_numpy(), arch[common].to_numpy(), rtol=0, atol=0.006)


def test_history_frame_shape_and_provenance(src: BundledSource) -> None:
    h = src.price_history(["AAPL", "VIX"], "2018-12-20", "2019-01-10")
    assert isinstance(h.index, pd.DatetimeIndex) and h.index.name == "date"
    assert list(h.columns) == ["AAPL", "VIX"] and (h.dtypes == "float64").all()
    # VIX ends on 2019-01-03: later rows are NaN, not dropped
    assert h["VIX"].last_valid_index() == pd.Timestamp("2019-01-03")
    assert h.loc["2019-01-10", "AAPL"] == pytest.approx(37.003)
    prov = h.attrs["provenance"]
    assert prov["VIX"] == {"source": "bundled", "dataset": "arch:vix", "first": "2018-12-20", "as_of": "2019-01-03"}
    assert prov["AAPL"]["dataset"] == "skfolio:sp500_dataset"


def test_window_errors(src: BundledSource) -> None:
    with pytest.raises(ValidationError, match="start: 2030-01-01 is out of range") as e:
        src.price_history("SPX", start="2030-01-01")
    assert e.value.errors[0].field == "start"
    with pytest.raises(ValidationError, match="end"):
        src.price_history("VIX", end="2001-01-01")
    with pytest.raises(ValidationError, match="after end"):
        src.price_history("SPX", start="2020-01-02", end="2019-01-01")
    with pytest.raises(ValidationError, match="not a date"):
        src.price_history("SPX", start="yesterday-ish")
    with pytest.raises(DataError, match="no prices"):
        src.price_history("SPX", start="2020-01-04", end="2020-01-05")  # a weekend
    with pytest.raises(SymbolNotFoundError, match="ZZZZ"):
        src.price_history(["SPX", "ZZZZ"])


def test_instruments_have_gics_sectors(src: BundledSource) -> None:
    for sym in STOCKS:
        inst = src.instrument(sym)
        assert inst.sector in GICS and inst.asset_type == "equity" and inst.currency == "USD"
    assert src.instrument("AAPL").sector == "Information Technology"
    assert src.instrument("XOM").sector == "Energy"
    assert src.instrument("JPM").sector == "Financials"
    for sym in ETFS:
        assert src.instrument(sym).asset_type == "etf" and src.instrument(sym).sector is None
    assert src.instrument("SPX").asset_type == "index"


def test_fama_french_and_credit_spread(src: BundledSource) -> None:
    ff = src.fama_french()
    assert list(ff.columns) == ["mkt_rf", "smb", "hml", "rf"]
    first = ff.iloc[0]
    assert ff.index[0] == pd.Timestamp("1926-07-31")
    np.testing.assert_allclose(first.to_numpy(), [0.0296, -0.023, -0.0287, 0.0022], atol=1e-12)
    assert ff.index[-1] == pd.Timestamp("2018-11-30")
    cs = src.credit_spread()
    assert cs.iloc[0]["spread"] == pytest.approx(0.0712 - 0.0535, abs=1e-12)
    assert (cs["spread"] > 0).all()  # BAA always yields more than AAA


def test_ohlcv_has_volume(src: BundledSource) -> None:
    o = src.ohlcv("IXIC")
    assert list(o.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert o.loc["1999-01-04", "volume"] == 936660000
    assert (o["high"] >= o["low"]).all()
    # a real flaw of the file, kept as is: two sessions report zero volume
    assert list(o.index[o["volume"] <= 0].date) == [dt.date(2015, 5, 12), dt.date(2018, 1, 9)]
    with pytest.raises(SymbolNotFoundError):
        src.ohlcv("AAPL")


def test_vix_placeholders_are_noted_not_hidden(src: BundledSource) -> None:
    src.closes("VIX")
    assert "46 FRED holiday placeholder rows" in src.notes["VIX"]
    assert not src.closes("VIX").isna().any()


def test_data_dir_override_and_missing_files(tmp_path: Path, src: BundledSource) -> None:
    import shutil

    shutil.copy(src.path_of("vix.csv.gz"), tmp_path / "vix.csv.gz")
    override = BundledSource(tmp_path)
    assert override.last_price("VIX").price == pytest.approx(25.45)
    with pytest.raises(DataError, match="sp500_index.csv.gz not found"):
        override.last_price("SPX")


def test_reading_never_imports_skfolio() -> None:
    code = (
        "import sys; from floorguard.marketdata import BundledSource;"
        "BundledSource().price_history(['SPX','MTUM']); print('skfolio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_frames_cached_per_instance() -> None:
    a, b = BundledSource(), BundledSource()
    assert a.closes("SPX") is a.closes("SPX")
    assert a.closes("SPX") is not b.closes("SPX")
