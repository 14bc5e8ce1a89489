"""The one-pass ``to_dict`` kernels equal their references, whatever the values.

:mod:`floorguard.domain._plain` replaces ``dataclasses.asdict`` (a deep copy)
and the drafts' cleaning pass (``policy._clean``) by one pass over plain
values, falling back to the reference on anything else. Checked here: the
kernels against ``asdict`` / ``copy.deepcopy`` / ``_clean`` on plain and
non-plain values (NaN, infinities, ``None``, numpy scalars, tuples, non-text
keys, dates, subclasses, nested dataclasses), and ``HedgeLeg.to_dict``,
``PolicyDraft.to_dict`` and the valuation's and hedging's ``to_dict`` against
the old implementations, key order and value types included.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from floorguard.domain._plain import NotPlain, asdict_plain, clean_plain, copy_plain
from floorguard.domain.policy import (
    HedgeLeg,
    PolicyDraft,
    PricingSource,
    _clean,
    _draft_dict_reference,
    _leg_dict_reference,
)

NAN, INF = float("nan"), float("inf")


def same(a: Any, b: Any) -> bool:
    """Equal with the same types and key order at every level (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@dataclasses.dataclass(frozen=True)
class Inner:
    x: float
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Flat:
    a: int
    b: float
    c: str | None
    d: bool
    e: dict[Any, Any]
    f: list[Any]
    g: tuple[Any, ...]


class Opaque:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque)

    __hash__ = object.__hash__


PLAIN_VALUES: list[Any] = [
    1.5, NAN, INF, -INF, 0.0, -0.0, 7, True, False, None, "text", "",
    [1.0, NAN, None, "a", [INF, {"k": -INF}]],
    (1, (2.5, NAN), ["x"]),
    {"a": 1.0, "b": NAN, "c": {"d": [INF, 2, None], "e": (1, 2)}, 3: "int key", 2.5: "float key", None: 0},
    {"when": dt.datetime(2026, 1, 2, 15, 30, tzinfo=dt.UTC), "day": dt.date(2026, 3, 20), "naive": dt.datetime(2026, 1, 2)},
    {"np": [np.float64(1.25), np.float64("nan"), np.float32(2.5), np.int64(3), np.bool_(True), np.str_("s")]},
    np.float64(-INF), np.int32(-4), np.datetime64("2026-01-02T03:04:05"),
]

NOT_PLAIN_VALUES: list[Any] = [
    {"ts": pd.Timestamp("2026-01-02 15:00", tz="UTC")},  # a datetime subclass: _clean gives its ISO text
    collections.OrderedDict(a=NAN),  # a dict subclass: _clean gives a plain dict
    {"inner": Inner(NAN, ("a",))},  # a dataclass: asdict converts it, _clean keeps it
    [Opaque()],
    {"arr": np.array([1.0, NAN])},  # an array: _clean keeps it (it has .item but is not a scalar)
]


@pytest.mark.parametrize("value", PLAIN_VALUES)
def test_clean_plain_equals_clean_on_plain_values(value: Any) -> None:
    assert same(clean_plain(value), _clean(value))


@pytest.mark.parametrize("value", NOT_PLAIN_VALUES)
def test_clean_plain_refuses_what_it_does_not_know(value: Any) -> None:
    with pytest.raises(NotPlain):
        clean_plain(value)


COPY_VALUES: list[Any] = [
    1.5, NAN, None, "text", 7, True, [1.0, NAN, [INF, {"k": -INF}]], (1, (2.5, NAN), ["x"]),
    {"a": 1.0, "b": NAN, "c": {"d": [INF, 2, None], "e": (1, 2)}, 3: "int key", (4, 5): "tuple key"},
]


@pytest.mark.parametrize("value", COPY_VALUES)
def test_copy_plain_equals_deepcopy_and_copies(value: Any) -> None:
    got = copy_plain(value)
    assert same(got, copy.deepcopy(value))
    if isinstance(value, (dict, list)):
        assert got is not value
        inner = value["c"] if isinstance(value, dict) else value[2]
        assert (got["c"] if isinstance(value, dict) else got[2]) is not inner


