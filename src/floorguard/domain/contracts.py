"""Listed option contract specifications, as data.

The specifications live in a JSON file (``floorguard/data/contracts.json`` by
default) that users can copy and extend; :func:`load_contract_specs` reads
either the bundled file or a file the user names. Each entry describes one
listed product: exercise style, settlement, multiplier and lot size, strike
increments by moneyness band, tick sizes by premium band, trading hours,
settlement times, and the expiry series (monthly third Friday, weeklies,
dailies, end-of-month, the NSE expiry weekday).

Trading days and holidays always come from ``exchange_calendars`` (XNYS for
US products; XNSE, served by the ``XBOM`` calendar because NSE and BSE observe
the same exchange-holiday list), never from a hand-written list. An expiry
whose nominal date is not a trading day moves as the series says:
``holiday_roll="previous"`` (the rule of CBOE monthlies and Friday weeklies and
of NSE: the preceding trading day), ``"next"`` (CBOE Monday weeklies), or
``"none"`` (the series is dropped that day, for "every session" dailies).

File format (one object per contract in ``"contracts"``)::

    symbol, description, exchange, exchange_calendar, timezone, currency,
    underlying, underlying_index, index_ratio   # underlying = index * ratio
    style: "european" | "american"
    settlement_type: "cash" | "physical"
    multiplier: currency units per 1.00 of premium per contract
    lot_size: contracts per tradable lot (NSE), 1 for US products
    trading_hours: {"open": "HH:MM", "close": "HH:MM"}      # exchange local time
    settlement_times: {"AM": "HH:MM", "PM": "HH:MM"}         # exchange local time
    tick_sizes: [{"below": premium or null, "tick": x}, ...]  # ascending bands
    strike_bands: [{"max_moneyness": |K/S-1| or null, "increment": x}, ...]
    expiry_series: [{"name", "root", "rule", "weekday", "nth", "months",
                     "settlement": "AM"|"PM", "holiday_roll",
                     "listing_horizon_days", "valid_from", "valid_until"}, ...]

Expiry ``rule`` is one of ``nth_weekday`` (``nth`` >= 1, e.g. third Friday),
``last_weekday`` (last such weekday of the month: NSE monthlies),
``every_weekday`` (weeklies), ``every_session`` (dailies),
``last_session_of_month`` and ``last_session_of_quarter``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from floorguard.exceptions import DataError, FieldError, NotFoundError, ValidationError

__all__ = [
    "CALENDAR_ALIASES",
    "ContractSpec",
    "ExpirySeries",
    "StrikeBand",
    "TickBand",
    "clear_spec_cache",
    "exchange_calendar",
    "get_contract_spec",
    "listed_expiries",
    "listed_expiry_table",
    "listed_strikes",
    "load_contract_specs",
    "parse_contract_specs",
    "round_to_tick",
    "settlement_timestamp",
    "spec_for_root",
    "tick_size",
]

#: Calendar codes that ``exchange_calendars`` serves under another name.
#: NSE and BSE publish the same exchange-holiday list, so XNSE uses XBOM.
CALENDAR_ALIASES: dict[str, str] = {"XNSE": "XBOM"}

#: Range requested from rule-based calendars (XNYS): listed LEAPS reach ~3 years out.
_CAL_START, _CAL_END = "2000-01-03", "2035-12-31"

_WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
_RULES = (
    "nth_weekday",
    "last_weekday",
    "every_weekday",
    "every_session",
    "last_session_of_month",
    "last_session_of_quarter",
)
_ROLLS = ("previous", "next", "none")

HolidayRoll = Literal["previous", "next", "none"]


@dataclass(frozen=True)
class StrikeBand:
    """Strike increment used while ``|strike / spot - 1| <= max_moneyness``.

    ``max_moneyness=None`` is the outermost band.
    """

    max_moneyness: float | None
    increment: float


@dataclass(frozen=True)
class TickBand:
    """Minimum price increment ``tick`` for premiums below ``below`` (``None``: any)."""

    below: float | None
    tick: float


@dataclass(frozen=True)
class ExpirySeries:
    """One family of listed expiries of a contract (monthly, weekly, daily, ...).

    Attributes
    ----------
    name : str
        Label (``"monthly"``, ``"weekly_fri"``).
    root : str
        OCC root of the options in this series (``"SPX"``, ``"SPXW"``).
    rule : str
        Calendar rule, see the module docstring.
    weekday : int or None
        0 = Monday ... 4 = Friday, for the weekday rules.
    nth : int or None
        Occurrence within the month for ``nth_weekday``.
    months : tuple of int
        Months (1-12) the series lists; empty means every month.
    settlement : {"AM", "PM"}
        AM settlement prices at the opening of the expiry day; PM at the close.
    holiday_roll : {"previous", "next", "none"}
        Where a nominal expiry that is not a trading day moves.
    listing_horizon_days : int or None
        How far ahead of the as-of date the exchange lists this series.
    valid_from, valid_until : datetime.date or None
        Nominal expiry dates the series applies to (exchange rule changes).
    """

    name: str
    root: str
    rule: str
    weekday: int | None = None
    nth: int | None = None
    months: tuple[int, ...] = ()
    settlement: Literal["AM", "PM"] = "PM"
    holiday_roll: HolidayRoll = "previous"
    listing_horizon_days: int | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class ContractSpec:
    """Specification of one listed option product (see the module docstring).

    Attributes
    ----------
    symbol : str
        floorguard's name of the product (``"SPX"``, ``"SPXW"``, ``"NIFTY"``).
    style : {"european", "american"}
        Exercise style.
    settlement_type : {"cash", "physical"}
    multiplier : float
        Currency units per 1.00 of option premium per contract.
    lot_size : int
        Contracts per tradable lot (NSE lot size; 1 for US listings).
    index_ratio : float
        Underlying level = ``underlying_index`` level x ``index_ratio``
        (XSP = SPX / 10 exactly; SPY is about SPX / 10, ``index_ratio_exact=False``).
    settlement_times : mapping
        ``{"AM": time, "PM": time}`` in the exchange time zone.
    """

    symbol: str
    description: str
    exchange: str
    exchange_calendar: str
    timezone: str
    currency: str
    underlying: str
    underlying_index: str
    index_ratio: float
    style: Literal["european", "american"]
    settlement_type: Literal["cash", "physical"]
    multiplier: float
    lot_size: int
    trading_open: dt.time
    trading_close: dt.time
    settlement_times: Mapping[str, dt.time]
    tick_sizes: tuple[TickBand, ...]
    strike_bands: tuple[StrikeBand, ...]
    expiry_series: tuple[ExpirySeries, ...]
    index_ratio_exact: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def roots(self) -> tuple[str, ...]:
        """OCC roots used by this product's series, in file order."""
        return tuple(dict.fromkeys(s.root for s in self.expiry_series))

    @property
    def contract_size(self) -> float:
        """Units of underlying per tradable lot (``multiplier * lot_size``)."""
        return float(self.multiplier) * int(self.lot_size)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def settlement_time(self, root: str | None = None) -> dt.time:
        """Settlement time (exchange local) of ``root``'s series (default: the first)."""
        for series in self.expiry_series:
            if root is None or series.root == root:
                return self.settlement_times[series.settlement]
        raise ValidationError.for_field("root", f"{root!r} is not a root of {self.symbol}")

    def to_dict(self) -> dict[str, Any]:
        """Plain summary for JSON output."""
        return {
            "symbol": self.symbol,
            "description": self.description,
            "exchange": self.exchange,
            "exchange_calendar": self.exchange_calendar,
            "currency": self.currency,
            "underlying": self.underlying,
            "underlying_index": self.underlying_index,
            "index_ratio": self.index_ratio,
            "style": self.style,
            "settlement_type": self.settlement_type,
            "multiplier": self.multiplier,
            "lot_size": self.lot_size,
            "roots": list(self.roots),
            "trading_hours": [self.trading_open.isoformat(), self.trading_close.isoformat()],
        }


