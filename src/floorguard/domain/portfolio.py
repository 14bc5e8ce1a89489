"""Portfolios and positions, and the CSV / JSON portfolio file formats.

File format (CSV header or JSON keys, case-insensitive)::

    symbol,quantity,price,asset_type,beta,sector
    AAPL,100,,equity,,
    SPY,-20,410.5,etf,1.0,
    PRIVATE-CO,1,250000,private,0.8,Industrials

``symbol`` and ``quantity`` are required (quantity negative for shorts);
``price`` (per unit, in the portfolio currency), ``asset_type`` (equity, etf,
fund, private, cash, custom), ``beta`` and ``sector`` are optional. JSON is
either a list of such objects or ``{"positions": [...]}`` (optionally with
``"currency"``).

Parsing is all-or-nothing: every bad row is reported with its line, field and
reason in one :class:`~floorguard.exceptions.PortfolioImportError`, and no
portfolio is returned while any row is bad. Whether a symbol is known to the
market data is checked by the service layer (a symbol without a price must be
known).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from floorguard.exceptions import FieldError, PortfolioImportError, ValidationError

__all__ = [
    "ASSET_TYPES",
    "Portfolio",
    "Position",
    "parse_portfolio_file",
    "parse_portfolio_file_with_lines",
    "parse_portfolio_text",
]

#: Asset types a position may have.
ASSET_TYPES: tuple[str, ...] = ("equity", "etf", "fund", "private", "cash", "custom")
REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "quantity")
OPTIONAL_COLUMNS: tuple[str, ...] = ("price", "asset_type", "beta", "sector")
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-_^=/]{0,31}$")
_MAX_ABS_QUANTITY = 1e12
_MAX_PRICE = 1e12


@dataclass(frozen=True)
class Position:
    """One holding.

    Parameters
    ----------
    symbol : str
        Ticker (upper case).
    quantity : float
        Units held; negative for shorts. Never zero.
    price : float, optional
        Price per unit supplied by the user (in the portfolio currency). When
        absent the market data must know the symbol.
    asset_type : str
        One of :data:`ASSET_TYPES`.
    beta : float, optional
        User-supplied beta (used for assets without a price history).
    sector : str, optional
        Sector (GICS name when known).
    """

    symbol: str
    quantity: float
    price: float | None = None
    asset_type: str = "equity"
    beta: float | None = None
    sector: str | None = None

    def __post_init__(self) -> None:
        errors = _position_errors(self)
        if errors:
            raise ValidationError("; ".join(str(e) for e in errors), errors=errors)

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    def market_value(self, price: float | None = None) -> float:
        """``quantity * price`` (signed; negative for shorts)."""
        p = self.price if price is None else price
        if p is None:
            raise ValidationError.for_field(f"{self.symbol}.price", "no price to value the position")
        return float(self.quantity) * float(p)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "quantity": self.quantity,
            "price": self.price,
            "asset_type": self.asset_type,
            "beta": self.beta,
            "sector": self.sector,
        }


def _position_errors(p: Position, prefix: str = "", line: int | None = None) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(p.symbol, str) or not _SYMBOL_RE.match(p.symbol):
        errors.append(FieldError(f"{prefix}symbol", f"not a valid symbol: {p.symbol!r}", line))
    q = p.quantity
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q):
        errors.append(FieldError(f"{prefix}quantity", f"must be a finite number, got {q!r}", line))
    elif q == 0:
        errors.append(FieldError(f"{prefix}quantity", "must not be zero", line))
    elif abs(q) > _MAX_ABS_QUANTITY:
        errors.append(FieldError(f"{prefix}quantity", f"absurdly large: {q!r}", line))
    if p.price is not None:
        pr = p.price
        if isinstance(pr, bool) or not isinstance(pr, (int, float)) or not math.isfinite(pr):
            errors.append(FieldError(f"{prefix}price", f"must be a finite number, got {pr!r}", line))
        elif pr <= 0:
            errors.append(FieldError(f"{prefix}price", f"must be > 0, got {pr!r}", line))
        elif pr > _MAX_PRICE:
            errors.append(FieldError(f"{prefix}price", f"absurdly large: {pr!r}", line))
    if p.asset_type not in ASSET_TYPES:
        errors.append(
            FieldError(
                f"{prefix}asset_type",
                f"must be one of {', '.join(ASSET_TYPES)}, got {p.asset_type!r}",
                line,
            )
        )
    if p.beta is not None:
        b = p.beta
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
            errors.append(FieldError(f"{prefix}beta", f"must be a finite number, got {b!r}", line))
        elif abs(b) > 10:
            errors.append(FieldError(f"{prefix}beta", f"must be between -10 and 10, got {b!r}", line))
    if p.sector is not None and (not isinstance(p.sector, str) or len(p.sector) > 64):
        errors.append(FieldError(f"{prefix}sector", "must be text of at most 64 characters", line))
    return errors


@dataclass(frozen=True)
class Portfolio:
    """A named set of positions with unique symbols.

    Parameters
    ----------
    name : str
        Unique per owner.
    positions : tuple of Position
        At least one; symbols unique.
    id : int, optional
        Database id once stored.
    owner_id : int, optional
        Owning user's id once stored.
    currency : str
        ISO 4217 code of prices and values.
    """

    name: str
    positions: tuple[Position, ...] = field(default_factory=tuple)
    id: int | None = None
    owner_id: int | None = None
    currency: str = "USD"

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(self.positions))
        errors: list[FieldError] = []
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 120:
            errors.append(FieldError("name", "must be non-empty text of at most 120 characters"))
        if not re.fullmatch(r"[A-Z]{3}", str(self.currency)):
            errors.append(FieldError("currency", f"must be a 3-letter ISO code, got {self.currency!r}"))
        if not self.positions:
            errors.append(FieldError("positions", "a portfolio needs at least one position"))
        seen: set[str] = set()
        for i, pos in enumerate(self.positions):
            if pos.symbol in seen:
                errors.append(FieldError(f"positions.{i}.symbol", f"duplicate symbol {pos.symbol}"))
            seen.add(pos.symbol)
        if errors:
            raise ValidationError("; ".join(str(e) for e in errors), errors=errors)

    @property
    def symbols(self) -> list[str]:
        return [p.symbol for p in self.positions]

    def position(self, symbol: str) -> Position:
        """The position in ``symbol``."""
        for p in self.positions:
            if p.symbol == symbol.upper():
                return p
        raise ValidationError.for_field("symbol", f"{symbol!r} is not in portfolio {self.name!r}")

    def with_prices(self, prices: dict[str, float]) -> Portfolio:
        """Copy with ``price`` filled from ``prices`` where a position has none."""
        return replace(
            self,
            positions=tuple(
                p if p.price is not None or p.symbol not in prices else replace(p, price=float(prices[p.symbol]))
                for p in self.positions
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner_id": self.owner_id,
            "currency": self.currency,
            "positions": [p.to_dict() for p in self.positions],
        }


# ---------------------------------------------------------------- parsing
def _cell(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(raw: Any, fld: str, line: int, errors: list[FieldError], *, required: bool) -> float | None:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
        if not math.isfinite(value):
            errors.append(FieldError(fld, f"must be a finite number, got {raw!r}", line))
            return None
        return value
    text = _cell(raw)
    if text is None:
        if required:
            errors.append(FieldError(fld, "is required", line))
        return None
    if isinstance(raw, bool):
        errors.append(FieldError(fld, f"must be a number, got {raw!r}", line))
        return None
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        errors.append(FieldError(fld, f"must be a number, got {text!r}", line))
        return None
    if not math.isfinite(value):
        errors.append(FieldError(fld, f"must be a finite number, got {text!r}", line))
        return None
    return value


def _rows_to_portfolio(
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    name: str,
    currency: str,
    header_errors: list[FieldError],
) -> tuple[Portfolio, dict[str, int]]:
    errors = list(header_errors)
    positions: list[Position] = []
    first_line: dict[str, int] = {}
    n_rows = 0
    for line, row in rows:
        n_rows += 1
        row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
        symbol = (_cell(row.get("symbol")) or "").upper()
        row_errors: list[FieldError] = []
        if not symbol:
            row_errors.append(FieldError("symbol", "is required", line))
        quantity = _number(row.get("quantity"), "quantity", line, row_errors, required=True)
        price = _number(row.get("price"), "price", line, row_errors, required=False)
        beta = _number(row.get("beta"), "beta", line, row_errors, required=False)
        asset_type = (_cell(row.get("asset_type")) or "equity").lower()
        sector = _cell(row.get("sector"))
        if symbol:
            if symbol in first_line:
                row_errors.append(
                    FieldError("symbol", f"duplicate symbol {symbol} (first on line {first_line[symbol]})", line)
                )
            else:
                first_line[symbol] = line
        if not row_errors and quantity is not None:
            candidate = Position.__new__(Position)
            for k, v in {
                "symbol": symbol,
                "quantity": quantity,
                "price": price,
                "asset_type": asset_type,
                "beta": beta,
                "sector": sector,
            }.items():
                object.__setattr__(candidate, k, v)
            row_errors.extend(_position_errors(candidate, line=line))
            if not row_errors:
                positions.append(
                    Position(symbol, quantity, price=price, asset_type=asset_type, beta=beta, sector=sector)
                )
        errors.extend(row_errors)
    if n_rows == 0 and not errors:
        errors.append(FieldError("positions", "the file has no positions"))
    if errors:
        shown = "; ".join(str(e) for e in errors[:20])
        more = f" (+{len(errors) - 20} more)" if len(errors) > 20 else ""
        raise PortfolioImportError(
            f"portfolio has {len(errors)} error(s), nothing imported: {shown}{more}", errors=errors
        )
    return Portfolio(name=name, positions=tuple(positions), currency=currency), first_line


def _check_columns(columns: Sequence[str], line: int | None) -> list[FieldError]:
    cols = [c.strip().lower() for c in columns]
    errors: list[FieldError] = []
    for req in REQUIRED_COLUMNS:
        if req not in cols:
            errors.append(
                FieldError(req, f"missing required column; found columns {list(columns)}", line)
            )
    allowed = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    for c in cols:
        if c not in allowed:
            errors.append(
                FieldError(
                    c or "(empty)",
                    f"unknown column; allowed: {', '.join([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])}",
                    line,
                )
            )
    dup = sorted({c for c in cols if cols.count(c) > 1})
    for c in dup:
        errors.append(FieldError(c, "column appears more than once", line))
    return errors


def _parse_csv(text: str, name: str, currency: str) -> tuple[Portfolio, dict[str, int]]:
    reader = csv.reader(io.StringIO(text))
    lines = [(i + 1, row) for i, row in enumerate(reader)]
    lines = [(n, r) for n, r in lines if any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not lines:
        raise PortfolioImportError(
            "portfolio file is empty", errors=[FieldError("file", "is empty")]
        )
    header_line, header = lines[0]
    header_errors = _check_columns(header, header_line)
    if any(e.field in REQUIRED_COLUMNS for e in header_errors) or any(
        "more than once" in e.reason for e in header_errors
    ):
        raise PortfolioImportError(
            "wrong columns, nothing imported: " + "; ".join(str(e) for e in header_errors),
            errors=header_errors,
        )
    keys = [c.strip().lower() for c in header]

    rows: list[tuple[int, dict[str, Any]]] = []
    for n, r in lines[1:]:
        if len(r) != len(keys):
            header_errors.append(FieldError("row", f"has {len(r)} cells, the header has {len(keys)}", n))
            continue
        rows.append((n, dict(zip(keys, r, strict=True))))
    return _rows_to_portfolio(rows, name=name, currency=currency, header_errors=header_errors)


def _json_line_numbers(text: str, count: int) -> list[int]:
    """Best-effort 1-based line of each object in a positions array."""
    starts = [m.start() for m in re.finditer(r"\{", text)]
    # skip the outer object if the document is {"positions": [...]}
    stripped = text.lstrip()
    if stripped.startswith("{") and starts:
        starts = starts[1:]
    out = [text.count("\n", 0, s) + 1 for s in starts[:count]]
    return out + [0] * (count - len(out))


def _parse_json(text: str, name: str, currency: str) -> tuple[Portfolio, dict[str, int]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        err = FieldError("file", f"invalid JSON: {exc.msg}", exc.lineno)
        raise PortfolioImportError(f"invalid JSON, nothing imported: {err}", errors=[err]) from exc
    if isinstance(doc, dict):
        if "positions" not in doc:
            err = FieldError("positions", "a JSON portfolio needs a 'positions' list", 1)
            raise PortfolioImportError(str(err), errors=[err])
        currency = str(doc.get("currency") or currency)
        items = doc["positions"]
    else:
        items = doc
    if not isinstance(items, list):
        err = FieldError("positions", "must be a list of objects", 1)
        raise PortfolioImportError(str(err), errors=[err])
    line_of = _json_line_numbers(text, len(items))
    header_errors: list[FieldError] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        line = line_of[i] or None
        if not isinstance(item, dict):
            header_errors.append(FieldError(f"positions.{i}", "must be an object", line))
            continue
        for e in _check_columns(list(item.keys()), line):
            if e.field not in REQUIRED_COLUMNS:  # missing keys are reported per field below
                header_errors.append(FieldError(f"positions.{i}.{e.field}", e.reason, line))
        rows.append((line or i + 1, item))
    return _rows_to_portfolio(rows, name=name, currency=currency, header_errors=header_errors)


def _parse_text_with_lines(
    text: str, fmt: str, *, name: str, currency: str
) -> tuple[Portfolio, dict[str, int]]:
    fmt_l = str(fmt).lower()
    if fmt_l == "csv":
        return _parse_csv(text, name, currency)
    if fmt_l == "json":
        return _parse_json(text, name, currency)
    raise ValidationError.for_field("format", f"must be 'csv' or 'json', got {fmt!r}")


def parse_portfolio_text(
    text: str,
    fmt: Literal["csv", "json"],
    *,
    name: str = "portfolio",
    currency: str = "USD",
) -> Portfolio:
    """Parse portfolio text in CSV or JSON.

    Raises
    ------
    PortfolioImportError
        Listing every bad row (``errors[i].line``, ``.field``, ``.reason``).
    """
    return _parse_text_with_lines(text, fmt, name=name, currency=currency)[0]


def parse_portfolio_file_with_lines(
    path: Path | str, *, name: str | None = None, currency: str = "USD"
) -> tuple[Portfolio, dict[str, int]]:
    """Like :func:`parse_portfolio_file`, also returning symbol -> 1-based line.

    The line map lets later checks (unknown symbols, at the service level)
    report the line of the offending row.
    """
    p = Path(path)
    if not p.is_file():
        raise PortfolioImportError(
            f"portfolio file not found: {p}", errors=[FieldError("file", f"not found: {p}")]
        )
    suffix = p.suffix.lower().lstrip(".")
    if suffix not in ("csv", "json"):
        raise PortfolioImportError(
            f"unsupported portfolio file type {p.suffix!r}: use .csv or .json",
            errors=[FieldError("file", f"unsupported type {p.suffix!r} (use .csv or .json)")],
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PortfolioImportError(
            f"{p} is not UTF-8 text", errors=[FieldError("file", "is not UTF-8 text")]
        ) from exc
    return _parse_text_with_lines(text, suffix, name=name or p.stem, currency=currency)


def parse_portfolio_file(
    path: Path | str, *, name: str | None = None, currency: str = "USD"
) -> Portfolio:
    """Parse a ``.csv`` or ``.json`` portfolio file (format from the suffix).

    Parameters
    ----------
    path : Path or str
        The file.
    name : str, optional
        Portfolio name (default: the file stem).
    currency : str
        Currency of prices (a JSON file's ``"currency"`` wins).

    Raises
    ------
    PortfolioImportError
        Missing file, unsupported type, wrong columns, or bad rows (all listed).
    """
    return parse_portfolio_file_with_lines(path, name=name, currency=currency)[0]
