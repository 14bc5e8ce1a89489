"""User price files: wide or long CSV.

Accepted layouts (header names are case-insensitive):

* **wide**: a ``date`` column plus one column per symbol::

      date,AAPL,MSFT
      2024-01-02,185.64,370.87

* **long**: ``date,symbol,close`` (other columns ignored; an optional
  ``sector`` column fills the instrument's sector)::

      date,symbol,close
      2024-01-02,AAPL,185.64

Bad files raise :class:`~floorguard.exceptions.ValidationError` naming the
line and field: unparseable dates, non-numeric closes, duplicate
``(date, symbol)`` pairs, no date column. Missing cells are kept as ``NaN``
and reported by the quality check, never dropped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from floorguard.exceptions import DataError, FieldError, ValidationError
from floorguard.marketdata._instruments import instrument_table
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

__all__ = ["CsvSource", "read_price_csv"]

_MAX_REPORTED = 20


def _fail(errors: list[FieldError], what: str) -> None:
    if errors:
        shown = "; ".join(str(e) for e in errors[:_MAX_REPORTED])
        more = f" (+{len(errors) - _MAX_REPORTED} more)" if len(errors) > _MAX_REPORTED else ""
        raise ValidationError(f"{what}: {shown}{more}", errors=errors)


def read_price_csv(source: Path | str | io.StringIO, *, label: str = "price file") -> pd.DataFrame:
    """Parse a wide or long price CSV into the wide float frame.

    Parameters
    ----------
    source : path or text buffer
        The file.
    label : str
        Name used in error messages.

    Returns
    -------
    DataFrame (n_dates, n_symbols)
        float64 closes, DatetimeIndex named ``date``, symbols upper-case.
        ``attrs["sectors"]`` holds sectors from a long file's ``sector`` column.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError.for_field("path", f"file not found: {path}")
        label = str(path)
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValidationError.for_field("file", f"{label} is not a readable CSV: {exc}") from exc
    cols = {c.strip().lower(): c for c in raw.columns}
    if "date" not in cols:
        raise ValidationError.for_field(
            "date", f"{label} needs a 'date' column; found columns {list(raw.columns)}"
        )
    if raw.empty:
        raise ValidationError.for_field("file", f"{label} has no rows")
    # data rows start on line 2 (line 1 is the header)
    lines = np.arange(2, len(raw) + 2)
    errors: list[FieldError] = []
    dates = pd.to_datetime(raw[cols["date"]].str.strip(), errors="coerce", format="mixed")
    for line, value in zip(lines[dates.isna().to_numpy()], raw[cols["date"]][dates.isna()], strict=True):
        errors.append(FieldError("date", f"not a date: {value!r}", int(line)))

    def numbers(column: str) -> pd.Series:
        text = raw[column].str.strip()
        values = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = values.isna() & (text != "") & ~text.str.lower().isin(["nan", "na", "null"])
        for line, value in zip(lines[bad.to_numpy()], text[bad], strict=True):
            errors.append(FieldError(column, f"must be a number, got {value!r}", int(line)))
        return values.astype("float64")

    sectors: dict[str, str] = {}
    if "symbol" in cols and "close" in cols:
        symbol = raw[cols["symbol"]].str.strip().str.upper()
        for line in lines[(symbol == "").to_numpy()]:
            errors.append(FieldError("symbol", "empty symbol", int(line)))
        close = numbers(cols["close"])
        long = pd.DataFrame({"date": dates, "symbol": symbol, "close": close, "line": lines})
        dup = long.duplicated(["date", "symbol"], keep="first") & long["date"].notna()
        for line, sym in zip(long.loc[dup, "line"], long.loc[dup, "symbol"], strict=True):
            errors.append(FieldError("symbol", f"duplicate date for {sym}", int(line)))
        _fail(errors, f"{label} has bad rows")
        if "sector" in cols:
            for sym, sec in zip(symbol, raw[cols["sector"]].str.strip(), strict=True):
                if sec:
                    sectors.setdefault(sym, sec)
        wide = long.pivot(index="date", columns="symbol", values="close")
        wide.columns = [str(c) for c in wide.columns]
    else:
        value_cols = [c for c in raw.columns if c != cols["date"]]
        if not value_cols:
            raise ValidationError.for_field(
                "columns",
                f"{label}: expected 'date' plus one column per symbol, or 'date,symbol,close'",
            )
        data = {str(c).strip().upper(): numbers(c) for c in value_cols}
        dup_dates = dates.duplicated(keep="first") & dates.notna()
        for line, d in zip(lines[dup_dates.to_numpy()], dates[dup_dates], strict=True):
            errors.append(FieldError("date", f"duplicate date {d.date()}", int(line)))
        _fail(errors, f"{label} has bad rows")
        wide = pd.DataFrame(data)
        wide.index = pd.DatetimeIndex(dates)
    wide = wide.sort_index()
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    wide = wide.astype("float64")
    wide.attrs["sectors"] = sectors
    return wide


class CsvSource:
    """Market data from one user CSV file (wide or long).

    Parameters
    ----------
    path : Path or str
        The CSV file.
    name : str
        Source name used in provenance (default ``"csv"``).
    """

    def __init__(self, path: Path | str, *, name: str = "csv") -> None:
        self.path = Path(path)
        self.name = name
        self._frame: pd.DataFrame | None = None

    def frame(self) -> pd.DataFrame:
        """The whole file as the wide frame (parsed once per instance)."""
        if self._frame is None:
            self._frame = read_price_csv(self.path)
        return self._frame

    def symbols(self) -> list[str]:
        return sorted(self.frame().columns)

    def _column(self, symbol: str) -> pd.Series:
        sym = symbol.strip().upper()
        frame = self.frame()
        if sym not in frame.columns:
            raise unknown_symbol(sym, self.name, list(frame.columns))
        col = frame[sym]
        first, last = col.first_valid_index(), col.last_valid_index()
        if first is None:
            raise DataError(f"{self.path}: column {sym} has no prices")
        return col.loc[first:last]

    def price_history(
        self,
        symbols: Sequence[str] | str,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        syms = normalise_symbols(symbols)
        cols = {s: select_window(self._column(s), s, start, end) for s in syms}
        return combine_wide(
            cols, {s: {"source": self.name, "dataset": str(self.path)} for s in syms}
        )

    def last_price(self, symbol: str) -> PricePoint:
        col = self._column(symbol).dropna()
        return PricePoint(str(col.name), float(col.iloc[-1]), col.index[-1].date(), self.name)

    def instrument(self, symbol: str) -> Instrument:
        """Metadata: the shipped table when it knows the symbol, else minimal."""
        sym = symbol.strip().upper()
        self._column(sym)
        known = instrument_table().get(sym)
        sector = self.frame().attrs.get("sectors", {}).get(sym)
        if known is not None:
            return Instrument(
                sym, known.name, known.asset_type, sector or known.sector, known.currency, known.exchange
            )
        return Instrument(sym, sym, "custom", sector, "USD", "unknown")

    def quality(self, *, stale_days: int = 5, max_gap_days: int = 4) -> DataQualityReport:
        """Quality report of every column of the file."""
        return check_quality(self.frame(), stale_days=stale_days, max_gap_days=max_gap_days)
