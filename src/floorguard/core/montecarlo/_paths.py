"""Correlated multi-asset return simulation (terminal and pathwise).

Everything here works on *daily log returns*. A simulation is described by a
:class:`ReturnModel` (mean, covariance, optional GARCH filter or bootstrap
sample, optional Merton jumps) and produced chunk by chunk so that memory stays
bounded whatever the path count.

Reproducibility: one ``seed`` gives identical outputs. Independent streams
(normals, jump counts, jump sizes, bootstrap indices) are spawned from the
seed, each drawn sequentially, so that the numbers do not depend on the chunk
size for normal innovations. The bit generator is SFC64 (the fastest numpy
generator for normals).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, Seed, as_generator
from floorguard.exceptions import ValidationError

__all__ = [
    "CovarianceEstimate",
    "GarchFilter",
    "MertonJumps",
    "ReturnModel",
    "estimate_covariance",
    "iter_path_chunks",
    "iter_terminal_chunks",
    "iter_terminal_values",
    "spawn_streams",
]

Innovations = Literal["normal", "bootstrap", "garch"]
CovMethod = Literal["ledoit_wolf", "sample", "factor"]

#: Trading days per year used to convert daily figures to annual ones.
TRADING_DAYS = 252
#: Bytes of one block of the fused terminal kernel (:func:`iter_terminal_values`):
#: normals, correlation, exponentials and weighting run block by block in the L2 cache.
TERMINAL_BLOCK_BYTES = 1 << 19


def _as_2d(returns: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValidationError.for_field(
            name, f"must be a 2-D (days, assets) array, got ndim={arr.ndim}"
        )
    if arr.shape[0] < 3:
        raise ValidationError.for_field(name, f"needs at least 3 observations, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(name, "contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class CovarianceEstimate:
    """A covariance matrix of daily log returns and how it was estimated.

    Attributes
    ----------
    cov : ndarray, shape (n_assets, n_assets)
        Daily covariance of log returns.
    mean : ndarray, shape (n_assets,)
        Sample mean of daily log returns.
    method : str
        ``"ledoit_wolf"``, ``"sample"`` or ``"factor"``.
    shrinkage : float or None
        Ledoit–Wolf shrinkage intensity in [0, 1] (None for other methods).
    n_obs : int
        Number of daily observations used.
    """

    cov: FloatArray
    mean: FloatArray
    method: str
    shrinkage: float | None
    n_obs: int


def estimate_covariance(
    returns: ArrayLike,
    method: CovMethod = "ledoit_wolf",
    *,
    factors: ArrayLike | None = None,
) -> CovarianceEstimate:
    """Estimate the daily covariance of asset log returns.

    Parameters
    ----------
    returns : array_like, shape (n_days, n_assets)
        Daily log returns.
    method : {"ledoit_wolf", "sample", "factor"}
        ``ledoit_wolf`` uses :class:`sklearn.covariance.LedoitWolf` (shrinkage
        towards a scaled identity); ``sample`` the unbiased sample covariance;
        ``factor`` a linear factor model ``B Σ_f Bᵀ + diag(σ²_ε)`` from
        ``factors``.
    factors : array_like, shape (n_days, n_factors), optional
        Factor returns, required for ``method="factor"``.

    Returns
    -------
    CovarianceEstimate
    """
    x = _as_2d(returns, "returns")
    n, k = x.shape
    mean = x.mean(axis=0)
    if method == "sample":
        cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
        return CovarianceEstimate(cov, mean, "sample", None, n)
    if method == "ledoit_wolf":
        from sklearn.covariance import LedoitWolf

        lw = LedoitWolf(assume_centered=False).fit(x)
        return CovarianceEstimate(
            np.asarray(lw.covariance_), mean, "ledoit_wolf", float(lw.shrinkage_), n
        )
    if method == "factor":
        if factors is None:
            raise ValidationError.for_field("factors", "required when method='factor'")
        f = _as_2d(factors, "factors")
        if f.shape[0] != n:
            raise ValidationError.for_field("factors", f"has {f.shape[0]} rows but returns has {n}")
        if n <= f.shape[1] + 2:
            raise ValidationError.for_field("factors", "too few observations for the factor count")
        design = np.column_stack([np.ones(n), f])
        coef, *_ = np.linalg.lstsq(design, x, rcond=None)
        loadings = coef[1:]  # (n_factors, n_assets)
        resid = x - design @ coef
        resid_var = resid.var(axis=0, ddof=design.shape[1])
        fcov = np.atleast_2d(np.cov(f, rowvar=False, ddof=1))
        cov = loadings.T @ fcov @ loadings + np.diag(resid_var)
        return CovarianceEstimate(cov, mean, "factor", None, n)
    raise ValidationError.for_field("method", f"unknown covariance method {method!r}")


@dataclass(frozen=True)
class MertonJumps:
    """Merton (1976) compound-Poisson jumps in log returns.

    A jump multiplies prices by ``exp(J)`` with ``J ~ N(mean, vol²)``. Jumps are
    *systemic*: one Poisson clock per path, each asset taking ``loading_i · J``.

    Attributes
    ----------
    intensity : float
        Expected jumps per year (λ ≥ 0).
    mean : float
        Mean log jump size (e.g. -0.05).
    vol : float
        Standard deviation of the log jump size (≥ 0).
    loadings : ndarray, shape (n_assets,), optional
        Per-asset exposure to the jump (default 1 for every asset).
    compensate : bool
        If True, subtract ``λ·(E[e^J] − 1)`` per year from the drift so that
        jumps do not change expected price growth (risk-neutral pricing).
    """

    intensity: float
    mean: float
    vol: float
    loadings: FloatArray | None = None
    compensate: bool = True

    def __post_init__(self) -> None:
        if not np.isfinite(self.intensity) or self.intensity < 0:
            raise ValidationError.for_field("jumps.intensity", "must be a finite number >= 0")
        if not np.isfinite(self.mean):
            raise ValidationError.for_field("jumps.mean", "must be finite")
        if not np.isfinite(self.vol) or self.vol < 0:
            raise ValidationError.for_field("jumps.vol", "must be a finite number >= 0")

    def loading_vector(self, n_assets: int) -> FloatArray:
        if self.loadings is None:
            return np.ones(n_assets)
        load = np.asarray(self.loadings, dtype=np.float64).reshape(-1)
        if load.shape[0] != n_assets:
            raise ValidationError.for_field(
                "jumps.loadings", f"needs {n_assets} entries, got {load.shape[0]}"
            )
        return load

    def compensator_per_day(self, n_assets: int) -> FloatArray:
        """Daily drift correction ``-λ/252 · (E[exp(loading·J)] − 1)`` per asset."""
        if not self.compensate:
            return np.zeros(n_assets)
        load = self.loading_vector(n_assets)
        k = np.expm1(load * self.mean + 0.5 * (load * self.vol) ** 2)
        return -self.intensity / TRADING_DAYS * k


@dataclass(frozen=True)
class GarchFilter:
    """Per-asset GARCH/GJR parameters for filtered historical simulation.

    Variances are of daily log returns (decimal units, not percent).

    Attributes
    ----------
    omega, alpha, gamma, beta : ndarray, shape (n_assets,)
        ``σ²ₜ₊₁ = ω + (α + γ·1[εₜ<0]) εₜ² + β σ²ₜ``.
    sigma2_0 : ndarray, shape (n_assets,)
        Conditional variance of the first simulated day.
    std_resid : ndarray, shape (n_days, n_assets)
        Jointly standardised historical residuals; whole rows are resampled so
        that cross-sectional dependence is kept.
    """

    omega: FloatArray
    alpha: FloatArray
    gamma: FloatArray
    beta: FloatArray
    sigma2_0: FloatArray
    std_resid: FloatArray


@dataclass(frozen=True)
class ReturnModel:
    """Daily log-return model of ``n_assets`` correlated assets.

    Attributes
    ----------
    mean : ndarray, shape (n_assets,)
        Daily mean log return (drift) before any shock.
    cov : ndarray, shape (n_assets, n_assets)
        Daily covariance of log returns (used by ``"normal"`` innovations).
    innovations : {"normal", "bootstrap", "garch"}
        ``normal``: Gaussian with ``cov``; ``bootstrap``: whole rows of
        ``history`` (demeaned) resampled with replacement; ``garch``:
        filtered historical simulation with ``garch``.
    history : ndarray, shape (n_days, n_assets), optional
        Historical daily log returns for ``bootstrap``.
    garch : GarchFilter, optional
        Filter for ``garch`` innovations.
    jumps : MertonJumps, optional
        Jump overlay applied to every innovation type.
    vol_multiplier : float
        Scales the diffusive part of every innovation (scenario stress).
    shift : ndarray, shape (n_assets,), optional
        Deterministic log-return shift added over the whole horizon (a shock).
    """

    mean: FloatArray
    cov: FloatArray
    innovations: Innovations = "normal"
    history: FloatArray | None = None
    garch: GarchFilter | None = None
    jumps: MertonJumps | None = None
    vol_multiplier: float = 1.0
    shift: FloatArray | None = None
    _chol: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        cov = np.atleast_2d(np.asarray(self.cov, dtype=np.float64))
        n = mean.shape[0]
        if cov.shape != (n, n):
            raise ValidationError.for_field("cov", f"must be ({n}, {n}), got {cov.shape}")
        if not (np.all(np.isfinite(cov)) and np.all(np.isfinite(mean))):
            raise ValidationError.for_field("cov", "mean and cov must be finite")
        if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-14):
            raise ValidationError.for_field("cov", "must be symmetric")
        if not np.isfinite(self.vol_multiplier) or self.vol_multiplier < 0:
            raise ValidationError.for_field("vol_multiplier", "must be a finite number >= 0")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "_chol", _cholesky_psd(cov))
        if self.shift is not None:
            shift = np.asarray(self.shift, dtype=np.float64).reshape(-1)
            if shift.shape[0] != n or not np.all(np.isfinite(shift)):
                raise ValidationError.for_field("shift", f"must be {n} finite numbers")
            object.__setattr__(self, "shift", shift)
        if self.innovations == "bootstrap":
            if self.history is None:
                raise ValidationError.for_field("history", "required for bootstrap innovations")
            hist = _as_2d(self.history, "history")
            if hist.shape[1] != n:
                raise ValidationError.for_field(
                    "history", f"needs {n} columns, got {hist.shape[1]}"
                )
            object.__setattr__(self, "history", hist - hist.mean(axis=0))
        elif self.innovations == "garch":
            if self.garch is None:
                raise ValidationError.for_field("garch", "required for garch innovations")
            g = self.garch
            for name in ("omega", "alpha", "gamma", "beta", "sigma2_0"):
                v = np.asarray(getattr(g, name), dtype=np.float64).reshape(-1)
                if v.shape[0] != n or not np.all(np.isfinite(v)) or np.any(v < 0):
                    raise ValidationError.for_field(
                        f"garch.{name}", f"must be {n} finite numbers >= 0"
                    )
            if np.asarray(g.std_resid).ndim != 2 or np.asarray(g.std_resid).shape[1] != n:
                raise ValidationError.for_field("garch.std_resid", f"must be (days, {n})")
        elif self.innovations != "normal":
            raise ValidationError.for_field(
                "innovations", f"unknown innovations {self.innovations!r}"
            )
        if self.jumps is not None:
            self.jumps.loading_vector(n)

    @property
    def n_assets(self) -> int:
        return int(self.mean.shape[0])

    @property
    def chol(self) -> FloatArray:
        """Lower Cholesky factor of ``cov`` (PSD-safe)."""
        return self._chol


def _cholesky_psd(cov: FloatArray) -> FloatArray:
    """Cholesky factor; falls back to an eigen square root for singular PSD matrices."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        if w.min() < -1e-10 * max(1.0, float(np.abs(w).max())):
            raise ValidationError.for_field("cov", "is not positive semi-definite") from None
        return v * np.sqrt(np.clip(w, 0.0, None))


