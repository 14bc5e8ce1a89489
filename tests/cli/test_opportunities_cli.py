"""``floorguard opportunities`` / ``scenario`` / ``backtest`` end to end through the CLI.

The backtest output is reconciled against :func:`floorguard.core.backtest.run_backtest`
called here on the same bundled closes and VIX (hedge P&L, rel 1e-12) and
against its own cash flows (premium paid − payoffs received = −hedge P&L, abs 1e-6).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app, main

PORTFOLIO = "symbol,quantity\nAAPL,400\nMSFT,200\nJPM,300\n"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _migrated_databases: Any) -> Path:
    db = tmp_path / "cli.db"
    shutil.copyfile(_migrated_databases.sqlite_template(), db)
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("FLOORGUARD_MARKET_DATA_SOURCES", '["bundled"]')
    p = tmp_path / "p.csv"
    p.write_text(PORTFOLIO)
    return p


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(build_app(), list(args), standalone_mode=True)
    return res.exit_code, res.stdout, res.stderr


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_backtest_json_reconciles_with_the_engine(env: Path) -> None:
    import numpy as np

    from floorguard.core.backtest import run_backtest
    from floorguard.marketdata import BundledSource

    code, out, err = run("backtest", "--strategy", "pput", "--start", "2015-01-01", "--end", "2017-12-31", "--json")
    assert code == 0, err
    data = json.loads(out)
    rec = data["reconciliation"]
    assert data["payoffs_received"] - data["premium_paid"] == pytest.approx(data["hedge_pnl"], abs=1e-6)
    assert rec["legs_pnl_sum"] == pytest.approx(data["hedge_pnl"], abs=1e-6)
    assert "estimate" in data["label"] and data["strategy"] == "pput"
    src = BundledSource()
    spx = src.closes("SPX")
    vix = src.closes("VIX").reindex(spx.index) / 100.0
    ref = run_backtest(list(spx.index), spx.to_numpy(), "pput", implied_atm=vix.to_numpy(np.float64),
                       start=dt.date(2015, 1, 1), end=dt.date(2017, 12, 31))
    assert data["hedge_pnl"] == pytest.approx(ref.hedge_pnl, rel=1e-12)
    assert data["n_legs"] == len(ref.legs) and data["pricing_sources"] == ref.pricing_sources


def test_backtest_human_output_and_bad_input(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run("backtest", "--strategy", "collar", "--start", "2016-01-01", "--end", "2016-12-31")
    assert code == 0 and "cost of protection" in out and "estimates" in out
    code, _, err = run_main(capsys, "backtest", "--strategy", "straddle")
    assert code == 2 and err.strip().startswith("error: strategy:") and len(err.strip().splitlines()) == 1
    code, _, err = run_main(capsys, "backtest", "--start", "2016-13-01")
    assert code == 2 and "start" in err


def test_scenario_seed_draft_file_and_errors(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("scenario", str(env), "--preset", "severe", "--paths", "2000", "--seed", "4", "--json")
    c1, o1, e1 = run(*args)
    c2, o2, _ = run(*args)
    assert c1 == 0, e1
    a, b = json.loads(o1), json.loads(o2)
    assert a["result"] == b["result"] and a["scenario"]["name"] == "severe"
    assert a["narrative"]["text"].startswith("Under Severe scenario (-12.0% index") and "estimate" in a["label"]
    # a draft file from the insurance engine (as `floorguard quote --json` writes it)
    from floorguard.config import Settings
    from floorguard.services.context import AppContext
    from floorguard.services.insurance import QuoteRequest, quote_policy
    from floorguard.services.portfolios import load_portfolio_file

    ctx = AppContext(Settings())
    try:
        draft = quote_policy(ctx, load_portfolio_file(ctx, env), QuoteRequest(
            floor_pct=0.9, term_days=40, strategy="collar", as_of=dt.datetime(2022, 12, 28, 21, tzinfo=dt.UTC)))
    finally:
        ctx.close()
    f = tmp_path / "draft.json"
    f.write_text(json.dumps({"ok": True, "draft": draft.to_dict()}))
    code, out, err = run("scenario", str(env), "--preset", "mild", "--draft", str(f), "--paths", "2000", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["hedge"]["strategy"] == "collar"
    assert d["result"]["hedge_premium"] == pytest.approx(draft.premium_net, rel=1e-12, abs=1e-9)
    code, _, err = run_main(capsys, "scenario", str(env), "--preset", "apocalypse")
    assert code == 2 and "preset" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_main(capsys, "scenario", str(env), "--draft", str(tmp_path / "missing.json"))
    assert code == 2 and "draft" in err


def test_opportunities_json_and_table(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run("opportunities", str(env), "--structures", "protective_put,collar", "--paths", "2000",
                         "--as-of", "2021-07-04", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == "2021-07-02" and data["recommendations"]["table"]  # the last close on or before
    assert {r["Structure"] for r in data["recommendations"]["table"]} == {"protective_put", "collar"}
    assert data["narrative"]["text"].startswith("Uncertainty expected (")
    code, out, _ = run("opportunities", str(env), "--structures", "tail_hedge", "--paths", "2000")
    assert code == 0 and "2022-12-28" in out and "Score" in out and "tail" in out and "Unhedged baseline" in out and "…" not in out
    code, _, err = run_main(capsys, "opportunities", str(env), "--structures", "straddle")
    assert code == 2 and "structures" in err


def test_models_fit_and_list(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run("models", "fit", "--as-of", "2020-06-30", "--json")
    assert code == 0, err
    fitted = json.loads(out)["models"]
    assert [(m["name"], m["version"], m["data_end"]) for m in fitted] == [
        ("garch:SPX", 1, "2020-06-30"), ("regimes:SPX", 1, "2020-06-30")]
    assert fitted[0]["params"]["values"]["beta[1]"] > 0.5 and fitted[0]["metrics"]["converged"] is True
    code, out, _ = run("models", "list", "--name", "garch:SPX", "--json")
    assert code == 0 and [m["version"] for m in json.loads(out)["models"]] == [1]
    code, out, _ = run("models", "list")
    assert code == 0 and "regimes" in out and "markov" in out
    code, _, err = run_main(capsys, "models", "fit", "--as-of", "June")
    assert code == 2 and "as_of" in err
