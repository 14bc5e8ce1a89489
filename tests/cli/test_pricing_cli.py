"""CLI: ``price``, ``iv``, ``chain import``, ``chain surface``.

Reference values: Hull, *Options, Futures, and Other Derivatives* (8th ed.),
Example 15.6: S=42, K=40, r=10 %, sigma=20 %, T=0.5 -> call 4.76, put 0.81
(printed to 2 decimals; tolerance 5e-3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app, main

runner = CliRunner()

HULL = ["--spot", "42", "--strike", "40", "--expiry-years", "0.5", "--rate", "0.1"]
HEADER = (
    "Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,"
    "Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest"
)


def _json(args: list[str]) -> dict:
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_price_hull_example_15_6() -> None:
    call = _json(["price", "--kind", "call", *HULL, "--vol", "0.2", "--json"])
    put = _json(["price", "--kind", "put", *HULL, "--vol", "0.2", "--json"])
    assert call["price"] == pytest.approx(4.76, abs=5e-3)
    assert put["price"] == pytest.approx(0.81, abs=5e-3)
    assert set(put["greeks"]) >= {"delta", "gamma", "vega", "theta", "rho"}
    assert call["greeks"]["delta"] - put["greeks"]["delta"] == pytest.approx(1.0, abs=1e-12)  # q = 0


def test_price_american_put_has_nonnegative_premium() -> None:
    am = _json(["price", "--kind", "put", *HULL, "--vol", "0.2", "--style", "american", "--json"])
    eu = _json(["price", "--kind", "put", *HULL, "--vol", "0.2", "--json"])
    assert am["price"] >= eu["price"]
    assert am["early_exercise_premium"] == pytest.approx(am["price"] - eu["price"])


def test_iv_round_trip_and_reason() -> None:
    put = _json(["price", "--kind", "put", *HULL, "--vol", "0.2", "--dividend", "0.03", "--json"])
    iv = _json(["iv", "--kind", "put", "--price", repr(put["price"]), *HULL, "--dividend", "0.03", "--json"])
    assert iv["implied_vol"] == pytest.approx(0.2, abs=1e-10) and iv["reason"] == "ok"
    bad = _json(["iv", "--kind", "call", "--price", "50", *HULL, "--json"])  # above S e^{-qT}
    assert bad["implied_vol"] is None and bad["reason"] == "above_upper_bound"
    human = runner.invoke(build_app(), ["iv", "--kind", "call", "--price", "50", *HULL])
    assert "no implied vol: above_upper_bound" in human.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["price", "--kind", "straddle", *HULL, "--vol", "0.2"], "kind"),
        (["price", "--kind", "put", *HULL, "--vol", "-0.2"], "vol"),
        (["price", "--kind", "put", *HULL, "--vol", "0.2", "--style", "bermudan"], "style"),
        (["iv", "--kind", "put", "--price", "-1", *HULL], "price"),
        (["price", "--kind", "put", "--spot", "abc", "--strike", "40", "--expiry-years", "1", "--rate", "0", "--vol", "0.2"], "spot"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and needle in err


def _write_cboe(path: Path, rows: list[str]) -> Path:
    """Write a CBOE delayed-quotes file (SPX at 4500, 2022-03-01 17:00 EST) with ``rows``."""
    path.write_text(
        "Standard & Poors 500 Index,Last: 4500.0,Change: 1.0\n"
        '"Date: March 1, 2022 at 5:00 PM EST",Bid: 4499,Ask: 4501,Size: 1*1,Volume: 0\n'
        + HEADER + "\n" + "\n".join(rows) + "\n"
    )
    return path


def _small_chain(tmp_path: Path) -> Path:
    rows = []
    for k, c_bid, c_ask, p_bid, p_ask in [(4400, 120.0, 121.0, 20.0, 20.6), (4500, 50.0, 50.8, 50.0, 50.8), (4600, 14.0, 14.5, 113.0, 114.2)]:
        rows.append(
            f"Fri Mar 18 2022,SPXW220318C0{k}000,0,0,{c_bid},{c_ask},1,0.2,0.5,0.001,10,{k}.00,"
            f"SPXW220318P0{k}000,0,0,{p_bid},{p_ask},1,0.2,-0.5,0.001,10"
        )
    return _write_cboe(tmp_path / "chain.csv", rows)


def test_chain_import_json(tmp_path: Path) -> None:
    path = str(_small_chain(tmp_path))
    data = _json(["chain", "import", path, "--json"])
    assert data["underlying"] == "SPX" and data["spot"] == 4500.0
    assert data["as_of"] == "2022-03-01T17:00:00-05:00"
    assert data["n_quotes"] == 6 and data["expiries"][0]["expiry"] == "2022-03-18"
    assert data["synthetic"] is False and set(data["quality_flags"]) >= {"crossed", "no_bid", "expired"}
    human = runner.invoke(build_app(), ["chain", "import", path])
    assert human.exit_code == 0 and "quality flags" in human.stdout


def test_chain_import_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("hello\nworld\nfoo\n")
    with pytest.raises(SystemExit) as exc:
        main(["chain", "import", str(p)])
    assert exc.value.code == 2
    assert "line 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["chain", "import", str(tmp_path / "missing.csv")])
    assert exc.value.code == 2


def _synthetic_cboe_file(tmp_path: Path) -> Path:
    """A CBOE-format file whose quotes come from a known model surface."""
    import pandas as pd

    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import synthetic_chain
    from floorguard.domain.contracts import get_contract_spec

    as_of = pd.Timestamp("2022-03-01 17:00", tz="America/New_York")
    chain = synthetic_chain(get_contract_spec("SPXW"), 4500.0, as_of, ModelSurface(0.2, skew=-0.8), 0.01, 0.013,
                            horizon_days=45, width=0.15)
    q = chain.quotes
    calls = q[q["kind"] == "call"].set_index(["expiry", "strike"])
    puts = q[q["kind"] == "put"].set_index(["expiry", "strike"])
    lines = []
    for (exp, k), c in calls.iterrows():
        p = puts.loc[(exp, k)]
        lines.append(
            f"{exp:%a %b %d %Y},{c['symbol']},0,0,{c['bid']:.2f},{c['ask']:.2f},0,0,0,0,0,{k:.2f},"
            f"{p['symbol']},0,0,{p['bid']:.2f},{p['ask']:.2f},0,0,0,0,0"
        )
    return _write_cboe(tmp_path / "model_chain.csv", lines)


def test_chain_surface_json_recovers_the_model(tmp_path: Path) -> None:
    path = str(_synthetic_cboe_file(tmp_path))
    data = _json(["chain", "surface", path, "--json"])
    assert data["underlying"] == "SPX" and data["n_quotes_fitted"] > 300
    rows = [r for r in data["expiries"] if r["t_years"] > 7 / 365]
    assert len(rows) >= 5
    for r in rows:
        assert r["atm_vol"] == pytest.approx(0.2, abs=2e-3)  # ModelSurface ATM (term slope 0)
        assert r["skew"] < 0 and r["rmse"] < 0.3
        assert r["forward_method"] in ("parity_regression", "parity_fixed_rate")
    assert data["arbitrage_flags"] == []
    human = runner.invoke(build_app(), ["chain", "surface", path, "--rate", "0.01"])
    assert human.exit_code == 0 and "arbitrage flags: none" in human.stdout


def test_chain_surface_too_few_quotes_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["chain", "surface", str(_small_chain(tmp_path))])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error:")
