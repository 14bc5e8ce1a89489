"""NSE index option chains through ``upstox-python-sdk`` (optional extra).

Install with ``pip install 'floorguard[upstox]'`` and set
``FLOORGUARD_UPSTOX_ACCESS_TOKEN``. The chain comes from Upstox's
"put/call option chain" endpoint (``OptionsApi.get_put_call_option_chain``,
``GET /v2/option/chain``): one row per strike with the underlying spot,
market data (last, bid, ask, volume, open interest) and Upstox's greeks for
the call and the put. Upstox reports ``iv`` in percent; floorguard stores
decimals. The response carries no time stamp, so ``as_of`` is the time of
the request (``now``), in India time.

The network is reached only through ``fetch(instrument_key, expiry_date)``
(default: the SDK call), which tests replace with recorded responses. An
empty answer, an unknown underlying or a failed call raise
:class:`~floorguard.exceptions.DataError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from floorguard.domain.chains import OptionChain
from floorguard.domain.contracts import ContractSpec, get_contract_spec
from floorguard.exceptions import ConfigurationError, DataError, ValidationError

__all__ = ["UPSTOX_INDEX_KEYS", "read_upstox_chain", "upstox_fetcher"]

#: floorguard underlying -> Upstox instrument key of the index (also in contracts.json).
UPSTOX_INDEX_KEYS: dict[str, str] = {"NIFTY": "NSE_INDEX|Nifty 50", "BANKNIFTY": "NSE_INDEX|Nifty Bank"}


def upstox_fetcher(access_token: str | None, timeout: float = 10.0) -> Callable[[str, str], Any]:
    """The default ``fetch``: the SDK's option-chain call with ``access_token``."""
    if not access_token:
        raise ConfigurationError("FLOORGUARD_UPSTOX_ACCESS_TOKEN is required for Upstox option chains")
    try:
        import upstox_client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "Upstox option chains need the optional extra: pip install 'floorguard[upstox]'"
        ) from exc
    config = upstox_client.Configuration()
    config.host = "https://api.upstox.com"
    config.access_token = access_token
    api = upstox_client.OptionsApi(upstox_client.ApiClient(config))

    def fetch(instrument_key: str, expiry_date: str) -> Any:
        return api.get_put_call_option_chain(instrument_key, expiry_date, _request_timeout=timeout)

    return fetch


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v if math.isfinite(v) else float("nan")


def read_upstox_chain(
    symbol: str,
    expiries: Sequence[Any],
    *,
    fetch: Callable[[str, str], Any],
    spec: ContractSpec | None = None,
    now: Any | None = None,
) -> OptionChain:
    """Fetch NSE index option chains for ``expiries`` from Upstox.

    Parameters
    ----------
    symbol : str
        ``"NIFTY"`` or ``"BANKNIFTY"`` (or any spec whose ``upstox_instrument_key``
        is set in the contracts file).
    expiries : sequence of date-like
        Expiry dates to fetch (see :func:`floorguard.domain.contracts.listed_expiries`).
    fetch : callable
        ``(instrument_key, "YYYY-MM-DD") -> GetOptionChainResponse`` (or its
        dict form); :func:`upstox_fetcher` builds the live one.
    now : timestamp-like, optional
        As-of time (default: the current time in Asia/Kolkata).

    Returns
    -------
    OptionChain
        ``source="upstox"``, vendor IV (decimal), delta and gamma.
    """
    key_sym = symbol.strip().upper()
    spec = spec or get_contract_spec(key_sym)
    instrument_key = str(spec.extra.get("upstox_instrument_key") or UPSTOX_INDEX_KEYS.get(key_sym, ""))
    if not instrument_key:
        raise ValidationError.for_field("symbol", f"no Upstox instrument key for {symbol!r}")
    if not expiries:
        raise ValidationError.for_field("expiries", "give at least one expiry date")
    as_of = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz=spec.timezone)
    if as_of.tzinfo is None:
        as_of = as_of.tz_localize(spec.timezone)
    rows: list[dict[str, Any]] = []
    spots: list[float] = []
    for raw_exp in expiries:
        exp = pd.Timestamp(raw_exp).date()
        try:
            resp = fetch(instrument_key, exp.isoformat())
        except (ConfigurationError, DataError):
            raise
        except Exception as exc:  # noqa: BLE001 - SDK/network failures are data problems
            raise DataError(f"Upstox option chain {instrument_key} {exp} failed: {exc}") from exc
        status = _get(resp, "status")
        data = _get(resp, "data")
        if status not in (None, "success"):
            raise DataError(f"Upstox option chain {instrument_key} {exp}: status {status!r}")
        if not data:
            raise DataError(f"Upstox returned an empty option chain for {instrument_key} {exp}")
        for item in data:
            strike = _num(_get(item, "strike_price"))
            item_exp = _get(item, "expiry")
            got = pd.Timestamp(item_exp).date() if item_exp is not None else exp
            if got != exp:
                raise DataError(f"Upstox answered expiry {got} when asked for {exp}")
            spot = _num(_get(item, "underlying_spot_price"))
            if math.isfinite(spot):
                spots.append(spot)
            for kind, side in (("call", "call_options"), ("put", "put_options")):
                leg = _get(item, side)
                if leg is None:
                    continue
                md = _get(leg, "market_data")
                gk = _get(leg, "option_greeks")
                iv_pct = _num(_get(gk, "iv"))
                rows.append(
                    {
                        "expiry": exp,
                        "strike": strike,
                        "kind": kind,
                        "bid": max(_num(_get(md, "bid_price")), 0.0) if md is not None else 0.0,
                        "ask": max(_num(_get(md, "ask_price")), 0.0) if md is not None else 0.0,
                        "last": _num(_get(md, "ltp")),
                        "volume": _num(_get(md, "volume")),
                        "open_interest": _num(_get(md, "oi")),
                        "iv": iv_pct / 100.0 if iv_pct > 0 else float("nan"),
                        "delta": _num(_get(gk, "delta")),
                        "gamma": _num(_get(gk, "gamma")),
                        "symbol": str(_get(leg, "instrument_key") or ""),
                        "root": spec.roots[0],
                    }
                )
    if not rows:
        raise DataError(f"Upstox returned no option quotes for {instrument_key}")
    if not spots:
        raise DataError(f"Upstox gave no underlying spot for {instrument_key}")
    quotes = pd.DataFrame(rows)
    quotes["bid"] = quotes["bid"].fillna(0.0)
    quotes["ask"] = quotes["ask"].fillna(0.0)
    return OptionChain(
        underlying=spec.underlying,
        spot=float(spots[-1]),
        as_of=as_of,
        quotes=quotes,
        source="upstox",
        synthetic=False,
        spec=spec,
        spot_note=f"Upstox underlying_spot_price of {instrument_key}",
        notes=(
            f"Upstox option chain {instrument_key}, {len(expiries)} expiries; IV and greeks are Upstox's",
            f"as_of is the request time ({as_of.isoformat()}); Upstox gives no quote time stamp",
        ),
    )