def spawn_streams(seed: Seed, n: int) -> list[np.random.Generator]:
    """``n`` independent SFC64 generators derived deterministically from ``seed``."""
    base = as_generator(seed)
    entropy = [int(x) for x in base.integers(0, 2**63 - 1, size=4, dtype=np.int64)]
    return [
        np.random.Generator(np.random.SFC64(s)) for s in np.random.SeedSequence(entropy).spawn(n)
    ]


def _chunk_sizes(n_paths: int, chunk_size: int) -> Iterator[int]:
    if n_paths < 1:
        raise ValidationError.for_field("n_paths", f"must be >= 1, got {n_paths}")
    if chunk_size < 1:
        raise ValidationError.for_field("chunk_size", f"must be >= 1, got {chunk_size}")
    done = 0
    while done < n_paths:
        m = min(chunk_size, n_paths - done)
        yield m
        done += m


def _jump_totals(
    jumps: MertonJumps,
    m: int,
    days: int,
    rng_count: np.random.Generator,
    rng_size: np.random.Generator,
) -> FloatArray:
    """Sum of log jumps over ``days`` for ``m`` paths, shape (m,)."""
    counts = rng_count.poisson(jumps.intensity * days / TRADING_DAYS, size=m)
    z = rng_size.standard_normal(m)
    return counts * jumps.mean + np.sqrt(counts) * jumps.vol * z


