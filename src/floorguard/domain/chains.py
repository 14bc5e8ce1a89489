"""Option chains: quotes, quality flags, forwards from parity, surface glue.

An :class:`OptionChain` holds one underlying's quotes at one moment. Every
source (the CBOE delayed-quotes CSV, yfinance, Upstox, the synthetic chain)
builds the same object, so the rest of floorguard never cares where quotes
came from; ``source`` and ``synthetic`` say it wherever the chain is shown.

Time convention: ``t_years`` is ACT/365F from the chain's *valuation time*
to the option's settlement moment (the spec's AM or PM settlement time in the
exchange time zone; 16:00 local when no spec is known). The valuation time is
``as_of``, except that a chain downloaded outside trading hours (a CBOE file
saved on Saturday evening) is valued at the close of the last trading session
at or before ``as_of``, because that is when its quotes were made.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
import re
from typing import Any

import numpy as np
import pandas as pd

from floorguard._typing import FloatArray
from floorguard.domain.contracts import (
    ContractSpec,
    as_timestamp,
    exchange_calendar,
    listed_expiry_table,
    listed_strikes,
    round_to_tick,
    spec_for_root,
    tick_size,
)
from floorguard.exceptions import DataError, ValidationError

__all__ = [
    "CHAIN_SOURCES",
    "QUOTE_COLUMNS",
    "ForwardEstimate",
    "OptionChain",
    "SpreadModel",
    "SurfaceInputs",
    "chain_to_surface_inputs",
    "fit_chain_surface",
    "forward_curve",
    "implied_forward_and_dividend",
    "normalise_quotes",
    "occ_symbol",
    "parse_occ_symbol",
    "synthetic_chain",
    "synthetic_expiries",
]

#: Columns of ``OptionChain.quotes`` (in this order; ``root`` is the OCC root).
QUOTE_COLUMNS: tuple[str, ...] = (
    "expiry",
    "strike",
    "kind",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "iv",
    "delta",
    "gamma",
    "symbol",
    "root",
)
#: Where chains come from.
CHAIN_SOURCES: tuple[str, ...] = ("cboe_csv", "synthetic", "yfinance", "upstox")

_FLOAT_COLS = ("strike", "bid", "ask", "last", "volume", "open_interest", "iv", "delta", "gamma")
_SECONDS_PER_YEAR = 365.0 * 86400.0


def normalise_quotes(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly :data:`QUOTE_COLUMNS` and canonical dtypes.

    Missing optional columns (last, volume, open_interest, iv, delta, gamma,
    symbol, root) are filled with NaN / empty strings; ``expiry`` becomes a
    naive date (``datetime64``), ``kind`` ``"call"``/``"put"``.

    Raises
    ------
    ValidationError
        Missing ``expiry``, ``strike``, ``kind``, ``bid`` or ``ask``; a bad kind;
        a non-positive strike; a negative bid or ask.
    """
    required = ("expiry", "strike", "kind", "bid", "ask")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValidationError.for_field("quotes", f"missing columns: {', '.join(missing)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    try:
        out["expiry"] = pd.to_datetime(frame["expiry"].to_numpy()).normalize()
    except (TypeError, ValueError):
        raise ValidationError.for_field("quotes.expiry", "must be dates") from None
    if getattr(out["expiry"].dt, "tz", None) is not None:
        out["expiry"] = out["expiry"].dt.tz_localize(None)
    for col in _FLOAT_COLS:
        if col in frame.columns:
            vals = pd.to_numeric(pd.Series(frame[col].to_numpy()), errors="coerce")
            out[col] = vals.astype("float64").to_numpy()
        else:
            out[col] = np.nan
    kinds = pd.Series(frame["kind"].to_numpy()).astype(str).str.strip().str.lower()
    kinds = kinds.replace({"c": "call", "p": "put"})
    bad = ~kinds.isin(["call", "put"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError.for_field(f"quotes.{i}.kind", f"must be 'call' or 'put', got {kinds.iloc[i]!r}")
    out["kind"] = kinds.to_numpy()
    for col in ("symbol", "root"):
        if col in frame.columns:
            out[col] = pd.Series(frame[col].to_numpy()).fillna("").astype(str).to_numpy()
        else:
            out[col] = ""
    strikes = out["strike"].to_numpy()
    if not np.all(np.isfinite(strikes) & (strikes > 0)):
        i = int(np.flatnonzero(~(np.isfinite(strikes) & (strikes > 0)))[0])
        raise ValidationError.for_field(f"quotes.{i}.strike", "must be a positive number")
    for col in ("bid", "ask"):
        v = out[col].to_numpy()
        if np.any(v < 0):
            i = int(np.flatnonzero(v < 0)[0])
            raise ValidationError.for_field(f"quotes.{i}.{col}", "must not be negative")
    return out[list(QUOTE_COLUMNS)]


@dataclass(frozen=True)
class ForwardEstimate:
    """Forward, rate and dividend yield of one expiry, with their provenance.

    Attributes
    ----------
    expiry : datetime.date
    t_years : float
        ACT/365F to settlement.
    forward : float
        Forward price of the underlying for that expiry.
    rate : float
        Continuously compounded risk-free rate (per year).
    dividend_yield : float
        Continuous dividend yield (per year), ``rate - ln(forward/spot)/t``.
    discount_factor : float
        ``exp(-rate * t)``.
    method : str
        ``"parity_regression"`` (forward and discount factor from the chain),
        ``"parity_fixed_rate"`` (forward from the chain, rate given or from
        settings), or ``"settings"`` (no usable pairs: both from settings).
    n_pairs : int
        Strike pairs (both bids > 0) used.
    residual : float
        RMS residual of the parity fit in premium units (NaN for settings).
    note : str
        Human-readable explanation, including any fallback.
    """

    expiry: dt.date
    t_years: float
    forward: float
    rate: float
    dividend_yield: float
    discount_factor: float
    method: str
    n_pairs: int
    residual: float
    note: str

    @property
    def is_estimate_from_chain(self) -> bool:
        return self.method != "settings"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expiry": self.expiry.isoformat(),
            "t_years": self.t_years,
            "forward": self.forward,
            "rate": self.rate,
            "dividend_yield": self.dividend_yield,
            "discount_factor": self.discount_factor,
            "method": self.method,
            "n_pairs": self.n_pairs,
            "residual": self.residual,
            "note": self.note,
        }


def _max_t_by_expiry_root(expiries: list[Any], roots: list[Any], ts: list[float]) -> dict[pd.Timestamp, dict[str, float]]:
    """``{expiry: {root: max t}}`` in order of first appearance, as ``groupby(sort=False).max()``.

    Rows with a missing expiry or root are left out; NaN times are skipped
    (a group of NaN only is NaN). Plain lists: a chain's few hundred rows cost
    less than a pandas group-by.
    """
    table: dict[pd.Timestamp, dict[str, float]] = {}
    for e, r, t in zip(expiries, roots, ts, strict=True):
        if pd.isna(e) or (not isinstance(r, str) and pd.isna(r)):
            continue
        by_root = table.setdefault(pd.Timestamp(e), {})
        key = str(r)
        old = by_root.get(key)
        if old is None or (t > old) or (old != old and t == t):
            by_root[key] = float(t)
    return table


@dataclass(frozen=True)
class OptionChain:
    """Quotes of one underlying's listed options at one moment.

    Parameters
    ----------
    underlying : str
        Underlying symbol (``"SPX"``, ``"SPY"``, ``"NIFTY"``).
    spot : float
        Underlying level used for the chain (see ``spot_note`` for its origin).
    as_of : pandas.Timestamp
        Time-zone-aware time stamp of the quotes (as the source states it).
    quotes : DataFrame
        Columns :data:`QUOTE_COLUMNS`; one row per option; prices per unit of
        underlying; ``iv``, ``delta``, ``gamma`` are the vendor's values (NaN
        when not given), ``iv`` as a decimal (0.20 = 20 %).
    source : {"cboe_csv", "synthetic", "yfinance", "upstox"}
    synthetic : bool
        True when the quotes were generated by a model, not observed.
    spec : ContractSpec, optional
        The product's specification (settlement times, style, calendar).
    spot_note : str
        Where ``spot`` came from (shown next to it).
    notes : tuple of str
        Other caveats recorded by the source.
    """

    underlying: str
    spot: float
    as_of: pd.Timestamp
    quotes: pd.DataFrame
    source: str
    synthetic: bool = False
    spec: ContractSpec | None = None
    spot_note: str = ""
    notes: tuple[str, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        ts = as_timestamp(self.as_of, "as_of")
        if ts.tzinfo is None:
            raise ValidationError.for_field("as_of", "must be time-zone aware")
        object.__setattr__(self, "as_of", ts)
        try:
            spot = float(self.spot)
        except (TypeError, ValueError):
            raise ValidationError.for_field("spot", f"must be a number, got {self.spot!r}") from None
        if not math.isfinite(spot) or spot <= 0:
            raise ValidationError.for_field("spot", f"must be a positive number, got {self.spot!r}")
        object.__setattr__(self, "spot", spot)
        if self.source not in CHAIN_SOURCES:
            raise ValidationError.for_field("source", f"must be one of {', '.join(CHAIN_SOURCES)}, got {self.source!r}")
        if self.source == "synthetic" and not self.synthetic:
            raise ValidationError.for_field("synthetic", "a chain from source 'synthetic' must be labelled synthetic")
        quotes = normalise_quotes(self.quotes)
        if quotes.empty:
            raise DataError(f"option chain for {self.underlying} has no quotes")
        object.__setattr__(self, "quotes", quotes)
        # Derived values are cached per instance; dataclasses.replace() builds a
        # new instance, which must not inherit the old one's cache.
        object.__setattr__(self, "_cache", {})

    # ------------------------------------------------------------------ basics

    @property
    def label(self) -> str:
        """Short provenance label for displays (``"SYNTHETIC"`` when synthetic)."""
        if not self.synthetic:
            return self.source
        return "SYNTHETIC" if self.source == "synthetic" else f"SYNTHETIC ({self.source})"

    @property
    def style(self) -> str:
        """Exercise style from the spec (``"european"`` when no spec is known)."""
        return self.spec.style if self.spec is not None else "european"

    def expiries(self) -> list[dt.date]:
        """Sorted distinct expiry dates."""
        return sorted({d.date() for d in pd.DatetimeIndex(self.quotes["expiry"].unique())})

    def mid(self) -> pd.Series:
        """Mid price ``(bid + ask) / 2`` of two-sided quotes; NaN otherwise.

        A quote is two-sided when ``ask > 0`` and ``ask >= bid >= 0``.
        """
        bid, ask = self.quotes["bid"], self.quotes["ask"]
        ok = (ask > 0) & (ask >= bid) & (bid >= 0)
        return ((bid + ask) / 2).where(ok)

    @property
    def valuation_time(self) -> pd.Timestamp:
        """Moment the quotes were made: ``as_of``, or the last close before it.

        Uses the spec's exchange calendar; without a spec, ``as_of``.
        """
        if "valuation_time" in self._cache:
            return self._cache["valuation_time"]
        out = self.as_of
        if self.spec is not None:
            cal = exchange_calendar(self.spec.exchange_calendar)
            day = self.as_of.tz_convert(self.spec.timezone).normalize().tz_localize(None)
            sched = cal.schedule.loc[: day.strftime("%Y-%m-%d")]
            if not sched.empty:
                last = sched.iloc[-1]
                close = pd.Timestamp(last["close"]).tz_convert(self.as_of.tz)
                opening = pd.Timestamp(last["open"]).tz_convert(self.as_of.tz)
                if self.as_of > close:
                    out = close
                elif self.as_of < opening and len(sched) > 1:
                    out = pd.Timestamp(sched.iloc[-2]["close"]).tz_convert(self.as_of.tz)
        self._cache["valuation_time"] = out
        return out

    def settles_at(self) -> pd.Series:
        """Tz-aware settlement moment of every quote (from its root's series)."""
        if "settles_at" in self._cache:
            return self._cache["settles_at"]
        tz = self.spec.timezone if self.spec is not None else "America/New_York"
        times: dict[str, dt.time] = {}
        for root in self.quotes["root"].unique():
            spec = self.spec
            if spec is None or (root and root not in spec.roots):
                spec = spec_for_root(root) if root else spec
            if spec is not None and (not root or root in spec.roots):
                times[root] = spec.settlement_time(root or None)
            else:
                times[root] = dt.time(16, 0)
        offsets = self.quotes["root"].map(
            {r: pd.Timedelta(hours=t.hour, minutes=t.minute) for r, t in times.items()}
        )
        naive = self.quotes["expiry"] + pd.to_timedelta(offsets)
        out = naive.dt.tz_localize(tz).rename("settles_at")
        self._cache["settles_at"] = out
        return out

    def quote_t_years(self) -> FloatArray:
        """ACT/365F years from the valuation time to each quote's settlement (>= 0)."""
        if "t_years" not in self._cache:
            secs = (self.settles_at() - self.valuation_time).dt.total_seconds().to_numpy(dtype=float)
            self._cache["t_years"] = np.maximum(secs, 0.0) / _SECONDS_PER_YEAR
        return self._cache["t_years"].copy()

    def t_years(self, expiry: Any, root: str | None = None) -> float:
        """ACT/365F years from the valuation time to ``expiry``'s settlement.

        Parameters
        ----------
        expiry : date-like
        root : str, optional
            OCC root when an expiry has AM and PM series (SPX vs SPXW);
            default: the PM-settled root present, else the first.
        """
        d = as_timestamp(expiry, "expiry").normalize()
        table = self._t_table()
        if d not in table:
            raise ValidationError.for_field("expiry", f"{d.date()} is not an expiry of this chain")
        by_root = table[d]
        if root is not None:
            if root not in by_root:
                raise ValidationError.for_field("root", f"{root!r} has no quotes expiring {d.date()}")
            return by_root[root]
        return max(by_root.values())

    def _t_table(self) -> dict[pd.Timestamp, dict[str, float]]:
        """``{expiry: {root: t_years}}``, computed once per chain."""
        if "t_table" not in self._cache:
            self._cache["t_table"] = _max_t_by_expiry_root(
                self.quotes["expiry"].tolist(), self.quotes["root"].tolist(), self.quote_t_years().tolist())
        return self._cache["t_table"]

    def slice(
        self,
        expiry: Any | None = None,
        kind: str | None = None,
        root: str | None = None,
        strikes: tuple[float, float] | None = None,
    ) -> OptionChain:
        """Sub-chain of the quotes matching every given filter."""
        q = self.quotes
        mask = pd.Series(True, index=q.index)
        if expiry is not None:
            exp = [expiry] if not isinstance(expiry, (list, tuple, set)) else list(expiry)
            days = [as_timestamp(e, "expiry").normalize() for e in exp]
            mask &= q["expiry"].isin(days)
        if kind is not None:
            if kind not in ("call", "put"):
                raise ValidationError.for_field("kind", f"must be 'call' or 'put', got {kind!r}")
            mask &= q["kind"] == kind
        if root is not None:
            mask &= q["root"] == root
        if strikes is not None:
            lo, hi = strikes
            mask &= (q["strike"] >= lo) & (q["strike"] <= hi)
        return self._subset(mask)

    def _subset(self, mask: pd.Series) -> OptionChain:
        if not mask.any():
            raise DataError(f"no quotes of {self.underlying} match the filter")
        return replace(self, quotes=self.quotes[mask.to_numpy()].reset_index(drop=True), _cache={})

    def liquid(
        self,
        *,
        min_bid: float = 0.0,
        max_spread_pct: float | None = 0.5,
        min_open_interest: float = 0.0,
        min_volume: float = 0.0,
        drop_expired: bool = True,
    ) -> OptionChain:
        """Quotes with ``bid > min_bid``, a sane spread and enough interest.

        Parameters
        ----------
        max_spread_pct : float or None
            Largest ``(ask - bid) / mid`` kept; None keeps any two-sided quote.
        min_open_interest, min_volume : float
            Minimum open interest and volume (NaN, i.e. unknown, passes).
        drop_expired : bool
            Drop quotes whose settlement is at or before the valuation time.
        """
        q = self.quotes
        mid = self.mid()
        mask = (q["bid"] > min_bid) & mid.notna()
        if max_spread_pct is not None:
            mask &= (q["ask"] - q["bid"]) <= max_spread_pct * mid
        mask &= ~(q["open_interest"] < min_open_interest)
        mask &= ~(q["volume"] < min_volume)
        if drop_expired:
            mask &= self.quote_t_years() > 0
        return self._subset(mask)

    def quality_flags(self, max_spread_pct: float = 0.5) -> dict[str, int]:
        """Counts of quotes with each problem (zero means clean).

        Keys: ``expired`` (settled at or before the valuation time),
        ``crossed`` (``0 < ask < bid``), ``no_bid`` (bid 0), ``no_ask``
        (ask 0 or missing), ``wide_spread`` (two-sided with spread over
        ``max_spread_pct`` of mid), ``missing_iv`` (no vendor IV or IV 0),
        ``below_intrinsic`` (ask below the discounted-free intrinsic value
        ``max(S-K,0)`` / ``max(K-S,0)`` of short-dated quotes, a stale sign).
        """
        q = self.quotes
        mid = self.mid()
        t = self.quote_t_years()
        intrinsic = np.where(
            q["kind"] == "call", np.maximum(self.spot - q["strike"], 0.0), np.maximum(q["strike"] - self.spot, 0.0)
        )
        short = t < 7 / 365
        return {
            "expired": int(np.sum(t <= 0)),
            "crossed": int(((q["ask"] > 0) & (q["ask"] < q["bid"])).sum()),
            "no_bid": int((~(q["bid"] > 0)).sum()),
            "no_ask": int((~(q["ask"] > 0)).sum()),
            "wide_spread": int((mid.notna() & ((q["ask"] - q["bid"]) > max_spread_pct * mid)).sum()),
            "missing_iv": int((~(q["iv"] > 0)).sum()),
            "below_intrinsic": int(np.sum(short & (q["ask"].to_numpy() > 0) & (q["ask"].to_numpy() < intrinsic - 1e-9))),
        }

    def summary(self) -> dict[str, Any]:
        """Underlying, spot, as_of, expiries, quote counts and quality flags."""
        q = self.quotes
        per_exp = q.groupby("expiry").agg(
            quotes=("strike", "size"),
            calls=("kind", lambda s: int((s == "call").sum())),
            puts=("kind", lambda s: int((s == "put").sum())),
            roots=("root", lambda s: ",".join(sorted(set(s) - {""}))),
        )
        t_by = pd.Series(self.quote_t_years(), index=q.index).groupby(q["expiry"]).max()
        expiries = [
            {
                "expiry": e.date().isoformat(),
                "roots": row["roots"],
                "t_years": float(t_by.loc[e]),
                "quotes": int(row["quotes"]),
                "calls": int(row["calls"]),
                "puts": int(row["puts"]),
            }
            for e, row in per_exp.iterrows()
        ]
        two_sided = int(self.mid().notna().sum())
        return {
            "underlying": self.underlying,
            "spot": self.spot,
            "spot_note": self.spot_note,
            "as_of": self.as_of.isoformat(),
            "valuation_time": self.valuation_time.isoformat(),
            "source": self.source,
            "synthetic": self.synthetic,
            "label": self.label,
            "style": self.style,
            "n_quotes": len(q),
            "n_two_sided": two_sided,
            "n_expiries": len(expiries),
            "expiries": expiries,
            "quality_flags": self.quality_flags(),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- parity


def _pair_table(chain: OptionChain) -> pd.DataFrame:
    """Every (expiry, root, strike) with a call and a put mid, both bids > 0 (cached)."""
    if "pairs" in chain._cache:
        return chain._cache["pairs"]
    q = chain.quotes.assign(mid=chain.mid())
    ok = q[(q["bid"] > 0) & q["mid"].notna()]
    keys = ["expiry", "root", "strike"]
    calls = ok[ok["kind"] == "call"].drop_duplicates(keys).set_index(keys)["mid"]
    puts = ok[ok["kind"] == "put"].drop_duplicates(keys).set_index(keys)["mid"]
    both = pd.concat({"call": calls, "put": puts}, axis=1, join="inner").reset_index()
    both = both.sort_values(["expiry", "root", "strike"]).reset_index(drop=True)
    chain._cache["pairs"] = both
    return both


def _pairs(chain: OptionChain, expiry: pd.Timestamp, root: str | None) -> tuple[pd.DataFrame, str]:
    """Call/put mid pairs of one expiry and root (default: the root with most pairs)."""
    memo = chain._cache.setdefault("pairs_by", {})
    requested = root
    if (expiry, requested) in memo:
        return memo[(expiry, requested)]
    t_table = chain._t_table()
    if expiry not in t_table:
        raise ValidationError.for_field("expiry", f"{expiry.date()} is not an expiry of this chain")
    groups = chain._cache.get("pair_groups")
    if groups is None:
        groups = {pd.Timestamp(e): g for e, g in _pair_table(chain).groupby("expiry", sort=False)}
        chain._cache["pair_groups"] = groups
    both = groups.get(expiry, _pair_table(chain).iloc[0:0])
    if root is None:
        counts = both["root"].value_counts()
        if counts.empty:
            root = sorted(t_table[expiry])[0]
        else:
            root = str(counts.index[0])
    out = (both[both["root"] == root].drop(columns="expiry").reset_index(drop=True), root)
    memo[(expiry, requested)] = memo[(expiry, root)] = out
    return out


def _huber_line(x: FloatArray, y: FloatArray, w: FloatArray | None = None) -> tuple[float, float, FloatArray]:
    """Robust line ``y = a + b x`` by iteratively reweighted least squares (Huber, k=1.345)."""
    weights = np.ones_like(x) if w is None else w.copy()
    a = b = 0.0
    for _ in range(50):
        sw = np.sqrt(weights)
        design = np.column_stack([np.ones_like(x), x]) * sw[:, None]
        coef, *_ = np.linalg.lstsq(design, y * sw, rcond=None)
        a_new, b_new = float(coef[0]), float(coef[1])
        resid = y - a_new - b_new * x
        scale = float(np.median(np.abs(resid))) / 0.6745  # MAD about 0, as statsmodels RLM
        if scale <= 1e-12:
            a, b = a_new, b_new
            break
        u = np.abs(resid) / (1.345 * scale)
        new_w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1.0))
        weights = new_w if w is None else new_w * w
        done = abs(a_new - a) <= 1e-10 * (1 + abs(a)) and abs(b_new - b) <= 1e-12 * (1 + abs(b))
        a, b = a_new, b_new
        if done:
            break
    return a, b, y - a - b * x


def implied_forward_and_dividend(
    chain: OptionChain,
    expiry: Any,
    rate: float | None = None,
    *,
    root: str | None = None,
    fallback_rate: float = 0.04,
    fallback_dividend: float = 0.015,
    n_strikes: int = 20,
    min_t_for_rate: float = 30 / 365,
    rate_bounds: tuple[float, float] = (-0.02, 0.15),
) -> ForwardEstimate:
    """Forward, rate and dividend yield of ``expiry`` from put-call parity.

    European parity ``C - P = D (F - K)`` is a straight line in the strike with
    slope ``-D`` (the discount factor) and intercept ``D F``. It is fitted by
    Huber-robust regression over the ``n_strikes`` strike pairs nearest the
    money where both the call and the put have ``bid > 0``.

    * ``rate`` given: ``D = exp(-rate t)`` is fixed and ``F`` is the robust
      centre of ``K + (C - P) / D``.
    * ``rate`` None and ``t >= min_t_for_rate``: both ``D`` and ``F`` come from
      the chain; an implied rate outside ``rate_bounds`` is refused and the
      fit falls back to ``fallback_rate`` (the note says so).
    * fewer than three usable pairs: ``F = S exp((r - q) t)`` from the
      fallback (settings) rate and dividend yield, method ``"settings"``.

    The dividend yield is ``q = r - ln(F / S) / t``. For American chains
    (SPY) parity holds only approximately; near the money and for short
    expiries the early-exercise premia nearly cancel in ``C - P``.

    Parameters
    ----------
    chain : OptionChain
    expiry : date-like
    rate : float, optional
        Known continuously compounded rate; None lets the chain imply it.
    root : str, optional
        OCC root to use when an expiry has several (default: most pairs).
    fallback_rate, fallback_dividend : float
        Settings values used when the chain cannot imply them.

    Returns
    -------
    ForwardEstimate
    """
    exp = as_timestamp(expiry, "expiry").normalize()
    pairs, root = _pairs(chain, exp, root)
    t = chain.t_years(exp, root=root or None)
    spot = chain.spot
    if t <= 0:
        raise ValidationError.for_field("expiry", f"{exp.date()} has expired at the chain's valuation time")
    if rate is not None and not math.isfinite(float(rate)):
        raise ValidationError.for_field("rate", f"must be a finite number, got {rate!r}")
    # Nearest-the-money pairs by |C - P| (smallest where K ~ F).
    if len(pairs) >= 3:
        diff = (pairs["call"] - pairs["put"]).to_numpy()
        order = np.argsort(np.abs(diff))[: max(3, n_strikes)]
        near = pairs.iloc[np.sort(order)]
    else:
        near = pairs.iloc[0:0]
    n = len(near)
    if n < 3:
        r = float(rate) if rate is not None else float(fallback_rate)
        q = float(fallback_dividend)
        fwd = spot * math.exp((r - q) * t)
        n = len(pairs)
        return ForwardEstimate(
            exp.date(), t, fwd, r, q, math.exp(-r * t), "settings", n, float("nan"),
            f"only {n} call/put pairs with bids on {exp.date()}: forward from "
            f"{'given' if rate is not None else 'settings'} rate {r:.4f} and settings dividend yield {q:.4f}",
        )
    k = near["strike"].to_numpy(dtype=float)
    y = (near["call"] - near["put"]).to_numpy(dtype=float)
    note = ""
    method = "parity_fixed_rate"
    r_used: float
    if rate is None and t >= min_t_for_rate:
        a, b, resid = _huber_line(k, y)
        disc = -b
        r_imp = -math.log(disc) / t if disc > 0 else float("nan")
        if math.isfinite(r_imp) and rate_bounds[0] <= r_imp <= rate_bounds[1]:
            fwd = a / disc
            res = float(np.sqrt(np.mean(resid**2)))
            q_imp = r_imp - math.log(fwd / spot) / t
            return ForwardEstimate(
                exp.date(), t, fwd, r_imp, q_imp, disc, "parity_regression", n, res,
                f"forward and rate from put-call parity on {n} strike pairs ({root})",
            )
        note = (
            f"parity-implied rate {r_imp:.4f} outside {rate_bounds}; using settings rate {fallback_rate:.4f}; "
        )
        r_used = float(fallback_rate)
    elif rate is None:
        r_used = float(fallback_rate)
        note = f"expiry under {min_t_for_rate * 365:.0f} days: rate from settings ({r_used:.4f}); "
    else:
        r_used = float(rate)
        note = f"rate given ({r_used:.4f}); "
    disc = math.exp(-r_used * t)
    f_each = k + y / disc
    centre, _, resid = _huber_line(np.zeros_like(f_each), f_each)
    fwd = centre
    q_imp = r_used - math.log(fwd / spot) / t
    res = float(np.sqrt(np.mean((resid * disc) ** 2)))
    return ForwardEstimate(
        exp.date(), t, fwd, r_used, q_imp, disc, method, n, res,
        note + f"forward from put-call parity on {n} strike pairs ({root})",
    )


def forward_curve(
    chain: OptionChain,
    rate: float | None = None,
    *,
    fallback_rate: float = 0.04,
    fallback_dividend: float = 0.015,
    min_t_for_rate: float = 30 / 365,
) -> dict[dt.date, ForwardEstimate]:
    """Forward, rate and dividend yield for every unexpired expiry of ``chain``.

    The rate is taken once for the whole chain, so short expiries (where the
    discount factor cannot be resolved from parity) do not get a rate of
    their own:

    * ``rate`` given: used everywhere;
    * European chains: the median of the parity-regression rates of the
      expiries with ``t >= min_t_for_rate`` (each within the plausibility
      bounds of :func:`implied_forward_and_dividend`), when at least two exist;
    * otherwise (American chains, where parity is only an inequality, or too
      few long expiries): ``fallback_rate`` (settings), said in each note.

    Each expiry's forward then comes from parity at that rate.

    Returns
    -------
    dict
        ``{expiry: ForwardEstimate}`` in expiry order.
    """
    t_by = pd.Series(chain.quote_t_years(), index=chain.quotes.index).groupby(chain.quotes["expiry"]).max()
    live = [pd.Timestamp(e) for e, t in t_by.items() if t > 0]
    if not live:
        raise DataError(f"every expiry of the {chain.underlying} chain has expired at {chain.valuation_time}")
    r_used = rate
    source = "given"
    if r_used is None and chain.style == "european":
        rates = []
        for e in live:
            if t_by.loc[e] < min_t_for_rate:
                continue
            est = implied_forward_and_dividend(
                chain, e, None, fallback_rate=fallback_rate, fallback_dividend=fallback_dividend,
                min_t_for_rate=min_t_for_rate,
            )
            if est.method == "parity_regression":
                rates.append(est.rate)
        if len(rates) >= 2:
            r_used = float(np.median(rates))
            source = f"median parity-implied rate of {len(rates)} expiries >= {min_t_for_rate * 365:.0f} days"
    if r_used is None:
        r_used = float(fallback_rate)
        source = "settings" + (" (American options: parity is only an inequality)" if chain.style == "american" else "")
    out: dict[dt.date, ForwardEstimate] = {}
    for e in live:
        est = implied_forward_and_dividend(
            chain, e, r_used, fallback_rate=fallback_rate, fallback_dividend=fallback_dividend
        )
        if est.method != "settings":
            est = replace(est, note=f"rate {r_used:.4f} from {source}; " + est.note.split("; ", 1)[-1])
        out[e.date()] = est
    return out


# --------------------------------------------------------------------------- surface glue


@dataclass(frozen=True)
class SurfaceInputs:
    """Flat arrays for :func:`floorguard.core.pricing.fit_surface`.

    All arrays have shape (n,): one entry per out-of-the-money quote kept
    (puts below the forward, calls at or above it).

    Attributes
    ----------
    expiry_t : ndarray
        Years to settlement.
    strikes, ivs, forwards, weights : ndarray
        Strike, implied vol of the mid (decimal), forward of that expiry, and
        fit weight (inverse relative spread, normalised per expiry).
    expiries : list of datetime.date
        Expiry date of each entry.
    forwards_by_expiry : dict
        :class:`ForwardEstimate` per expiry used.
    n_dropped : dict
        Quotes dropped, by reason (``no_iv``, ``iliquid``, ``too_short``).
    """

    expiry_t: FloatArray
    strikes: FloatArray
    ivs: FloatArray
    forwards: FloatArray
    weights: FloatArray
    expiries: list[dt.date]
    forwards_by_expiry: dict[dt.date, ForwardEstimate]
    n_dropped: dict[str, int]


def _pricing() -> Any:
    from floorguard.core import pricing

    return pricing


def chain_to_surface_inputs(
    chain: OptionChain,
    *,
    rate: float | None = None,
    fallback_rate: float = 0.04,
    fallback_dividend: float = 0.015,
    min_t_years: float = 2 / 365,
    max_spread_pct: float = 0.5,
    max_abs_log_moneyness: float = 0.6,
) -> SurfaceInputs:
    """Implied vols of out-of-the-money mids, per expiry, with forwards from parity.

    For each expiry (the root with the most two-sided pairs when an expiry has
    several): forward and dividend yield from
    :func:`implied_forward_and_dividend`; then the implied volatility of
    each liquid OTM mid (``bid > 0``, spread <= ``max_spread_pct`` of mid) by
    :func:`floorguard.core.pricing.implied_vol`, American style when the
    chain's spec is American. Quotes whose IV is NaN (outside no-arbitrage
    bounds) are dropped and counted.

    Returns
    -------
    SurfaceInputs
    """
    pricing = _pricing()
    style = chain.style
    base = chain.quotes.assign(t=chain.quote_t_years(), mid=chain.mid())
    cols: dict[str, list[Any]] = {k: [] for k in ("t", "k", "iv", "f", "w", "e")}
    fwd_by: dict[dt.date, ForwardEstimate] = {}
    dropped = {"no_iv": 0, "iliquid": 0, "too_short": 0}
    curve = forward_curve(chain, rate, fallback_rate=fallback_rate, fallback_dividend=fallback_dividend)
    picked: list[pd.DataFrame] = []
    for exp, sub_all in base.groupby("expiry", sort=True):
        exp_ts = pd.Timestamp(exp)
        if float(sub_all["t"].max()) < min_t_years or exp_ts.date() not in curve:
            dropped["too_short"] += len(sub_all)
            continue
        est = curve[exp_ts.date()]
        pairs_root = _pairs(chain, exp_ts, None)[1]
        sub = sub_all[sub_all["root"] == pairs_root]
        dropped["iliquid"] += len(sub_all) - len(sub)
        otm = np.where(sub["kind"] == "put", sub["strike"] < est.forward, sub["strike"] >= est.forward)
        liquid = (
            (sub["bid"] > 0)
            & sub["mid"].notna()
            & ((sub["ask"] - sub["bid"]) <= max_spread_pct * sub["mid"])
            & (np.abs(np.log(sub["strike"] / est.forward)) <= max_abs_log_moneyness)
        ).to_numpy()
        keep = otm & liquid
        dropped["iliquid"] += int(np.sum(otm & ~liquid)) + int(np.sum(~otm))
        if keep.any():
            picked.append(
                sub[keep].assign(
                    forward=est.forward, rate=est.rate, dividend=est.dividend_yield, exp_date=exp_ts.date()
                )
            )
            fwd_by[exp_ts.date()] = est
    if picked:
        s = pd.concat(picked, ignore_index=True)
        t = s["t"].to_numpy(dtype=float)
        # One vectorised call for the whole chain.
        iv = np.asarray(
            pricing.implied_vol(
                s["mid"].to_numpy(dtype=float),
                s["kind"].to_numpy(dtype=str),
                chain.spot,
                s["strike"].to_numpy(dtype=float),
                t,
                s["rate"].to_numpy(dtype=float),
                s["dividend"].to_numpy(dtype=float),
                style=style,
            ),
            dtype=float,
        )
        good = np.isfinite(iv) & (iv > 0)
        dropped["no_iv"] += int(np.sum(~good))
        s = s[good].assign(iv_mid=iv[good])
        rel_spread = ((s["ask"] - s["bid"]) / s["mid"]).to_numpy(dtype=float)
        s = s.assign(w=1.0 / np.maximum(rel_spread, 0.01))
        s["w"] = s["w"] / s.groupby("exp_date")["w"].transform("mean")
        cols["t"] = list(s["t"].to_numpy(dtype=float))
        cols["k"] = list(s["strike"].to_numpy(dtype=float))
        cols["iv"] = list(s["iv_mid"].to_numpy(dtype=float))
        cols["f"] = list(s["forward"].to_numpy(dtype=float))
        cols["w"] = list(s["w"].to_numpy(dtype=float))
        cols["e"] = list(s["exp_date"])
        fwd_by = {d: est for d, est in fwd_by.items() if d in set(cols["e"])}
    if not cols["t"]:
        raise DataError(f"option chain for {chain.underlying} has no liquid out-of-the-money quotes to fit")
    return SurfaceInputs(
        expiry_t=np.asarray(cols["t"], dtype=float),
        strikes=np.asarray(cols["k"], dtype=float),
        ivs=np.asarray(cols["iv"], dtype=float),
        forwards=np.asarray(cols["f"], dtype=float),
        weights=np.asarray(cols["w"], dtype=float),
        expiries=list(cols["e"]),
        forwards_by_expiry=fwd_by,
        n_dropped=dropped,
    )


def fit_chain_surface(chain: OptionChain, **kwargs: Any) -> tuple[Any, SurfaceInputs]:
    """Fit a volatility surface to ``chain``'s OTM mids.

    Keyword arguments go to :func:`chain_to_surface_inputs`.

    Returns
    -------
    (VolSurface, SurfaceInputs)
        The fitted surface (``.vol(strike, t_years, forward)``, ``.fit_report``)
        and the inputs it was fitted to.
    """
    inputs = chain_to_surface_inputs(chain, **kwargs)
    surface = _pricing().fit_surface(
        inputs.expiry_t, inputs.strikes, inputs.ivs, inputs.forwards, weights=inputs.weights
    )
    return surface, inputs


# --------------------------------------------------------------------------- synthetic chains


@dataclass(frozen=True)
class SpreadModel:
    """Bid/ask model of synthetic quotes.

    The full spread of an option with model price ``p`` is
    ``max(min_ticks * tick(p), rel * p) + abs_spread``; the bid is
    ``p - spread/2`` rounded down to the tick grid and floored at 0, the ask
    ``p + spread/2`` rounded up and at least one tick. With the defaults an SPX put worth 20.00 is
    quoted about 19.70 / 20.30 (3 %), a 0.50 put 0.40 / 0.60.

    Attributes
    ----------
    rel : float
        Relative spread (fraction of the price).
    min_ticks : int
        Minimum spread in ticks.
    abs_spread : float
        Added absolute spread in premium units.
    """

    rel: float = 0.03
    min_ticks: int = 2
    abs_spread: float = 0.0

    def quote(self, spec: ContractSpec, price: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bid and ask arrays for model prices ``price``."""
        price = np.asarray(price, dtype=float)
        ticks = _tick_sizes(spec, price)
        spread = np.maximum(self.min_ticks * ticks, self.rel * price) + self.abs_spread
        bid = _round_to_ticks(spec, np.maximum(price - spread / 2, 0.0), "down")
        ask = _round_to_ticks(spec, price + spread / 2, "up")
        # Nobody offers an option for nothing: the ask is at least one tick.
        ask = np.maximum(ask, np.full(ask.shape, tick_size(spec, 0.0)))
        return bid, ask


def _tick_sizes(spec: ContractSpec, price: FloatArray) -> FloatArray:
    """:func:`tick_size` of every element of ``price`` (vectorised over the spec's bands)."""
    price = np.asarray(price, dtype=float)
    out = np.full(price.shape, spec.tick_sizes[-1].tick, dtype=float)
    todo = np.ones(price.shape, dtype=bool)
    for band in spec.tick_sizes:
        hit = todo if band.below is None else todo & (price < band.below)
        out[hit] = band.tick
        todo = todo & ~hit
    return out


def _round_to_ticks(spec: ContractSpec, price: FloatArray, direction: str) -> FloatArray:
    """:func:`round_to_tick` for an array (same checks and arithmetic, ticks vectorised)."""
    arr = np.asarray(price, dtype=float)
    if arr.size == 0 or np.ndim(arr) == 0:
        return np.asarray(round_to_tick(spec, arr, direction), dtype=float)  # type: ignore[arg-type]
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field("price", "must be finite")
    if np.any(arr < 0):
        raise ValidationError.for_field("price", "must not be negative")
    ticks = _tick_sizes(spec, arr)
    fn = {"nearest": np.round, "up": np.ceil, "down": np.floor}[direction]
    return np.asarray(np.round(fn(np.round(arr / ticks, 9)) * ticks, 10), dtype=float)


def synthetic_chain(
    spec: ContractSpec,
    spot: float,
    as_of: Any,
    surface: Any,
    rate: float,
    dividend: float = 0.0,
    *,
    horizon_days: int = 400,
    width: float = 0.3,
    spread: SpreadModel | None = None,
    roots: Sequence[str] | None = None,
    expiries: Sequence[dt.date] | None = None,
    listing: Any = None,
) -> OptionChain:
    """A labelled synthetic chain: the spec's listed strikes and expiries, priced off ``surface``.

    Expiries are those the exchange would have listed at ``as_of`` (each
    series' listing horizon) up to ``horizon_days`` ahead; strikes are
    :func:`listed_strikes` around the forward within ``width``. Prices are
    Black-Scholes-Merton (European specs) or American (American specs) at
    ``surface.vol(strike, t, forward)``; bid/ask from ``spread``
    (:class:`SpreadModel`). Every quote is synthetic: ``source="synthetic"``,
    ``synthetic=True``, ``volume`` and ``open_interest`` NaN, ``iv`` the
    surface vol used, ``delta``/``gamma`` Black-Scholes values.

    Parameters
    ----------
    spec : ContractSpec
    spot : float
        Underlying level.
    as_of : timestamp-like
        Valuation time (naive values are taken in the spec's time zone).
    surface : object with ``vol(strike, t_years, forward)``
        A fitted ``VolSurface`` or a ``ModelSurface``.
    rate, dividend : float
        Continuously compounded rate and dividend yield per year.
    expiries : sequence of date, optional
        Price only these of the listed expiries (every quote of an expiry is
        priced on its own, so each row equals the full chain's row).
    listing : callable, optional
        ``listing(spec, start, end, as_of)`` returning
        :func:`~floorguard.domain.contracts.listed_expiry_table` (a caller may
        pass a cached one); default: that function.

    Returns
    -------
    OptionChain
    """
    pricing = _pricing()
    ts = as_timestamp(as_of, "as_of")
    if ts.tzinfo is None:
        ts = ts.tz_localize(spec.timezone)
    s0 = float(spot)
    if not math.isfinite(s0) or s0 <= 0:
        raise ValidationError.for_field("spot", f"must be a positive number, got {spot!r}")
    for name, val in (("rate", rate), ("dividend", dividend)):
        if not math.isfinite(float(val)):
            raise ValidationError.for_field(name, f"must be a finite number, got {val!r}")
    model = spread or SpreadModel()
    table, clipped, cal_last = _synthetic_table(spec, ts, horizon_days, roots, listing)
    if expiries is not None:
        table = table[table["expiry"].isin(set(expiries))]
        if table.empty:
            raise DataError(f"{spec.symbol} lists none of the expiries {', '.join(map(str, expiries))}")
    # Price expiry by expiry, then quote and tabulate all rows at once (one
    # spread/tick pass and one DataFrame, not one per expiry).
    cols: dict[str, list[Any]] = {c: [] for c in ("expiry", "strike", "kind", "price", "iv", "delta", "gamma",
                                                   "symbol", "root")}
    for _, row in table.iterrows():
        t = (row["settles_at"] - ts).total_seconds() / _SECONDS_PER_YEAR
        fwd = s0 * math.exp((float(rate) - float(dividend)) * t)
        strikes = listed_strikes(spec, fwd, width=width)
        k = np.concatenate([strikes, strikes])
        kinds = np.array(["call"] * len(strikes) + ["put"] * len(strikes))
        vol = np.asarray(surface.vol(k, np.full(k.shape, t), fwd), dtype=float)
        if spec.style == "american":
            price = pricing.american_price(kinds, s0, k, t, rate, vol, dividend)
        else:
            price = pricing.bsm_price(kinds, s0, k, t, rate, vol, dividend)
        greeks = pricing.bsm_greeks(kinds, s0, k, t, rate, vol, dividend)
        n = k.size
        cols["expiry"].append(np.full(n, pd.Timestamp(row["expiry"]).to_datetime64()))
        cols["strike"].append(k)
        cols["kind"].append(kinds)
        cols["price"].append(np.asarray(price, dtype=float).reshape(n))
        cols["iv"].append(vol.reshape(n))
        cols["delta"].append(np.asarray(greeks["delta"], dtype=float).reshape(n))
        cols["gamma"].append(np.asarray(greeks["gamma"], dtype=float).reshape(n))
        cols["symbol"].extend(_occ_symbols(row["root"], row["expiry"], kinds, k))
        cols["root"].extend([row["root"]] * n)
    bid, ask = model.quote(spec, np.concatenate(cols["price"]))
    nan = np.full(bid.shape, np.nan)
    quotes = pd.DataFrame(
        {
            "expiry": np.concatenate(cols["expiry"]),
            "strike": np.concatenate(cols["strike"]),
            "kind": np.concatenate(cols["kind"]).tolist(),
            "bid": bid,
            "ask": ask,
            "last": nan,
            "volume": nan.copy(),
            "open_interest": nan.copy(),
            "iv": np.concatenate(cols["iv"]),
            "delta": np.concatenate(cols["delta"]),
            "gamma": np.concatenate(cols["gamma"]),
            "symbol": cols["symbol"],
            "root": cols["root"],
        }
    )
    return OptionChain(
        underlying=spec.underlying,
        spot=s0,
        as_of=ts,
        quotes=quotes,
        source="synthetic",
        synthetic=True,
        spec=spec,
        spot_note="given (synthetic chain)",
        notes=(
            "SYNTHETIC: quotes generated from a volatility model, not observed in the market",
            f"rate {float(rate):.4f}, dividend yield {float(dividend):.4f}; spread model rel={model.rel}, "
            f"min_ticks={model.min_ticks}, abs={model.abs_spread}",
            *(
                (f"expiries after {cal_last} not listed: the {spec.exchange_calendar} holiday calendar ends there",)
                if clipped
                else ()
            ),
        ),
    )


def _synthetic_table(
    spec: ContractSpec, ts: pd.Timestamp, horizon_days: int, roots: Sequence[str] | None, listing: Any,
) -> tuple[pd.DataFrame, bool, dt.date]:
    """Listed (expiry, root) rows of a synthetic chain at ``ts``, whether the calendar clipped them, its end."""
    if horizon_days < 1:
        raise ValidationError.for_field("horizon_days", f"must be at least 1, got {horizon_days}")
    local = ts.tz_convert(spec.timezone)
    end = local.date() + dt.timedelta(days=horizon_days)
    cal_last = exchange_calendar(spec.exchange_calendar).last_session.date()
    clipped = end > cal_last
    if local.date() > cal_last:
        raise DataError(f"the {spec.exchange_calendar} calendar ends {cal_last}; cannot list {spec.symbol} expiries")
    if listing is None:
        table = listed_expiry_table(spec, local.date(), min(end, cal_last), as_of=local.date())
    else:
        table = listing(spec, local.date(), min(end, cal_last), local.date())
    if roots is not None:
        table = table[table["root"].isin(list(roots))]
    table = table[table["settles_at"] > ts]
    if table.empty:
        raise DataError(f"{spec.symbol} lists no expiries within {horizon_days} days of {local.date()}")
    return table, clipped, cal_last


def synthetic_expiries(
    spec: ContractSpec,
    as_of: Any,
    *,
    horizon_days: int = 400,
    roots: Sequence[str] | None = None,
    listing: Any = None,
) -> list[dt.date]:
    """Sorted expiry dates of :func:`synthetic_chain` with the same arguments, without pricing it.

    Equals ``synthetic_chain(spec, ..., as_of, horizon_days=..., roots=...).expiries()``.
    """
    ts = as_timestamp(as_of, "as_of")
    if ts.tzinfo is None:
        ts = ts.tz_localize(spec.timezone)
    table, _, _ = _synthetic_table(spec, ts, horizon_days, roots, listing)
    return sorted({pd.Timestamp(d).date() for d in table["expiry"]})


def occ_symbol(root: str, expiry: Any, kind: str, strike: float) -> str:
    """OCC option symbol ``ROOT YYMMDD C/P strike*1000 (8 digits)``, e.g. ``SPXW220207P02400000``."""
    d = as_timestamp(expiry, "expiry")
    k = int(round(float(strike) * 1000))
    if not 0 < k < 10**8:
        raise ValidationError.for_field("strike", f"cannot be encoded in an OCC symbol: {strike}")
    return f"{root}{d:%y%m%d}{'C' if kind == 'call' else 'P'}{k:08d}"


def _occ_symbols(root: str, expiry: Any, kinds: Any, strikes: FloatArray) -> list[str]:
    """:func:`occ_symbol` for many strikes of one root and expiry (the date is parsed once)."""
    d = as_timestamp(expiry, "expiry")
    ks = np.rint(np.asarray(strikes, dtype=float) * 1000)
    bad = ~((ks > 0) & (ks < 10**8))
    if bad.any():
        raise ValidationError.for_field(
            "strike", f"cannot be encoded in an OCC symbol: {float(np.asarray(strikes)[bad][0])}")
    head = f"{root}{d:%y%m%d}"
    return [f"{head}{'C' if kd == 'call' else 'P'}{int(kk):08d}" for kd, kk in zip(kinds, ks.tolist(), strict=True)]


_OCC = re.compile(r"^\s*([A-Z0-9.]{1,6}?)\s*(\d{6})([CP])(\d{8})\s*$")


def parse_occ_symbol(symbol: str) -> tuple[str, dt.date, str, float]:
    """Decode an OCC option symbol.

    Examples
    --------
    >>> parse_occ_symbol("SPXW220207P02400000")
    ('SPXW', datetime.date(2022, 2, 7), 'put', 2400.0)

    Raises
    ------
    ValidationError
        When ``symbol`` is not ``ROOT`` + ``YYMMDD`` + ``C``/``P`` + 8 digits.
    """
    m = _OCC.match(str(symbol).upper())
    if m is None:
        raise ValidationError.for_field("symbol", f"not an OCC option symbol: {symbol!r}")
    root, ymd, cp, k = m.groups()
    try:
        d = dt.date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError:
        raise ValidationError.for_field("symbol", f"bad expiry date {ymd!r} in {symbol!r}") from None
    return root, d, "call" if cp == "C" else "put", int(k) / 1000.0
