"""Array aliases and option sets shared across floorguard."""

from __future__ import annotations

from typing import Literal, TypeAlias, Union

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
ArrayLike: TypeAlias = npt.ArrayLike
#: Seed for explicit randomness: an int, a Generator, or None for fresh entropy.
Seed: TypeAlias = Union[int, np.random.Generator, None]

OptionKind = Literal["call", "put"]
ExerciseStyle = Literal["european", "american"]
StrategyName = Literal["protective_put", "collar", "put_spread", "tail_hedge"]
VarMethod = Literal["historical", "gaussian", "cornish_fisher"]
BetaSource = Literal["multivariate", "single_factor", "provided", "default"]
QualityFlag = Literal["ok", "multicollinear", "short_window", "failed"]
PolicyStatus = Literal["draft", "active", "partially_bound", "expired", "settled", "cancelled"]
AssetType = Literal["equity", "etf", "fund", "private", "cash", "index", "custom"]


def as_generator(seed: Seed) -> np.random.Generator:
    """Normalise ``seed`` to a ``numpy.random.Generator`` (never the global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
