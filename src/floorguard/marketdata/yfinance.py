"""Live daily closes from Yahoo Finance through ``yfinance`` (optional extra).

Install with ``pip install 'floorguard[yfinance]'``. Fetched closes are
stored in a :class:`~floorguard.marketdata.base.PriceCache` (the database's
``market_data_cache`` table when built by ``AppContext``) and served from it
while fresh. An empty answer from Yahoo is a
:class:`~floorguard.exceptions.DataError`, never an empty frame; when Yahoo
cannot be reached the cached closes are used and the provenance says so
(``"cached": true``).

Yahoo's sector names are mapped to GICS sector names where the two agree
(``Technology`` -> ``Information Technology``, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from floorguard.exceptions import ConfigurationError, DataError, SymbolNotFoundError
from floorguard.marketdata.base import (
    DateLike,
    Instrument,
    PriceCache,
    PricePoint,
    combine_wide,
    normalise_symbols,
    select_window,
    to_timestamp,
)

__all__ = ["YFinanceSource", "YAHOO_TO_GICS"]

#: Yahoo (Morningstar-style) sector -> GICS sector.
YAHOO_TO_GICS: dict[str, str] = {
    "Technology": "Information Technology",
    "Healthcare": "Health Care",
    "Financial Services": "Financials",
    "Consumer Cyclical": "Consumer Discretionary",
    "Consumer Defensive": "Consumer Staples",
    "Basic Materials": "Materials",
    "Communication Services": "Communication Services",
    "Energy": "Energy",
    "Industrials": "Industrials",
    "Real Estate": "Real Estate",
    "Utilities": "Utilities",
}

_QUOTE_TYPES = {"EQUITY": "equity", "ETF": "etf", "MUTUALFUND": "fund", "INDEX": "index"}
#: floorguard symbol -> Yahoo ticker, where they differ.
_YAHOO_TICKERS = {"SPX": "^GSPC", "IXIC": "^IXIC", "VIX": "^VIX", "NDX": "^NDX", "RUT": "^RUT"}


def yfinance_ticker_factory(needs: str = "the yfinance source needs") -> Callable[[str], Any]:
    """``yfinance.Ticker``; ConfigurationError "<needs> the optional extra" when not installed."""
    try:
        import yfinance
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            f"{needs} the optional extra: pip install 'floorguard[yfinance]'"
        ) from exc
    return yfinance.Ticker


class YFinanceSource:
    """Yahoo Finance daily closes with a database cache.

    Parameters
    ----------
    cache : PriceCache, optional
        Where fetched closes are stored and read back.
    ticker_factory : callable, optional
        ``symbol -> object with .history(start=, end=, auto_adjust=) and .info``;
        defaults to ``yfinance.Ticker`` (tests pass a fake).
    refresh_after_days : int
        Cached closes whose last date is at least this many days old are
        refreshed from Yahoo.
    default_history_days : int
        Window fetched when no ``start`` is given (default ten years).
    today : callable, optional
        Clock returning today's date (tests pin it).
    """

    name = "yfinance"
    open_universe = True

    def __init__(
        self,
        cache: PriceCache | None = None,
        *,
        ticker_factory: Callable[[str], Any] | None = None,
        refresh_after_days: int = 1,
        default_history_days: int = 3653,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.cache = cache
        self._factory = ticker_factory
        self.refresh_after_days = refresh_after_days
        self.default_history_days = default_history_days
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._instruments: dict[str, Instrument] = {}

    def _ticker(self, symbol: str) -> Any:
        if self._factory is None:
            self._factory = yfinance_ticker_factory()
        return self._factory(_YAHOO_TICKERS.get(symbol, symbol))

    def symbols(self) -> list[str]:
        """Symbols already fetched (in the cache or this instance); Yahoo knows more."""
        known = set(self._instruments)
        lister = getattr(self.cache, "symbols", None)
        if callable(lister):
            known.update(lister(source=self.name))
        return sorted(known)

    def _fetch(self, symbol: str, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.Series:
        start = start if start is not None else self._default_start()
        last = end if end is not None else pd.Timestamp(self._today())
        # Yahoo's end is exclusive
        kwargs: dict[str, Any] = {
            "auto_adjust": True,
            "start": start.date().isoformat(),
            "end": (last + pd.Timedelta(days=1)).date().isoformat(),
        }
        try:
            hist = self._ticker(symbol).history(**kwargs)
        except Exception as exc:  # noqa: BLE001 - any transport failure becomes a DataError
            raise DataError(f"yfinance request for {symbol} failed: {type(exc).__name__}: {exc}") from exc
        if hist is None or len(hist) == 0 or "Close" not in hist:
            raise DataError(f"yfinance returned no prices for {symbol} (unknown symbol or no data in range)")
        close = pd.to_numeric(hist["Close"], errors="coerce").astype("float64")
        index = pd.DatetimeIndex(close.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        close.index = pd.DatetimeIndex(index.normalize(), name="date")
        close = close[~close.index.duplicated(keep="last")].sort_index().rename(symbol)
        if close.dropna().empty:
            raise DataError(f"yfinance returned no valid closes for {symbol}")
        return close

    def _default_start(self) -> pd.Timestamp:
        return pd.Timestamp(self._today()) - pd.Timedelta(days=self.default_history_days)

    def _closes(
        self, symbol: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pd.Series, bool]:
        """Closes covering the window, from the cache when it is fresh enough.

        The cache covers the window when its last close is less than
        ``refresh_after_days`` before the window's end (or after it) and its
        first close is at most 4 calendar days after the window's start (a
        weekend plus a holiday).
        """
        cached = self.cache.load(symbol, source=self.name) if self.cache is not None else None
        if cached is not None and cached.dropna().empty:
            cached = None  # an empty cache counts as none
        if cached is not None:
            last = cached.index[-1]
            target_end = end if end is not None else pd.Timestamp(self._today())
            fresh_end = (target_end - last).days < self.refresh_after_days or (
                end is not None and last >= end
            )
            want_start = start if start is not None else self._default_start()
            covers_start = cached.index[0] <= want_start + pd.Timedelta(days=4)
            if fresh_end and covers_start:
                return cached.rename(symbol), True
        try:
            fetched = self._fetch(symbol, start, end)
        except DataError:
            if cached is not None:
                return cached.rename(symbol), True
            raise
        if self.cache is not None:
            try:
                sector = self.instrument(symbol).sector
            except (DataError, SymbolNotFoundError):
                sector = None
            self.cache.store(symbol, fetched, source=self.name, sector=sector)
            merged = self.cache.load(symbol, source=self.name)
            if not merged.dropna().empty:
                return merged.rename(symbol), False
        return fetched, False

    def price_history(
        self,
        symbols: Sequence[str] | str,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        syms = normalise_symbols(symbols)
        cols: dict[str, pd.Series] = {}
        from_cache: dict[str, bool] = {}
        for sym in syms:
            series, cached = self._closes(sym, t0, t1)
            cols[sym] = select_window(series, sym, t0, t1)
            from_cache[sym] = cached
        return combine_wide(
            cols,
            {
                s: {"source": self.name, "dataset": "Yahoo Finance", "cached": from_cache[s]}
                for s in syms
            },
        )

    def last_price(self, symbol: str) -> PricePoint:
        sym = normalise_symbols(symbol)[0]
        end = pd.Timestamp(self._today())
        series, _ = self._closes(sym, end - pd.Timedelta(days=14), end)
        valid = series.dropna()
        return PricePoint(sym, float(valid.iloc[-1]), valid.index[-1].date(), self.name)

    def instrument(self, symbol: str) -> Instrument:
        sym = normalise_symbols(symbol)[0]
        if sym in self._instruments:
            return self._instruments[sym]
        try:
            info = dict(self._ticker(sym).info or {})
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"yfinance metadata request for {sym} failed: {exc}") from exc
        if not info or not (info.get("longName") or info.get("shortName") or info.get("quoteType")):
            raise SymbolNotFoundError(f"unknown symbol {sym!r}: yfinance has no metadata for it")
        yahoo_sector = info.get("sector")
        inst = Instrument(
            symbol=sym,
            name=str(info.get("longName") or info.get("shortName") or sym),
            asset_type=_QUOTE_TYPES.get(str(info.get("quoteType", "")).upper(), "custom"),
            sector=YAHOO_TO_GICS.get(yahoo_sector, yahoo_sector) if yahoo_sector else None,
            currency=str(info.get("currency") or "USD"),
            exchange=str(info.get("exchange") or "unknown"),
        )
        self._instruments[sym] = inst
        return inst
