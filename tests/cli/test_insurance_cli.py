"""``floorguard quote`` / ``payoff`` / ``hedge-mix`` end to end through the CLI.

Payoff numbers are recomputed by hand from the draft's legs (seed section 11).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app, main

PORTFOLIO = """symbol,quantity,price,asset_type,beta,sector
AAPL,300,,equity,,
MSFT,150,,equity,,
CUSTOMFUND,2000,95.5,custom,0.9,
"""


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    p = tmp_path / "p.csv"
    p.write_text(PORTFOLIO)
    return p


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(build_app(), list(args), standalone_mode=True)
    return res.exit_code, res.stdout, res.stderr


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Through ``floorguard.cli.main`` (error mapping to exit codes)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return int(exc.value.code or 0), cap.out, cap.err


@pytest.mark.shared_data
def test_quote_then_payoff(env: Path, tmp_path: Path, spy_chain_file_sep: Path) -> None:
    code, out, err = run("quote", str(env), "--floor", "0.9", "--term-days", "30", "--strategy", "collar",
                         "--cap", "0.05", "--chain", str(spy_chain_file_sep), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    d = data["draft"]
    for key in ("portfolio_value", "beta", "coverage_notional", "floor_pct", "start_utc", "end_utc", "strategy",
                "index_symbol", "put_leg", "call_leg", "premium_net", "metadata"):
        assert key in d
    assert d["strategy"] == "collar" and d["index_symbol"] == "SPX" and d["underlying_symbol"] == "SPY"
    assert d["pricing_source"]["synthetic"] is False
    for key in ("strike", "contracts", "side", "premium", "expiry"):
        assert key in d["put_leg"] and key in d["call_leg"]
    draft_file = tmp_path / "draft.json"
    draft_file.write_text(out)

    put, call = d["put_leg"], d["call_leg"]
    v0 = d["portfolio_value"]
    vt, lt = 0.8 * v0, put["strike"] - 40.0
    code, out, err = run("payoff", str(draft_file), "--final-portfolio-value", str(vt),
                         "--final-index-level", str(lt), "--json")
    assert code == 0, err
    p = json.loads(out)
    floor_value = 0.9 * v0
    put_intr = (put["strike"] - lt) * 100 * put["contracts"]
    assert p["floor_value"] == pytest.approx(floor_value)
    assert p["shortfall"] == pytest.approx(floor_value - vt)
    assert p["put_intrinsic"] == pytest.approx(put_intr)
    assert p["call_intrinsic"] == 0.0
    assert p["hedge_payoff"] == pytest.approx(put_intr)
    assert p["compensation"] == pytest.approx(min(floor_value - vt, put_intr))

    # above the call strike the short call is subtracted
    hi = call["strike"] + 10.0
    code, out, _ = run("payoff", str(draft_file), "--final-portfolio-value", str(1.1 * v0),
                       "--final-index-level", str(hi), "--json")
    p2 = json.loads(out)
    assert p2["call_intrinsic"] == pytest.approx(10.0 * 100 * call["contracts"])
    assert p2["hedge_payoff"] == pytest.approx(-p2["call_intrinsic"]) and p2["compensation"] == 0.0


def test_bad_input_exits_2_with_one_line(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "quote", str(env), "--floor", "1.5", "--json")
    assert code == 2 and "floor_pct" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_main(capsys, "payoff", str(bad), "--final-portfolio-value", "1", "--final-index-level", "1")
    assert code == 2 and "not valid JSON" in err
    code, _, err = run_main(capsys, "payoff", str(tmp_path / "missing.json"), "--final-portfolio-value", "1",
                            "--final-index-level", "1")
    assert code == 2 and "cannot read" in err


def test_hedge_mix(env: Path) -> None:
    code, out, err = run("hedge-mix", str(env), "--indices", "SPX,IXIC", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert set(d["ratios"]) == {"SPX", "IXIC"} and d["basis_risk"] > 0


@pytest.mark.shared_data
def test_unwind_and_mark(env: Path, tmp_path: Path, spy_chain_file_sep: Path) -> None:
    code, out, err = run("quote", str(env), "--strategy", "protective_put", "--chain", str(spy_chain_file_sep),
                         "--json")
    assert code == 0, err
    f = tmp_path / "d.json"
    f.write_text(out)
    put = json.loads(out)["draft"]["put_leg"]
    code, out, err = run("unwind", str(f), "--chain", str(spy_chain_file_sep), "--json")
    assert code == 0, err
    u = json.loads(out)
    assert u["proceeds"] == pytest.approx(put["bid"] * 100 * put["contracts"])
    assert u["pnl"] == pytest.approx((put["bid"] - put["ask"]) * 100 * put["contracts"])
    # at expiry (after the settlement time) the mark is the intrinsic value
    code, out, err = run("mark", str(f), "--underlying-level", str(put["strike"] - 5), "--as-of",
                         f"{put['expiry']}T23:00:00", "--json")
    assert code == 0, err
    m = json.loads(out)
    assert m["hedge_value"] == pytest.approx(5 * 100 * put["contracts"]) and m["time_value"] == 0.0


def test_synthetic_quote_says_so(env: Path) -> None:
    code, out, err = run("quote", str(env), "--floor", "0.92", "--term-days", "21", "--strategy", "put_spread",
                         "--index-level", "5900", "--vol", "0.2", "--rate", "0.04", "--dividend-yield", "0.013",
                         "--json")
    assert code == 0, err
    d = json.loads(out)["draft"]
    assert d["pricing_source"]["synthetic"] is True and d["pricing_source"]["kind"] == "synthetic"
    assert any(w.startswith("SYNTHETIC") for w in d["warnings"])
    assert d["assumptions"]["rate"] == 0.04 and d["assumptions"]["index_dividend_yield"] == 0.013
    assert [leg["side"] for leg in d["legs"]] == ["long", "short"]


@pytest.mark.shared_data
def test_quote_a_stored_portfolio_by_name(env: Path, capsys: pytest.CaptureFixture[str],
                                          spy_chain_file_may: Path) -> None:
    assert run_main(capsys, "db", "upgrade")[0] == 0
    assert run_main(capsys, "portfolio", "import", str(env), "--name", "core")[0] == 0
    code, out, err = run_main(capsys, "quote", "core", "--term-days", "20", "--chain", str(spy_chain_file_may),
                              "--json")
    assert code == 0, err
    d = json.loads(out)["draft"]
    assert d["metadata"]["portfolio"] == "core" and d["put_leg"]["contracts"] >= 1
    code, _, err = run_main(capsys, "quote", "no-such-portfolio", "--chain", str(spy_chain_file_may), "--json")
    assert code == 2 and "not found" in err


@pytest.mark.shared_data
def test_compare_strategies_table(env: Path, spy_chain_file_sep: Path) -> None:
    code, out, err = run("compare", str(env), "--chain", str(spy_chain_file_sep), "--tail-budget", "0.003",
                         "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [r["strategy"] for r in rows] == ["protective_put", "collar", "put_spread", "tail_hedge"]
    quoted = [r for r in rows if "refused" not in r]
    assert len(quoted) >= 3
    for r in quoted:
        assert r["expiry"] and r["put_strike"] > 0 and r["synthetic"] is False
        d = r["score_detail"]
        assert r["score"] == pytest.approx((d["shortfall_reduction"] - r["premium"]) / d["residual_risk"])
    pp = next(r for r in quoted if r["strategy"] == "protective_put")
    col = next(r for r in quoted if r["strategy"] == "collar")
    assert col["premium"] < pp["premium"]  # the short call finances part of the put