# --------------------------------------------------------------------------- loading


def _bundled_text() -> str:
    return (Path(__file__).resolve().parents[1] / "data" / "contracts.json").read_text("utf-8")


def _time(value: Any, fld: str) -> dt.time:
    try:
        hh, mm = str(value).split(":")
        return dt.time(int(hh), int(mm))
    except (ValueError, TypeError):
        raise ValidationError.for_field(fld, f"must be a time 'HH:MM', got {value!r}") from None


def _date(value: Any, fld: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError.for_field(fld, f"must be a date YYYY-MM-DD, got {value!r}") from None


def _positive(value: Any, fld: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(fld, f"must be a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValidationError.for_field(fld, f"must be a positive number, got {value!r}")
    return x


def _parse_bands(
    raw: Iterable[Mapping[str, Any]], fld: str, cls: type[Any], bound: str, step: str
) -> tuple[Any, ...]:
    """Bands ``cls(bound, step)`` in order; only the last may have ``bound = None``."""
    out = []
    for i, band in enumerate(raw):
        limit = band.get(bound)
        out.append(
            cls(
                None if limit is None else _positive(limit, f"{fld}.{i}.{bound}"),
                _positive(band.get(step), f"{fld}.{i}.{step}"),
            )
        )
    if not out or getattr(out[-1], bound) is not None:
        raise ValidationError.for_field(fld, f"the last band must have {bound} = null")
    return tuple(out)


def _parse_series(raw: Mapping[str, Any], fld: str, symbol: str) -> ExpirySeries:
    rule = raw.get("rule")
    if rule not in _RULES:
        raise ValidationError.for_field(f"{fld}.rule", f"must be one of {', '.join(_RULES)}, got {rule!r}")
    weekday = raw.get("weekday")
    wd: int | None = None
    if weekday is not None:
        if str(weekday).upper() not in _WEEKDAYS:
            raise ValidationError.for_field(f"{fld}.weekday", f"must be MON..SUN, got {weekday!r}")
        wd = _WEEKDAYS[str(weekday).upper()]
    if rule in ("nth_weekday", "last_weekday", "every_weekday") and wd is None:
        raise ValidationError.for_field(f"{fld}.weekday", f"is required by rule {rule!r}")
    nth = raw.get("nth")
    if rule == "nth_weekday" and (not isinstance(nth, int) or not 1 <= nth <= 5):
        raise ValidationError.for_field(f"{fld}.nth", f"must be an integer 1..5, got {nth!r}")
    roll = raw.get("holiday_roll", "previous")
    if roll not in _ROLLS:
        raise ValidationError.for_field(f"{fld}.holiday_roll", f"must be one of {_ROLLS}, got {roll!r}")
    settlement = raw.get("settlement", "PM")
    if settlement not in ("AM", "PM"):
        raise ValidationError.for_field(f"{fld}.settlement", f"must be 'AM' or 'PM', got {settlement!r}")
    months = tuple(int(m) for m in raw.get("months", ()) or ())
    if any(not 1 <= m <= 12 for m in months):
        raise ValidationError.for_field(f"{fld}.months", f"must be months 1..12, got {months}")
    horizon = raw.get("listing_horizon_days")
    return ExpirySeries(
        name=str(raw.get("name", rule)),
        root=str(raw.get("root", symbol)),
        rule=rule,
        weekday=wd,
        nth=nth if rule == "nth_weekday" else None,
        months=months,
        settlement=settlement,
        holiday_roll=roll,
        listing_horizon_days=None if horizon is None else int(horizon),
        valid_from=_date(raw.get("valid_from"), f"{fld}.valid_from"),
        valid_until=_date(raw.get("valid_until"), f"{fld}.valid_until"),
    )


_REQUIRED = (
    "symbol",
    "exchange_calendar",
    "timezone",
    "currency",
    "underlying",
    "style",
    "settlement_type",
    "multiplier",
    "trading_hours",
    "settlement_times",
    "tick_sizes",
    "strike_bands",
    "expiry_series",
)


def _parse_spec(raw: Mapping[str, Any], fld: str) -> ContractSpec:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValidationError(
            f"{fld}: missing {', '.join(missing)}",
            errors=[FieldError(f"{fld}.{k}", "is required") for k in missing],
        )
    symbol = str(raw["symbol"]).upper()
    if raw["style"] not in ("european", "american"):
        raise ValidationError.for_field(f"{fld}.style", f"must be 'european' or 'american', got {raw['style']!r}")
    if raw["settlement_type"] not in ("cash", "physical"):
        raise ValidationError.for_field(
            f"{fld}.settlement_type", f"must be 'cash' or 'physical', got {raw['settlement_type']!r}"
        )
    try:
        ZoneInfo(str(raw["timezone"]))
    except Exception:  # noqa: BLE001 - zoneinfo raises several types
        raise ValidationError.for_field(f"{fld}.timezone", f"unknown time zone {raw['timezone']!r}") from None
    ticks = _parse_bands(raw["tick_sizes"], f"{fld}.tick_sizes", TickBand, "below", "tick")
    bands = _parse_bands(
        raw["strike_bands"], f"{fld}.strike_bands", StrikeBand, "max_moneyness", "increment"
    )
    series = tuple(
        _parse_series(s, f"{fld}.expiry_series.{i}", symbol) for i, s in enumerate(raw["expiry_series"])
    )
    if not series:
        raise ValidationError.for_field(f"{fld}.expiry_series", "needs at least one series")
    hours = raw["trading_hours"]
    settle = {k: _time(v, f"{fld}.settlement_times.{k}") for k, v in dict(raw["settlement_times"]).items()}
    for s in series:
        if s.settlement not in settle:
            raise ValidationError.for_field(f"{fld}.settlement_times", f"has no {s.settlement!r} time")
    known = set(_REQUIRED) | {
        "description",
        "exchange",
        "underlying_index",
        "index_ratio",
        "index_ratio_exact",
        "lot_size",
    }
    lot = raw.get("lot_size", 1)
    if not isinstance(lot, int) or lot < 1:
        raise ValidationError.for_field(f"{fld}.lot_size", f"must be a positive integer, got {lot!r}")
    return ContractSpec(
        symbol=symbol,
        description=str(raw.get("description", symbol)),
        exchange=str(raw.get("exchange", "")),
        exchange_calendar=str(raw["exchange_calendar"]).upper(),
        timezone=str(raw["timezone"]),
        currency=str(raw["currency"]).upper(),
        underlying=str(raw["underlying"]),
        underlying_index=str(raw.get("underlying_index", raw["underlying"])),
        index_ratio=_positive(raw.get("index_ratio", 1.0), f"{fld}.index_ratio"),
        style=raw["style"],
        settlement_type=raw["settlement_type"],
        multiplier=_positive(raw["multiplier"], f"{fld}.multiplier"),
        lot_size=lot,
        trading_open=_time(hours.get("open"), f"{fld}.trading_hours.open"),
        trading_close=_time(hours.get("close"), f"{fld}.trading_hours.close"),
        settlement_times=settle,
        tick_sizes=ticks,
        strike_bands=bands,
        expiry_series=series,
        index_ratio_exact=bool(raw.get("index_ratio_exact", True)),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def parse_contract_specs(text: str, source: str = "contracts") -> dict[str, ContractSpec]:
    """Parse the JSON text of a contracts file into ``{symbol: ContractSpec}``."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError.for_field(source, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contracts"), list):
        raise ValidationError.for_field(f"{source}.contracts", "must be a list of contract objects")
    out: dict[str, ContractSpec] = {}
    for i, raw in enumerate(doc["contracts"]):
        if not isinstance(raw, dict):
            raise ValidationError.for_field(f"{source}.contracts.{i}", "must be an object")
        spec = _parse_spec(raw, f"contracts.{i}")
        if spec.symbol in out:
            raise ValidationError.for_field(f"contracts.{i}.symbol", f"duplicate symbol {spec.symbol!r}")
        out[spec.symbol] = spec
    return out


@functools.lru_cache(maxsize=8)
def _load_cached(path: str | None, _mtime_ns: int = 0) -> dict[str, ContractSpec]:
    if path is None:
        return parse_contract_specs(_bundled_text(), "bundled contracts.json")
    base = _load_cached(None)  # the bundled file is read and parsed once, not once per user file
    p = Path(path)
    if not p.is_file():
        raise ValidationError.for_field("contracts_path", f"no such file: {p}")
    user = parse_contract_specs(p.read_text("utf-8"), str(p))
    return {**base, **user}


def load_contract_specs(path: str | Path | None = None) -> dict[str, ContractSpec]:
    """Load contract specifications.

    Parameters
    ----------
    path : str or Path, optional
        A user's contracts file (same format as the bundled one). Its entries
        are added to the bundled ones and replace entries of the same symbol.

    Returns
    -------
    dict
        ``{symbol: ContractSpec}`` (a fresh dict; the parsed specs are cached).
    """
    if path is None:
        return dict(_load_cached(None))
    p = Path(path).resolve()
    mtime = p.stat().st_mtime_ns if p.is_file() else 0  # an edited file is read again
    return dict(_load_cached(str(p), mtime))


def clear_spec_cache() -> None:
    """Forget parsed contract files (after editing one on disk)."""
    _load_cached.cache_clear()


def get_contract_spec(symbol: str, path: str | Path | None = None) -> ContractSpec:
    """The specification of ``symbol`` (case-insensitive); NotFoundError if unknown."""
    specs = load_contract_specs(path)
    key = str(symbol).strip().upper()
    if key not in specs:
        raise NotFoundError(f"symbol: no contract specification for {symbol!r}; known: {', '.join(sorted(specs))}")
    return specs[key]


def spec_for_root(root: str, path: str | Path | None = None) -> ContractSpec | None:
    """The specification whose expiry series use OCC root ``root`` (or None)."""
    key = str(root).strip().upper()
    specs = load_contract_specs(path)
    if key in specs and key in specs[key].roots:
        return specs[key]
    for spec in specs.values():
        if key in spec.roots:
            return spec
    return None


# --------------------------------------------------------------------------- calendars


#: Calendars are built once, one at a time: concurrent quotes on a fresh process would
#: otherwise build the same calendar twice, and ``warnings.catch_warnings`` (below) is not
#: thread-safe - one thread leaving it restores the filters while another is still inside.
_CALENDAR_LOCK = threading.Lock()


def exchange_calendar(code: str) -> Any:
    """The ``exchange_calendars`` calendar for ``code`` (XNSE is served by XBOM); built once, thread-safe."""
    with _CALENDAR_LOCK:
        return _exchange_calendar(code)


@functools.lru_cache(maxsize=16)
def _exchange_calendar(code: str) -> Any:
    import exchange_calendars as xcals

    name = CALENDAR_ALIASES.get(code.upper(), code.upper())
    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.x reads Series.values of tz-aware data, which
            # pandas 3.1 deprecates; harmless for session dates.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cls = xcals.resolve_alias(name) if hasattr(xcals, "resolve_alias") else name
            try:
                return xcals.get_calendar(cls, start=_CAL_START, end=_CAL_END)
            except ValueError:
                # Precomputed calendars (XBOM) end where their holiday list ends.
                return xcals.get_calendar(cls, start=_CAL_START)
    except Exception:  # noqa: BLE001 - invalid names raise library-specific errors
        raise ValidationError.for_field("exchange_calendar", f"unknown exchange calendar {code!r}") from None


def as_timestamp(value: Any, fld: str, what: str = "timestamp") -> pd.Timestamp:
    """``pd.Timestamp(value)``; ValidationError on ``fld`` ("must be a <what>") if not one."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValidationError.for_field(fld, f"must be a {what}, got {value!r}") from None
    if pd.isna(ts):
        raise ValidationError.for_field(fld, f"must be a {what}, got {value!r}")
    return ts


def _to_date(value: Any, fld: str) -> dt.date:
    return as_timestamp(value, fld, "date").date()


def _sessions(spec: ContractSpec, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    cal = exchange_calendar(spec.exchange_calendar)
    first, last = cal.first_session.date(), cal.last_session.date()
    if start < first or end > last:
        raise DataError(
            f"{spec.exchange_calendar} calendar covers {first}..{last} only; "
            f"asked for {start}..{end} (update exchange-calendars for later years)"
        )
    return cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))


def _nominal_dates(series: ExpirySeries, start: dt.date, end: dt.date, sessions: pd.DatetimeIndex) -> list[dt.date]:
    """Nominal expiry dates of ``series`` in [start, end] before holiday rolls."""
    months = pd.period_range(pd.Timestamp(start).to_period("M"), pd.Timestamp(end).to_period("M"), freq="M")
    out: list[dt.date] = []
    if series.rule == "every_session":
        return [d.date() for d in sessions]
    if series.rule == "every_weekday":
        assert series.weekday is not None
        d = start + dt.timedelta(days=(series.weekday - start.weekday()) % 7)
        while d <= end:
            out.append(d)
            d += dt.timedelta(days=7)
        return out
    session_dates = np.array([d.date() for d in sessions], dtype=object)
    for m in months:
        first = dt.date(m.year, m.month, 1)
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        if series.rule == "nth_weekday":
            assert series.weekday is not None and series.nth is not None
            d = first + dt.timedelta(days=(series.weekday - first.weekday()) % 7 + 7 * (series.nth - 1))
            if d.month == m.month:
                out.append(d)
        elif series.rule == "last_weekday":
            assert series.weekday is not None
            out.append(last - dt.timedelta(days=(last.weekday() - series.weekday) % 7))
        elif series.rule in ("last_session_of_month", "last_session_of_quarter"):
            if series.rule == "last_session_of_quarter" and m.month % 3:
                continue
            in_month = [d for d in session_dates if first <= d <= last]
            if in_month:
                out.append(in_month[-1])
    return out


def _roll(d: dt.date, roll: str, session_set: set[dt.date], cal: Any) -> dt.date | None:
    if d in session_set:
        return d
    if roll == "none":
        return None
    ts = pd.Timestamp(d)
    try:
        if roll == "previous":
            return cal.date_to_session(ts, direction="previous").date()
        return cal.date_to_session(ts, direction="next").date()
    except Exception:  # noqa: BLE001 - out of the calendar's range
        return None


def listed_expiry_table(
    spec: ContractSpec,
    start: Any,
    end: Any,
    *,
    as_of: Any | None = None,
    series: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every listed expiry of ``spec`` in ``[start, end]``, one row per (date, root).

    Parameters
    ----------
    spec : ContractSpec
    start, end : date-like
        Inclusive range of expiry dates.
    as_of : date-like, optional
        When given, each series keeps only expiries within its
        ``listing_horizon_days`` of ``as_of`` (what the exchange has listed).
    series : iterable of str, optional
        Keep only these series names.

    Returns
    -------
    DataFrame
        Columns ``expiry`` (date), ``root``, ``series`` (comma-joined names),
        ``settlement`` ("AM"/"PM"), ``settles_at`` (tz-aware Timestamp),
        sorted by expiry then root.
    """
    d0, d1 = _to_date(start, "start"), _to_date(end, "end")
    if d1 < d0:
        raise ValidationError.for_field("end", f"must not be before start ({d0}), got {d1}")
    ref = None if as_of is None else _to_date(as_of, "as_of")
    wanted = None if series is None else set(series)
    # Pad the session window so holiday rolls across the range edge resolve.
    sessions = _sessions(spec, d0, d1)
    cal = exchange_calendar(spec.exchange_calendar)
    session_set = {d.date() for d in sessions}
    pad_lo, pad_hi = d0 - dt.timedelta(days=10), d1 + dt.timedelta(days=10)
    first, last = cal.first_session.date(), cal.last_session.date()
    wide = cal.sessions_in_range(pd.Timestamp(max(pad_lo, first)), pd.Timestamp(min(pad_hi, last)))
    wide_set = {d.date() for d in wide}
    rows: dict[tuple[dt.date, str], dict[str, Any]] = {}
    for s in spec.expiry_series:
        if wanted is not None and s.name not in wanted:
            continue
        for nominal in _nominal_dates(s, max(pad_lo, first), min(pad_hi, last), wide):
            if s.valid_from is not None and nominal < s.valid_from:
                continue
            if s.valid_until is not None and nominal > s.valid_until:
                continue
            if s.months and nominal.month not in s.months:
                continue
            d = _roll(nominal, s.holiday_roll, wide_set, cal)
            if d is None or not d0 <= d <= d1 or d not in session_set:
                continue
            if ref is not None:
                if d < ref:
                    continue
                if s.listing_horizon_days is not None and (d - ref).days > s.listing_horizon_days:
                    continue
            key = (d, s.root)
            if key in rows:
                rows[key]["series"].append(s.name)
                continue
            t = spec.settlement_times[s.settlement]
            rows[key] = {
                "expiry": d,
                "root": s.root,
                "series": [s.name],
                "settlement": s.settlement,
                "settles_at": pd.Timestamp(dt.datetime.combine(d, t), tz=spec.timezone),
            }
    table = pd.DataFrame(
        [{**r, "series": ",".join(r["series"])} for r in rows.values()],
        columns=["expiry", "root", "series", "settlement", "settles_at"],
    )
    return table.sort_values(["expiry", "root"], ignore_index=True)


def listed_expiries(
    spec: ContractSpec,
    start: Any,
    end: Any,
    *,
    as_of: Any | None = None,
    series: Iterable[str] | None = None,
) -> list[dt.date]:
    """Sorted distinct expiry dates of ``spec`` in ``[start, end]``.

    Trading days come from the exchange calendar; a nominal expiry on a
    holiday moves per the series' ``holiday_roll`` (see the module docstring).
    Example: the SPX monthly of April 2022 expires Thursday 2022-04-14 because
    Good Friday 2022-04-15 is an NYSE holiday. See :func:`listed_expiry_table`
    for the parameters.
    """
    table = listed_expiry_table(spec, start, end, as_of=as_of, series=series)
    return sorted(set(table["expiry"]))


def settlement_timestamp(spec: ContractSpec, expiry: Any, root: str | None = None) -> pd.Timestamp:
    """Tz-aware moment the option of ``root`` expiring on ``expiry`` settles."""
    d = _to_date(expiry, "expiry")
    return pd.Timestamp(dt.datetime.combine(d, spec.settlement_time(root)), tz=spec.timezone)


# --------------------------------------------------------------------------- strikes and ticks


def listed_strikes(
    spec: ContractSpec,
    around: float,
    *,
    width: float = 0.3,
    min_strike: float | None = None,
    max_strike: float | None = None,
) -> np.ndarray:
    """Listed strikes within ``around * (1 -/+ width)`` using the spec's bands.

    Strikes within band ``i`` (``|K / around - 1| <= max_moneyness``) are the
    multiples of that band's increment; outer bands are coarser.

    Parameters
    ----------
    spec : ContractSpec
    around : float
        Reference level (spot or forward) in underlying points.
    width : float
        Half-width of the strike range as a fraction of ``around``.

    Returns
    -------
    ndarray, shape (n,)
        Ascending strikes.
    """
    s = _positive(around, "around")
    w = _positive(width, "width")
    if w >= 1:
        raise ValidationError.for_field("width", f"must be below 1, got {width}")
    lo = s * (1 - w) if min_strike is None else max(float(min_strike), s * (1 - w))
    hi = s * (1 + w) if max_strike is None else min(float(max_strike), s * (1 + w))
    strikes: set[float] = set()
    inner = 0.0
    for band in spec.strike_bands:
        outer = w if band.max_moneyness is None else min(band.max_moneyness, w)
        inc = band.increment
        for a, b in ((s * (1 - outer), s * (1 - inner)), (s * (1 + inner), s * (1 + outer))):
            k0 = math.ceil(max(a, lo) / inc - 1e-9)
            k1 = math.floor(min(b, hi) / inc + 1e-9)
            for k in range(k0, k1 + 1):
                strikes.add(round(k * inc, 10))
        inner = outer
        if outer >= w:
            break
    return np.array(sorted(x for x in strikes if x > 0), dtype=float)


def tick_size(spec: ContractSpec, price: float) -> float:
    """Minimum price increment of a premium ``price`` under ``spec``."""
    for band in spec.tick_sizes:
        if band.below is None or price < band.below:
            return band.tick
    return spec.tick_sizes[-1].tick  # pragma: no cover - last band has below=None


def round_to_tick(spec: ContractSpec, price: Any, direction: Literal["nearest", "up", "down"] = "nearest") -> Any:
    """Round premiums to the spec's tick grid.

    Parameters
    ----------
    price : float or array_like
        Premium(s) in currency units per unit of underlying.
    direction : {"nearest", "up", "down"}
        ``"up"`` suits an ask, ``"down"`` a bid.

    Returns
    -------
    float or ndarray
        Rounded premium(s), never negative.
    """
    if direction not in ("nearest", "up", "down"):
        raise ValidationError.for_field("direction", f"must be nearest, up or down, got {direction!r}")
    arr = np.asarray(price, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field("price", "must be finite")
    if np.any(arr < 0):
        raise ValidationError.for_field("price", "must not be negative")
    ticks = np.vectorize(lambda p: tick_size(spec, float(p)), otypes=[float])(arr) if arr.size else arr
    q = arr / ticks if arr.size else arr
    fn = {"nearest": np.round, "up": np.ceil, "down": np.floor}[direction]
    out = np.round(fn(np.round(q, 9)) * ticks, 10) if arr.size else arr
    return float(out) if np.ndim(price) == 0 else out