@pytest.mark.parametrize("value", [{"when": dt.date(2026, 1, 2)}, [np.float64(1.0)], {"o": Opaque()},
                                   collections.OrderedDict(a=1), {"inner": Inner(1.0)}])
def test_copy_plain_refuses_other_objects(value: Any) -> None:
    with pytest.raises(NotPlain):
        copy_plain(value)


def test_asdict_plain_equals_asdict() -> None:
    flat = Flat(1, NAN, None, True, {"k": [1.0, (2, 3)], 4: None}, [INF, {"x": 1}], (1, "a", (2.0,)))
    got = asdict_plain(flat)
    ref = dataclasses.asdict(flat)
    assert same(got, ref)
    assert got["e"] is not flat.e and got["e"]["k"] is not flat.e["k"] and got["f"] is not flat.f
    for bad in (Flat(1, 1.0, None, False, {"i": Inner(1.0)}, [], ()),
                Flat(1, 1.0, None, False, {}, [np.float64(1.0)], ()),
                Flat(1, 1.0, None, False, {}, [], (dt.date(2026, 1, 2),))):
        with pytest.raises(NotPlain):
            asdict_plain(bad)


# --------------------------------------------------------------------------- the domain's to_dict


def leg(kind: str = "put", side: str = "long", **kw: Any) -> HedgeLeg:
    base: dict[str, Any] = {
        "kind": kind, "side": side, "strike": 3900.0, "contracts": 3, "expiry": dt.date(2026, 3, 20),
        "multiplier": 100.0, "price": 41.2, "premium": 12_360.0, "mid": 40.9, "bid": 40.6, "ask": 41.2,
        "iv": 0.2137, "symbol": "SPX", "option_symbol": "SPXW260320P03900000",
        "greeks": {"delta": -0.31 * 300, "gamma": 0.001, "vega": NAN, "theta": -INF, "rho": -12.0},
        "strike_reason": "listed strike at the target",
        "liquidity": {"ok": True, "spread_pct": 0.0146, "open_interest": NAN, "volume": None,
                      "reasons": [], "rejected": [{"strike": 3905.0, "reasons": ["spread 30% > 25%"]}]},
    }
    base.update(kw)
    return HedgeLeg(**base)


LEGS = [
    leg(),
    leg(bid=NAN, ask=NAN, iv=NAN, option_symbol=None, greeks={}, liquidity={}),
    leg("call", "short", strike=4400.0, greeks={"delta": np.float64(12.5), "gamma": np.float64("nan")}),
    leg(liquidity={"reasons": ("a", "b"), 7: (1.0, NAN)}),  # a tuple and a non-text key
    leg(liquidity={"checked_at": pd.Timestamp("2026-01-02", tz="UTC")}),  # not plain: the reference path
    leg(greeks={"delta": Inner(1.0)}),  # not plain: asdict converts the dataclass
]


@pytest.mark.parametrize("hl", LEGS)
def test_leg_to_dict_equals_the_reference(hl: HedgeLeg) -> None:
    got, ref = hl.to_dict(), _leg_dict_reference(hl)
    assert same(got, ref)
    assert got["greeks"] is not hl.greeks and got["liquidity"] is not hl.liquidity


def draft(**kw: Any) -> PolicyDraft:
    legs = kw.pop("legs", [LEGS[0], LEGS[2]])
    base: dict[str, Any] = {
        "portfolio_value": 1_234_567.89, "beta": 1.07, "coverage_notional": 1.3e6, "floor_pct": 0.9,
        "start_utc": dt.datetime(2026, 1, 2, 15, 0, 7, tzinfo=dt.UTC),
        "end_utc": dt.datetime(2026, 3, 20, 20, 15, tzinfo=dt.UTC),
        "strategy": "collar", "index_symbol": "SPX",
        "put_leg": next((x for x in legs if x.kind == "put" and x.side == "long"), None),
        "call_leg": next((x for x in legs if x.kind == "call"), None),
        "premium_net": 2_345.5, "legs": legs, "underlying_symbol": "SPX", "underlying_level": 4011.5,
        "expiry": dt.date(2026, 3, 20), "contract_spec": {"symbol": "SPXW", "multiplier": 100.0, "tick": None},
        "pricing_source": PricingSource("synthetic", "model surface", "2026-01-02T15:00:07+00:00", True),
        "premium_net_mid": NAN,
        "analytics": {"breakeven_level": NAN, "greeks": {"delta": -0.5, "vega": INF},
                      "analysed_range": [0.0, 12034.5], "loss_unbounded_above": False},
        "assumptions": {"rate": 0.04, "rates_source": {"rate": 0.04, "source": "settings"}},
        "warnings": ["SYNTHETIC prices: model estimates"],
        "metadata": {"valuation": {"positions": [{"symbol": "AAPL", "price": 190.1, "user_beta": None}]},
                     "beta": {"history": {"AAPL": {"r_squared": NAN, "observations": 250}}},
                     "expiry": {"expiry": "2026-03-20", "previous": None}, "root": "SPXW",
                     "index_level": np.float64(4011.5), "count": np.int64(3)},
    }
    base.update(kw)
    return PolicyDraft(**base)


