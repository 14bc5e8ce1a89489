"""QuantLib helpers shared by the pricing tests (QuantLib is a test-only dependency)."""

from __future__ import annotations

import math

import numpy as np

ql = __import__("pytest").importorskip("QuantLib")


def black_calculator(
    kind: float, s: float, k: float, t: float, r: float, v: float, q: float
) -> dict[str, float]:
    """QuantLib BlackCalculator values for one BSM option (no dates: t given in years)."""
    fwd = s * math.exp((r - q) * t)
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind > 0 else ql.Option.Put, k)
    bc = ql.BlackCalculator(payoff, fwd, v * math.sqrt(t), math.exp(-r * t))
    return {
        "price": bc.value(),
        "delta": bc.delta(s),
        "gamma": bc.gamma(s),
        "vega": bc.vega(t),
        "theta": bc.theta(s, t),
        "rho": bc.rho(t),
        "dividend_rho": bc.dividendRho(t),
    }


class AmericanQL:
    """QuantLib American engines on one shared process (build once, reprice many)."""

    def __init__(self) -> None:
        self.today = ql.Date(15, 1, 2024)
        ql.Settings.instance().evaluationDate = self.today
        dc = ql.Actual365Fixed()
        self.s = ql.SimpleQuote(100.0)
        self.r = ql.SimpleQuote(0.0)
        self.q = ql.SimpleQuote(0.0)
        self.v = ql.SimpleQuote(0.2)
        self.process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(self.s),
            ql.YieldTermStructureHandle(ql.FlatForward(self.today, ql.QuoteHandle(self.q), dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(self.today, ql.QuoteHandle(self.r), dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(self.today, ql.NullCalendar(), ql.QuoteHandle(self.v), dc)
            ),
        )
        self.qdfp = ql.QdFpAmericanEngine(self.process, ql.QdFpAmericanEngine.highPrecisionScheme())

    def price(
        self, kind: float, s: float, k: float, days: int, r: float, v: float, q: float, engine=None
    ) -> float:
        self.s.setValue(s)
        self.r.setValue(r)
        self.q.setValue(q)
        self.v.setValue(v)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind > 0 else ql.Option.Put, k)
        opt = ql.VanillaOption(payoff, ql.AmericanExercise(self.today, self.today + int(days)))
        opt.setPricingEngine(engine or self.qdfp)
        return opt.NPV()

    def lr_extrapolated(
        self, kind: float, s: float, k: float, days: int, r: float, v: float, q: float
    ) -> float:
        """Leisen–Reimer trees with 2001 and 4001 steps, Richardson-extrapolated.

        LR's American error is ~c/N from about 2000 steps on (below that it can
        be erratic: 1001 steps are 5e-3 off on an ATM put where 2001 are within 5e-6).
        """
        fine = self.price(
            kind, s, k, days, r, v, q, ql.BinomialVanillaEngine(self.process, "lr", 4001)
        )
        coarse = self.price(
            kind, s, k, days, r, v, q, ql.BinomialVanillaEngine(self.process, "lr", 2001)
        )
        return 2.0 * fine - coarse


def random_cases(n: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded random option cases: 1-day to 3-year expiries, deep ITM/OTM, q > r, negative rates."""
    rng = np.random.default_rng(seed)
    days = np.where(rng.random(n) < 0.15, 1, rng.integers(1, 3 * 365, n))
    return {
        "kind": rng.choice([1.0, -1.0], n),
        "s": rng.uniform(5.0, 2000.0, n),
        "m": rng.uniform(-1.2, 1.2, n),  # ln(K/S)
        "t": days / 365.0,
        "days": days,
        "r": rng.uniform(-0.02, 0.10, n),
        "q": rng.uniform(-0.01, 0.12, n),
        "v": rng.uniform(0.01, 1.5, n),
    }
