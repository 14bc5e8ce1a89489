"""Pricing commands: ``price`` (price and greeks) and ``iv`` (implied volatility).

Units: ``--expiry-years`` in years, ``--rate``/``--dividend`` continuously
compounded per year, ``--vol`` per sqrt(year) (0.20 = 20 %). Greeks: delta per
1.00 of spot, gamma per 1.00 of spot squared, vega per 1.00 of vol, theta per
year, rho per 1.00 of rate.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.table import Table

from floorguard.cli._common import JsonOpt, console, emit
from floorguard.exceptions import ValidationError

__all__ = ["register"]

KindOpt = Annotated[str, typer.Option("--kind", help="call or put.")]
# Numbers are read as text and parsed here so that a bad number is a one-line
# ValidationError naming the option (exit 2), like every other bad input.
SpotOpt = Annotated[str, typer.Option("--spot", help="Underlying price.", metavar="FLOAT")]
StrikeOpt = Annotated[str, typer.Option("--strike", help="Strike price.", metavar="FLOAT")]
ExpiryOpt = Annotated[str, typer.Option("--expiry-years", help="Time to expiry in years (ACT/365).", metavar="FLOAT")]
RateOpt = Annotated[
    str, typer.Option("--rate", help="Risk-free rate, continuously compounded (0.04 = 4 %).", metavar="FLOAT")
]
DivOpt = Annotated[str, typer.Option("--dividend", help="Dividend yield, continuously compounded.", metavar="FLOAT")]
StyleOpt = Annotated[str, typer.Option("--style", help="european or american.")]


def _num(name: str, value: str | float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(name, f"must be a number, got {value!r}") from None


def _check(kind: str, style: str, **values: float) -> None:
    if kind not in ("call", "put"):
        raise ValidationError.for_field("kind", f"must be 'call' or 'put', got {kind!r}")
    if style not in ("european", "american"):
        raise ValidationError.for_field("style", f"must be 'european' or 'american', got {style!r}")
    for name, v in values.items():
        if not math.isfinite(v):
            raise ValidationError.for_field(name.replace("_", "-"), f"must be finite, got {v}")
    for name in ("spot", "strike", "vol", "price"):
        if name in values and values[name] <= 0:
            raise ValidationError.for_field(name, f"must be positive, got {values[name]}")
    if values.get("expiry_years", 1.0) < 0:
        raise ValidationError.for_field("expiry-years", f"must not be negative, got {values['expiry_years']}")


def price_option(
    kind: str, spot: float, strike: float, t: float, rate: float, vol: float, dividend: float, style: str
) -> dict[str, Any]:
    """Price and greeks as a plain dict (used by the command and its tests)."""
    from floorguard.core import pricing

    _check(kind, style, spot=spot, strike=strike, expiry_years=t, rate=rate, vol=vol, dividend=dividend)
    if style == "american":
        value = float(pricing.american_price(kind, spot, strike, t, rate, vol, dividend))
        greeks = pricing.american_greeks(kind, spot, strike, t, rate, vol, dividend)
        european = float(pricing.bsm_price(kind, spot, strike, t, rate, vol, dividend))
    else:
        value = float(pricing.bsm_price(kind, spot, strike, t, rate, vol, dividend))
        greeks = pricing.bsm_greeks(kind, spot, strike, t, rate, vol, dividend)
        european = value
    out: dict[str, Any] = {
        "kind": kind,
        "style": style,
        "spot": spot,
        "strike": strike,
        "expiry_years": t,
        "rate": rate,
        "dividend": dividend,
        "vol": vol,
        "price": value,
        "greeks": {k: float(v) for k, v in dict(greeks).items() if k != "price"},
        "units": "vega per 1.00 vol, theta per year, rho per 1.00 rate",
    }
    if style == "american":
        out["early_exercise_premium"] = value - european
    return out


def implied_vol_of(
    kind: str, price: float, spot: float, strike: float, t: float, rate: float, dividend: float, style: str
) -> dict[str, Any]:
    """Implied vol with its reason code as a plain dict."""
    from floorguard.core import pricing

    _check(kind, style, price=price, spot=spot, strike=strike, expiry_years=t, rate=rate, dividend=dividend)
    res = pricing.implied_vol_details(price, kind, spot, strike, t, rate, dividend, style=style)
    vol = float(res.vol)
    return {
        "kind": kind,
        "style": style,
        "price": price,
        "spot": spot,
        "strike": strike,
        "expiry_years": t,
        "rate": rate,
        "dividend": dividend,
        "implied_vol": vol if math.isfinite(vol) else None,
        "reason": str(res.reason),
    }


def register(app: typer.Typer) -> None:
    """Add ``price`` and ``iv`` to ``app``."""

    @app.command("price")
    def price_cmd(
        kind: KindOpt,
        spot: SpotOpt,
        strike: StrikeOpt,
        expiry_years: ExpiryOpt,
        rate: RateOpt,
        vol: Annotated[str, typer.Option("--vol", help="Volatility per sqrt(year) (0.20 = 20 %).", metavar="FLOAT")],
        dividend: DivOpt = "0",
        style: StyleOpt = "european",
        as_json: JsonOpt = False,
    ) -> None:
        """Price an option and its greeks (Black-Scholes-Merton, or American)."""
        data = price_option(
            kind.lower(), _num("spot", spot), _num("strike", strike), _num("expiry-years", expiry_years),
            _num("rate", rate), _num("vol", vol), _num("dividend", dividend), style.lower(),
        )

        def render(d: dict[str, Any]) -> None:
            table = Table(title=f"{d['style']} {d['kind']}  S={d['spot']:g} K={d['strike']:g} T={d['expiry_years']:g}y")
            table.add_column("quantity")
            table.add_column("value", justify="right")
            table.add_row("price", f"{d['price']:.6f}")
            if "early_exercise_premium" in d:
                table.add_row("early-exercise premium", f"{d['early_exercise_premium']:.6f}")
            for k, v in d["greeks"].items():
                table.add_row(k, f"{v:.6f}")
            console.print(table)
            console.print(d["units"])

        emit(data, as_json, render)

    @app.command("iv")
    def iv_cmd(
        kind: KindOpt,
        price: Annotated[str, typer.Option("--price", help="Option price.", metavar="FLOAT")],
        spot: SpotOpt,
        strike: StrikeOpt,
        expiry_years: ExpiryOpt,
        rate: RateOpt,
        dividend: DivOpt = "0",
        style: StyleOpt = "european",
        as_json: JsonOpt = False,
    ) -> None:
        """Implied volatility of an option price (NaN with a reason when none exists)."""
        data = implied_vol_of(
            kind.lower(), _num("price", price), _num("spot", spot), _num("strike", strike),
            _num("expiry-years", expiry_years), _num("rate", rate), _num("dividend", dividend), style.lower(),
        )

        def render(d: dict[str, Any]) -> None:
            if d["implied_vol"] is None:
                console.print(f"no implied vol: {d['reason']}")
            else:
                console.print(f"implied vol {d['implied_vol']:.6f} ({100 * d['implied_vol']:.2f} %)")

        emit(data, as_json, render)
