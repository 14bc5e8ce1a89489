"""Compliance guardrails of the narrative (seed section 20.10).

* :func:`extract_numbers` finds every number in a text (currency amounts,
  percentages, thousands separators, ``k``/``M``/``bn`` suffixes, ISO dates).
* :class:`NumberGuard` accepts a text only if each of its numbers is one the
  engine computed, allowing for formatting (rounding to the digits shown,
  percent versus fraction, sign written as a word, scale suffixes).
* :func:`compliance_issues` lists banned guarantee language and missing
  labels (every figure an estimate, the unhedged baseline shown).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "BANNED_PATTERNS",
    "ExtractedNumber",
    "NumberGuard",
    "compliance_issues",
    "extract_numbers",
]

#: Guarantee language the narrative must never use (regular expressions, case-insensitive).
BANNED_PATTERNS: tuple[str, ...] = (
    r"\bguarantee[sd]?\b",
    r"\bguaranteeing\b",
    r"\brisk[- ]?free\b",
    r"\briskless\b",
    r"\bno risk\b",
    r"\bcertain(ly)?\b",
    r"\bassured(ly)?\b",
    r"\bcan(not|'t| not) lose\b",
    r"\bwill not lose\b",
    r"\bsure(ly)?\b",
    r"\bdefinitely\b",
    r"\bpromise[sd]?\b",
    r"\bsafe bet\b",
)

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NUM = re.compile(
    r"(?P<sign>[-−+])?\s?(?P<cur>\$)?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"\s?(?P<suffix>%|bn\b|[kKmMbB]\b)?"
)
_SCALE = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9, "bn": 1e9}


@dataclass(frozen=True)
class ExtractedNumber:
    """A number found in a text.

    ``value`` is what the text says (a percentage as written: ``12.5`` for
    ``12.5%``); ``decimals`` the digits after the point; ``percent`` and
    ``scale`` the suffix.
    """

    text: str
    value: float
    decimals: int
    percent: bool
    scale: float


def extract_numbers(text: str) -> tuple[list[ExtractedNumber], list[dt.date]]:
    """Every number and every ISO date (``YYYY-MM-DD``) in ``text``."""
    dates: list[dt.date] = []
    for m in _DATE.finditer(text):
        try:
            dates.append(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            dates.append(dt.date(1, 1, 1))  # an impossible date is never an engine date
    stripped = _DATE.sub(" ", text)
    out: list[ExtractedNumber] = []
    for m in _NUM.finditer(stripped):
        raw = m.group("num")
        start = m.start("num")
        if start > 0 and (stripped[start - 1].isalpha() or stripped[start - 1] == "_"):
            continue  # part of a word or an identifier such as P95 or w1
        digits = raw.replace(",", "")
        value = float(digits)
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        sign = m.group("sign")
        if sign in ("-", "−"):
            value = -value
        suffix = m.group("suffix") or ""
        scale = _SCALE.get(suffix, 1.0)
        out.append(ExtractedNumber(m.group(0).strip(), value, decimals, suffix == "%", scale))
    return out, dates


@dataclass
class NumberGuard:
    """The set of numbers (and dates) the engine computed for one narrative.

    Parameters
    ----------
    values : iterable of float
        Engine figures in their natural units (fractions for returns, 0.12 for
        12 %; currency amounts; index levels).
    dates : iterable of date
    rel_tol : float
        Relative tolerance on top of the rounding of the digits shown
        (a figure shown as ``12.3%`` matches 0.1234 and 0.1226).
    """

    values: Iterable[float]
    dates: Iterable[dt.date] = ()
    rel_tol: float = 0.001
    _vals: list[float] = field(init=False, repr=False)
    _dates: set[dt.date] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._vals = [float(v) for v in self.values if v is not None and math.isfinite(float(v))]
        self._dates = set(self.dates)

    def _matches(self, n: ExtractedNumber) -> bool:
        # the text shows |value| rounded to n.decimals digits (times a k/M/bn scale)
        shown = abs(n.value) * n.scale
        half_unit = 0.5 * 10.0 ** (-n.decimals) * n.scale
        for v in self._vals:
            targets = (abs(v) * 100.0,) if n.percent else (abs(v), abs(v) * 100.0)
            for t in targets:
                if abs(shown - t) <= half_unit * (1 + 1e-9) + self.rel_tol * t:
                    return True
        return False

    def unknown(self, text: str) -> list[str]:
        """Numbers and dates of ``text`` that the engine did not compute."""
        numbers, dates = extract_numbers(text)
        bad = [n.text for n in numbers if not self._matches(n)]
        bad.extend(d.isoformat() for d in dates if d not in self._dates)
        return bad

    def accepts(self, text: str) -> bool:
        return not self.unknown(text)


def compliance_issues(text: str, *, require_baseline: bool = True) -> list[str]:
    """Problems with ``text``: banned guarantee language, no estimate label, no unhedged baseline."""
    issues = []
    low = text.lower()
    for pat in BANNED_PATTERNS:
        m = re.search(pat, low)
        if m:
            issues.append(f"banned wording {m.group(0)!r}")
    if "estimate" not in low:
        issues.append("figures are not labelled as estimates")
    if require_baseline and "unhedged" not in low:
        issues.append("the unhedged baseline is not shown")
    return issues
