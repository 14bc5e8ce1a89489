"""Live option chains from Yahoo Finance through ``yfinance`` (optional extra).

Install with ``pip install 'floorguard[yfinance]'``. The network is reached
only through the ``ticker_factory`` (default ``yfinance.Ticker``), which tests
replace with recorded responses. Yahoo gives bid, ask, last, volume, open
interest and its own implied volatility (decimal) per contract, but no
greeks (``delta``/``gamma`` are NaN). The as-of time is the underlying's
``regularMarketTime``; the spot its ``regularMarketPrice``.

Errors: an unknown symbol, no listed expiries, an empty chain or a failed
request raise :class:`~floorguard.exceptions.DataError` (never an empty chain).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from floorguard.domain.chains import OptionChain, parse_occ_symbol
from floorguard.domain.contracts import ContractSpec, get_contract_spec, spec_for_root
from floorguard.exceptions import ConfigurationError, DataError, NotFoundError, ValidationError
from floorguard.marketdata.yfinance import yfinance_ticker_factory

__all__ = ["YAHOO_OPTION_TICKERS", "read_yfinance_chain"]

#: floorguard underlying -> Yahoo ticker carrying its options.
YAHOO_OPTION_TICKERS: dict[str, str] = {"SPX": "^SPX", "NDX": "^NDX", "XSP": "^XSP", "RUT": "^RUT"}


def _frame(df: Any, kind: str, expiry: str) -> pd.DataFrame:
    if df is None or not isinstance(df, pd.DataFrame) or df.empty:
        return pd.DataFrame()
    symbols = df["contractSymbol"].astype(str).tolist()
    decoded = []
    for i, sym in enumerate(symbols):
        try:
            decoded.append(parse_occ_symbol(sym))
        except ValidationError:
            raise DataError(f"Yahoo returned an undecodable contract symbol {sym!r} ({kind}s {expiry}, row {i})") from None
    return pd.DataFrame(
        {
            "expiry": [d[1] for d in decoded],
            "strike": pd.to_numeric(df["strike"], errors="coerce").to_numpy(dtype=float),
            "kind": kind,
            "bid": pd.to_numeric(df["bid"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
            "ask": pd.to_numeric(df["ask"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
            "last": pd.to_numeric(df["lastPrice"], errors="coerce").to_numpy(dtype=float),
            "volume": pd.to_numeric(df["volume"], errors="coerce").to_numpy(dtype=float),
            "open_interest": pd.to_numeric(df["openInterest"], errors="coerce").to_numpy(dtype=float),
            "iv": pd.to_numeric(df["impliedVolatility"], errors="coerce").to_numpy(dtype=float),
            "symbol": symbols,
            "root": [d[0] for d in decoded],
        }
    )


def read_yfinance_chain(
    symbol: str,
    *,
    expiries: Sequence[str] | None = None,
    max_expiries: int = 12,
    ticker_factory: Callable[[str], Any] | None = None,
    spec: ContractSpec | None = None,
) -> OptionChain:
    """Fetch an option chain from Yahoo Finance.

    Parameters
    ----------
    symbol : str
        floorguard underlying (``"SPY"``, ``"SPX"``); indices are mapped to
        Yahoo's tickers (``"SPX"`` -> ``"^SPX"``).
    expiries : sequence of "YYYY-MM-DD", optional
        Expiries to fetch; default: the first ``max_expiries`` listed.
    ticker_factory : callable, optional
        ``symbol -> object`` with ``.options`` and ``.option_chain(date)``
        like ``yfinance.Ticker`` (injected in tests).

    Returns
    -------
    OptionChain
        ``source="yfinance"``.
    """
    if max_expiries < 1:
        raise ValidationError.for_field("max_expiries", f"must be at least 1, got {max_expiries}")
    underlying = symbol.strip().upper().lstrip("^")
    if not underlying:
        raise ValidationError.for_field("symbol", "must not be empty")
    yahoo = YAHOO_OPTION_TICKERS.get(underlying, underlying)
    factory = ticker_factory or yfinance_ticker_factory("live option chains from Yahoo need")
    try:
        ticker = factory(yahoo)
        listed = tuple(ticker.options or ())
    except (ConfigurationError, DataError):
        raise
    except Exception as exc:  # noqa: BLE001 - any network/library failure is a data problem
        raise DataError(f"Yahoo option expiries for {yahoo} could not be fetched: {exc}") from exc
    if not listed:
        raise DataError(f"Yahoo lists no option expiries for {yahoo}")
    wanted = list(expiries) if expiries is not None else list(listed[:max_expiries])
    unknown = [e for e in wanted if e not in listed]
    if unknown:
        raise ValidationError.for_field("expiries", f"not listed by Yahoo for {yahoo}: {', '.join(unknown)}")
    frames = []
    quote: dict[str, Any] = {}
    for exp in wanted:
        try:
            oc = ticker.option_chain(exp)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"Yahoo option chain {yahoo} {exp} could not be fetched: {exc}") from exc
        calls, puts = _frame(oc.calls, "call", exp), _frame(oc.puts, "put", exp)
        if calls.empty and puts.empty:
            raise DataError(f"Yahoo returned an empty option chain for {yahoo} {exp}")
        frames.extend(f for f in (calls, puts) if not f.empty)
        quote = dict(oc.underlying or quote)
    spot = quote.get("regularMarketPrice")
    stamp = quote.get("regularMarketTime")
    if spot is None or not math.isfinite(float(spot)) or float(spot) <= 0:
        raise DataError(f"Yahoo gave no underlying price for {yahoo}")
    if stamp is None:
        raise DataError(f"Yahoo gave no quote time for {yahoo}")
    tz = str(quote.get("exchangeTimezoneName") or "America/New_York")
    as_of = pd.Timestamp(int(stamp), unit="s", tz="UTC").tz_convert(tz)
    quotes = pd.concat(frames, ignore_index=True)
    if spec is None:
        for root in sorted(set(quotes["root"]), key=len):
            spec = spec_for_root(root)
            if spec is not None:
                break
        if spec is not None and spec.symbol != spec.underlying:
            try:
                spec = get_contract_spec(spec.underlying)
            except NotFoundError:
                pass
    return OptionChain(
        underlying=underlying,
        spot=float(spot),
        as_of=as_of,
        quotes=quotes,
        source="yfinance",
        synthetic=False,
        spec=spec,
        spot_note=f"Yahoo regularMarketPrice at {as_of.isoformat()}",
        notes=(f"Yahoo Finance {yahoo}, {len(wanted)} expiries; IVs are Yahoo's; no greeks given",),
    )

