"""The policy draft: a priced, explained hedge ready for the investor to accept.

``PolicyDraft`` carries the seed's keys (``portfolio_value, beta,
coverage_notional, floor_pct, start_utc, end_utc, strategy, index_symbol,
put_leg, call_leg, premium_net, metadata``) plus everything needed to explain,
bind, monitor and settle it: every leg (a put spread has two put legs), the
term, the contract specification, the pricing source (a real chain or the
synthetic one, and as of when), the analytics of the strategy, the
assumptions and the warnings. ``to_dict()`` gives plain JSON types and
``from_dict()`` reverses it exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from floorguard.domain._plain import NotPlain, asdict_plain, clean_plain
from floorguard.exceptions import ValidationError

__all__ = ["HedgeLeg", "PolicyDraft", "PricingSource", "STRATEGIES"]

#: Strategy families the engine builds.
STRATEGIES: tuple[str, ...] = ("protective_put", "collar", "put_spread", "tail_hedge")

Side = Literal["long", "short"]


def _iso(ts: dt.datetime | dt.date | str | None) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        return ts
    return ts.isoformat()


def _parse_dt(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, str):
        try:
            out = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError.for_field(name, f"must be an ISO datetime, got {value!r}") from None
    else:
        raise ValidationError.for_field(name, f"must be an ISO datetime, got {value!r}")
    if out.tzinfo is None:
        out = out.replace(tzinfo=dt.timezone.utc)
    return out


def _parse_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ValidationError.for_field(name, f"must be an ISO date, got {value!r}")


def _clean(obj: Any) -> Any:
    """Plain JSON types; non-finite floats become None.

    The readable reference of :func:`floorguard.domain._plain.clean_plain`
    (the fast path of the ``to_dict`` methods below, which fall back to this).
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _clean(obj.item())
    return obj


