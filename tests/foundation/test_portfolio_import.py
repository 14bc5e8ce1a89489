"""Portfolio files: every bad row reported with line, field and reason; all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floorguard.domain.portfolio import (
    Portfolio,
    Position,
    parse_portfolio_file,
    parse_portfolio_file_with_lines,
    parse_portfolio_text,
)
from floorguard.exceptions import PortfolioImportError, ValidationError

GOOD_CSV = """symbol,quantity,price,asset_type,beta,sector
AAPL,100,,equity,,
msft,-20,,,,
PRIVCO,1,250000,private,0.8,Industrials
USD,5000,,cash,,
"""


def _errors(exc: pytest.ExceptionInfo[PortfolioImportError]) -> list[tuple[int | None, str, str]]:
    return [(e.line, e.field, e.reason) for e in exc.value.errors]


def test_good_csv() -> None:
    p = parse_portfolio_text(GOOD_CSV, "csv", name="mine")
    assert p.symbols == ["AAPL", "MSFT", "PRIVCO", "USD"]
    assert p.position("MSFT").quantity == -20 and p.position("MSFT").is_short
    priv = p.position("PRIVCO")
    assert (priv.price, priv.asset_type, priv.beta, priv.sector) == (250000.0, "private", 0.8, "Industrials")
    assert p.position("AAPL").asset_type == "equity"


def test_every_bad_row_is_reported() -> None:
    text = (
        "symbol,quantity,price,asset_type\n"   # line 1
        "AAPL,10,,\n"                           # 2 ok
        "MSFT,abc,,\n"                          # 3 non-numeric quantity
        "AAPL,5,,\n"                            # 4 duplicate
        ",3,,\n"                                # 5 missing symbol
        "XOM,0,,\n"                             # 6 zero quantity
        "KO,1,-3,\n"                            # 7 negative price
        "PG,1,,bond\n"                          # 8 unknown asset type
        "HD,1\n"                                # 9 wrong number of cells
    )
    with pytest.raises(PortfolioImportError) as e:
        parse_portfolio_text(text, "csv")
    got = _errors(e)
    assert [(line, field) for line, field, _ in got] == [
        (9, "row"), (3, "quantity"), (4, "symbol"), (5, "symbol"), (6, "quantity"), (7, "price"), (8, "asset_type"),
    ]
    reasons = dict(((line, field), reason) for line, field, reason in got)
    assert reasons[(3, "quantity")] == "must be a number, got 'abc'"
    assert "duplicate symbol AAPL (first on line 2)" in reasons[(4, "symbol")]
    assert "nothing imported" in str(e.value)


def test_wrong_columns() -> None:
    with pytest.raises(PortfolioImportError) as e:
        parse_portfolio_text("ticker,qty\nAAPL,1\n", "csv")
    fields = {err.field for err in e.value.errors}
    assert {"symbol", "quantity", "ticker", "qty"} <= fields
    assert all(err.line == 1 for err in e.value.errors)
    with pytest.raises(PortfolioImportError, match="unknown column"):
        parse_portfolio_text("symbol,quantity,colour\nAAPL,1,red\n", "csv")


def test_json_list_and_object(tmp_path: Path) -> None:
    doc = {"currency": "EUR", "positions": [{"symbol": "AAPL", "quantity": 3}, {"symbol": "SAP", "quantity": 2, "price": 120.5}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc, indent=1))
    p = parse_portfolio_file(path)
    assert p.name == "p" and p.currency == "EUR" and p.position("SAP").price == 120.5
    p2 = parse_portfolio_text(json.dumps(doc["positions"]), "json", name="x")
    assert p2.symbols == ["AAPL", "SAP"]


def test_json_errors_have_lines() -> None:
    text = '[\n  {"symbol": "AAPL", "quantity": 1},\n  {"symbol": "MSFT", "quantity": "lots"},\n  {"symbol": "AAPL", "quantity": true}\n]'
    with pytest.raises(PortfolioImportError) as e:
        parse_portfolio_text(text, "json")
    assert [(x.line, x.field) for x in e.value.errors] == [(3, "quantity"), (4, "quantity"), (4, "symbol")]
    with pytest.raises(PortfolioImportError, match="invalid JSON") as e2:
        parse_portfolio_text('{"positions": [', "json")
    assert e2.value.errors[0].line == 1


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PortfolioImportError, match="not found"):
        parse_portfolio_file(tmp_path / "missing.csv")
    (tmp_path / "p.xlsx").write_text("x")
    with pytest.raises(PortfolioImportError, match="unsupported"):
        parse_portfolio_file(tmp_path / "p.xlsx")
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(PortfolioImportError, match="empty"):
        parse_portfolio_file(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("symbol,quantity\n")
    with pytest.raises(PortfolioImportError, match="no positions"):
        parse_portfolio_file(tmp_path / "header.csv")


def test_line_map(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("# my book\nsymbol,quantity\n\nAAPL,1\nMSFT,2\n")
    p, lines = parse_portfolio_file_with_lines(path)
    assert lines == {"AAPL": 4, "MSFT": 5} and p.name == "p"


def test_domain_objects_validate() -> None:
    with pytest.raises(ValidationError, match="quantity"):
        Position("AAPL", 0)
    with pytest.raises(ValidationError, match="asset_type"):
        Position("AAPL", 1, asset_type="crypto")
    with pytest.raises(ValidationError, match="duplicate"):
        Portfolio("x", (Position("A", 1), Position("A", 2)))
    with pytest.raises(ValidationError, match="at least one"):
        Portfolio("x", ())
    p = Portfolio("x", (Position("A", 2), Position("B", -1, price=3.0))).with_prices({"A": 10.0, "B": 99.0})
    assert p.position("A").price == 10.0 and p.position("B").price == 3.0
    assert p.position("B").market_value() == -3.0
