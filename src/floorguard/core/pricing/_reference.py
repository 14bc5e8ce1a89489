"""Slow, readable scalar twins of the pricing kernels (for tests only).

Each function prices ONE option with plain Python floats and the textbook
formula, so the vectorised kernels in ``_black``, ``_binomial``,
``_american`` and ``_implied`` can be checked against something obviously
right. Nothing here is fast and nothing here is used by the product.
"""

from __future__ import annotations

import math

__all__ = [
    "bsm_greeks_ref",
    "bsm_price_ref",
    "crr_tree_ref",
    "implied_vol_bisection_ref",
    "lr_tree_ref",
    "norm_cdf",
    "norm_pdf",
]


def norm_cdf(x: float) -> float:
    """Standard normal CDF via the complementary error function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _sign(kind: str) -> float:
    if kind not in ("call", "put"):
        raise ValueError(f"kind must be 'call' or 'put', got {kind!r}")
    return 1.0 if kind == "call" else -1.0


def bsm_price_ref(
    kind: str, s: float, k: float, t: float, r: float, vol: float, q: float = 0.0
) -> float:
    """Black–Scholes–Merton price (Hull, eq. 15.20/15.21 with a dividend yield)."""
    theta = _sign(kind)
    if t <= 0.0 or vol <= 0.0:
        return max(theta * (s * math.exp(-q * t) - k * math.exp(-r * t)), 0.0)
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    return theta * (
        s * math.exp(-q * t) * norm_cdf(theta * d1) - k * math.exp(-r * t) * norm_cdf(theta * d2)
    )


def bsm_greeks_ref(
    kind: str, s: float, k: float, t: float, r: float, vol: float, q: float = 0.0
) -> dict[str, float]:
    """Price and greeks (t > 0, vol > 0), textbook closed forms (Hull, ch. 19)."""
    theta = _sign(kind)
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    dq = math.exp(-q * t)
    dr = math.exp(-r * t)
    pdf = norm_pdf(d1)
    n1 = norm_cdf(theta * d1)
    n2 = norm_cdf(theta * d2)
    return {
        "price": theta * (s * dq * n1 - k * dr * n2),
        "delta": theta * dq * n1,
        "gamma": dq * pdf / (s * sd),
        "vega": s * dq * pdf * math.sqrt(t),
        "theta": -s * dq * pdf * vol / (2.0 * math.sqrt(t))
        + theta * (q * s * dq * n1 - r * k * dr * n2),
        "rho": theta * k * t * dr * n2,
        "dividend_rho": -theta * s * t * dq * n1,
    }


def _backward(
    kind: str,
    s: float,
    k: float,
    r: float,
    dt: float,
    n: int,
    u: float,
    d: float,
    p: float,
    american: bool,
) -> float:
    theta = _sign(kind)
    disc = math.exp(-r * dt)
    values = [max(theta * (s * u**j * d ** (n - j) - k), 0.0) for j in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1):
            cont = disc * (p * values[j + 1] + (1.0 - p) * values[j])
            if american:
                cont = max(cont, theta * (s * u**j * d ** (i - j) - k))
            values[j] = cont
    return values[0]


def crr_tree_ref(
    kind: str,
    s: float,
    k: float,
    t: float,
    r: float,
    vol: float,
    q: float = 0.0,
    steps: int = 200,
    american: bool = True,
) -> float:
    """Cox–Ross–Rubinstein binomial tree (Hull, ch. 21): u = e^{vol sqrt(dt)}, d = 1/u."""
    dt = t / steps
    u = math.exp(vol * math.sqrt(dt))
    d = 1.0 / u
    p = (math.exp((r - q) * dt) - d) / (u - d)
    return _backward(kind, s, k, r, dt, steps, u, d, p, american)


def lr_tree_ref(
    kind: str,
    s: float,
    k: float,
    t: float,
    r: float,
    vol: float,
    q: float = 0.0,
    steps: int = 201,
    american: bool = True,
) -> float:
    """Leisen–Reimer tree (Peizer–Pratt method 2), odd steps."""
    n = steps | 1
    dt = t / n
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd

    def h(z: float) -> float:
        a = z / (n + 1.0 / 3.0 + 0.1 / (n + 1.0))
        return 0.5 + math.copysign(0.5, z) * math.sqrt(1.0 - math.exp(-a * a * (n + 1.0 / 6.0)))

    p = h(d2)
    pp = h(d1)
    growth = math.exp((r - q) * dt)
    u = growth * pp / p
    d = (growth - p * u) / (1.0 - p)
    return _backward(kind, s, k, r, dt, n, u, d, p, american)


def implied_vol_bisection_ref(
    price: float, kind: str, s: float, k: float, t: float, r: float, q: float = 0.0
) -> float:
    """European implied vol by plain bisection on [1e-9, 20] to 1e-15 (NaN if out of bounds)."""
    lo, hi = 1e-9, 20.0
    if not (
        bsm_price_ref(kind, s, k, t, r, lo, q) < price < bsm_price_ref(kind, s, k, t, r, hi, q)
    ):
        return math.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if bsm_price_ref(kind, s, k, t, r, mid, q) < price:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)
