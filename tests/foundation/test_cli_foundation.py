"""CLI: db upgrade, data status/prices, portfolio import/show/list, demo load, serve.

Bad input exits 2 with one ``error:`` line on stderr and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from floorguard.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_db_url: str) -> str:
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", migrated_db_url)
    monkeypatch.delenv("FLOORGUARD_MARKET_DATA_SOURCES", raising=False)
    return migrated_db_url


def _bad(code: int, err: str, fragment: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(" ".join(lines)) > 0 and lines[0].startswith("error:")
    assert fragment in " ".join(err.split()), err


def test_db_upgrade_default_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("FLOORGUARD_DATABASE_URL", raising=False)
    code, out, _ = run(["db", "upgrade", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["database"].endswith("h/floorguard.db")
    from floorguard.persistence.db import head_revision

    assert data["revision"] == head_revision()
    assert (tmp_path / "h" / "floorguard.db").is_file()


def test_data_status_json(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["data", "status", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    bundled = data["sources"][0]
    assert bundled["name"] == "bundled"
    rows = {r["symbol"]: r for r in bundled["symbols"]}
    assert len(rows) == 28
    assert (rows["SPX"]["first"], rows["SPX"]["last"]) == ("1990-01-02", "2022-12-28")
    assert rows["SPX"]["quality_flags"] == ["gap"] and rows["SPX"]["quality_counts"]["gap"] == 3
    assert rows["RRC"]["quality_counts"]["stale"] > 0
    assert rows["AAPL"]["sector"] == "Information Technology"
    assert bundled["extras"]["fama_french_monthly"]["first"] == "1926-07-31"
    assert data["cache"] == {"available": True, "series": []}


def test_data_status_human(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["data", "status"], capsys)
    assert code == 0 and "market data: bundled" in out and "VIX" in out


def test_data_status_unmigrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("FLOORGUARD_DATABASE_URL", raising=False)
    code, out, _ = run(["data", "status", "--json"], capsys)
    assert code == 0
    cache = json.loads(out)["cache"]
    assert cache["available"] is False and "floorguard db upgrade" in cache["reason"]


def test_data_prices_and_out_of_range(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["data", "prices", "SPX", "--start", "2022-12-27", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["prices"] == [{"date": "2022-12-27", "SPX": 3829.25}, {"date": "2022-12-28", "SPX": 3783.22}]
    assert data["provenance"]["SPX"]["source"] == "bundled"
    code, _, err = run(["data", "prices", "SPX", "--start", "2031-01-01"], capsys)
    _bad(code, err, "start: 2031-01-01 is out of range")
    code, _, err = run(["data", "prices", "NOPE"], capsys)
    _bad(code, err, "unknown symbol 'NOPE'")


def test_portfolio_import_show_list(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.csv"
    f.write_text("symbol,quantity\nAAPL,10\nMSFT,-5\n")
    code, out, err = run(["portfolio", "import", str(f), "--name", "mine", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [p["symbol"] for p in data["imported"]["positions"]] == ["AAPL", "MSFT"]
    code, out, _ = run(["portfolio", "show", "mine", "--json"], capsys)
    shown = json.loads(out)
    assert shown["positions"][0]["price_source"] == "bundled"
    assert shown["net_value"] == pytest.approx(10 * 125.674 - 5 * 233.434)
    code, out, _ = run(["portfolio", "list", "--json"], capsys)
    assert [p["name"] for p in json.loads(out)] == ["mine"]
    code, out, _ = run(["portfolio", "show", "mine"], capsys)
    assert code == 0 and "AAPL" in out and "bundled" in out
    # the same name again is a conflict, --replace overwrites
    code, _, err = run(["portfolio", "import", str(f), "--name", "mine"], capsys)
    _bad(code, err, "already exists")
    code, _, _ = run(["portfolio", "import", str(f), "--name", "mine", "--replace"], capsys)
    assert code == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "not found"),
        ("ticker,qty\nAAPL,1\n", "symbol: missing required column"),
        ("symbol,quantity\nNOPE,1\n", "line 2: symbol: unknown symbol NOPE without a price"),
        ("symbol,quantity\nAAPL,1\nAAPL,2\n", "line 3: symbol: duplicate symbol AAPL"),
        ("symbol,quantity\nAAPL,ten\n", "line 2: quantity: must be a number, got 'ten'"),
    ],
    ids=["missing-file", "wrong-columns", "unknown-symbol", "duplicate", "non-numeric"],
)
def test_portfolio_import_bad_input(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    f = tmp_path / "bad.csv"
    if content is not None:
        f.write_text(content)
    code, _, err = run(["portfolio", "import", str(f), "--name", "bad"], capsys)
    _bad(code, err, fragment)
    code, out, _ = run(["portfolio", "list", "--json"], capsys)
    assert json.loads(out) == []  # nothing written


def test_show_unknown_portfolio(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["portfolio", "show", "ghost"], capsys)
    _bad(code, err, "portfolio 'ghost' not found")


def test_unreachable_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", "postgresql://nobody:pw@127.0.0.1:1/none")
    for argv in (["db", "upgrade"], ["portfolio", "list"], ["demo", "load"], ["serve"], ["data", "status"]):
        code, _, err = run(argv, capsys)
        _bad(code, err, "cannot reach database")
        assert "pw" not in err
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", "not a url")
    code, _, err = run(["db", "upgrade"], capsys)
    _bad(code, err, "not a database URL")


def test_demo_load(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["demo", "load", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["user"] == "demo" and data["risk"]["end"] == "2022-12-28"
    assert 0 < data["risk"]["annual_volatility"] < 1 and data["risk"]["max_drawdown"] < 0
    code, out, _ = run(["demo", "load"], capsys)
    assert code == 0 and "annualised volatility" in out and "not live prices" in " ".join(out.split())


def test_demo_load_issues_a_working_login_token(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``make run`` prints a dashboard token; it authenticates as the demo investor."""
    from fastapi.testclient import TestClient

    from floorguard.api.app import create_app
    from floorguard.config import Settings

    code, out, err = run(["demo", "load", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["dashboard"].startswith("http://")
    with TestClient(create_app(Settings(scheduler_enabled=False))) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {data['login_token']}"})
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "demo"
        bad = client.get("/api/me", headers={"Authorization": "Bearer fg_not-a-token"})
        assert bad.status_code == 401
    code, out, _ = run(["demo", "load", "--json", "--no-token"], capsys)
    assert code == 0 and "login_token" not in json.loads(out)


def test_serve_builds_the_app(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: Any, host: str, port: int, **kw: Any) -> None:
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    code, out, err = run(["serve", "--port", "8765"], capsys)
    assert code == 0, err
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8765
    assert any(getattr(r, "path", None) == "/health" or getattr(r, "path", "").startswith("/") for r in seen["app"].routes)


def test_serve_refuses_unmigrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("FLOORGUARD_DATABASE_URL", raising=False)
    code, _, err = run(["serve"], capsys)
    _bad(code, err, "floorguard db upgrade")