DRAFTS = [
    draft(),
    draft(strategy="protective_put", legs=[LEGS[1]], call_leg=None, pricing_source=None, expiry=None,
          underlying_level=NAN, premium_net=INF, warnings=[]),
    draft(strategy="put_spread", legs=[LEGS[0], leg(side="short", strike=3500.0)], call_leg=None,
          metadata={}, analytics={}, assumptions={}, contract_spec={}),
    draft(metadata={"when": dt.datetime(2026, 1, 2, tzinfo=dt.UTC), "keys": {1: "a", (2, 3): "b"}}),
    draft(metadata={"ts": pd.Timestamp("2026-01-02 15:00", tz="UTC")}),  # not plain: the reference path
    draft(analytics={"custom": Opaque()}),  # not plain: kept as the reference keeps it
    draft(legs=[LEGS[4], LEGS[2]]),  # a leg on its own reference path
]


@pytest.mark.parametrize("d", DRAFTS)
def test_draft_to_dict_equals_the_reference(d: PolicyDraft) -> None:
    got, ref = d.to_dict(), _draft_dict_reference(d)
    assert same(got, ref)
    if all(not isinstance(v, Opaque) for v in d.analytics.values()):
        text = json.dumps(got, separators=(",", ":"), allow_nan=False)
        assert text == json.dumps(ref, separators=(",", ":"), allow_nan=False)
        assert PolicyDraft.from_dict(json.loads(text)).to_dict() == json.loads(text)
    assert got["metadata"] is not d.metadata and got["legs"][0] is not got["put_leg"]


def test_valuation_and_hedging_to_dict_equal_asdict() -> None:
    from floorguard.domain.hedging import LiquidityCheck, StrikeChoice
    from floorguard.domain.strategies import ExpiryChoice
    from floorguard.domain.valuation import HedgeBeta, ValuedPosition

    vp = ValuedPosition("AAPL", 10.0, "equity", 190.1, 1901.0, "user", None, True, None, NAN)
    np_vp = ValuedPosition("AAPL", np.float64(10.0), "equity", 190.1, 1901.0, "user", "2026-01-02", True)  # type: ignore[arg-type]
    hb = HedgeBeta(1.07, "multivariate", {"multivariate": 1.0},
                   {"AAPL": {"beta": 1.2, "r_squared": NAN, "note": None}}, ["MTUM"], ["w"])
    for obj in (vp, np_vp, hb):
        assert same(obj.to_dict(), dataclasses.asdict(obj))
    assert hb.to_dict()["positions"]["AAPL"] is not hb.positions["AAPL"]
    chk = LiquidityCheck(False, NAN, None, 3.0, ("no bid", "volume 3 < 10"))
    ref = dataclasses.asdict(chk)
    ref["reasons"] = list(chk.reasons)
    assert same(chk.to_dict(), ref)
    sc = StrikeChoice(3900.0, 3897.2, False, True, "nearest listed strike above")
    assert same(sc.to_dict(), dataclasses.asdict(sc))
    for ec in (ExpiryChoice(dt.date(2026, 3, 20), None, dt.date(2026, 3, 23), "first"),
               ExpiryChoice(dt.date(2026, 3, 20), pd.Timestamp("2026-03-19"), None, "a timestamp")):  # type: ignore[arg-type]
        ref = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in dataclasses.asdict(ec).items()}
        assert same(ec.to_dict(), ref)