@dataclass(frozen=True)
class HedgeLeg:
    """One option position of a hedge.

    Attributes
    ----------
    kind : {"put", "call"}
    side : {"long", "short"}
    strike : float
        In the underlying's units (SPX points, SPY dollars).
    contracts : int
        Number of contracts (positive; ``side`` gives the sign).
    expiry : datetime.date
        Expiration date.
    multiplier : float
        Dollars per point per contract.
    price : float
        Per-unit execution estimate: the ask for a long leg, the bid for a short one.
    premium : float
        ``price * contracts * multiplier`` in dollars (positive = paid for a
        long leg, received for a short one).
    mid : float
        Per-unit mid, the estimate of fair value.
    bid, ask : float
        Quote used (NaN when unknown).
    iv : float
        Implied volatility (per 1.00) used for greeks and marking.
    symbol : str
        Underlying symbol the strike refers to (``"SPX"``, ``"SPY"``).
    option_symbol : str or None
        Listed option symbol, when the chain gives it.
    greeks : dict
        Position greeks (signed, dollars): delta (per 1 point of underlying
        times multiplier), gamma, vega (per 1.00 vol), theta (per year), rho.
    strike_reason : str
        Why this strike was chosen.
    liquidity : dict
        The liquidity check of the quote.
    """

    kind: Literal["put", "call"]
    side: Side
    strike: float
    contracts: int
    expiry: dt.date
    multiplier: float
    price: float
    premium: float
    mid: float
    bid: float = float("nan")
    ask: float = float("nan")
    iv: float = float("nan")
    symbol: str = ""
    option_symbol: str | None = None
    greeks: dict[str, float] = field(default_factory=dict)
    strike_reason: str = ""
    liquidity: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("put", "call"):
            raise ValidationError.for_field("leg.kind", f"must be put or call, got {self.kind!r}")
        if self.side not in ("long", "short"):
            raise ValidationError.for_field("leg.side", f"must be long or short, got {self.side!r}")
        if int(self.contracts) != self.contracts or self.contracts < 0:
            raise ValidationError.for_field(
                "leg.contracts", f"must be a non-negative integer, got {self.contracts!r}"
            )
        if not (math.isfinite(self.strike) and self.strike > 0):
            raise ValidationError.for_field("leg.strike", f"must be > 0, got {self.strike!r}")
        if not (math.isfinite(self.multiplier) and self.multiplier > 0):
            raise ValidationError.for_field("leg.multiplier", f"must be > 0, got {self.multiplier!r}")

    @property
    def sign(self) -> int:
        """+1 for a long leg, -1 for a short one."""
        return 1 if self.side == "long" else -1

    @property
    def premium_mid(self) -> float:
        """Premium at the mid, dollars (the estimate)."""
        return self.mid * self.contracts * self.multiplier

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (non-finite floats become ``null``); equals :func:`_leg_dict_reference`."""
        try:
            d = {name: getattr(self, name) for name in _LEG_FIELDS}
            d["expiry"] = self.expiry.isoformat()
            d["premium_mid"] = self.premium_mid
            return clean_plain(d)  # type: ignore[no-any-return]
        except NotPlain:
            return _leg_dict_reference(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HedgeLeg:
        """Rebuild a leg from :meth:`to_dict` output (extra keys are ignored)."""
        if not isinstance(data, dict):
            raise ValidationError.for_field("leg", f"must be an object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        missing = [n for n in ("kind", "side", "strike", "contracts", "expiry", "multiplier") if n not in data]
        if missing:
            raise ValidationError.for_field("leg", f"missing keys: {', '.join(missing)}")
        kw = {k: v for k, v in data.items() if k in names}
        kw["expiry"] = _parse_date(data["expiry"], "leg.expiry")
        for k in ("strike", "multiplier", "price", "premium", "mid", "bid", "ask", "iv"):
            if k in kw:
                kw[k] = float("nan") if kw[k] is None else float(kw[k])
        for k in ("price", "premium", "mid"):
            kw.setdefault(k, float("nan"))
        kw["contracts"] = int(kw["contracts"])
        kw["greeks"] = {k: (float("nan") if v is None else float(v)) for k, v in (kw.get("greeks") or {}).items()}
        kw["liquidity"] = dict(kw.get("liquidity") or {})
        return cls(**kw)


@dataclass(frozen=True)
class PricingSource:
    """Where the option prices came from.

    ``kind`` is ``"chain"`` (a real quote file or broker chain) or
    ``"synthetic"`` (model prices from a volatility surface: an estimate,
    labelled as such wherever shown).
    """

    kind: Literal["chain", "synthetic"]
    source: str
    as_of: str | None
    synthetic: bool

    def to_dict(self) -> dict[str, Any]:
        try:
            return asdict_plain(self)
        except NotPlain:
            return asdict(self)


def _leg_dict_reference(leg: HedgeLeg) -> dict[str, Any]:
    """:meth:`HedgeLeg.to_dict` by the letter: ``asdict`` (a deep copy), then :func:`_clean`."""
    d = asdict(leg)
    d["expiry"] = leg.expiry.isoformat()
    d["premium_mid"] = leg.premium_mid
    return _clean(d)  # type: ignore[no-any-return]


#: HedgeLeg's field names, in order (the keys of ``asdict``)
_LEG_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(HedgeLeg))


@dataclass(frozen=True)
class PolicyDraft:
    """A priced hedge proposal (the seed's ``PolicyDraft``, extended).

    Money is in dollars, levels in the option underlying's units, rates per year.

    Attributes
    ----------
    portfolio_value : float
        Hedged (liquid, priced) portfolio value at the quote.
    beta : float
        Portfolio beta against the hedge index.
    coverage_notional : float
        Dollar exposure hedged (beta-adjusted and scaled by coverage).
    floor_pct : float
        Floor as a fraction of ``portfolio_value``.
    start_utc, end_utc : datetime
        Term of the policy (UTC).
    strategy : str
        One of ``STRATEGIES``.
    index_symbol : str
        Hedge index (``"SPX"``).
    put_leg, call_leg : HedgeLeg or None
        The main long put and (collar) the short call.
    premium_net : float
        Net premium at execution prices (buy at ask, sell at bid), dollars;
        positive = paid.
    metadata : dict
        Free-form details (valuation, beta provenance, instrument choice,
        sizing, CAPM mapping, expiry candidates).
    legs : list of HedgeLeg
        Every leg, ``put_leg`` and ``call_leg`` included.
    underlying_symbol : str
        Symbol the options are written on (``"SPX"``, ``"XSP"``, ``"SPY"``).
    underlying_level : float
        Its level at the quote.
    expiry : date
        Option expiry (the first listed expiry covering ``end_utc``).
    contract_spec : dict
        Specification of the option contract.
    pricing_source : PricingSource
    premium_net_mid : float
        Net premium at the mid (the estimate).
    analytics : dict
        Strategy analytics: greeks, breakeven, max_loss, premium_pct,
        hedge_ratio, floor_level ...
    assumptions : dict
        Rate, dividend yields, compounding, volatility source ...
    warnings : list of str
    coverage_ratio : float
        Contractual share of the shortfall covered (1.0 = full).
    status : str
        ``"draft"`` here; later states belong to the policy record.
    """

    portfolio_value: float
    beta: float
    coverage_notional: float
    floor_pct: float
    start_utc: dt.datetime
    end_utc: dt.datetime
    strategy: str
    index_symbol: str
    put_leg: HedgeLeg | None
    call_leg: HedgeLeg | None
    premium_net: float
    metadata: dict[str, Any] = field(default_factory=dict)
    legs: list[HedgeLeg] = field(default_factory=list)
    underlying_symbol: str = ""
    underlying_level: float = float("nan")
    expiry: dt.date | None = None
    contract_spec: dict[str, Any] = field(default_factory=dict)
    pricing_source: PricingSource | None = None
    premium_net_mid: float = float("nan")
    analytics: dict[str, Any] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    coverage_ratio: float = 1.0
    status: str = "draft"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValidationError.for_field(
                "strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if not self.legs:
            legs = [x for x in (self.put_leg, self.call_leg) if x is not None]
            object.__setattr__(self, "legs", legs)

    @property
    def floor_value(self) -> float:
        """``floor_pct * portfolio_value`` (dollars)."""
        return self.floor_pct * self.portfolio_value

    @property
    def term_days(self) -> float:
        """Length of the term in days."""
        return (self.end_utc - self.start_utc).total_seconds() / 86400.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (non-finite floats become ``null``); equals :func:`_draft_dict_reference`.

        One pass: the legs' dicts are clean already and the free-form parts are
        cleaned once (no deep copy first); anything outside the plain types
        takes the reference path.
        """
        try:
            c = clean_plain
            return {
                "portfolio_value": c(self.portfolio_value),
                "beta": c(self.beta),
                "coverage_notional": c(self.coverage_notional),
                "floor_pct": c(self.floor_pct),
                "floor_value": c(self.floor_value),
                "start_utc": c(_iso(self.start_utc)),
                "end_utc": c(_iso(self.end_utc)),
                "term_days": c(self.term_days),
                "strategy": c(self.strategy),
                "index_symbol": c(self.index_symbol),
                "put_leg": self.put_leg.to_dict() if self.put_leg else None,
                "call_leg": self.call_leg.to_dict() if self.call_leg else None,
                "premium_net": c(self.premium_net),
                "premium_net_mid": c(self.premium_net_mid),
                "metadata": c(self.metadata),
                "legs": [leg.to_dict() for leg in self.legs],
                "underlying_symbol": c(self.underlying_symbol),
                "underlying_level": c(self.underlying_level),
                "expiry": c(_iso(self.expiry)),
                "contract_spec": c(self.contract_spec),
                "pricing_source": c(self.pricing_source.to_dict()) if self.pricing_source else None,
                "analytics": c(self.analytics),
                "assumptions": c(self.assumptions),
                "warnings": c(list(self.warnings)),
                "coverage_ratio": c(self.coverage_ratio),
                "status": c(self.status),
            }
        except NotPlain:
            return _draft_dict_reference(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyDraft:
        """Rebuild a draft from :meth:`to_dict` output (as read back from JSON).

        Raises
        ------
        ValidationError
            Missing seed keys or malformed values, naming the field.
        """
        if not isinstance(data, dict):
            raise ValidationError.for_field("draft", f"must be an object, got {type(data).__name__}")
        if "draft" in data and isinstance(data["draft"], dict) and "portfolio_value" not in data:
            data = data["draft"]  # the CLI's {"ok": true, "draft": {...}} envelope
        required = (
            "portfolio_value", "beta", "coverage_notional", "floor_pct", "start_utc", "end_utc",
            "strategy", "index_symbol", "put_leg", "premium_net",
        )
        missing = [k for k in required if k not in data]
        if missing:
            raise ValidationError.for_field("draft", f"missing keys: {', '.join(missing)}")

        def num(key: str, default: float = float("nan")) -> float:
            v = data.get(key, default)
            if v is None:
                return float("nan")
            try:
                return float(v)
            except (TypeError, ValueError):
                raise ValidationError.for_field(key, f"must be a number, got {v!r}") from None

        def leg(key: str) -> HedgeLeg | None:
            v = data.get(key)
            return None if v is None else HedgeLeg.from_dict(v)

        put_leg, call_leg = leg("put_leg"), leg("call_leg")
        legs = [HedgeLeg.from_dict(x) for x in data.get("legs") or []]
        ps = data.get("pricing_source")
        return cls(
            portfolio_value=num("portfolio_value"),
            beta=num("beta"),
            coverage_notional=num("coverage_notional"),
            floor_pct=num("floor_pct"),
            start_utc=_parse_dt(data["start_utc"], "start_utc"),
            end_utc=_parse_dt(data["end_utc"], "end_utc"),
            strategy=str(data["strategy"]),
            index_symbol=str(data["index_symbol"]),
            put_leg=put_leg,
            call_leg=call_leg,
            premium_net=num("premium_net"),
            metadata=dict(data.get("metadata") or {}),
            legs=legs,
            underlying_symbol=str(data.get("underlying_symbol") or data["index_symbol"]),
            underlying_level=num("underlying_level"),
            expiry=_parse_date(data["expiry"], "expiry") if data.get("expiry") else None,
            contract_spec=dict(data.get("contract_spec") or {}),
            pricing_source=PricingSource(**ps) if isinstance(ps, dict) else None,
            premium_net_mid=num("premium_net_mid"),
            analytics=dict(data.get("analytics") or {}),
            assumptions=dict(data.get("assumptions") or {}),
            warnings=[str(w) for w in data.get("warnings") or []],
            coverage_ratio=num("coverage_ratio", 1.0),
            status=str(data.get("status") or "draft"),
        )


def _draft_dict_reference(draft: PolicyDraft) -> dict[str, Any]:
    """:meth:`PolicyDraft.to_dict` by the letter: every part, legs' dicts included, through :func:`_clean`."""
    return _clean(
        {
            "portfolio_value": draft.portfolio_value,
            "beta": draft.beta,
            "coverage_notional": draft.coverage_notional,
            "floor_pct": draft.floor_pct,
            "floor_value": draft.floor_value,
            "start_utc": _iso(draft.start_utc),
            "end_utc": _iso(draft.end_utc),
            "term_days": draft.term_days,
            "strategy": draft.strategy,
            "index_symbol": draft.index_symbol,
            "put_leg": _leg_dict_reference(draft.put_leg) if draft.put_leg else None,
            "call_leg": _leg_dict_reference(draft.call_leg) if draft.call_leg else None,
            "premium_net": draft.premium_net,
            "premium_net_mid": draft.premium_net_mid,
            "metadata": draft.metadata,
            "legs": [_leg_dict_reference(leg) for leg in draft.legs],
            "underlying_symbol": draft.underlying_symbol,
            "underlying_level": draft.underlying_level,
            "expiry": _iso(draft.expiry),
            "contract_spec": draft.contract_spec,
            "pricing_source": asdict(draft.pricing_source) if draft.pricing_source else None,
            "analytics": draft.analytics,
            "assumptions": draft.assumptions,
            "warnings": list(draft.warnings),
            "coverage_ratio": draft.coverage_ratio,
            "status": draft.status,
        }
    )
