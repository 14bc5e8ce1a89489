"""The market-data protocol and its value types.

Every source (bundled, csv, yfinance, a :class:`~floorguard.marketdata.ProviderChain`)
answers the same three questions:

* ``price_history(symbols, start, end)``: a wide ``pd.DataFrame`` of daily
  closes (``DatetimeIndex`` named ``date``, one ``float64`` column per symbol,
  ``NaN`` where a symbol has no observation on a date of another symbol);
* ``last_price(symbol)``: the last close as a :class:`PricePoint` with its
  source and as-of date;
* ``instrument(symbol)``: metadata as an :class:`Instrument` (name, asset
  type, GICS sector, currency, exchange).

Unknown symbols raise :class:`~floorguard.exceptions.SymbolNotFoundError`;
a window outside the data raises :class:`~floorguard.exceptions.ValidationError`
naming ``start``/``end``; an empty answer raises
:class:`~floorguard.exceptions.DataError`. No source ever returns an empty
frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from floorguard.exceptions import DataError, SymbolNotFoundError, ValidationError

__all__ = [
    "DateLike",
    "Instrument",
    "MarketDataSource",
    "PriceCache",
    "PricePoint",
    "combine_wide",
    "normalise_symbols",
    "select_window",
    "to_timestamp",
    "unknown_symbol",
]

#: Anything ``pd.Timestamp`` understands: ``"2020-01-31"``, ``date``, ``datetime``.
DateLike = str | dt.date | dt.datetime | pd.Timestamp


@dataclass(frozen=True)
class Instrument:
    """Static description of a tradable or reference instrument.

    Parameters
    ----------
    symbol : str
        Ticker as used throughout floorguard (``"AAPL"``, ``"SPX"``).
    name : str
        Long name.
    asset_type : str
        One of ``equity, etf, fund, private, cash, index, custom``.
    sector : str or None
        GICS sector (``"Information Technology"``); ``None`` for indices,
        ETFs and instruments without one.
    currency : str
        ISO 4217 code of the prices.
    exchange : str
        Primary listing (``"NYSE"``, ``"NASDAQ"``; ``"INDEX"`` for indices).
    """

    symbol: str
    name: str
    asset_type: str
    sector: str | None
    currency: str
    exchange: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PricePoint:
    """One price with its provenance.

    Parameters
    ----------
    symbol : str
        Ticker.
    price : float
        Close in the instrument's currency (index points for indices).
    as_of : datetime.date
        Date of the observation (not the date it was read).
    source : str
        Name of the source that supplied it (``"bundled"``, ``"csv"``, ...).
    """

    symbol: str
    price: float
    as_of: dt.date
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "price": self.price,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
        }


@runtime_checkable
class MarketDataSource(Protocol):
    """What every market-data source provides."""

    name: str

    def symbols(self) -> list[str]:
        """Symbols this source can answer for (sorted)."""
        ...

    def price_history(
        self,
        symbols: Sequence[str],
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Daily closes, wide: ``(n_dates, n_symbols)`` float64, DatetimeIndex."""
        ...

    def last_price(self, symbol: str) -> PricePoint:
        """The last available close of ``symbol``."""
        ...

    def instrument(self, symbol: str) -> Instrument:
        """Metadata of ``symbol``."""
        ...


@runtime_checkable
class PriceCache(Protocol):
    """Storage for fetched closes (implemented by the database layer).

    ``load`` returns the cached closes of ``symbol`` from ``source`` (a float
    Series indexed by date, possibly empty); ``store`` upserts closes.
    """

    def load(self, symbol: str, *, source: str) -> pd.Series:
        ...

    def store(
        self, symbol: str, closes: pd.Series, *, source: str, sector: str | None = None
    ) -> int:
        ...


def to_timestamp(value: DateLike | None, field_name: str) -> pd.Timestamp | None:
    """Parse a date argument, naming ``field_name`` when it is not a date."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError.for_field(field_name, f"not a date: {value!r}") from exc
    if ts is pd.NaT:
        raise ValidationError.for_field(field_name, f"not a date: {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts.normalize()


def normalise_symbols(symbols: Sequence[str] | str) -> list[str]:
    """Upper-case, strip and de-duplicate symbols, keeping their order."""
    if isinstance(symbols, str):
        symbols = [symbols]
    out: list[str] = []
    for raw in symbols:
        sym = str(raw).strip().upper()
        if not sym:
            raise ValidationError.for_field("symbols", "empty symbol")
        if sym not in out:
            out.append(sym)
    if not out:
        raise ValidationError.for_field("symbols", "no symbols requested")
    return out


def select_window(
    series: pd.Series,
    symbol: str,
    start: DateLike | None,
    end: DateLike | None,
) -> pd.Series:
    """Cut ``series`` to ``[start, end]``; refuse windows outside the data.

    Raises
    ------
    ValidationError
        ``start`` after ``end``, or a window that does not overlap the data
        (the message names the available range).
    DataError
        ``series`` has no observation at all.
    """
    t0 = to_timestamp(start, "start")
    t1 = to_timestamp(end, "end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValidationError.for_field("start", f"{t0.date()} is after end {t1.date()}")
    valid = series.dropna()
    if valid.empty:
        raise DataError(f"no prices for {symbol}")
    first, last = valid.index[0], valid.index[-1]
    available = f"{symbol} has data from {first.date()} to {last.date()}"
    if t0 is not None and t0 > last:
        raise ValidationError.for_field("start", f"{t0.date()} is out of range: {available}")
    if t1 is not None and t1 < first:
        raise ValidationError.for_field("end", f"{t1.date()} is out of range: {available}")
    cut = series.loc[t0:t1] if (t0 is not None or t1 is not None) else series
    if cut.dropna().empty:
        raise DataError(f"no prices for {symbol} between {t0} and {t1}: {available}")
    return cut


def unknown_symbol(symbol: str, source: str, known: Sequence[str] | None = None) -> SymbolNotFoundError:
    """Build the error for a symbol ``source`` does not know."""
    hint = ""
    if known is not None:
        hint = f" (known: {', '.join(sorted(known)[:40])}{'...' if len(known) > 40 else ''})"
    return SymbolNotFoundError(f"unknown symbol {symbol!r} in market-data source {source!r}{hint}")


def combine_wide(
    columns: dict[str, pd.Series], provenance: dict[str, dict[str, Any]]
) -> pd.DataFrame:
    """Outer-join per-symbol close series into the wide float frame.

    ``attrs["provenance"]`` maps each symbol to its ``provenance`` entry
    followed by the ``first`` and ``as_of`` dates of its (windowed) series.
    """
    frame = pd.concat(columns, axis=1, join="outer", sort=True).sort_index()
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    frame.columns = list(columns)
    frame = frame.astype("float64")
    frame.attrs["provenance"] = {
        s: {
            **provenance[s],
            "first": col.first_valid_index().date().isoformat(),
            "as_of": col.last_valid_index().date().isoformat(),
        }
        for s, col in columns.items()
    }
    return frame
