"""CLI: ``floorguard risk PORTFOLIO`` (default command) and ``floorguard risk betas``.

Both invocations of the ``risk`` group are exercised: the bare
``risk PORTFOLIO`` form and the sub-commands ``risk report`` / ``risk betas``.
Numbers are cross-checked against the service (same process, exact).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app, main
from floorguard.persistence import db

runner = CliRunner()
CSV = "symbol,quantity\nAAPL,100\nMSFT,50\nJPM,80\nXOM,120\nJNJ,60\nKO,200\n"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite:///{tmp_path / 'fg.db'}"
    db.upgrade(url)
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", url)
    from floorguard.config import get_settings

    get_settings.cache_clear()
    pf = tmp_path / "six.csv"
    pf.write_text(CSV, encoding="utf-8")
    yield pf
    get_settings.cache_clear()


def _json(args: list[str]) -> dict:
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_bare_and_explicit_report_agree(env: Path) -> None:
    bare = _json(["risk", str(env), "--start", "2019-01-02", "--end", "2021-12-31", "--benchmark", "SP500", "--json"])
    explicit = _json(["risk", "report", str(env), "--start", "2019-01-02", "--end", "2021-12-31", "--json"])
    assert bare["measures"]["annual_volatility"] == explicit["measures"]["annual_volatility"]
    assert bare["metadata"]["window"]["start"] == "2019-01-02"
    assert bare["beta"]["portfolio"]["beta_source"] == "multivariate"
    assert set(bare) >= {"measures", "beta", "sectors", "concentration", "contributions", "stress", "metadata"}
    # options may come before the portfolio too
    first = _json(["risk", "--start", "2019-01-02", "--end", "2021-12-31", str(env), "--json"])
    assert first["measures"]["max_drawdown"] == bare["measures"]["max_drawdown"]


def test_report_with_hedge_and_human_output(env: Path) -> None:
    rep = _json(["risk", str(env), "--hedge-floor", "0.9", "--json"])
    assert rep["stress"]["hedged"] is True
    assert all(s["hedged_pnl"] >= s["pnl"] for s in rep["stress"]["historical"])
    res = runner.invoke(build_app(), ["risk", str(env)])
    assert res.exit_code == 0, res.output
    assert "annual volatility" in res.stdout and "Information Technology" in res.stdout
    # every stress family is shown: historical windows, market shocks and the (hypothetical) factor shocks
    assert "COVID" in res.stdout and "Market -20%" in res.stdout and "momentum_crash" in res.stdout
    assert "hypothetical" in res.stdout


def test_betas_compare(env: Path) -> None:
    data = _json(["risk", "betas", str(env), "--compare", "--json"])
    row = data["positions"][0]
    assert row["symbol"] == "AAPL"
    assert {"single_factor", "multivariate", "path", "beta"} <= set(row)
    assert set(row["multivariate"]["vif"]) == {"market", "size", "value", "momentum", "quality", "low_volatility"}
    assert row["multivariate"]["condition_number"] >= 1.0
    remedied = _json(["risk", "betas", str(env), "--remedy", "orthogonal", "--compare", "--json"])
    assert [r["path"] for r in remedied["positions"]] == [r["path"] for r in data["positions"]]  # all fits ok here
    short = _json(["risk", "betas", str(env), "--json"])
    assert "multivariate" not in short["positions"][0] and short["positions"][0]["path"] == row["path"]
    res = runner.invoke(build_app(), ["risk", "betas", str(env), "--compare"])
    assert res.exit_code == 0 and "cond" in res.stdout


def test_stored_portfolio_by_name_with_persistence(env: Path) -> None:
    res = runner.invoke(build_app(), ["portfolio", "import", str(env), "--name", "six", "--json"])
    assert res.exit_code == 0, res.output
    rep = _json(["risk", "six", "--persist", "--json"])
    assert rep["portfolio"]["name"] == "six" and rep["portfolio"]["id"] is not None
    assert rep["metadata"]["snapshot"]["persisted"]["stored"] is True


def test_bare_risk_shows_usage(env: Path) -> None:
    res = runner.invoke(build_app(), ["risk"])
    assert res.exit_code == 0 and "betas" in res.stdout and "report" in res.stdout
    try:
        main(["risk"])
    except SystemExit as ex:  # run_app exits only for non-zero codes
        assert ex.code in (0, None)


def test_bad_input_exits_2_with_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["risk", str(env), "--start", "2021-01-01", "--end", "2020-01-01", "--json"])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "start" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as ex:
        main(["risk", "no-such-portfolio", "--json"])
    assert ex.value.code == 2
    with pytest.raises(SystemExit) as ex:
        main(["risk", str(env), "--hedge-floor", "5", "--json"])
    assert ex.value.code == 2
    with pytest.raises(SystemExit) as ex:
        main(["risk", "betas", str(env), "--remedy", "lasso", "--json"])
    assert ex.value.code == 2
    assert "remedy" in capsys.readouterr().err
    for argv in (["risk", str(env), "--start", "notadate", "--json"],
                 ["risk", "betas", str(env), "--end", "2021-13-45", "--json"],
                 ["risk", str(env), "--start", "2031-01-01", "--json"]):
        with pytest.raises(SystemExit) as ex:
            main(argv)
        assert ex.value.code == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert ("must be a date" in err) or ("after the last market data" in err), err
