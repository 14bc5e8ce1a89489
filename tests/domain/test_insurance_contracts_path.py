"""``Settings.contracts_path`` (FLOORGUARD_CONTRACTS_PATH): a user's contracts file in quotes.

The user's file extends/overrides the bundled contract specifications
(``floorguard.domain.contracts.load_contract_specs(path)``). The quote must
size and price on the overridden specification; a command's ``--contracts``
option (``QuoteRequest.contracts_path``) wins over the setting. Checked by
hand: contracts = ceil(beta x V / (S x multiplier)) with the user's multiplier.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app
from floorguard.config import Settings
from floorguard.services.context import AppContext
from floorguard.services.insurance import QuoteRequest, contracts_path_for, quote_policy

BUNDLED = Path(__file__).parents[2] / "src/floorguard/data/contracts.json"
PORTFOLIO = "symbol,quantity\nAAPL,3000\nMSFT,1500\n"


def _xsp_file(tmp: Path, name: str, multiplier: int) -> Path:
    spy = next(c for c in json.loads(BUNDLED.read_text())["contracts"] if c["symbol"] == "XSP")
    p = tmp / name
    p.write_text(json.dumps({"contracts": [{**spy, "multiplier": multiplier,
                                            "description": f"XSP options, user multiplier {multiplier}"}]}))
    return p


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    pf = tmp_path / "p.csv"
    pf.write_text(PORTFOLIO)
    return {"pf": pf, "m10": _xsp_file(tmp_path, "c10.json", 10), "m50": _xsp_file(tmp_path, "c50.json", 50)}


def _req(**kw: object) -> QuoteRequest:
    return QuoteRequest(0.9, 30, "protective_put", instrument="XSP", index_level=4000.0, vol=0.2, rate=0.04,
                        dividend_yield=0.015, portfolio_dividend_yield=0.015, beta=1.0, **kw)  # type: ignore[arg-type]


def test_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(env="test").contracts_path is None
    monkeypatch.setenv("FLOORGUARD_CONTRACTS_PATH", str(tmp_path / "c.json"))
    assert Settings(env="test").contracts_path == tmp_path / "c.json"


def test_quote_uses_the_settings_file_and_the_option_wins(tmp_path: Path, files: dict[str, Path]) -> None:
    base = AppContext(Settings(env="test", data_home=tmp_path / "h0"))
    user = AppContext(Settings(env="test", data_home=tmp_path / "h1", contracts_path=files["m10"]))
    try:
        d0 = quote_policy(base, files["pf"], _req())
        d10 = quote_policy(user, files["pf"], _req())
        d50 = quote_policy(user, files["pf"], _req(contracts_path=files["m50"]))
        assert contracts_path_for(user) == files["m10"]
        assert contracts_path_for(user, files["m50"]) == files["m50"]
    finally:
        base.close()
        user.close()
    for d, mult in ((d0, 100.0), (d10, 10.0), (d50, 50.0)):
        assert d.contract_spec is not None and d.contract_spec["multiplier"] == mult
        put = d.put_leg
        assert put is not None and put.multiplier == mult
        # sizing by hand: ceil(beta * V / (S * multiplier)), S = XSP level = 0.1 x index level
        assert put.contracts == math.ceil(d.beta * d.portfolio_value / (d.underlying_level * mult) - 1e-9)
        assert d.underlying_level == pytest.approx(400.0)
    assert "user multiplier 10" in d10.contract_spec["description"]
    assert "user multiplier 50" in d50.contract_spec["description"]


def test_cli_option_takes_precedence_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: dict[str, Path]
) -> None:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_CONTRACTS_PATH", str(files["m10"]))
    args = ["quote", str(files["pf"]), "--instrument", "XSP", "--index-level", "4000", "--vol", "0.2",
            "--beta", "1.0", "--json"]
    res = CliRunner().invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["draft"]["contract_spec"]["multiplier"] == 10.0
    res = CliRunner().invoke(build_app(), [*args, "--contracts", str(files["m50"])])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["draft"]["contract_spec"]["multiplier"] == 50.0


def test_missing_contracts_file_is_a_validation_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from floorguard.cli import main

    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_CONTRACTS_PATH", str(tmp_path / "nope.json"))
    with pytest.raises(SystemExit) as ex:
        main(["quote", str(files["pf"]), "--index-level", "4000", "--vol", "0.2", "--json"])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "contracts_path" in err and "nope.json" in err and len(err.splitlines()) == 1
