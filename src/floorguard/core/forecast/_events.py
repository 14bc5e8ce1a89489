r"""Event calendar: CSV and iCalendar import, shipped FOMC dates, expected moves.

The iCalendar reader handles the subset of RFC 5545 that calendar exports
use for dated events: line unfolding, ``BEGIN:VEVENT``/``END:VEVENT``,
``DTSTART`` (``VALUE=DATE``, floating, UTC ``Z`` and ``TZID=`` forms; the
calendar date as written is used), ``SUMMARY``, ``DESCRIPTION``,
``CATEGORIES`` and ``UID``, with text escapes (``\,``, ``\;``, ``\n``,
``\\``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike
from floorguard.exceptions import FieldError, ValidationError

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventMove",
    "classify_event",
    "expected_event_moves",
    "fomc_events",
    "parse_events_csv",
    "parse_ics",
]

#: Known event types; anything else is ``"other"``.
EVENT_TYPES = ("fomc", "cpi", "jobs", "earnings", "other")

_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "fomc",
        (
            "fomc",
            "federal open market",
            "fed rate decision",
            "fed decision",
            "interest rate decision",
        ),
    ),
    ("cpi", ("cpi", "consumer price")),
    (
        "jobs",
        (
            "nonfarm",
            "non-farm",
            "payroll",
            "employment situation",
            "jobs report",
            "unemployment rate",
        ),
    ),
    ("earnings", ("earnings", "quarterly results", "results call")),
)


@dataclass(frozen=True)
class Event:
    """One dated event.

    Attributes
    ----------
    date : datetime.date
    type : str
        One of :data:`EVENT_TYPES`.
    name : str
        Free text (summary).
    symbol : str or None
        Holding the event concerns (earnings), upper case.
    source : str
        Where it came from (``"csv"``, ``"ics"``, ``"federal_reserve"``).
    """

    date: dt.date
    type: str
    name: str
    symbol: str | None = None
    source: str = "csv"

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "type": self.type,
            "name": self.name,
            "symbol": self.symbol,
            "source": self.source,
        }


def classify_event(text: str) -> str:
    """Event type from free text (summary or category) by keyword, else ``"other"``."""
    low = text.lower()
    for kind, words in _KEYWORDS:
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", low) for w in words):
            return kind
    return "other"


def _parse_type(raw: str) -> str | None:
    t = raw.strip().lower()
    if t in EVENT_TYPES:
        return t
    guess = classify_event(t)
    return guess if guess != "other" or t == "" else None


def parse_events_csv(text: str | Iterable[str]) -> list[Event]:
    """Parse an events CSV.

    Columns (header required, case-insensitive): ``date`` (ISO ``YYYY-MM-DD``),
    ``type`` (fomc, cpi, jobs, earnings, other, or text that names one),
    optional ``name`` and ``symbol``. Lines starting with ``#`` are comments.

    Raises
    ------
    ValidationError
        Listing every bad row with its line number; nothing is returned then.
    """
    raw = text if isinstance(text, str) else "".join(text)
    lines = [ln for ln in raw.splitlines()]
    data_lines = [
        (i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not data_lines:
        raise ValidationError.for_field("events", "file is empty")
    header_line, header = data_lines[0]
    cols = [c.strip().lower() for c in next(csv.reader([header]))]
    missing = [c for c in ("date", "type") if c not in cols]
    if missing:
        raise ValidationError.for_field(
            "events", f"missing column(s): {', '.join(missing)}", header_line
        )
    errors: list[FieldError] = []
    events: list[Event] = []
    for lineno, ln in data_lines[1:]:
        row = next(csv.reader([ln]))
        rec = {c: (row[i].strip() if i < len(row) else "") for i, c in enumerate(cols)}
        try:
            day = dt.date.fromisoformat(rec["date"])
        except ValueError:
            errors.append(FieldError("date", f"must be YYYY-MM-DD, got {rec['date']!r}", lineno))
            continue
        kind = _parse_type(rec["type"])
        if kind is None:
            errors.append(
                FieldError(
                    "type", f"must be one of {', '.join(EVENT_TYPES)}, got {rec['type']!r}", lineno
                )
            )
            continue
        symbol = rec.get("symbol") or None
        events.append(
            Event(
                day, kind, rec.get("name") or rec["type"], symbol.upper() if symbol else None, "csv"
            )
        )
    if errors:
        raise ValidationError(f"{len(errors)} bad event row(s); first: {errors[0]}", errors=errors)
    return sorted(events, key=lambda e: (e.date, e.type))


def _unfold(text: str) -> list[str]:
    out: list[str] = []
    for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if ln.startswith((" ", "\t")) and out:
            out[-1] += ln[1:]
        else:
            out.append(ln)
    return out


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


_TICKER = re.compile(
    r"\(([A-Z][A-Z0-9.\-]{0,9})\)|^([A-Z][A-Z0-9.\-]{0,9})\s+(?:Q[1-4]\s+)?earnings", re.I
)


def parse_ics(text: str) -> list[Event]:
    """Parse the VEVENTs of an iCalendar (.ics) text.

    The type comes from ``CATEGORIES`` when it names a known type, else from
    keywords in ``SUMMARY``. For earnings the symbol is taken from
    ``(TICKER)`` in the summary or a leading ``TICKER earnings``.

    Raises
    ------
    ValidationError
        No ``VCALENDAR``, a VEVENT without a parseable ``DTSTART`` (with its line).
    """
    lines = _unfold(text)
    if not any(ln.strip().upper() == "BEGIN:VCALENDAR" for ln in lines):
        raise ValidationError.for_field("ics", "not an iCalendar file (no BEGIN:VCALENDAR)")
    events: list[Event] = []
    errors: list[FieldError] = []
    cur: dict[str, str] | None = None
    start_line = 0
    for i, ln in enumerate(lines, start=1):
        s = ln.strip()
        up = s.upper()
        if up == "BEGIN:VEVENT":
            cur, start_line = {}, i
            continue
        if up == "END:VEVENT":
            if cur is not None:
                ev = _event_from_props(cur)
                if isinstance(ev, str):
                    errors.append(FieldError("DTSTART", ev, start_line))
                else:
                    events.append(ev)
            cur = None
            continue
        if cur is None or ":" not in s:
            continue
        head, value = s.split(":", 1)
        name, *params = head.split(";")
        name = name.upper()
        if name == "DTSTART":
            cur["DTSTART"] = value.strip()
            cur["DTSTART_PARAMS"] = ";".join(params).upper()
        elif name in ("SUMMARY", "DESCRIPTION", "CATEGORIES", "UID"):
            cur[name] = _unescape(value)
    if errors:
        raise ValidationError(f"{len(errors)} bad VEVENT(s); first: {errors[0]}", errors=errors)
    return sorted(events, key=lambda e: (e.date, e.type))


def _event_from_props(p: dict[str, str]) -> Event | str:
    raw = p.get("DTSTART")
    if not raw:
        return "missing DTSTART"
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(T\d{6}Z?)?", raw)
    if not m:
        return f"unparseable DTSTART {raw!r}"
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return f"invalid date in DTSTART {raw!r}"
    summary = p.get("SUMMARY", "").strip()
    kind = "other"
    for cat in p.get("CATEGORIES", "").split(","):
        c = _parse_type(cat)
        if c and c != "other":
            kind = c
            break
    if kind == "other":
        kind = classify_event(summary + " " + p.get("DESCRIPTION", ""))
    symbol = None
    if kind == "earnings":
        t = _TICKER.search(summary)
        if t:
            symbol = (t.group(1) or t.group(2)).upper()
    return Event(day, kind, summary or kind, symbol, "ics")


def fomc_events(*, include_unscheduled: bool = True) -> list[Event]:
    """FOMC announcement dates 2000–2026 shipped with floorguard.

    Source: Board of Governors of the Federal Reserve System, FOMC meeting
    calendars and historical materials (federalreserve.gov). The date is the
    last day of the meeting, when the statement is released.
    """
    text = (resources.files("floorguard") / "data" / "fomc_dates.csv").read_text(encoding="utf-8")
    out = []
    for ln in text.splitlines():
        if not ln.strip() or ln.startswith("#") or ln.startswith("date,"):
            continue
        day, kind = ln.split(",")
        if kind == "unscheduled" and not include_unscheduled:
            continue
        name = "FOMC statement" if kind == "scheduled" else "FOMC unscheduled action"
        out.append(Event(dt.date.fromisoformat(day), "fomc", name, None, "federal_reserve"))
    return out


@dataclass(frozen=True)
class EventMove:
    """Historical absolute index move around one event type (estimates).

    Attributes
    ----------
    type : str
    n_events : int
        Events that fell on a trading day of the price history.
    mean_abs_move, median_abs_move : float
        Of the close-to-close return over the event window (decimal).
    baseline_mean_abs_move : float
        Mean absolute return of same-length windows on non-event days.
    ratio : float
        ``mean_abs_move / baseline_mean_abs_move``.
    p90_abs_move : float
    window_days : int
    """

    type: str
    n_events: int
    mean_abs_move: float
    median_abs_move: float
    p90_abs_move: float
    baseline_mean_abs_move: float
    ratio: float
    window_days: int
    label: str = "estimate (historical average)"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def expected_event_moves(
    dates: Sequence[Any],
    closes: ArrayLike,
    events: Sequence[Event],
    *,
    window_days: int = 1,
) -> dict[str, EventMove]:
    """Expected absolute index move per event type, from history.

    For an event on trading day ``t`` the move is ``close[t + w − 1] /
    close[t − 1] − 1`` (``w = window_days``): the reaction from the close
    before the event through the ``w``-th close. Events that do not fall on a
    trading day move to the next one.

    Parameters
    ----------
    dates : sequence of date-like, shape (T,)
        Trading days, increasing.
    closes : array_like, shape (T,)
        Index closes (> 0).
    events : sequence of Event
    window_days : int
        Closes in the reaction window (≥ 1).

    Returns
    -------
    dict of str to EventMove
        One entry per event type present with at least one usable event.
    """
    import pandas as pd

    px = np.asarray(closes, dtype=np.float64).reshape(-1)
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize()
    if idx.size != px.size:
        raise ValidationError.for_field("closes", f"has {px.size} values but dates has {idx.size}")
    if px.size < 30 or not np.all(np.isfinite(px)) or np.any(px <= 0):
        raise ValidationError.for_field("closes", "needs >= 30 finite positive closes")
    if not idx.is_monotonic_increasing:
        raise ValidationError.for_field("dates", "must be increasing")
    if int(window_days) != window_days or window_days < 1:
        raise ValidationError.for_field("window_days", "must be a whole number >= 1")
    w = int(window_days)
    t = px.size
    # move of a window starting at day i (needs i >= 1 and i + w - 1 < t)
    starts = np.arange(1, t - w + 1)
    moves = px[starts + w - 1] / px[starts - 1] - 1.0
    by_type: dict[str, set[int]] = {}
    for ev in events:
        pos = int(idx.searchsorted(pd.Timestamp(ev.date)))
        if 1 <= pos <= t - w:
            by_type.setdefault(ev.type, set()).add(pos)
    all_event_pos = set().union(*by_type.values()) if by_type else set()
    base_mask = np.ones(starts.size, dtype=bool)
    for pos in all_event_pos:
        base_mask[pos - 1] = False
    baseline = float(np.mean(np.abs(moves[base_mask]))) if base_mask.any() else float("nan")
    out: dict[str, EventMove] = {}
    for kind, positions in sorted(by_type.items()):
        m = np.abs(moves[np.array(sorted(positions)) - 1])
        out[kind] = EventMove(
            type=kind,
            n_events=int(m.size),
            mean_abs_move=float(m.mean()),
            median_abs_move=float(np.median(m)),
            p90_abs_move=float(np.quantile(m, 0.9)),
            baseline_mean_abs_move=baseline,
            ratio=float(m.mean() / baseline) if baseline > 0 else float("nan"),
            window_days=w,
        )
    return out
