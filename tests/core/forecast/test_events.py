"""Event calendar import (CSV, iCalendar per RFC 5545), shipped FOMC dates, expected moves.

The expected-move kernel is checked against a direct pandas computation on the
bundled S&P 500 (exact to 1e-12) and on synthetic data with known event moves.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from floorguard.core.forecast import (
    Event,
    classify_event,
    expected_event_moves,
    fomc_events,
    parse_events_csv,
    parse_ics,
)
from floorguard.exceptions import ValidationError

ICS = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        "UID:1@x",
        "DTSTART;VALUE=DATE:20240918",
        "SUMMARY:FOMC Meeting\\, rate deci",
        " sion",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:2@x",
        "DTSTART;TZID=America/New_York:20240911T083000",
        "SUMMARY:US Consumer Price Index (CPI)",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:3@x",
        "DTSTART:20241101T123000Z",
        "SUMMARY:Employment Situation",
        "CATEGORIES:Jobs,Macro",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:4@x",
        "DTSTART:20241030",
        "SUMMARY:Microsoft (MSFT) Q1 earnings",
        "DESCRIPTION:After close\\nconference call",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:5@x",
        "DTSTART:20241225",
        "SUMMARY:Holiday",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


def test_parse_ics_subset():
    ev = parse_ics(ICS)
    assert [(e.date.isoformat(), e.type) for e in ev] == [
        ("2024-09-11", "cpi"),
        ("2024-09-18", "fomc"),
        ("2024-10-30", "earnings"),
        ("2024-11-01", "jobs"),
        ("2024-12-25", "other"),
    ]
    fomc = ev[1]
    assert fomc.name == "FOMC Meeting, rate decision"  # unfolded and unescaped
    assert ev[2].symbol == "MSFT"
    assert all(e.source == "ics" for e in ev)


def test_parse_ics_errors():
    with pytest.raises(ValidationError, match="iCalendar"):
        parse_ics("hello")
    bad = "\n".join(
        ["BEGIN:VCALENDAR", "BEGIN:VEVENT", "SUMMARY:CPI", "END:VEVENT", "BEGIN:VEVENT"]
        + ["DTSTART:2024-13-01", "END:VEVENT", "END:VCALENDAR", ""]
    )
    with pytest.raises(ValidationError) as exc:
        parse_ics(bad)
    assert [e.line for e in exc.value.errors] == [2, 5]


def test_parse_events_csv():
    text = (
        "# my calendar\ndate,type,name,symbol\n2024-09-18,FOMC,Fed,\n"
        "2024-10-30,earnings,MSFT Q1,msft\n2024-11-01,Nonfarm payrolls,,\n"
    )
    ev = parse_events_csv(text)
    assert [(e.type, e.symbol) for e in ev] == [
        ("fomc", None),
        ("earnings", "MSFT"),
        ("jobs", None),
    ]
    with pytest.raises(ValidationError) as exc:
        parse_events_csv("date,type\n2024-01-02,cpi\n2024-02-30,cpi\n2024-03-01,wedding\n")
    assert [(e.field, e.line) for e in exc.value.errors] == [("date", 3), ("type", 4)]
    with pytest.raises(ValidationError, match="type"):
        parse_events_csv("date,name\n2024-01-01,x\n")


def test_classify_event():
    assert classify_event("FOMC statement") == "fomc"
    assert classify_event("CPI m/m") == "cpi"
    assert classify_event("Nonfarm payrolls") == "jobs"
    assert classify_event("AAPL earnings call") == "earnings"
    assert classify_event("Picnic") == "other"


def test_shipped_fomc_dates():
    ev = fomc_events()
    dates = {e.date for e in ev}
    assert min(dates).year == 2000 and max(dates).year == 2026
    # well-known decisions (Federal Reserve press releases)
    for d in ("2008-12-16", "2015-12-16", "2020-03-15", "2022-06-15", "2024-09-18"):
        assert dt.date.fromisoformat(d) in dates
    sched = fomc_events(include_unscheduled=False)
    per_year = pd.Series([e.date.year for e in sched]).value_counts()
    assert (per_year.drop(2020) == 8).all() and per_year[2020] == 7
    assert all(e.type == "fomc" and e.source == "federal_reserve" for e in ev)


def test_expected_moves_match_direct_pandas_on_bundled_spx():
    from floorguard.marketdata import BundledSource

    px = BundledSource().closes("SPX").loc["2000":"2022"]
    ev = fomc_events(include_unscheduled=False)
    res = expected_event_moves(px.index, px.to_numpy(), ev)["fomc"]
    ret = px.pct_change()
    pos = [px.index.searchsorted(pd.Timestamp(e.date)) for e in ev]
    pos = sorted({p for p in pos if 1 <= p < len(px)})
    ref = ret.iloc[pos].abs()
    assert res.n_events == len(pos) > 170
    assert res.mean_abs_move == pytest.approx(float(ref.mean()), rel=1e-12)
    assert res.median_abs_move == pytest.approx(float(ref.median()), rel=1e-12)
    base = ret.drop(ret.index[pos]).iloc[1:].abs().mean()
    assert res.baseline_mean_abs_move == pytest.approx(float(base), rel=1e-12)


def test_expected_moves_synthetic():
    idx = pd.bdate_range("2020-01-01", periods=200)
    rets = np.full(200, 0.001)
    rets[[50, 100, 150]] = [-0.03, 0.03, -0.03]
    px = 100 * np.cumprod(1 + rets)
    events = [Event(idx[i].date(), "cpi", "CPI") for i in (50, 100, 150)]
    events.append(
        Event(dt.date(2020, 1, 4), "jobs", "weekend")
    )  # Saturday -> next trading day (index 3)
    m = expected_event_moves(idx, px, events)
    assert m["cpi"].mean_abs_move == pytest.approx(0.03)
    assert m["cpi"].ratio == pytest.approx(30.0)
    assert m["jobs"].n_events == 1 and m["jobs"].mean_abs_move == pytest.approx(0.001)
    m2 = expected_event_moves(idx, px, events, window_days=2)
    assert m2["cpi"].mean_abs_move == pytest.approx(
        np.mean([abs(0.97 * 1.001 - 1), 1.03 * 1.001 - 1, abs(0.97 * 1.001 - 1)])
    )
    with pytest.raises(ValidationError, match="closes"):
        expected_event_moves(idx, px[:10], events)