def iter_terminal_chunks(
    model: ReturnModel,
    horizon_days: int,
    n_paths: int,
    *,
    seed: Seed = None,
    chunk_size: int = 100_000,
    reuse_buffers: bool = False,
) -> Iterator[FloatArray]:
    """Yield chunks of terminal log returns over ``horizon_days``.

    Parameters
    ----------
    model : ReturnModel
        The daily return model.
    horizon_days : int
        Horizon in trading days (≥ 1).
    n_paths : int
        Total number of paths across all chunks.
    seed : int, Generator or None
        Randomness; the same seed gives the same numbers.
    chunk_size : int
        Paths per chunk (bounds memory at about ``chunk_size · n_assets · 8``
        bytes for normal innovations, ``· horizon_days`` for the others).
    reuse_buffers : bool
        Normal innovations only: draw into and yield the *same* two buffers
        each time (no fresh pages per chunk). The yielded array is then
        overwritten by the next chunk, so consume it before advancing. The
        numbers are identical either way.

    Yields
    ------
    ndarray, shape (m, n_assets)
        Terminal log returns ``log(S_T / S_0)`` of ``m ≤ chunk_size`` paths.

    Notes
    -----
    Normal innovations use the exact aggregate ``N(h·μ, h·m²·Σ)`` (one draw
    per asset and path). Bootstrap and GARCH innovations are aggregated from
    daily draws.
    """
    if horizon_days < 1:
        raise ValidationError.for_field("horizon_days", f"must be >= 1, got {horizon_days}")
    rng_z, rng_idx, rng_jc, rng_js = spawn_streams(seed, 4)
    n = model.n_assets
    drift = model.mean * horizon_days
    if model.shift is not None:
        drift = drift + model.shift
    load = None
    if model.jumps is not None:
        drift = drift + model.jumps.compensator_per_day(n) * horizon_days
        load = model.jumps.loading_vector(n)
    scale_t = model.chol.T * (np.sqrt(horizon_days) * model.vol_multiplier)
    reuse = reuse_buffers and model.innovations == "normal"
    zbuf = np.empty((min(chunk_size, n_paths), n)) if reuse else None
    obuf = np.empty_like(zbuf) if zbuf is not None else None
    for m in _chunk_sizes(n_paths, chunk_size):
        if zbuf is not None and obuf is not None:
            z = zbuf[:m]
            rng_z.standard_normal(out=z)
            out = np.matmul(z, scale_t, out=obuf[:m])
        elif model.innovations == "normal":
            out = rng_z.standard_normal((m, n)) @ scale_t
        else:
            daily = _daily_innovations(model, m, horizon_days, rng_z, rng_idx)
            out = daily.sum(axis=1)
        out += drift
        if model.jumps is not None and load is not None:
            out += _jump_totals(model.jumps, m, horizon_days, rng_jc, rng_js)[:, None] * load
        yield out


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl controller of the loaded BLAS libraries (built on first use, then reused)."""
    import scipy.linalg.blas  # noqa: F401  (load scipy's BLAS before taking the inventory)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _is_lower_triangular(a: FloatArray) -> bool:
    return not np.any(np.triu(a, 1))


def iter_terminal_values(
    model: ReturnModel,
    horizon_days: int,
    n_paths: int,
    weights: ArrayLike,
    *,
    index: int,
    seed: Seed = None,
    chunk_size: int = 100_000,
    out: FloatArray | None = None,
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Yield chunks of terminal portfolio values and index growth factors.

    The same simulation as :func:`iter_terminal_chunks` (same seed, same
    random numbers, chunk for chunk), reduced on the fly to what a terminal
    scenario needs: ``values = exp(x) @ weights`` and ``growth = exp(x[:, index])``
    for the chunk's log returns ``x``.

    Parameters
    ----------
    model : ReturnModel
        The daily return model.
    horizon_days : int
        Horizon in trading days (≥ 1).
    n_paths : int
        Total number of paths across all chunks.
    weights : array_like, shape (n_assets,)
        Value today of each asset (currency); ``values`` is their value at
        the horizon.
    index : int
        Column whose growth factor ``S_T / S_0`` is returned (the hedge
        underlying).
    seed : int, Generator or None
        Randomness; the same seed gives the same numbers.
    chunk_size : int
        Paths per yielded chunk.
    out : ndarray, shape (n_paths,), optional
        If given, ``values`` of each chunk are written into (and yielded as
        views of) the matching slice of ``out``.

    Yields
    ------
    values : ndarray, shape (m,)
        Portfolio value at the horizon on each of ``m ≤ chunk_size`` paths.
    growth : ndarray, shape (m,)
        ``S_T / S_0`` of column ``index`` on the same paths.

    Notes
    -----
    Both arrays are buffers reused by the next chunk: consume them before
    advancing. For normal innovations the chunk is processed in blocks of
    about ``TERMINAL_BLOCK_BYTES`` (normals drawn straight into one block
    buffer, correlated in place by a triangular BLAS product, exponentiated in
    place, weighted by one matrix-vector product), and the deterministic drift
    enters as the factor ``exp(drift)`` folded into ``weights`` and the index
    growth (``exp(d + y) = exp(d)·exp(y)``). The results equal
    ``np.exp(x) @ weights`` from :func:`iter_terminal_chunks` up to
    floating-point rounding (a few ulp); other innovation types use exactly
    that computation.
    """
    if horizon_days < 1:
        raise ValidationError.for_field("horizon_days", f"must be >= 1, got {horizon_days}")
    n = model.n_assets
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValidationError.for_field("weights", f"needs {n} values, got {w.shape[0]}")
    if not 0 <= index < n:
        raise ValidationError.for_field("index", f"must be a column in [0, {n})")
    first = max(1, min(chunk_size, n_paths))
    if out is not None and (out.shape != (n_paths,) or out.dtype != np.float64):
        raise ValidationError.for_field("out", f"must be a float64 array of shape ({n_paths},)")
    buf = np.empty(first) if out is None else None
    growth = np.empty(first)
    done = 0
    if model.innovations != "normal":
        for x in iter_terminal_chunks(
            model, horizon_days, n_paths, seed=seed, chunk_size=chunk_size
        ):
            m = x.shape[0]
            values = buf[:m] if buf is not None else out[done : done + m]  # type: ignore[index]
            np.exp(x, out=x)
            np.matmul(x, w, out=values)
            growth[:m] = x[:, index]
            done += m
            yield values, growth[:m]
        return
    from scipy.linalg.blas import dtrmm

    # (block × n) products are far too thin for BLAS threads: threaded, they cost 5× the
    # CPU on 2 cores (spin-waiting), so every chunk runs with single-threaded BLAS.
    blas = _blas_controller()
    rng_z, _, rng_jc, rng_js = spawn_streams(seed, 4)
    drift = model.mean * horizon_days
    if model.shift is not None:
        drift = drift + model.shift
    load = None
    if model.jumps is not None:
        drift = drift + model.jumps.compensator_per_day(n) * horizon_days
        load = model.jumps.loading_vector(n)
    factor = np.exp(drift)
    w_eff = w * factor
    g_eff = float(factor[index])
    scale = model.chol * (np.sqrt(horizon_days) * model.vol_multiplier)
    tri = _is_lower_triangular(scale)
    scale_f = np.asfortranarray(scale)  # for dtrmm: B := L·B on the (n, block) view
    scale_t = np.ascontiguousarray(scale.T)  # for the general (eigen-root) case
    block = max(64, TERMINAL_BLOCK_BYTES // (8 * n))
    zbuf = np.empty((min(block, first), n))
    obuf = None if tri else np.empty_like(zbuf)
    for m in _chunk_sizes(n_paths, chunk_size):
        jt = None
        if model.jumps is not None:
            jt = _jump_totals(model.jumps, m, horizon_days, rng_jc, rng_js)
        values = buf[:m] if buf is not None else out[done : done + m]  # type: ignore[index]
        with blas.limit(limits=1, user_api="blas"):
            for s in range(0, m, block):
                b = min(block, m - s)
                z = zbuf[:b]
                rng_z.standard_normal(out=z)
                if tri:
                    y = dtrmm(1.0, scale_f, z.T, side=0, lower=1, overwrite_b=1).T
                else:
                    assert obuf is not None
                    y = np.matmul(z, scale_t, out=obuf[:b])
                if jt is not None and load is not None:
                    y += np.multiply.outer(jt[s : s + b], load)
                np.exp(y, out=y)
                np.matmul(y, w_eff, out=values[s : s + b])
                np.multiply(y[:, index], g_eff, out=growth[s : s + b])
        done += m
        yield values, growth[:m]


def _daily_innovations(
    model: ReturnModel,
    m: int,
    days: int,
    rng_z: np.random.Generator,
    rng_idx: np.random.Generator,
) -> FloatArray:
    """Zero-mean daily innovations, shape (m, days, n_assets), scaled by vol_multiplier."""
    n = model.n_assets
    mult = model.vol_multiplier
    if model.innovations == "normal":
        z = rng_z.standard_normal((m, days, n))
        return z @ (model.chol.T * mult)
    if model.innovations == "bootstrap":
        hist = model.history
        assert hist is not None
        idx = rng_idx.integers(0, hist.shape[0], size=(m, days))
        return hist[idx] * mult
    g = model.garch
    assert g is not None
    resid = np.asarray(g.std_resid, dtype=np.float64)
    omega = np.asarray(g.omega, dtype=np.float64)
    alpha = np.asarray(g.alpha, dtype=np.float64)
    gamma = np.asarray(g.gamma, dtype=np.float64)
    beta = np.asarray(g.beta, dtype=np.float64)
    sigma2 = np.broadcast_to(np.asarray(g.sigma2_0, dtype=np.float64), (m, n)).copy()
    idx = rng_idx.integers(0, resid.shape[0], size=(m, days))
    out = np.empty((m, days, n))
    for t in range(days):
        eps = np.sqrt(sigma2) * resid[idx[:, t]]
        out[:, t, :] = eps
        sigma2 = omega + (alpha + gamma * (eps < 0)) * eps * eps + beta * sigma2
    return out * mult


def iter_path_chunks(
    model: ReturnModel,
    n_steps: int,
    n_paths: int,
    *,
    seed: Seed = None,
    chunk_size: int = 20_000,
) -> Iterator[FloatArray]:
    """Yield chunks of cumulative daily log-return paths.

    Parameters
    ----------
    model : ReturnModel
        The daily return model.
    n_steps : int
        Number of daily steps (≥ 1).
    n_paths : int
        Total number of paths.
    seed : int, Generator or None
        Randomness.
    chunk_size : int
        Paths per chunk; memory ≈ ``chunk_size · n_steps · n_assets · 8`` bytes.

    Yields
    ------
    ndarray, shape (m, n_steps, n_assets)
        ``log(S_t / S_0)`` after each step ``t = 1..n_steps``. Any ``shift`` is
        spread evenly over the steps.
    """
    if n_steps < 1:
        raise ValidationError.for_field("n_steps", f"must be >= 1, got {n_steps}")
    rng_z, rng_idx, rng_jc, rng_js = spawn_streams(seed, 4)
    n = model.n_assets
    daily_drift = model.mean.copy()
    if model.shift is not None:
        daily_drift = daily_drift + model.shift / n_steps
    load = None
    if model.jumps is not None:
        daily_drift = daily_drift + model.jumps.compensator_per_day(n)
        load = model.jumps.loading_vector(n)
    for m in _chunk_sizes(n_paths, chunk_size):
        inc = _daily_innovations(model, m, n_steps, rng_z, rng_idx)
        inc += daily_drift
        if model.jumps is not None and load is not None:
            jumps = _jump_totals(model.jumps, m * n_steps, 1, rng_jc, rng_js).reshape(m, n_steps)
            inc += jumps[:, :, None] * load
        np.cumsum(inc, axis=1, out=inc)
        yield inc
