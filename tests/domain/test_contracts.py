"""Contract specifications and expiry calendars.

Holiday facts are checked against exchange_calendars itself (not a hand list),
and listed expiries against the real CBOE SPX chain of 2022-02-04.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from floorguard.domain.contracts import (
    exchange_calendar,
    get_contract_spec,
    listed_expiries,
    listed_expiry_table,
    listed_strikes,
    load_contract_specs,
    round_to_tick,
    settlement_timestamp,
    spec_for_root,
)
from floorguard.exceptions import DataError, NotFoundError, ValidationError

D = dt.date


def test_bundled_specs_cover_the_products() -> None:
    specs = load_contract_specs()
    assert {"SPX", "SPXW", "XSP", "SPY", "NDX", "NIFTY", "BANKNIFTY"} <= set(specs)
    spx, spy, xsp = specs["SPX"], specs["SPY"], specs["XSP"]
    assert (spx.style, spx.settlement_type, spx.multiplier) == ("european", "cash", 100)
    assert (spy.style, spy.settlement_type, spy.multiplier) == ("american", "physical", 100)
    assert xsp.index_ratio == pytest.approx(0.1) and xsp.underlying_index == "SPX"
    assert spy.index_ratio == pytest.approx(0.1) and spy.index_ratio_exact is False
    assert specs["NIFTY"].currency == "INR" and specs["NIFTY"].lot_size > 1
    assert specs["NIFTY"].contract_size == specs["NIFTY"].lot_size * specs["NIFTY"].multiplier
    assert specs["SPX"].settlement_time("SPX") == dt.time(9, 30)  # AM settled
    assert specs["SPXW"].settlement_time("SPXW") == dt.time(16, 0)  # PM settled
    assert spec_for_root("SPXW").symbol == "SPXW"
    assert spec_for_root("NDXP").symbol == "NDX"
    assert spec_for_root("ZZZZ") is None


def test_unknown_symbol() -> None:
    with pytest.raises(NotFoundError, match="ZZZ"):
        get_contract_spec("ZZZ")


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    base = json.loads((Path(__file__).parents[2] / "src/floorguard/data/contracts.json").read_text())
    spy = next(c for c in base["contracts"] if c["symbol"] == "SPY")
    qqq = {**spy, "symbol": "QQQ", "underlying": "QQQ", "underlying_index": "NDX", "index_ratio": 0.025}
    qqq["expiry_series"] = [{**s, "root": "QQQ"} for s in spy["expiry_series"]]
    spx = next(c for c in base["contracts"] if c["symbol"] == "SPX")
    p = tmp_path / "mine.json"
    p.write_text(json.dumps({"contracts": [qqq, {**spx, "lot_size": 2}]}))
    specs = load_contract_specs(p)
    assert specs["QQQ"].style == "american"
    assert specs["SPX"].lot_size == 2  # user entry replaces the bundled one
    assert specs["NIFTY"].symbol == "NIFTY"  # bundled entries remain
    assert get_contract_spec("qqq", p).underlying == "QQQ"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"style": "bermudan"}, "contracts.0.style"),
        ({"multiplier": -1}, "contracts.0.multiplier"),
        ({"timezone": "Mars/Olympus"}, "contracts.0.timezone"),
        ({"strike_bands": [{"max_moneyness": 0.1, "increment": 5}]}, "contracts.0.strike_bands"),
        ({"expiry_series": [{"rule": "nth_weekday", "weekday": "FRI", "nth": 9}]}, "contracts.0.expiry_series.0.nth"),
        ({"expiry_series": [{"rule": "every_fortnight"}]}, "contracts.0.expiry_series.0.rule"),
    ],
)
def test_bad_user_file_names_the_field(tmp_path: Path, patch: dict, field: str) -> None:
    base = json.loads((Path(__file__).parents[2] / "src/floorguard/data/contracts.json").read_text())
    entry = {**base["contracts"][0], **patch}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"contracts": [entry]}))
    with pytest.raises(ValidationError) as err:
        load_contract_specs(p)
    assert err.value.errors[0].field == field


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{\n  nope")
    with pytest.raises(ValidationError) as err:
        load_contract_specs(p)
    assert err.value.errors[0].line == 2
    with pytest.raises(ValidationError, match="no such file"):
        load_contract_specs(tmp_path / "missing.json")


def test_good_friday_2022_moves_the_spx_monthly_to_thursday() -> None:
    xnys = exchange_calendar("XNYS")
    # The rule's premise, from exchange_calendars: Good Friday is an NYSE holiday.
    assert not xnys.is_session("2022-04-15")
    assert xnys.is_session("2022-04-14")
    spx = get_contract_spec("SPX")
    april = listed_expiries(spx, "2022-04-01", "2022-04-30")
    assert april == [D(2022, 4, 14)]
    assert settlement_timestamp(spx, D(2022, 4, 14)).isoformat() == "2022-04-14T09:30:00-04:00"


def test_spx_monthlies_are_third_fridays() -> None:
    spx = get_contract_spec("SPX")
    got = listed_expiries(spx, "2023-01-01", "2023-12-31")
    assert len(got) == 12
    for d in got:
        assert d.weekday() == 4 and 15 <= d.day <= 21


@pytest.mark.shared_data
def test_spxw_listed_expiries_match_the_real_chain(spx_chain_file: Path) -> None:
    """Weeklies listed on 2022-02-04 out to 2022-03-07, read from the real file.

    Monday 2022-02-21 (Presidents' Day) moves to Tuesday 2022-02-22: CBOE's
    Monday weeklies roll forward, Friday/Wednesday ones back.
    """
    import pandas as pd

    raw = pd.read_csv(spx_chain_file, skiprows=3, usecols=[0, 1])
    raw.columns = ["expiry", "symbol"]
    spxw = raw[raw["symbol"].str.startswith("SPXW")]
    in_file = sorted({pd.Timestamp(e).date() for e in spxw["expiry"]})
    near = [d for d in in_file if d <= D(2022, 3, 7)]
    calc = listed_expiries(get_contract_spec("SPXW"), "2022-02-05", "2022-03-07", as_of="2022-02-04")
    assert calc == near
    assert D(2022, 2, 22) in calc and D(2022, 2, 21) not in calc
    # Every SPXW expiry in the file is a calendar expiry (no listing horizon).
    allc = set(listed_expiries(get_contract_spec("SPXW"), "2022-02-05", "2022-12-31"))
    assert set(in_file) <= allc
    # SPX monthlies (AM) in the file are third Fridays or their holiday moves.
    spx = raw[raw["symbol"].str.match(r"^SPX\d")]
    spx_dates = sorted({pd.Timestamp(e).date() for e in spx["expiry"]})
    assert set(spx_dates) <= set(listed_expiries(get_contract_spec("SPX"), "2022-02-05", "2026-12-31"))


@pytest.mark.shared_data
def test_spy_listed_expiries_match_the_real_chain(spy_chain_file_may: Path) -> None:
    import pandas as pd

    raw = pd.read_csv(spy_chain_file_may, skiprows=3, usecols=[0])
    in_file = sorted({pd.Timestamp(e).date() for e in raw.iloc[:, 0]})
    calc = listed_expiries(get_contract_spec("SPY"), "2025-05-01", "2025-05-30", as_of="2025-05-01")
    assert calc == in_file


def test_nse_expiry_weekday_and_holiday_roll() -> None:
    nifty = get_contract_spec("NIFTY")
    xnse = exchange_calendar("XNSE")
    # Weekly expiry moved from Thursday to Tuesday from September 2025 (NSE circular).
    aug = listed_expiries(nifty, "2025-08-01", "2025-08-31")
    assert [d.weekday() for d in aug] == [3, 3, 3, 3]
    octo = listed_expiries(nifty, "2025-10-01", "2025-10-31")
    # 2025-10-21 (Diwali) is an NSE holiday per exchange_calendars: that
    # Tuesday's expiry moves to the previous trading day, Monday 2025-10-20.
    assert not xnse.is_session("2025-10-21")
    assert D(2025, 10, 20) in octo and D(2025, 10, 21) not in octo
    assert all(d.weekday() == 1 for d in octo if d != D(2025, 10, 20))
    # Monthly = last Tuesday of the month.
    monthly = listed_expiries(nifty, "2025-09-01", "2025-12-31", series=["monthly"])
    assert monthly == [D(2025, 9, 30), D(2025, 10, 28), D(2025, 11, 25), D(2025, 12, 30)]
    bank = listed_expiries(get_contract_spec("BANKNIFTY"), "2025-09-01", "2025-12-31")
    assert bank == monthly  # BANKNIFTY: monthly only, same last-Tuesday rule


def test_listing_horizon_and_table_columns() -> None:
    spxw = get_contract_spec("SPXW")
    t = listed_expiry_table(spxw, "2022-02-05", "2022-12-31", as_of="2022-02-04")
    assert list(t.columns) == ["expiry", "root", "series", "settlement", "settles_at"]
    far = t[t["expiry"] > D(2022, 4, 1)]
    # far out, only end-of-month and monthly PM series are listed
    assert set(far["series"].str.split(",").explode()) <= {"end_of_month", "monthly_pm", "weekly_fri"}
    assert all(ts.tzinfo is not None for ts in t["settles_at"])


def test_calendar_bounds_and_bad_dates() -> None:
    with pytest.raises(DataError, match="XNSE calendar covers"):
        listed_expiries(get_contract_spec("NIFTY"), "2026-12-01", "2027-12-31")
    with pytest.raises(ValidationError, match="end"):
        listed_expiries(get_contract_spec("SPX"), "2022-05-01", "2022-04-01")
    with pytest.raises(ValidationError, match="start"):
        listed_expiries(get_contract_spec("SPX"), "not a date", "2022-04-01")


def test_listed_strikes_follow_the_bands() -> None:
    spx = get_contract_spec("SPX")
    k = listed_strikes(spx, 4500.0, width=0.5)
    assert np.all(np.diff(k) > 0)
    near = k[(k > 4500 * 0.86) & (k < 4500 * 1.14)]
    assert set(np.diff(near)) == {5.0}
    assert np.all(k[k < 4500 * 0.55] % 100 == 0)
    # The real chain lists 5-point strikes from 3800 to 5150 on the 2022-03-18 monthly.
    assert {3850.0, 4500.0, 5100.0} <= set(k)
    nifty = listed_strikes(get_contract_spec("NIFTY"), 24_987.0, width=0.05)
    assert np.all(nifty % 50 == 0) and nifty.min() >= 24_987 * 0.95
    with pytest.raises(ValidationError, match="width"):
        listed_strikes(spx, 4500.0, width=1.5)
    with pytest.raises(ValidationError, match="around"):
        listed_strikes(spx, -1.0)


def test_round_to_tick() -> None:
    spx, spy = get_contract_spec("SPX"), get_contract_spec("SPY")
    # SPX: 0.05 below 3.00, 0.10 from 3.00 (CBOE SPX tick table).
    np.testing.assert_allclose(round_to_tick(spx, [2.97, 3.03, 10.07]), [2.95, 3.0, 10.1])
    assert round_to_tick(spx, 2.91, "up") == pytest.approx(2.95)
    assert round_to_tick(spx, 12.39, "down") == pytest.approx(12.3)
    assert round_to_tick(spy, 1.234, "up") == pytest.approx(1.24)
    assert isinstance(round_to_tick(spy, 1.0), float)
    with pytest.raises(ValidationError, match="price"):
        round_to_tick(spx, -1.0)
    with pytest.raises(ValidationError, match="direction"):
        round_to_tick(spx, 1.0, "sideways")  # type: ignore[arg-type]
