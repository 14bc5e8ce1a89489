"""Option pricing: Black–Scholes–Merton, Black-76, American options, implied vol.

Units everywhere: ``t`` in years, rates and dividend yields continuously
compounded per year, vol per sqrt(year); vega per 1.00 of vol, theta per year
(``dV/d(calendar time)``), rho per 1.00 of rate.
"""

from floorguard.core.pricing._american import american_greeks, american_price
from floorguard.core.pricing._black import (
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    put_call_parity_residual,
)
from floorguard.core.pricing._implied import (
    REASONS,
    ImpliedVolResult,
    implied_vol,
    implied_vol_details,
)
from floorguard.core.pricing._surface import (
    ModelSurface,
    SviParams,
    VolSurface,
    fit_surface,
    fit_svi,
    svi_butterfly_g,
    svi_total_variance,
)

__all__ = [
    "REASONS",
    "ImpliedVolResult",
    "ModelSurface",
    "SviParams",
    "VolSurface",
    "fit_surface",
    "fit_svi",
    "svi_butterfly_g",
    "svi_total_variance",
    "american_greeks",
    "american_price",
    "black76_greeks",
    "black76_price",
    "bsm_greeks",
    "bsm_price",
    "implied_vol",
    "implied_vol_details",
    "put_call_parity_residual",
]
