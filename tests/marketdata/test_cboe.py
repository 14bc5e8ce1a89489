"""The CBOE delayed-quotes CSV reader on small fixtures written here."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from floorguard.domain.chains import occ_symbol, parse_occ_symbol
from floorguard.exceptions import DataError, ValidationError
from floorguard.marketdata.cboe import parse_cboe_date, read_cboe_csv

HEADER = (
    "Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,"
    "Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest"
)
SPX_2022 = f"""
Standard & Poors 500 Index,Last: 4500.5298,Change:  23.0898
"Date: February 5 2022, 8:09 PM EST",Bid: 4420.5,Ask: 4615.4302,Size: 1*1,Volume: 0
{HEADER}
Mon Feb 07 2022,SPXW220207C04500000,20.5,3.1,21.4,21.9,1520,0.2531,0.4594,0.0053,2301,4500.00,SPXW220207P04500000,27.0,-5.2,26.1,26.5,2210,0.08,-0.5406,0.0053,4120
Fri Mar 18 2022,SPX220318C04300000,284.1,27.95,253.7,258.5,422,0.2806,0.709,0.0009,48867,4300.00,SPX220318P04300000,67.1,-10.75,68.7,69.7,3030,0.227,-0.2904,0.0009,62463
Fri Mar 18 2022,SPXW220318C04300000,272.89,0,255.4,258.6,0,0.2812,0.708,0.0009,127,4300.00,SPXW220318P04300000,68.47,-9.83,69.9,70.6,46,0.228,-0.2914,0.0009,1860
"""
SPY_2025 = f"""SPDR S&P 500 ETF Trust,Last: 557.65,Change:  3.93
"Date: September 1, 2025 at 6:50 PM EDT",Bid: 557.55,Ask: 557.62,Size: 7*1,"Volume: 60,477,472"
{HEADER}
Fri Sep 05 2025,SPY250905C00560000,3.1,0.5,3.05,3.10,"12,345",0.1321,0.4123,0.041,"20,001",560.00,SPY250905P00560000,4.9,-0.4,4.85,4.92,8000,0.1402,-0.5877,0.041,15000
Fri Sep 19 2025,SPY250919C00560000,6.1,0.5,6.05,6.12,100,0.1421,0.4523,0.021,200,560.00,SPY250919P00560000,7.9,-0.4,7.85,7.95,90,0.1502,-0.5477,0.021,300
"""


def test_both_date_dialects() -> None:
    a = parse_cboe_date("Date: February 5 2022, 8:09 PM EST")
    b = parse_cboe_date("Date: September 1, 2025 at 6:50 PM EDT")
    assert a == pd.Timestamp("2022-02-05 20:09", tz="America/New_York")
    assert b == pd.Timestamp("2025-09-01 18:50", tz="America/New_York")
    assert a.utcoffset().total_seconds() == -5 * 3600 and b.utcoffset().total_seconds() == -4 * 3600
    assert parse_cboe_date("Date: May 1, 2025 at 12:05 AM EDT").hour == 0
    with pytest.raises(ValidationError, match="Date"):
        parse_cboe_date("Date: yesterday")
    with pytest.raises(ValidationError, match="time zone"):
        parse_cboe_date("Date: May 1, 2025 at 4:49 PM XYZ")


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("SPXW220207P02400000", ("SPXW", "2022-02-07", "put", 2400.0)),
        ("SPX220318C04300000", ("SPX", "2022-03-18", "call", 4300.0)),
        ("SPY250501C00557500", ("SPY", "2025-05-01", "call", 557.5)),
        ("NDXP251219P21000000", ("NDXP", "2025-12-19", "put", 21000.0)),
    ],
)
def test_occ_symbols_decode_and_round_trip(symbol: str, expected: tuple) -> None:
    root, d, kind, k = parse_occ_symbol(symbol)
    assert (root, d.isoformat(), kind, k) == expected
    assert occ_symbol(root, d, kind, k) == symbol


@pytest.mark.parametrize("bad", ["SPX", "SPXW2202X7P02400000", "SPXW221307P02400000", "SPXW220207Q02400000"])
def test_bad_occ_symbols(bad: str) -> None:
    with pytest.raises(ValidationError, match="symbol"):
        parse_occ_symbol(bad)


def test_reads_the_2022_dialect() -> None:
    chain = read_cboe_csv(io.StringIO(SPX_2022))
    assert chain.underlying == "SPX" and chain.source == "cboe_csv" and not chain.synthetic
    assert chain.spot == pytest.approx(4500.5298)  # header Last, not the wide bid/ask
    assert "Last" in chain.spot_note and "4420.5" in chain.spot_note
    assert chain.as_of == pd.Timestamp("2022-02-05 20:09", tz="America/New_York")
    # Saturday evening download: valued at Friday's close.
    assert chain.valuation_time == pd.Timestamp("2022-02-04 16:00", tz="America/New_York")
    q = chain.quotes
    assert len(q) == 6 and set(q["kind"]) == {"call", "put"}
    assert list(q.columns[:12]) == [
        "expiry", "strike", "kind", "bid", "ask", "last", "volume", "open_interest", "iv", "delta", "gamma", "symbol",
    ]
    row = q[(q["symbol"] == "SPX220318P04300000")].iloc[0]
    assert (row["bid"], row["ask"], row["iv"], row["delta"], row["open_interest"]) == (68.7, 69.7, 0.227, -0.2904, 62463)
    assert row["root"] == "SPX" and row["expiry"] == pd.Timestamp("2022-03-18")
    assert chain.expiries() == [pd.Timestamp("2022-02-07").date(), pd.Timestamp("2022-03-18").date()]
    # AM-settled SPX settles at 09:30 on expiry; PM SPXW at 16:00: t differs by 6.5 hours.
    t_am = chain.t_years("2022-03-18", root="SPX")
    t_pm = chain.t_years("2022-03-18", root="SPXW")
    assert (t_pm - t_am) * 365 * 24 == pytest.approx(6.5)
    # ACT/365F from Fri 16:00 to Mon 16:00 = 3 days.
    assert chain.t_years("2022-02-07") == pytest.approx(3 / 365)


def test_reads_the_2025_dialect_and_thousands_separators() -> None:
    chain = read_cboe_csv(io.BytesIO(SPY_2025.encode()))
    assert chain.underlying == "SPY" and chain.style == "american"
    assert chain.as_of.tz is not None and chain.as_of.hour == 18
    c = chain.quotes[chain.quotes["kind"] == "call"].iloc[0]
    assert c["volume"] == 12345 and c["open_interest"] == 20001
    np.testing.assert_allclose(chain.mid().iloc[:2], [3.075, 4.885])


def test_read_from_path(tmp_path: Path) -> None:
    p = tmp_path / "spx.csv"
    p.write_text(SPX_2022)
    assert len(read_cboe_csv(p).quotes) == 6
    with pytest.raises(ValidationError, match="no such file"):
        read_cboe_csv(tmp_path / "nope.csv")


def _lines(text: str) -> list[str]:
    return text.strip("\n").split("\n")


@pytest.mark.parametrize(
    ("mutate", "field", "line"),
    [
        (lambda L: [L[0].replace("Last: 4500.5298", "Last: abc"), *L[1:]], "Last", 1),
        (lambda L: [L[0].replace("Last: 4500.5298,", ""), *L[1:]], "Last", 1),
        (lambda L: [L[0], L[1].replace("Date: February 5 2022, 8:09 PM EST", "When: now"), *L[2:]], "Date", 2),
        (lambda L: [L[0], L[1], L[2].replace("Strike", "Strik"), *L[3:]], "columns", 3),
        (lambda L: [*L[:3], L[3].replace(",21.4,", ",x,"), *L[4:]], "Calls.Bid", 4),
        (lambda L: [*L[:3], L[3].replace("Mon Feb 07 2022", "2022-02-07"), *L[4:]], "Expiration Date", 4),
        (lambda L: [*L[:3], L[3].replace("SPXW220207P04500000", "SPXW220208P04500000"), *L[4:]], "Puts", 4),
        (lambda L: [*L[:3], L[3].replace("SPXW220207C04500000", "GARBAGE"), *L[4:]], "Calls", 4),
        (lambda L: [*L[:4], L[4].rsplit(",", 3)[0], *L[5:]], "row", 5),
        (lambda L: [*L[:4], L[4].replace(",253.7,", ",-253.7,"), *L[5:]], "Calls.Bid", 5),
    ],
)
def test_bad_files_name_line_and_field(mutate, field: str, line: int) -> None:
    text = "\n".join(mutate(_lines(SPX_2022)))
    with pytest.raises(ValidationError) as err:
        read_cboe_csv(io.StringIO(text))
    first = err.value.errors[0]
    assert first.field == field, err.value
    assert first.line == line
    assert f"line {line}" in str(err.value)


def test_empty_and_truncated_files() -> None:
    with pytest.raises(DataError, match="no quote rows"):
        read_cboe_csv(io.StringIO("\n".join(_lines(SPX_2022)[:3])))
    with pytest.raises(ValidationError, match="header"):
        read_cboe_csv(io.StringIO("just one line\n"))
    with pytest.raises(ValidationError, match="UTF-8"):
        read_cboe_csv(io.BytesIO(b"\xff\xfe\x00bad"))


def test_pre_open_file_uses_previous_close() -> None:
    text = SPY_2025.replace("September 1, 2025 at 6:50 PM EDT", "September 3, 2025 at 9:24 AM EDT")
    chain = read_cboe_csv(io.StringIO(text))
    assert chain.spot == pytest.approx(557.65 - 3.93)
    assert "previous close" in chain.spot_note
    assert chain.valuation_time == pd.Timestamp("2025-09-02 16:00", tz="America/New_York")


def test_user_contracts_file_supplies_the_spec(tmp_path: Path) -> None:
    import json

    base = json.loads((Path(__file__).parents[2] / "src/floorguard/data/contracts.json").read_text())
    spy = next(c for c in base["contracts"] if c["symbol"] == "SPY")
    qqq = {**spy, "symbol": "QQQ", "underlying": "QQQ", "underlying_index": "NDX", "index_ratio": 0.025}
    qqq["expiry_series"] = [{**s, "root": "QQQ"} for s in spy["expiry_series"]]
    user = tmp_path / "contracts.json"
    user.write_text(json.dumps({"contracts": [qqq]}))
    text = SPY_2025.replace("SPY25", "QQQ25").replace("SPDR S&P 500 ETF Trust", "Invesco QQQ Trust")
    without = read_cboe_csv(io.StringIO(text))
    assert without.spec is None and without.underlying == "QQQ" and any("no contract specification" in n for n in without.notes)
    chain = read_cboe_csv(io.StringIO(text), contracts_path=user)
    assert chain.spec is not None and chain.spec.symbol == "QQQ" and chain.style == "american"


def test_fast_path_equals_the_reference_parser() -> None:
    """The pandas fast path and the line-by-line reference give the same chain."""
    for text in (SPX_2022, SPY_2025):
        fast = read_cboe_csv(io.StringIO(text))
        ref = read_cboe_csv(io.StringIO(text), fast=False)
        pd.testing.assert_frame_equal(fast.quotes, ref.quotes)
    # Problems the fast path declines are reported by the reference parser.
    with pytest.raises(ValidationError, match="must be finite"):
        read_cboe_csv(io.StringIO(SPX_2022.replace(",21.4,", ",inf,")))


@pytest.mark.shared_data
def test_fast_path_equals_the_reference_on_real_files(shared_chains_dir: Path) -> None:
    for name in ("spx_2022-02-04.csv", "spy_2025-05-01.csv", "spy_2025-09-03.csv"):
        fast = read_cboe_csv(shared_chains_dir / name)
        ref = read_cboe_csv(shared_chains_dir / name, fast=False)
        pd.testing.assert_frame_equal(fast.quotes, ref.quotes)
        assert fast.spot == ref.spot and fast.as_of == ref.as_of


def test_docstring_examples() -> None:
    import doctest

    import floorguard.domain.chains as chains_mod
    import floorguard.marketdata.cboe as cboe_mod

    for mod in (cboe_mod, chains_mod):
        result = doctest.testmod(mod)
        assert result.attempted >= 1 and result.failed == 0
