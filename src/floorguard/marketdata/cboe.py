"""Reader of the CBOE delayed-quotes option-chain CSV (cboe.com "Download CSV").

File layout (real files seen in 2022 and 2025)::

    <blank line, optional>
    Standard & Poors 500 Index,Last: 4500.5298,Change:  23.0898
    "Date: February 5 2022, 8:09 PM EST",Bid: 4420.5,Ask: 4615.4302,Size: 1*1,Volume: 0
    Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest
    Mon Feb 07 2022,SPXW220207C02400000,0,0,2087.8,2102.6,0,4.285,0.9999,0,0,2400.00,SPXW220207P02400000,...

Both date dialects parse: ``"Date: February 5 2022, 8:09 PM EST"`` and
``"Date: September 1, 2025 at 6:50 PM EDT"``; US time-zone abbreviations map
to ``America/New_York`` etc. and the result is time-zone aware.

Spot: the header's ``Last`` is used. For an index (SPX) the header bid/ask is
a wide indicative quote (4420.50 / 4615.43 around a 4500.53 close in the
2022 file), not a market, so its midpoint would be wrong by tens of points;
``Last`` is the index level (the close when the file was saved after hours).
The chain's ``spot_note`` records this.

Each data row holds a call and a put at one strike; every OCC symbol is
decoded and checked against the row's expiry date and strike. A bad file
raises :class:`~floorguard.exceptions.ValidationError` naming the line and
the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import io
import re
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from floorguard.domain.chains import OptionChain, parse_occ_symbol
from floorguard.domain.contracts import ContractSpec, exchange_calendar, get_contract_spec, spec_for_root
from floorguard.exceptions import DataError, FieldError, NotFoundError, ValidationError

__all__ = ["CBOE_COLUMNS", "parse_cboe_date", "read_cboe_csv"]

_SIDE_COLUMNS = ("Last Sale", "Net", "Bid", "Ask", "Volume", "IV", "Delta", "Gamma", "Open Interest")

#: Column header of the quote table (the call side, then the strike, then the put side).
CBOE_COLUMNS: tuple[str, ...] = (
    "Expiration Date",
    "Calls",
    *_SIDE_COLUMNS,
    "Strike",
    "Puts",
    *_SIDE_COLUMNS,
)

_TZ_ABBREV = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "IST": "Asia/Kolkata",
    "UTC": "UTC",
    "GMT": "UTC",
}

_DATE_RE = re.compile(
    r"^\s*Date:\s*(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\s*,?\s*(?:at\s+)?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[AaPp][Mm])\s*(?P<tz>[A-Za-z]{2,4})?\s*$"
)
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december"], start=1)}


def parse_cboe_date(text: str, line: int | None = None) -> pd.Timestamp:
    """Parse the ``Date: ...`` header field into a time-zone-aware Timestamp.

    Examples
    --------
    >>> parse_cboe_date("Date: February 5 2022, 8:09 PM EST")
    Timestamp('2022-02-05 20:09:00-0500', tz='America/New_York')
    >>> parse_cboe_date("Date: September 1, 2025 at 6:50 PM EDT")
    Timestamp('2025-09-01 18:50:00-0400', tz='America/New_York')
    """
    m = _DATE_RE.match(text)
    if m is None:
        raise ValidationError.for_field("Date", f"cannot parse {text.strip()!r}", line=line)
    mon = m["month"].lower()
    month = _MONTHS.get(mon) or next((v for k, v in _MONTHS.items() if k.startswith(mon) and len(mon) >= 3), None)
    if month is None:
        raise ValidationError.for_field("Date", f"unknown month {m['month']!r}", line=line)
    hour = int(m["hour"]) % 12 + (12 if m["ampm"].lower() == "pm" else 0)
    try:
        naive = dt.datetime(int(m["year"]), month, int(m["day"]), hour, int(m["minute"]))
    except ValueError as exc:
        raise ValidationError.for_field("Date", f"invalid date in {text.strip()!r}: {exc}", line=line) from None
    abbrev = (m["tz"] or "ET").upper()
    zone = _TZ_ABBREV.get(abbrev)
    if zone is None:
        raise ValidationError.for_field("Date", f"unknown time zone {abbrev!r}", line=line)
    return pd.Timestamp(naive).tz_localize(zone, ambiguous=abbrev.endswith("DT"), nonexistent="shift_forward")


def _header_value(fields: list[str], key: str, line: int, required: bool = True) -> float | None:
    for f in fields:
        if f.strip().lower().startswith(key.lower() + ":"):
            raw = f.split(":", 1)[1].strip().replace(",", "")
            try:
                val = float(raw)
            except ValueError:
                raise ValidationError.for_field(key, f"must be a number, got {raw!r}", line=line) from None
            if not math.isfinite(val):
                raise ValidationError.for_field(key, f"must be finite, got {raw!r}", line=line)
            return val
    if required:
        raise ValidationError.for_field(key, "missing from the header", line=line)
    return None


def _num(raw: str, line: int, fld: str, errors: list[FieldError]) -> float:
    s = raw.strip().replace(",", "")
    if s in ("", "-", "--", "N/A", "n/a"):
        return float("nan")
    try:
        v = float(s)
    except ValueError:
        errors.append(FieldError(fld, f"must be a number, got {raw!r}", line))
        return float("nan")
    if not math.isfinite(v):
        errors.append(FieldError(fld, f"must be finite, got {raw!r}", line))
    return v


def _read_text(path_or_buffer: str | Path | IO[str] | IO[bytes]) -> tuple[str, str]:
    if hasattr(path_or_buffer, "read"):
        data = path_or_buffer.read()  # type: ignore[union-attr]
        name = str(getattr(path_or_buffer, "name", "<buffer>"))
    else:
        p = Path(path_or_buffer)  # type: ignore[arg-type]
        if not p.is_file():
            raise ValidationError.for_field("path", f"no such file: {p}")
        data = p.read_bytes()
        name = str(p)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError.for_field("file", f"{name} is not UTF-8 text") from None
    return data, name


def _choose_spec(roots: set[str], contracts_path: str | Path | None = None) -> ContractSpec | None:
    specs = [s for s in (spec_for_root(r, contracts_path) for r in sorted(roots)) if s is not None]
    if not specs:
        return None
    for s in specs:  # prefer the product that carries the underlying's own symbol (SPX over SPXW)
        if s.symbol == s.underlying:
            return s
    try:
        return get_contract_spec(specs[0].underlying, contracts_path)
    except NotFoundError:
        return specs[0]


def _rows_reference(lines: list[str], first_line: int, name: str) -> pd.DataFrame:
    """Line-by-line parse of the quote rows: the readable reference, and the
    path that names the line and field of every problem.

    ``lines`` are the rows after the column header; ``first_line`` is the
    1-based file line of ``lines[0]``.
    """
    errors: list[FieldError] = []
    records: list[dict[str, Any]] = []
    seen_dates: dict[str, dt.date] = {}
    for offset, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        f = next(csv.reader([raw]))
        if len(f) != len(CBOE_COLUMNS):
            errors.append(FieldError("row", f"expected {len(CBOE_COLUMNS)} fields, got {len(f)}", offset))
            continue
        exp = seen_dates.get(f[0])
        if exp is None:
            try:
                exp = dt.datetime.strptime(f[0].strip(), "%a %b %d %Y").date()
            except ValueError:
                errors.append(FieldError("Expiration Date", f"must look like 'Mon Feb 07 2022', got {f[0]!r}", offset))
                continue
            seen_dates[f[0]] = exp
        strike = _num(f[11], offset, "Strike", errors)
        if not strike > 0:
            errors.append(FieldError("Strike", f"must be a positive number, got {f[11]!r}", offset))
            continue
        for kind, start, sym_col in (("call", 1, "Calls"), ("put", 12, "Puts")):
            sym = f[start].strip()
            try:
                root, occ_exp, occ_kind, occ_strike = parse_occ_symbol(sym)
            except ValidationError as exc:
                errors.append(FieldError(sym_col, exc.errors[0].reason, offset))
                continue
            if occ_exp != exp or occ_kind != kind or abs(occ_strike - strike) > 1e-6:
                errors.append(
                    FieldError(sym_col, f"{sym} disagrees with the row ({exp}, {kind}, strike {strike:g})", offset)
                )
                continue
            vals = [_num(f[start + j], offset, f"{sym_col}.{CBOE_COLUMNS[1 + j]}", errors) for j in range(1, 10)]
            last, _net, bid, ask, vol, iv, delta, gamma, oi = vals
            for fld_name, v in (("Bid", bid), ("Ask", ask)):
                if v < 0:
                    errors.append(FieldError(f"{sym_col}.{fld_name}", f"must not be negative, got {v}", offset))
            records.append(
                {
                    "expiry": exp,
                    "strike": strike,
                    "kind": kind,
                    "bid": bid,
                    "ask": ask,
                    "last": last,
                    "volume": vol,
                    "open_interest": oi,
                    "iv": iv,
                    "delta": delta,
                    "gamma": gamma,
                    "symbol": sym,
                    "root": root,
                }
            )
        if len(errors) >= 20:
            break
    if errors:
        shown = "; ".join(str(e) for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ValidationError(f"{name}: {shown}{more}", errors=errors)
    if not records:
        raise DataError(f"{name}: the CBOE file has no quote rows")
    return pd.DataFrame.from_records(records)


_ROW_FIELDS = len(CBOE_COLUMNS)
_NUM_COLS = {  # quote field -> column position of (call, put)
    "last": (2, 13),
    "bid": (4, 15),
    "ask": (5, 16),
    "volume": (6, 17),
    "iv": (7, 18),
    "delta": (8, 19),
    "gamma": (9, 20),
    "open_interest": (10, 21),
}


def _rows_fast(lines: list[str]) -> pd.DataFrame | None:
    """Vectorised parse of well-formed rows with pandas; None when anything
    looks wrong (the reference parser then reports exactly what)."""
    text = "\n".join(lines)
    numeric = [p for pair in _NUM_COLS.values() for p in pair] + [3, 11, 14]
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            names=list(range(_ROW_FIELDS)),
            dtype={i: (float if i in numeric else str) for i in range(_ROW_FIELDS)},
            thousands=",",
            na_values=["", "-", "--", "N/A", "n/a"],
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=True,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if raw.empty or raw[[0, 1, 11, 12, _ROW_FIELDS - 1]].isna().any().any():  # short rows: reference path
        return None
    if np.isinf(raw[numeric].to_numpy(dtype=float)).any():
        return None
    if len(raw) != sum(1 for line in lines if line.strip()):
        return None
    uniq = pd.unique(raw[0])
    parsed = pd.to_datetime(pd.Series(uniq).str.strip(), format="%a %b %d %Y", errors="coerce")
    if parsed.isna().any():
        return None
    expiry = raw[0].map(dict(zip(uniq, parsed, strict=True)))
    strike = raw[11]
    if not (strike > 0).all():
        return None
    frames = []
    for kind, sym_col, letter in (("call", 1, "C"), ("put", 12, "P")):
        sym = raw[sym_col].str.strip()
        parts = sym.str.upper().str.extract(r"^([A-Z0-9.]{1,6}?)(\d{6})([CP])(\d{8})$")
        if parts.isna().any().any() or (parts[2] != letter).any():
            return None
        u = pd.unique(parts[1])
        occ = pd.to_datetime(pd.Series(u), format="%y%m%d", errors="coerce")
        if occ.isna().any():
            return None
        occ_exp = parts[1].map(dict(zip(u, occ, strict=True)))
        occ_k = parts[3].astype("int64") / 1000.0
        if (occ_exp != expiry).any() or ((occ_k - strike).abs() > 1e-6).any():
            return None
        cols: dict[str, Any] = {"expiry": expiry.dt.date, "strike": strike.astype(float), "kind": kind}
        for fld, (c_pos, p_pos) in _NUM_COLS.items():
            cols[fld] = raw[c_pos if kind == "call" else p_pos].astype(float)
        if (cols["bid"] < 0).any() or (cols["ask"] < 0).any():
            return None
        cols["symbol"] = sym
        cols["root"] = parts[0]
        frames.append(pd.DataFrame(cols))
    # Interleave call and put of each row, like the reference parser.
    out = pd.concat(frames, keys=[0, 1]).swaplevel().sort_index(level=0, sort_remaining=True)
    return out.reset_index(drop=True)[
        ["expiry", "strike", "kind", "bid", "ask", "last", "volume", "open_interest", "iv", "delta", "gamma",
         "symbol", "root"]
    ]


def _before_open(spec: ContractSpec, as_of: pd.Timestamp) -> bool:
    """True when ``as_of`` falls on a trading day of ``spec``'s calendar before its open."""
    cal = exchange_calendar(spec.exchange_calendar)
    day = pd.Timestamp(as_of.tz_convert(spec.timezone).date())
    if not cal.is_session(day):
        return False
    return bool(as_of < cal.session_open(day))


