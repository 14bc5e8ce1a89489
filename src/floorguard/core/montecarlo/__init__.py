"""Monte Carlo scenario simulation: correlated paths, presets, hedge repricing, tail estimates.

All outputs are model estimates with Monte Carlo standard errors.
"""

from floorguard.core.montecarlo._engine import (
    PRESETS,
    DistributionSummary,
    FlatVol,
    OptionLeg,
    ScenarioResult,
    ScenarioSpec,
    VolSurfaceLike,
    custom_shock,
    mc_european_price,
    preset,
    reprice_legs,
    run_scenario,
)
from floorguard.core.montecarlo._paths import (
    CovarianceEstimate,
    GarchFilter,
    MertonJumps,
    ReturnModel,
    estimate_covariance,
    iter_path_chunks,
    iter_terminal_chunks,
    iter_terminal_values,
    spawn_streams,
)
from floorguard.core.montecarlo._stats import (
    Estimate,
    TailComparison,
    mc_mean,
    mc_proportion,
    mc_quantiles,
    mc_statistic,
    tail_comparison,
)

__all__ = [
    "PRESETS",
    "CovarianceEstimate",
    "DistributionSummary",
    "Estimate",
    "FlatVol",
    "GarchFilter",
    "MertonJumps",
    "OptionLeg",
    "ReturnModel",
    "ScenarioResult",
    "ScenarioSpec",
    "TailComparison",
    "VolSurfaceLike",
    "custom_shock",
    "estimate_covariance",
    "iter_path_chunks",
    "iter_terminal_chunks",
    "iter_terminal_values",
    "mc_european_price",
    "mc_mean",
    "mc_proportion",
    "mc_quantiles",
    "mc_statistic",
    "preset",
    "reprice_legs",
    "run_scenario",
    "spawn_streams",
    "tail_comparison",
]