def read_cboe_csv(
    path_or_buffer: str | Path | IO[str] | IO[bytes],
    *,
    underlying: str | None = None,
    spec: ContractSpec | None = None,
    contracts_path: str | Path | None = None,
    fast: bool = True,
) -> OptionChain:
    """Read a CBOE delayed-quotes CSV into an :class:`OptionChain`.

    Parameters
    ----------
    path_or_buffer : path or file-like
        The downloaded file (text or bytes).
    underlying : str, optional
        Underlying symbol; default: from the contract spec of the OCC roots
        (SPX/SPXW -> ``"SPX"``), else the most common root.
    spec : ContractSpec, optional
        Contract specification; default: looked up from the OCC roots.
    contracts_path : path, optional
        A user's contracts file extending the bundled specifications.
    fast : bool
        Parse well-formed files with pandas (default); any problem falls back
        to the line-by-line reference parser, which names the line and field.

    Returns
    -------
    OptionChain
        ``source="cboe_csv"``; spot = header ``Last`` (see module docstring);
        ``as_of`` = header date (time-zone aware); vendor IV, delta and gamma
        kept as given (IV as a decimal).

    Raises
    ------
    ValidationError
        Missing or malformed header lines, a wrong column layout, a bad
        number, an undecodable OCC symbol or one that disagrees with its row;
        the message names the line and field.
    DataError
        The file has no quote rows.
    """
    text, name = _read_text(path_or_buffer)
    lines = text.splitlines()
    idx = 0
    while idx < len(lines) and not lines[idx].strip():
        idx += 1
    if idx + 3 > len(lines):
        raise ValidationError.for_field("header", f"{name}: expected 3 header lines, file too short", line=idx + 1)
    head1 = next(csv.reader([lines[idx]]))
    head1_line = idx + 1
    spot = _header_value(head1, "Last", head1_line)
    assert spot is not None
    if spot <= 0:
        raise ValidationError.for_field("Last", f"must be positive, got {spot}", line=head1_line)
    change = _header_value(head1, "Change", head1_line, required=False)
    head2 = next(csv.reader([lines[idx + 1]]))
    head2_line = idx + 2
    if not head2 or not head2[0].strip().lower().startswith("date:"):
        raise ValidationError.for_field("Date", f"second header line must start with 'Date:', got {lines[idx + 1][:60]!r}", line=head2_line)
    as_of = parse_cboe_date(head2[0], line=head2_line)
    hbid = _header_value(head2, "Bid", head2_line, required=False)
    hask = _header_value(head2, "Ask", head2_line, required=False)
    cols_line = idx + 3
    columns = [c.strip() for c in next(csv.reader([lines[idx + 2]]))]
    if tuple(columns) != CBOE_COLUMNS:
        raise ValidationError.for_field(
            "columns", f"expected {','.join(CBOE_COLUMNS)}; got {','.join(columns)[:200]}", line=cols_line
        )
    rows = lines[idx + 3 :]
    quotes = _rows_fast(rows) if fast else None
    if quotes is None:
        quotes = _rows_reference(rows, cols_line + 1, name)
    if quotes.empty:
        raise DataError(f"{name}: the CBOE file has no quote rows")
    roots = set(quotes["root"])
    if spec is None:
        spec = _choose_spec(roots, contracts_path)
    if underlying is None:
        underlying = spec.underlying if spec is not None else quotes["root"].mode().iloc[0]
    note = f"header Last {spot:g}"
    if hbid is not None and hask is not None:
        wide = hask - hbid > 0.005 * spot
        note += f"; header bid/ask {hbid:g}/{hask:g} not used" + (" (indicative, too wide)" if wide else "")
    notes = [f"file: {Path(name).name}", f"underlying name: {head1[0].strip()}"]
    if change is not None:
        notes.append(f"header change {change:g} (previous close {spot - change:g})")
    if spec is None:
        notes.append(f"no contract specification for roots {sorted(roots)}: PM settlement at 16:00 New York assumed")
    chain = OptionChain(
        underlying=str(underlying),
        spot=spot,
        as_of=as_of,
        quotes=quotes,
        source="cboe_csv",
        synthetic=False,
        spec=spec,
        spot_note=note,
        notes=tuple(notes),
    )
    if change is not None and spot - change > 0 and spec is not None and _before_open(spec, as_of):
        # Saved before the open: option quotes are the previous session's
        # closing quotes, but Last is a pre-market trade. Value the chain at
        # the previous close (Last - Change) so spot and quotes agree.
        prev = spot - change
        chain = replace(
            chain,
            spot=prev,
            spot_note=(
                f"previous close {prev:g} = header Last {spot:g} - Change {change:g} "
                f"(file saved before the open; options quote the {chain.valuation_time.date()} close)"
            ),
            _cache={},
        )
    return chain

