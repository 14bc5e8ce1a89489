"""Uncertainty & opportunity use cases (seed section 20): windows, ranked hedges, scenarios.

``opportunities(ctx, portfolio, request)`` runs the section 20.5 flow on the
configured market data (the bundled S&P 500 history by default):

1. **Signals** (:mod:`floorguard.core.forecast`): GJR-GARCH(1,1) with Student-t
   innovations on the index (term structure with a band), the Markov-switching
   high-volatility regime, the holdings' correlation regime, IsolationForest
   anomalies and dispersion flags, a generalised Pareto tail fit, the VIX where
   bundled (vol risk premium), the BAA − AAA credit-spread multiplier, the
   shipped FOMC calendar plus the user's events with their historical moves,
   and headline sentiment when headlines are given. The GARCH and regime
   models are *stored artefacts* (``forecast_models``): scoring filters the
   latest stored version through the data instead of refitting
   (:func:`fit_forecast_models` is the scheduled job that refits them).
2. **Windows** (:func:`floorguard.domain.opportunities.build_risk_windows`),
   each with the portfolio's projected return distribution from the Monte Carlo
   engine (correlated holdings, Ledoit–Wolf covariance, volatility scaled to
   the forecast and the credit multiplier, Merton jumps when the tail is fat).
3. **Hedges** for the most severe window: the listed expiries covering it plus
   one before and one after, each structure priced by the insurance engine
   (:func:`floorguard.services.insurance.quote_policy`: synthetic chain or the
   given CBOE chain), repriced pathwise at the window end, scored
   ``(ES reduction − premium) / residual risk`` and ranked (user feedback
   nudges the order).
4. **Narrative** from the template narrator, rephrased by the configured LLM
   only when its numbers all check out; everything served is logged
   (``opportunity_audit``).

Every figure is a model estimate and is labelled as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from floorguard.domain.opportunities import (
    ESTIMATE_LABEL,
    STRUCTURES,
    CandidateScore,
    DrawdownDistribution,
    EventInput,
    RiskWindow,
    SignalInputs,
    build_risk_windows,
    candidate_expiries,
    hedge_kpis,
    projected_variance,
    rank_candidates,
    recommendation_table,
    score_hedge,
    structure_note,
    theta_decay,
)
from floorguard.domain.policy import PolicyDraft
from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import (
    DataError,
    NotFoundError,
    QuoteRefusedError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.persistence import repositories as repo
from floorguard.persistence.opportunities import ForecastModelRow, OpportunityAudit, OpportunityFeedback
from floorguard.services.context import AppContext

__all__ = [
    "OpportunityRequest",
    "ScenarioRequest",
    "fit_forecast_models",
    "hedge_now",
    "index_backtest",
    "latest_model",
    "list_models",
    "opportunities",
    "opportunity_kpis",
    "portfolio_for_user",
    "positions_from_payload",
    "record_feedback",
    "run_portfolio_scenario",
]

logger = logging.getLogger("floorguard.opportunities")

INDEX = "SPX"
TRADING_DAYS = 252
GARCH_WINDOW = 2520
REGIME_WINDOW = 1000
COV_WINDOW = 504
GARCH_NAME = "garch:SPX"
REGIME_NAME = "regimes:SPX"
#: A stored model older than this many calendar days before ``as_of`` is refitted.
MODEL_MAX_AGE_DAYS = 120
#: Identical requests (same positions, data date, models, parameters) reuse windows and priced hedges.
CACHE_SIZE = 32
Progress = Callable[[str, float], None]


# =============================================================================== requests


@dataclass(frozen=True)
class OpportunityRequest:
    """What to scan for.

    Attributes
    ----------
    horizon_days : int
        Trading days ahead covered by the forecast (5..126).
    target_drawdown : float
        The drawdown to protect against: ``floor_pct = 1 − target_drawdown``.
    structures : tuple of str
        Strategy families to rank (default all four).
    n_paths : int
        Monte Carlo paths per candidate (1,000..1,000,000).
    seed : int
        Seed of every random draw (same seed, same numbers).
    level : float
        Confidence level of the expected shortfalls.
    chain_path : Path or None
        A CBOE chain file to price the hedges (default: labelled synthetic chain).
    events_csv, events_ics, headlines_csv : str or None
        The user's event calendar (CSV or iCalendar) and headlines (CSV).
    as_of : date or None
        Last data date to use (default: the service clock, capped at the data's last date).
    """

    horizon_days: int = 21
    target_drawdown: float = 0.10
    structures: tuple[str, ...] = STRUCTURES
    n_paths: int = 20_000
    seed: int = 7
    level: float = 0.95
    chain_path: Path | None = None
    events_csv: str | None = None
    events_ics: str | None = None
    headlines_csv: str | None = None
    as_of: dt.date | None = None

    def validate(self) -> None:
        from floorguard.exceptions import FieldError

        errs: list[FieldError] = []
        if not (isinstance(self.horizon_days, int) and 5 <= self.horizon_days <= 126):
            errs.append(FieldError("horizon_days", f"must be a whole number of trading days in [5, 126], got {self.horizon_days!r}"))
        if not (0.0 < self.target_drawdown < 0.5):
            errs.append(FieldError("target_drawdown", f"must be in (0, 0.5), got {self.target_drawdown!r}"))
        bad = [s for s in self.structures if s not in STRUCTURES]
        if bad or not self.structures:
            errs.append(FieldError("structures", f"must be some of {', '.join(STRUCTURES)}, got {', '.join(bad) or 'none'}"))
        if not (isinstance(self.n_paths, int) and 1_000 <= self.n_paths <= 1_000_000):
            errs.append(FieldError("n_paths", f"must be a whole number in [1000, 1000000], got {self.n_paths!r}"))
        if not (0.5 < self.level < 1.0):
            errs.append(FieldError("level", f"must be in (0.5, 1), got {self.level!r}"))
        if self.chain_path is not None and not Path(self.chain_path).is_file():
            errs.append(FieldError("chain", f"no such file: {self.chain_path}"))
        if errs:
            raise ValidationError("; ".join(str(e) for e in errs), errors=errs)


@dataclass(frozen=True)
class ScenarioRequest:
    """A scenario run (section 20.4).

    Attributes
    ----------
    preset : str or None
        ``mild``, ``base``, ``severe`` or ``tail`` (ignored when ``index_move`` is set).
    index_move, vol_multiplier, horizon_days : float, float, int
        A custom shock (index simple return over the horizon, e.g. −0.12).
    strategy : str or None
        Hedge to price with the insurance engine (``protective_put``, ...); ignored with a draft.
    floor_pct, term_days : float, int
        Of that hedge.
    n_paths, seed, level : int, int, float
    innovations : {"normal", "bootstrap"}
    monitor_path : bool
        Daily steps with floor-breach monitoring (slower).
    """

    preset: str | None = "severe"
    index_move: float | None = None
    vol_multiplier: float = 1.0
    horizon_days: int = 21
    strategy: str | None = "protective_put"
    floor_pct: float = 0.90
    term_days: int = 45
    n_paths: int = 20_000
    seed: int = 7
    level: float = 0.95
    innovations: str = "normal"
    monitor_path: bool = False

    def spec(self) -> Any:
        from floorguard.core.montecarlo import custom_shock, preset

        if self.index_move is not None:
            return custom_shock(float(self.index_move), float(self.vol_multiplier), int(self.horizon_days))
        if self.preset is None:
            raise ValidationError.for_field("preset", "give a preset (mild, base, severe, tail) or a custom index_move")
        return preset(self.preset)

    def validate(self) -> None:
        if not (isinstance(self.n_paths, int) and 1_000 <= self.n_paths <= 1_000_000):
            raise ValidationError.for_field("n_paths", f"must be a whole number in [1000, 1000000], got {self.n_paths!r}")
        if not (0.5 < self.level < 1.0):
            raise ValidationError.for_field("level", f"must be in (0.5, 1), got {self.level!r}")
        if self.innovations not in ("normal", "bootstrap"):
            raise ValidationError.for_field("innovations", f"must be normal or bootstrap, got {self.innovations!r}")
        if self.strategy is not None and self.strategy not in STRUCTURES:
            raise ValidationError.for_field("strategy", f"must be one of {', '.join(STRUCTURES)}, got {self.strategy!r}")
        if self.index_move is not None and not (-0.9 < float(self.index_move) < 1.0):
            raise ValidationError.for_field("index_move", f"must be in (-0.9, 1), got {self.index_move!r}")
        if not (isinstance(self.horizon_days, int) and 1 <= self.horizon_days <= 252):
            raise ValidationError.for_field("horizon_days", f"must be a whole number in [1, 252], got {self.horizon_days!r}")
        self.spec()


# =============================================================================== plumbing


def _now(ctx: AppContext) -> dt.datetime:
    clock = ctx.resources.get("clock")
    value = clock() if clock is not None else dt.datetime.now(dt.UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _noop(stage: str, frac: float) -> None:  # pragma: no cover - trivial
    return None


def _index_closes(ctx: AppContext, as_of: dt.date | None) -> pd.Series:
    try:
        frame = ctx.market_data().price_history([INDEX])
    except (SymbolNotFoundError, DataError) as exc:
        raise DataError(f"no history for the index {INDEX}: {exc}") from exc
    s = frame[INDEX].dropna()
    if as_of is not None:
        s = s[s.index <= pd.Timestamp(as_of)]
    if s.size < 300:
        raise DataError(f"too little {INDEX} history before {as_of}: {s.size} closes (need 300)")
    return s


def _as_of(ctx: AppContext, requested: dt.date | None) -> tuple[dt.date, pd.Series]:
    wanted = requested or _now(ctx).date()
    closes = _index_closes(ctx, wanted)
    return closes.index[-1].date(), closes


def _bundled(ctx: AppContext) -> Any:
    from floorguard.marketdata import BundledSource

    for src in ctx.market_data().sources:
        if isinstance(src, BundledSource):
            return src
    return None


def _resolve(ctx: AppContext, portfolio: Portfolio | Sequence[Position] | str | Path) -> tuple[list[Position], str, int | None]:
    if isinstance(portfolio, (str, Path)):
        from floorguard.services.portfolios import resolve_portfolio

        portfolio = resolve_portfolio(ctx, portfolio)
    if isinstance(portfolio, Portfolio):
        return list(portfolio.positions), portfolio.name, portfolio.id
    positions = list(portfolio)
    if not positions:
        raise ValidationError.for_field("positions", "at least one position is needed")
    return positions, "positions", None


def portfolio_for_user(ctx: AppContext, user_id: int, portfolio_id: int) -> Portfolio:
    """The stored portfolio ``portfolio_id`` if ``user_id`` owns it (NotFoundError otherwise)."""
    with ctx.session() as session:
        return repo.get_portfolio_by_id(session, portfolio_id=int(portfolio_id), owner_id=int(user_id))


def _plain(obj: Any) -> Any:
    """JSON-safe copy (dates as ISO text, NaN/inf as None, numpy scalars as Python)."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, np.ndarray):
        return [_plain(x) for x in obj.tolist()]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return _plain(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_plain(x) for x in obj]
    return str(obj)


def _audit(ctx: AppContext, kind: str, *, user_id: int | None, portfolio_id: int | None,
           recommendation_id: str | None = None, choice: str | None = None, prompt: str | None = None,
           output: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Log a model output for audit (section 20.10)."""
    with ctx.session() as session:
        session.add(OpportunityAudit(
            ts=_now(ctx), user_id=user_id, portfolio_id=portfolio_id, kind=kind,
            recommendation_id=recommendation_id, choice=choice, prompt=prompt, output=output,
            details=_plain(details or {}),
        ))


# =============================================================================== models as artefacts


def _log_returns(closes: pd.Series) -> np.ndarray:
    px = closes.to_numpy(dtype=np.float64)
    return np.diff(np.log(px))


def _store_model(ctx: AppContext, *, name: str, kind: str, start: dt.date, end: dt.date, n_obs: int,
                 params: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    with ctx.session() as session:
        last = session.scalar(sa.select(sa.func.max(ForecastModelRow.version)).where(ForecastModelRow.name == name))
        row = ForecastModelRow(
            name=name, version=int(last or 0) + 1, kind=kind, created_at=_now(ctx), data_symbol=INDEX,
            data_start=start, data_end=end, n_obs=int(n_obs), params=_plain(params), metrics=_plain(metrics),
        )
        session.add(row)
        session.flush()
        return _model_dict(row)


def _model_dict(row: ForecastModelRow) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "version": row.version, "kind": row.kind,
        "created_at": row.created_at.isoformat(), "data_symbol": row.data_symbol,
        "data_start": row.data_start.isoformat(), "data_end": row.data_end.isoformat(), "n_obs": row.n_obs,
        "params": dict(row.params), "metrics": dict(row.metrics),
    }


def fit_forecast_models(ctx: AppContext, *, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Fit the forecasting models and store each as a new version (the scheduled job).

    Fits GJR-GARCH(1,1) with Student-t innovations on the last ``GARCH_WINDOW``
    daily log returns of the index and a two-state Markov-switching model on
    the last ``REGIME_WINDOW``; stores each with its data window, parameters
    and fit metrics in ``forecast_models``.

    Returns
    -------
    list of dict
        The stored versions.
    """
    from floorguard.core.forecast import fit_garch, fit_vol_regimes

    end, closes = _as_of(ctx, as_of)
    r = _log_returns(closes)
    dates = closes.index[1:]
    g = r[-GARCH_WINDOW:]
    gfit = fit_garch(g, "gjr", "t")
    out = [_store_model(
        ctx, name=GARCH_NAME, kind="gjr-garch-t", start=dates[-g.size].date(), end=end, n_obs=g.size,
        params={"model": "gjr", "dist": "t", "mean": "constant", "values": gfit.params, "scale": 100.0},
        metrics={"loglik": gfit.loglik, "aic": gfit.aic, "bic": gfit.bic, "persistence": gfit.persistence,
                 "long_run_vol_annual": gfit.long_run_vol_annual, "converged": gfit.converged,
                 "messages": list(gfit.messages), "std_errors": gfit.std_errors},
    )]
    x = r[-REGIME_WINDOW:]
    rfit = fit_vol_regimes(x, 2)
    out.append(_store_model(
        ctx, name=REGIME_NAME, kind="markov-switching-2", start=dates[-x.size].date(), end=end, n_obs=x.size,
        params={"k_regimes": 2, "regime_vol_annual": rfit.regime_vol_annual, "regime_mean_daily": rfit.regime_mean_daily,
                "transition": rfit.transition, "scale": 100.0},
        metrics={"loglik": rfit.loglik, "aic": rfit.aic, "converged": rfit.converged, "messages": list(rfit.messages),
                 "expected_duration_days": rfit.expected_duration_days, "p_high_vol_at_fit": rfit.p_high_vol},
    ))
    logger.info("forecast models fitted on data to %s: %s", end, [(m["name"], m["version"]) for m in out])
    return out


def list_models(ctx: AppContext, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored model version (newest first), optionally of one model ``name``."""
    with ctx.session() as session:
        q = sa.select(ForecastModelRow)
        if name is not None:
            q = q.where(ForecastModelRow.name == name)
        rows = session.scalars(q.order_by(ForecastModelRow.name, ForecastModelRow.version.desc()))
        return [_model_dict(r) for r in rows]


def latest_model(ctx: AppContext, name: str, *, as_of: dt.date | None = None) -> dict[str, Any] | None:
    """The newest stored version of ``name`` fitted on data up to ``as_of`` (None if there is none)."""
    with ctx.session() as session:
        q = sa.select(ForecastModelRow).where(ForecastModelRow.name == name)
        if as_of is not None:
            q = q.where(ForecastModelRow.data_end <= as_of)
        row = session.scalars(q.order_by(ForecastModelRow.data_end.desc(), ForecastModelRow.version.desc()).limit(1)).first()
        return None if row is None else _model_dict(row)


def _current_models(ctx: AppContext, as_of: dt.date) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The stored GARCH and regime versions for ``as_of``; fit and store them when missing or stale."""
    g = latest_model(ctx, GARCH_NAME, as_of=as_of)
    m = latest_model(ctx, REGIME_NAME, as_of=as_of)
    stale = any(x is None or (as_of - dt.date.fromisoformat(x["data_end"])).days > MODEL_MAX_AGE_DAYS for x in (g, m))
    if stale:
        fitted = fit_forecast_models(ctx, as_of=as_of)
        return fitted[0], fitted[1], True
    assert g is not None and m is not None
    return g, m, False


def _garch_from_stored(stored: dict[str, Any], returns: np.ndarray) -> Any:
    """A ``GarchFit`` whose arch result filters ``returns`` with the *stored* parameters (no refit)."""
    from arch import arch_model

    from floorguard.core.forecast import GarchFit

    p = stored["params"]
    scale = float(p.get("scale", 100.0))
    values = {str(k): float(v) for k, v in p["values"].items()}
    am = arch_model(returns * scale, mean="Constant" if p["mean"] == "constant" else "Zero", vol="GARCH", p=1,
                    o=1 if p["model"] == "gjr" else 0, q=1, dist="t" if p["dist"] == "t" else "normal", rescale=False)
    names = [*am.parameter_names(), *am.volatility.parameter_names(), *am.distribution.parameter_names()]
    missing = [n for n in names if n not in values]
    if missing:
        raise DataError(f"stored model {stored['name']} v{stored['version']} lacks parameters {', '.join(missing)}")
    res = am.fix([values[n] for n in names])
    alpha, gamma, beta = values.get("alpha[1]", 0.0), values.get("gamma[1]", 0.0), values.get("beta[1]", 0.0)
    persistence = alpha + 0.5 * gamma + beta
    long_run = (math.sqrt(values["omega"] / (1.0 - persistence) * TRADING_DAYS) / scale
                if persistence < 1.0 else float("nan"))
    next_var = float(np.asarray(res.forecast(horizon=1, reindex=False).variance)[-1, 0])
    cond = np.asarray(res.conditional_volatility, dtype=np.float64) / scale
    return GarchFit(
        model=p["model"], dist=p["dist"], params=values, std_errors=dict(stored["metrics"].get("std_errors", {})),
        loglik=float(res.loglikelihood), aic=float(stored["metrics"].get("aic", float("nan"))),
        bic=float(stored["metrics"].get("bic", float("nan"))), nobs=int(returns.size), conditional_vol=cond,
        std_resid=np.asarray(res.std_resid, dtype=np.float64), persistence=float(persistence),
        long_run_vol_annual=float(long_run), next_day_vol=math.sqrt(next_var) / scale, converged=True,
        messages=("parameters from stored version " + str(stored["version"]),), result=res,
    )


def _regime_p_high(stored: dict[str, Any], returns: np.ndarray) -> float:
    """Filtered P(high-vol regime) today, from the *stored* Markov-switching parameters."""
    import warnings

    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    p = stored["params"]
    k = int(p["k_regimes"])
    scale = float(p.get("scale", 100.0))
    trans = np.asarray(p["transition"], dtype=np.float64)  # row-stochastic, regimes sorted by variance
    const = np.asarray(p["regime_mean_daily"], dtype=np.float64) * scale
    sig2 = (np.asarray(p["regime_vol_annual"], dtype=np.float64) * scale) ** 2 / TRADING_DAYS
    mod = MarkovRegression(returns * scale, k_regimes=k, trend="c", switching_variance=True)
    params = []
    for name in mod.param_names:
        if name.startswith("p["):
            i, j = (int(v) for v in name[2:-1].split("->"))
            params.append(trans[i, j])
        elif name.startswith("const["):
            params.append(const[int(name[6:-1])])
        elif name.startswith("sigma2["):
            params.append(sig2[int(name[7:-1])])
        else:  # pragma: no cover - the model has no other parameters
            raise DataError(f"unexpected Markov-switching parameter {name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            res = mod.filter(np.asarray(params))
    probs = np.asarray(res.filtered_marginal_probabilities)
    return float(probs[-1, k - 1])


# =============================================================================== signals


@dataclass
class _Context:
    """Everything computed once per request (data, models, signals)."""

    as_of: dt.date
    closes: pd.Series
    signals: SignalInputs
    events: list[EventInput]
    models: list[dict[str, Any]]
    refitted: bool
    vix: float | None
    signal_details: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _user_events(req: OpportunityRequest) -> list[Any]:
    from floorguard.core.forecast import parse_events_csv, parse_ics

    out: list[Any] = []
    if req.events_csv:
        out.extend(parse_events_csv(req.events_csv))
    if req.events_ics:
        out.extend(parse_ics(req.events_ics))
    return out


def _signals(ctx: AppContext, req: OpportunityRequest, positions: Sequence[Position], progress: Progress) -> _Context:
    from floorguard.core.forecast import (
        correlation_regime,
        credit_spread_signal,
        detect_anomalies,
        dispersion_flags,
        expected_event_moves,
        fit_tail,
        fomc_events,
        forecast_vol,
        load_lm_lexicon,
        parse_headlines_csv,
        score_headlines,
        sentiment_by_symbol,
    )

    as_of, closes = _as_of(ctx, req.as_of)
    warnings: list[str] = []
    progress("models", 0.05)
    gstored, rstored, refitted = _current_models(ctx, as_of)
    if refitted:
        warnings.append(f"forecast models fitted now on data to {as_of} and stored (no stored version was current)")
    r = _log_returns(closes)
    gfit = _garch_from_stored(gstored, r[-GARCH_WINDOW:])
    fc = forecast_vol(gfit, req.horizon_days, n_sims=500, seed=req.seed)
    p_high = _regime_p_high(rstored, r[-REGIME_WINDOW:])
    progress("signals", 0.2)
    details: dict[str, Any] = {"vol_forecast": fc.to_dict(), "p_high_vol": p_high}
    realised = float(np.std(r[-21:], ddof=1) * math.sqrt(TRADING_DAYS))
    # implied vol: the VIX close on as_of where the market data have it
    vix = None
    try:
        v = ctx.market_data().price_history(["VIX"], end=as_of)["VIX"].dropna()
        if v.size and (as_of - v.index[-1].date()).days <= 5:
            vix = float(v.iloc[-1]) / 100.0
    except (SymbolNotFoundError, DataError):
        pass
    if vix is None:
        warnings.append(f"no VIX close near {as_of}: implied volatility not compared (realised-vol proxy used for pricing)")
    else:
        from floorguard.core.forecast import vol_risk_premium

        details["vol_risk_premium"] = vol_risk_premium(fc, vix, horizon_days=min(21, req.horizon_days)).to_dict()
    # holdings: correlation regime and dispersion
    syms = sorted({p.symbol for p in positions if p.asset_type not in ("cash", "private", "custom")})
    corr_current, corr_high, corr_jump, disp_flag = None, False, False, False
    try:
        hist = (ctx.market_data().price_history(syms, end=as_of).dropna(how="any").iloc[-(COV_WINDOW + 1):]
                if len(syms) >= 2 else None)
        if hist is not None and hist.shape[0] > 130:
            hr = np.diff(np.log(hist.to_numpy(dtype=np.float64)), axis=0)
            cr = correlation_regime(hr, 63)
            corr_current, corr_high = cr.current, cr.high_correlation
            corr_jump = bool(cr.jumps[-5:].any())
            details["correlation"] = {"current": cr.current, "high": cr.high_correlation, "recent_jump": corr_jump,
                                      "label": cr.label}
            df = dispersion_flags(hr, window=63)
            disp_flag = df.latest_flag
    except (SymbolNotFoundError, DataError) as exc:
        warnings.append(f"correlation regime skipped: {exc}")
    an = detect_anomalies(r[-GARCH_WINDOW:], contamination=0.01, n_estimators=100, seed=req.seed)
    tail = fit_tail(-r[-GARCH_WINDOW:])
    details["anomaly"] = {"latest_flag": an.latest_flag, "n_flagged": an.n_flagged, "label": an.label}
    details["tail"] = {"xi": tail.xi, "xi_se": tail.xi_se, "tail_heavy": tail.tail_heavy, "var": tail.var,
                       "es": tail.es, "label": tail.label}
    # credit spread (bundled monthly Moody's BAA - AAA)
    credit_mult, credit_regime = 1.0, None
    bundled = _bundled(ctx)
    if bundled is not None:
        cs = bundled.credit_spread()["spread"]
        cs = cs[cs.index <= pd.Timestamp(as_of)].dropna()
        if cs.size >= 24 and (as_of - cs.index[-1].date()).days <= 62:
            sig = credit_spread_signal(cs.to_numpy(), lookback=min(120, cs.size - 1))
            credit_mult, credit_regime = sig.multiplier, sig.regime
            details["credit"] = dict(sig.__dict__)
        else:
            warnings.append(f"credit spread not available near {as_of} (bundled Moody's series ends 2018-12): neutral")
    # events: shipped FOMC calendar + the user's; expected moves from the index history
    all_events = [*fomc_events(), *_user_events(req)]
    moves = expected_event_moves(list(closes.index), closes.to_numpy(), all_events)
    details["event_moves"] = {k: v.to_dict() for k, v in moves.items()}
    ev_inputs = [
        EventInput(e.date, e.type, e.name, moves[e.type].mean_abs_move if e.type in moves else None,
                   moves[e.type].ratio if e.type in moves else None, e.symbol)
        for e in all_events if e.date > as_of
    ]
    sentiment: dict[str, float] = {}
    if req.headlines_csv:
        heads = parse_headlines_csv(req.headlines_csv)
        scores = score_headlines(heads, load_lm_lexicon(), holdings=syms)
        sentiment = {k: v.mean_polarity for k, v in sentiment_by_symbol(scores).items()}
        details["sentiment"] = {k: v.to_dict() for k, v in sentiment_by_symbol(scores).items()}
    sig = SignalInputs(
        as_of=as_of, horizon_days=req.horizon_days, term_vol=fc.term_vol_annual.tolist(),
        term_vol_lower=fc.lower.tolist(), term_vol_upper=fc.upper.tolist(), band=fc.band,
        long_run_vol=gfit.long_run_vol_annual, realised_vol=realised, implied_vol=vix, p_high_vol=p_high,
        corr_current=corr_current, corr_high=corr_high, corr_jump=corr_jump, anomaly_latest=an.latest_flag,
        dispersion_flag=disp_flag, tail_xi=tail.xi, tail_heavy=tail.tail_heavy, credit_multiplier=credit_mult,
        credit_regime=credit_regime, sentiment=sentiment,
    )
    return _Context(as_of, closes, sig, ev_inputs, [gstored, rstored], refitted, vix, details, warnings)


# =============================================================================== portfolio model


@dataclass
class _PortfolioModel:
    symbols: list[str]
    holdings: np.ndarray  # market values, SPX last with 0
    index_col: int
    spot: float
    model: Any  # ReturnModel
    value: float
    priced: list[Position]
    left_out: list[str]
    hist_index_vol: float
    port_vol: float


def _portfolio_model(ctx: AppContext, positions: Sequence[Position], as_of: dt.date, closes: pd.Series,
                     innovations: str = "normal") -> _PortfolioModel:
    from floorguard.core.montecarlo import ReturnModel, estimate_covariance

    left_out = [p.symbol for p in positions if p.asset_type in ("cash", "private", "custom")]
    market = [p for p in positions if p.symbol not in left_out]
    if not market:
        raise ValidationError.for_field("positions", "no position has market data to simulate (only cash/private)")
    syms = list(dict.fromkeys(p.symbol for p in market if p.symbol != INDEX))
    cols = [*syms, INDEX]
    try:
        hist = ctx.market_data().price_history(cols, end=as_of)
    except SymbolNotFoundError as exc:
        raise ValidationError.for_field("positions", f"no market data: {exc}") from exc
    hist = hist[hist.index <= pd.Timestamp(as_of)]
    last = hist.ffill().iloc[-1]
    window = hist.dropna(how="any").iloc[-(COV_WINDOW + 1):]
    if window.shape[0] < 60:
        raise DataError(f"too little common history of {', '.join(cols)} before {as_of} ({window.shape[0]} days)")
    lr = np.diff(np.log(window.to_numpy(dtype=np.float64)), axis=0)
    cov = estimate_covariance(lr, "ledoit_wolf")
    values = dict.fromkeys(cols, 0.0)
    priced: list[Position] = []
    for p in market:
        price = p.price if p.price is not None else float(last[p.symbol])
        if not math.isfinite(price):
            raise DataError(f"no close for {p.symbol} on or before {as_of}")
        values[p.symbol] += p.quantity * price
        priced.append(replace(p, price=price))
    h = np.array([values[c] for c in cols], dtype=np.float64)
    if h.sum() <= 0:
        raise ValidationError.for_field("positions", "the simulated holdings must have a positive value")
    kwargs: dict[str, Any] = {}
    if innovations == "bootstrap":
        kwargs = {"innovations": "bootstrap", "history": lr}
    model = ReturnModel(mean=np.zeros(len(cols)), cov=cov.cov, **kwargs)
    w = h / h.sum()
    port_vol = float(math.sqrt(max(w @ cov.cov @ w, 0.0) * TRADING_DAYS))
    return _PortfolioModel(cols, h, len(cols) - 1, float(closes.iloc[-1]), model, float(h.sum()), priced, left_out,
                           float(math.sqrt(cov.cov[-1, -1] * TRADING_DAYS)), port_vol)


def _business_days(a: dt.date, b: dt.date) -> int:
    return int(np.busday_count(a, b)) if b > a else 0


def _legs_for_mc(draft: PolicyDraft, as_of: dt.date) -> tuple[list[Any], float]:
    """Draft legs as Monte Carlo option legs in index points (strike / index ratio)."""
    from floorguard.core.montecarlo import OptionLeg

    ratio = float(draft.contract_spec.get("index_ratio", 1.0) or 1.0)
    legs = []
    for leg in draft.legs:
        t = max(_business_days(as_of, leg.expiry), 1) / TRADING_DAYS
        legs.append(OptionLeg(leg.kind, leg.strike / ratio, t, leg.sign * leg.contracts * leg.multiplier * ratio,
                              premium=leg.price / ratio))
    premium = float(sum(lg.quantity * (lg.premium or 0.0) for lg in legs))
    return legs, premium


# =============================================================================== opportunities


def _forecast_spec(pm: _PortfolioModel, sig: SignalInputs, days: int) -> Any:
    from floorguard.core.montecarlo import MertonJumps, ScenarioSpec

    _, vmid, _ = sig.vol_to(days)
    mult = vmid / pm.hist_index_vol * math.sqrt(sig.credit_multiplier)
    jumps = MertonJumps(intensity=2.0, mean=-0.03, vol=0.03, compensate=True) if sig.tail_heavy else None
    return ScenarioSpec("forecast", index_move=None, vol_multiplier=float(mult), horizon_days=int(days), jumps=jumps)


def _drawdown(res: Any, level: float) -> DrawdownDistribution:
    ret = res.final_unhedged / res.initial_value - 1.0
    return DrawdownDistribution(
        p5=res.unhedged.p5.value / res.initial_value - 1.0, median=res.unhedged.median.value / res.initial_value - 1.0,
        p95=res.unhedged.p95.value / res.initial_value - 1.0, es=res.es_unhedged.value, level=level,
        p_loss_5=float(np.mean(ret < -0.05)), p_loss_10=float(np.mean(ret < -0.10)),
        p5_se=res.unhedged.p5.se / res.initial_value, es_se=res.es_unhedged.se, n_paths=res.n_paths,
    )


def _listed(draft: PolicyDraft, as_of: dt.date) -> list[dt.date]:
    from floorguard.domain.contracts import get_contract_spec, listed_expiries
    from floorguard.services.insurance import SYNTHETIC_SPECS

    sym = draft.underlying_symbol
    spec = get_contract_spec(SYNTHETIC_SPECS.get(sym, sym))
    days = listed_expiries(spec, as_of, as_of + dt.timedelta(days=200), as_of=as_of)
    fridays = [d for d in days if d.weekday() == 4]
    # daily series list every session: test weekly (Friday) expiries so "before"/"after" differ by a week
    return fridays if len(fridays) >= 3 else list(days)


def _feedback_shares(ctx: AppContext, user_id: int | None) -> dict[str, float]:
    if user_id is None:
        return {}
    with ctx.session() as session:
        rows = session.execute(
            sa.select(OpportunityFeedback.structure, OpportunityFeedback.decision, sa.func.count())
            .where(OpportunityFeedback.user_id == user_id)
            .group_by(OpportunityFeedback.structure, OpportunityFeedback.decision)
        ).all()
    acc: dict[str, list[int]] = {}
    for s, d, n in rows:
        acc.setdefault(s, [0, 0])[0 if d == "accepted" else 1] += int(n)
    return {s: (a - r) / (a + r) for s, (a, r) in acc.items() if a + r}


def _recommendation_id(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def opportunities(
    ctx: AppContext,
    portfolio: Portfolio | Sequence[Position] | str | Path,
    request: OpportunityRequest | None = None,
    *,
    user_id: int | None = None,
    progress: Progress | None = None,
    narrator: Any = None,
    strategy_level: int | None = None,
) -> dict[str, Any]:
    """Upcoming uncertainty windows and ranked hedges for a portfolio (estimates).

    Parameters
    ----------
    ctx : AppContext
    portfolio : Portfolio, positions, or a file path / stored portfolio name
    request : OpportunityRequest, optional
    user_id : int, optional
        For the feedback nudges and the audit log.
    progress : callable(stage, fraction), optional
        Called as the work advances (the CLI's progress bar).
    narrator : LlmNarrator, optional
        Overrides the LLM configured in the settings (tests).
    strategy_level : int, optional
        The investor's approved strategy level: each candidate says whether it
        is suitable (section 20.10); "Hedge now" refuses the others.

    Returns
    -------
    dict
        ``{"label", "recommendation_id", "as_of", "portfolio", "models", "signals",
        "windows": [...], "primary_window", "recommendations": {"window_id", "columns",
        "table", "candidates"}, "narrative": {...}, "kpis": {...}, "warnings"}``.
    """
    req = request or OpportunityRequest()
    req.validate()
    prog = progress or _noop
    positions, name, pid = _resolve(ctx, portfolio)
    if req.chain_path is not None and req.as_of is None:
        # a chain prices the hedges as of its own quote time: the data date follows it
        from floorguard.services.insurance import _read_chain  # noqa: PLC2701 - the engine's cached reader

        req = replace(req, as_of=_read_chain(Path(req.chain_path)).as_of.date())
    if all(p.asset_type in ("cash", "private", "custom") for p in positions):
        raise ValidationError.for_field("positions", "no position has market data to simulate (only cash/private)")
    c = _signals(ctx, req, positions, prog)
    warnings = list(c.warnings)
    pm = _portfolio_model(ctx, positions, c.as_of, c.closes)
    if pm.left_out:
        warnings.append(f"left out of the simulation (no market data): {', '.join(pm.left_out)}")
    payload = {"positions": [p.to_dict() for p in pm.priced], "as_of": c.as_of, "request": req.__dict__,
               "models": [(m["name"], m["version"]) for m in c.models],
               "chain_mtime": Path(req.chain_path).stat().st_mtime_ns if req.chain_path else None}
    rec_id = _recommendation_id(payload)
    cache: dict[str, Any] = ctx.resources.setdefault("opportunity_cache", {})
    lock = ctx.resources.setdefault("opportunity_cache_lock", threading.Lock())
    with lock:
        hit = cache.get(rec_id)
    if hit is None:
        out_windows, primary, cands, cand_warn = _windows_and_candidates(ctx, req, pm, c, prog)
        with lock:
            cache[rec_id] = (out_windows, primary, cands, cand_warn)
            while len(cache) > CACHE_SIZE:
                cache.pop(next(iter(cache)))
    else:
        out_windows, primary, cands, cand_warn = hit
        warnings.append("windows and hedges reused from an identical request (same data, models, seed)")
    warnings.extend(cand_warn)
    ranked = rank_candidates(cands, _feedback_shares(ctx, user_id))
    from floorguard.narrative import narrate, window_narrative

    story = window_narrative(primary, ranked[0] if ranked else None, portfolio_value=pm.value, level=req.level)
    told = narrate(story, narrator if narrator is not None else _llm(ctx))
    paid = [cd for cd in ranked if cd.premium > 0]
    kpis = opportunity_kpis(ctx, user_id=user_id, top=paid[0] if paid else None)
    result = {
        "label": ESTIMATE_LABEL,
        "recommendation_id": rec_id,
        "as_of": c.as_of.isoformat(),
        "data_note": "bundled historical data (skfolio/arch), not live prices" if _bundled(ctx) is not None else None,
        "portfolio": {"name": name, "id": pid, "value": pm.value, "positions": [p.to_dict() for p in pm.priced],
                      "left_out": pm.left_out, "forecast_vol": pm.port_vol},
        "models": [{k: m[k] for k in ("name", "version", "kind", "data_start", "data_end", "n_obs", "metrics")}
                   for m in c.models],
        "signals": {**c.signal_details, "label": ESTIMATE_LABEL},
        "windows": [w.to_dict() for w in out_windows],
        "primary_window": primary.id,
        "recommendations": {
            "window_id": primary.id,
            "columns": ["Expiry", "Structure", "Put Strike", "Call Strike", "Premium", "Coverage%", "Breakeven", "Score"],
            "table": recommendation_table(ranked),
            "candidates": [_candidate_view(cd, primary, c.signals.tail_heavy, strategy_level) for cd in ranked],
            "score_formula": "(ES reduction - premium) / residual risk; ES at the window end, currency",
            "label": ESTIMATE_LABEL,
        },
        "narrative": {"text": told.text, "choice": told.choice, "template_text": told.template_text,
                      "reason": told.reason, "label": ESTIMATE_LABEL},
        "kpis": kpis,
        "warnings": list(dict.fromkeys(warnings)),
    }
    _audit(ctx, "recommendation", user_id=user_id, portfolio_id=pid, recommendation_id=rec_id,
           details={"as_of": c.as_of, "windows": result["windows"], "table_window": primary.id, "table": result["recommendations"]["table"],
                    "models": result["models"], "candidates": [cd.to_dict(include_draft=False) for cd in ranked]})
    _audit(ctx, "narrative", user_id=user_id, portfolio_id=pid, recommendation_id=rec_id, choice=told.choice,
           prompt=told.prompt, output=told.llm_text if told.llm_text is not None else told.text,
           details={"served": told.text, "reason": told.reason, "model": told.model, "numbers": story.numbers})
    prog("done", 1.0)
    return _plain(result)  # JSON-ready: NaN (undefined figures) become None


def _candidate_view(cd: CandidateScore, window: RiskWindow, tail_heavy: bool, level: int | None) -> dict[str, Any]:
    from floorguard.services.users import required_level

    need = required_level(cd.structure)
    p10 = window.drawdown.p_loss_10 if window.drawdown is not None else None
    return {**cd.to_dict(), "note": structure_note(cd.structure, p10, tail_heavy),
            "suitability": {"required_level": need, "allowed": None if level is None else level >= need}}


def _windows_and_candidates(ctx: AppContext, req: OpportunityRequest, pm: _PortfolioModel, c: _Context,
                            prog: Progress) -> tuple[list[RiskWindow], RiskWindow, list[CandidateScore], list[str]]:
    """Windows with their projected distribution (common random numbers: same seed), and priced candidates."""
    from floorguard.core.montecarlo import run_scenario

    windows = build_risk_windows(c.signals, c.events)
    prog("windows", 0.3)
    out_windows: list[RiskWindow] = []
    for w in windows:
        spec = _forecast_spec(pm, c.signals, w.trading_days)
        res = run_scenario(pm.holdings, pm.model, spec, index=pm.index_col, index_spot=pm.spot, level=req.level,
                           n_paths=req.n_paths, seed=req.seed, keep_paths=True)
        out_windows.append(w.with_drawdown(_drawdown(res, req.level)))
    primary = max(out_windows, key=lambda w: (w.severity, -w.start.toordinal()))
    cands, cand_warn = _candidates(ctx, req, pm, c, primary, prog)
    return out_windows, primary, cands, cand_warn


def _llm(ctx: AppContext) -> Any:
    s = ctx.settings
    if not (s.llm_base_url and s.llm_model):
        return None
    from floorguard.narrative import LlmNarrator

    return LlmNarrator(s.llm_base_url, s.llm_model, s.llm_api_key, timeout=10.0)


def _candidates(ctx: AppContext, req: OpportunityRequest, pm: _PortfolioModel, c: _Context, window: RiskWindow,
                prog: Progress) -> tuple[list[CandidateScore], list[str]]:
    from floorguard.core.montecarlo import reprice_legs, run_scenario
    from floorguard.core.pricing import ModelSurface
    from floorguard.services.insurance import QuoteRequest, quote_policy

    warnings: list[str] = []
    as_of_dt = dt.datetime.combine(c.as_of, dt.time(21, 0), tzinfo=dt.UTC)
    atm = c.vix if c.vix is not None else c.signals.vol_to(21)[1]
    floor = 1.0 - req.target_drawdown

    def quote(structure: str, term_days: int, beta: float | None) -> PolicyDraft:
        return quote_policy(ctx, pm.priced, QuoteRequest(
            floor_pct=floor, term_days=term_days, strategy=structure, as_of=as_of_dt,
            index_level=None if req.chain_path else pm.spot,
            vol=None if req.chain_path else atm, beta=beta, chain_path=req.chain_path))

    first_term = max((window.end - c.as_of).days, 1)
    try:
        probe = quote(req.structures[0], first_term, None)
    except QuoteRefusedError as exc:
        return [], [f"no hedge priced: {exc}"]
    beta = probe.beta
    if req.chain_path is not None:
        from floorguard.services.insurance import _read_chain  # noqa: PLC2701 - the engine's cached reader

        chain = _read_chain(Path(req.chain_path))
        listed = sorted(e for e in chain.expiries() if e > c.as_of)
    else:
        listed = _listed(probe, c.as_of)
    expiries = candidate_expiries(listed, c.as_of, window.end)
    surface = ModelSurface(atm_vol=atm)
    spec = _forecast_spec(pm, c.signals, window.trading_days)
    horizon_years = window.trading_days / TRADING_DAYS
    unhedged = None
    out: list[CandidateScore] = []
    total = len(expiries) * len(req.structures)
    k = 0
    for expiry in expiries:
        for structure in req.structures:
            k += 1
            prog(f"pricing {structure} {expiry}", 0.35 + 0.6 * k / total)
            try:
                draft = quote(structure, max((expiry - c.as_of).days, 1), beta)
            except (QuoteRefusedError, ValidationError) as exc:
                warnings.append(f"{structure} {expiry}: {exc}")
                continue
            if draft.expiry != expiry:
                warnings.append(f"{structure}: the insurance engine chose {draft.expiry} for a term ending {expiry}")
            got = draft.expiry or expiry
            if any(o.structure == structure and o.expiry == got for o in out):
                continue
            legs, premium = _legs_for_mc(draft, c.as_of)
            leg_surface = surface
            if req.chain_path is not None:
                # a real chain: reprice at the window end around the chain's own implied vol of the long put
                ivs = [lg.iv for lg in draft.legs if lg.kind == "put" and lg.side == "long" and math.isfinite(lg.iv)]
                if ivs:
                    leg_surface = ModelSurface(atm_vol=float(ivs[0]))
            res = run_scenario(pm.holdings, pm.model, spec, index=pm.index_col, index_spot=pm.spot, legs=legs,
                               surface=leg_surface, rate=float(draft.assumptions.get("rate", 0.0)),
                               dividend_yield=float(draft.assumptions.get("index_dividend_yield", 0.0)),
                               level=req.level, n_paths=req.n_paths, seed=req.seed)
            unhedged = unhedged or res.es_unhedged.value
            v0 = res.initial_value
            sc = score_hedge(res.es_unhedged.value * v0, res.es_hedged.value * v0, res.hedge_premium, v0)
            at_end = float(reprice_legs(legs, np.array([pm.spot]), horizon_years, spot0=pm.spot, surface=leg_surface,
                                        rate=float(draft.assumptions.get("rate", 0.0)),
                                        dividend_yield=float(draft.assumptions.get("index_dividend_yield", 0.0)))[0])
            life = max(_business_days(c.as_of, got), 1) / TRADING_DAYS
            be = draft.analytics.get("breakeven_level")
            hr = draft.analytics.get("hedge_ratio")
            out.append(CandidateScore(
                expiry=got, structure=structure,
                put_strike=draft.put_leg.strike if draft.put_leg is not None else None,
                call_strike=draft.call_leg.strike if draft.call_leg is not None else None,
                instrument=draft.underlying_symbol, premium=float(res.hedge_premium),
                coverage_pct=float(hr) * 100.0 if hr is not None and math.isfinite(hr) else float("nan"),
                breakeven=float(be) if be is not None and math.isfinite(be) else None,
                es_unhedged=res.es_unhedged.value * v0, es_gross=sc["es_gross"], es_hedged=res.es_hedged.value * v0,
                es_reduction=sc["es_reduction"], residual_risk=sc["residual_risk"], score=sc["score"],
                projected_variance=projected_variance(pm.port_vol * spec.vol_multiplier, life),
                theta=theta_decay(float(res.hedge_premium), at_end), role="",
                term_days=max((got - c.as_of).days, 1), floor_pct=floor, draft=draft.to_dict(),
                pricing_source=draft.pricing_source.source if draft.pricing_source is not None else "",
                synthetic=bool(draft.pricing_source.synthetic) if draft.pricing_source is not None else True,
            ))
    # roles from the expiries actually priced (the engine moves past an expiry it cannot implement)
    reaching = sorted({o.expiry for o in out if o.expiry >= window.end})
    first = reaching[0] if reaching else None
    out = [replace(o, role="before" if o.expiry < window.end else "covering" if o.expiry == first else "after")
           for o in out]
    return out, warnings


# =============================================================================== feedback, hedge now, KPIs


def _recommendation(ctx: AppContext, recommendation_id: str, user_id: int | None) -> OpportunityAudit:
    with ctx.session() as session:
        q = sa.select(OpportunityAudit).where(OpportunityAudit.kind == "recommendation",
                                               OpportunityAudit.recommendation_id == recommendation_id)
        if user_id is not None:
            q = q.where(OpportunityAudit.user_id == user_id)
        row = session.scalars(q.order_by(OpportunityAudit.id.desc()).limit(1)).first()
        if row is None:
            raise NotFoundError(f"recommendation {recommendation_id} not found")
        session.expunge(row)
        return row


def _find_candidate(rec: OpportunityAudit, structure: str, expiry: dt.date | None) -> dict[str, Any]:
    for cand in rec.details.get("candidates", []):
        if cand["structure"] == structure and (expiry is None or cand["expiry"] == expiry.isoformat()):
            return dict(cand)
    raise NotFoundError(f"recommendation {rec.recommendation_id} has no {structure} candidate"
                        + (f" expiring {expiry}" if expiry else ""))


def record_feedback(
    ctx: AppContext,
    *,
    user_id: int,
    recommendation_id: str,
    structure: str,
    decision: str,
    expiry: dt.date | None = None,
    draft_id: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Store an accept / reject of a recommended hedge (used to nudge the ranking).

    Raises
    ------
    ValidationError
        Unknown decision or structure.
    NotFoundError
        No such recommendation for this user.
    """
    if decision not in ("accepted", "rejected"):
        raise ValidationError.for_field("decision", f"must be accepted or rejected, got {decision!r}")
    if structure not in STRUCTURES:
        raise ValidationError.for_field("structure", f"must be one of {', '.join(STRUCTURES)}, got {structure!r}")
    rec = _recommendation(ctx, recommendation_id, user_id)
    _find_candidate(rec, structure, expiry)
    with ctx.session() as session:
        row = OpportunityFeedback(
            user_id=user_id, portfolio_id=rec.portfolio_id, recommendation_id=recommendation_id, structure=structure,
            expiry=expiry, decision=decision, draft_id=draft_id, created_at=_now(ctx),
            details={"note": note} if note else {},
        )
        session.add(row)
        session.flush()
        fid = row.id
    return {"id": fid, "recommendation_id": recommendation_id, "structure": structure,
            "expiry": expiry.isoformat() if expiry else None, "decision": decision, "draft_id": draft_id}


def hedge_now(ctx: AppContext, user: Any, *, recommendation_id: str, structure: str,
              expiry: dt.date | None = None) -> dict[str, Any]:
    """"Hedge now": quote a policy draft for a recommended hedge through the insurance engine.

    The draft is quoted by :func:`floorguard.services.policies.quote` (suitability,
    limits, stored with a time to live) on the recommendation's portfolio, with
    its floor and a term reaching the recommended expiry; the acceptance is
    stored as feedback with the draft id.

    Returns
    -------
    dict
        The quote envelope (``draft_id``, ``expires_at``, ``draft``) plus ``feedback``.
    """
    from floorguard.services import policies

    rec = _recommendation(ctx, recommendation_id, user.id)
    cand = _find_candidate(rec, structure, expiry)
    if rec.portfolio_id is None:
        raise ValidationError.for_field("recommendation_id", "was computed for unsaved positions: quote them directly")
    body = {"portfolio_id": rec.portfolio_id, "strategy": structure, "floor_pct": cand["floor_pct"],
            "term_days": int(cand["term_days"])}
    out = policies.quote(ctx, user, body)
    fb = record_feedback(ctx, user_id=user.id, recommendation_id=recommendation_id, structure=structure,
                         decision="accepted", expiry=dt.date.fromisoformat(cand["expiry"]), draft_id=out["draft_id"])
    return {**out, "feedback": fb, "recommended": {k: cand.get(k) for k in
                                                   ("expiry", "structure", "premium", "score", "term_days")}}


def opportunity_kpis(ctx: AppContext, *, user_id: int | None = None, top: CandidateScore | None = None,
                     historical: bool = False) -> dict[str, Any]:
    """Section 20.9 KPIs from stored recommendations, feedback and policy events (estimates).

    * hedge cost efficiency: ``(ES unhedged − ES hedged before premium) / premium`` of the top hedge;
    * hit rate: stored windows already past whose realised index drawdown
      (running minimum of the bundled closes from ``as_of`` to the window end)
      fell in the predicted band;
    * over-hedge ratio: premium of the top hedge of those windows spent when
      the realised drawdown stayed shallower than the hedge's target drawdown;
    * user adoption: policies bound from a "Hedge now" draft / recommendations served;
    * drift alerts: roll suggestions raised by monitoring on the user's policies.

    With ``historical=True`` the same KPIs of the walk-forward backtest of the
    rolling PPUT-style put and CLL-style collar on the whole index history are
    added under ``historical`` (computed once per data date and context).
    """
    from floorguard.persistence.lifecycle import QuoteDraft
    from floorguard.persistence.orm import InsurancePolicy, InsurancePolicyEvent

    with ctx.session() as session:
        rq = sa.select(OpportunityAudit).where(OpportunityAudit.kind == "recommendation")
        fq = sa.select(OpportunityFeedback)
        dq = (sa.select(sa.func.count()).select_from(InsurancePolicyEvent)
              .join(InsurancePolicy, InsurancePolicy.id == InsurancePolicyEvent.policy_id)
              .where(InsurancePolicyEvent.event_type == "roll_suggested"))
        if user_id is not None:
            rq = rq.where(OpportunityAudit.user_id == user_id)
            fq = fq.where(OpportunityFeedback.user_id == user_id)
            dq = dq.where(InsurancePolicy.user_id == user_id)
        recs = [(r.details or {}) for r in session.scalars(rq)]
        fbs = list(session.scalars(fq))
        drift = int(session.scalar(dq) or 0)
        draft_ids = [f.draft_id for f in fbs if f.draft_id]
        bound = 0
        if draft_ids:
            bound = int(session.scalar(sa.select(sa.func.count()).select_from(QuoteDraft).where(
                QuoteDraft.id.in_(draft_ids), QuoteDraft.status == "bound")) or 0)
    outcomes: list[tuple[float, float, float]] = []
    premiums: list[tuple[float, float]] = []
    threshold = 0.10
    if recs:
        try:
            closes = _index_closes(ctx, None)
        except DataError:
            closes = None
        if closes is not None:
            last = closes.index[-1].date()
            for d in recs:
                as_of = dt.date.fromisoformat(str(d.get("as_of")))
                cands = d.get("candidates") or []
                for w in d.get("windows", []):
                    end = dt.date.fromisoformat(w["end"])
                    if end > last:
                        continue
                    seg = closes[(closes.index >= pd.Timestamp(as_of)) & (closes.index <= pd.Timestamp(end))]
                    if seg.size < 2:
                        continue
                    dd = float(seg.min() / seg.iloc[0] - 1.0)
                    outcomes.append((dd, w["drawdown_band"]["lower"], w["drawdown_band"]["upper"]))
                    if cands and w["id"] == d.get("table_window") and cands[0].get("premium") is not None:
                        threshold = 1.0 - float(cands[0].get("floor_pct", 0.9))
                        premiums.append((float(cands[0]["premium"]), dd))
    k = hedge_kpis(
        top_candidate=top, window_outcomes=outcomes, premium_outcomes=premiums, over_hedge_threshold=threshold,
        n_recommendations=len(recs), n_accepted=sum(f.decision == "accepted" for f in fbs),
        n_rejected=sum(f.decision == "rejected" for f in fbs), n_bound=bound, drift_alerts=drift,
        sources={"hit_rate": "stored windows already past, bundled index closes",
                 "user_adoption": "bound policies from Hedge-now drafts / recommendations served",
                 "drift_alerts": "roll_suggested policy events"},
    )
    out = k.to_dict()
    if historical:
        out["historical"] = _historical_kpis(ctx)
    return _plain(out)


def _historical_kpis(ctx: AppContext) -> dict[str, Any]:
    closes = _index_closes(ctx, None)
    key = ("backtest_kpis", closes.index[-1].date())
    cached = ctx.resources.get("backtest_kpis")
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    out: dict[str, Any] = {}
    for strategy in ("pput", "collar"):
        b = index_backtest(ctx, strategy)
        out[strategy] = {k: b[k] for k in ("start", "end", "hedge_cost_efficiency", "hit_rate", "over_hedge_ratio",
                                           "cost_of_protection", "n_legs", "pricing_sources", "label")}
    ctx.resources["backtest_kpis"] = (key, out)
    return out


# =============================================================================== scenario


def _draft_from(ctx: AppContext, draft: PolicyDraft | dict[str, Any] | str | Path | None, user_id: int | None) -> PolicyDraft | None:
    if draft is None or isinstance(draft, PolicyDraft):
        return draft
    if isinstance(draft, dict):
        return PolicyDraft.from_dict(draft.get("draft", draft))
    text = str(draft)
    if Path(text).suffix.lower() == ".json" or Path(text).is_file():
        from floorguard.services.insurance import load_draft

        return load_draft(text)
    from floorguard.persistence.lifecycle import QuoteDraft

    with ctx.session() as session:
        row = session.get(QuoteDraft, text)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise NotFoundError(f"draft {text} not found")
        return PolicyDraft.from_dict(dict(row.draft))


def run_portfolio_scenario(
    ctx: AppContext,
    portfolio: Portfolio | Sequence[Position] | str | Path,
    request: ScenarioRequest | None = None,
    *,
    draft: PolicyDraft | dict[str, Any] | str | Path | None = None,
    user_id: int | None = None,
    portfolio_id: int | None = None,
    as_of: dt.date | None = None,
    narrator: Any = None,
) -> dict[str, Any]:
    """Run a section 20.4 scenario on a portfolio, hedged and unhedged (Monte Carlo estimates).

    Parameters
    ----------
    portfolio : Portfolio, positions, or a file path / stored portfolio name
    request : ScenarioRequest
    draft : PolicyDraft, draft dict, draft JSON file or stored draft id, optional
        The hedge; without it ``request.strategy`` is quoted by the insurance
        engine (None: unhedged only).

    Returns
    -------
    dict
        ``{"label", "as_of", "scenario", "portfolio", "hedge", "result", "narrative", "warnings"}``
        where ``result`` is :meth:`ScenarioResult.to_dict` (values in currency,
        VaR/ES as loss fractions, each with its Monte Carlo standard error).
    """
    from floorguard.core.montecarlo import run_scenario
    from floorguard.core.pricing import ModelSurface
    from floorguard.narrative import narrate, scenario_narrative

    req = request or ScenarioRequest()
    req.validate()
    spec = req.spec()
    positions, name, pid = _resolve(ctx, portfolio)
    pid = pid if pid is not None else portfolio_id
    day, closes = _as_of(ctx, as_of)
    pm = _portfolio_model(ctx, positions, day, closes, req.innovations)
    warnings: list[str] = []
    if pm.left_out:
        warnings.append(f"left out of the simulation (no market data): {', '.join(pm.left_out)}")
    pol = _draft_from(ctx, draft, user_id)
    if pol is None and req.strategy is not None:
        from floorguard.services.insurance import QuoteRequest, quote_policy

        pol = quote_policy(ctx, pm.priced, QuoteRequest(
            floor_pct=req.floor_pct, term_days=req.term_days, strategy=req.strategy, index_level=pm.spot,
            as_of=dt.datetime.combine(day, dt.time(21, 0), tzinfo=dt.UTC)))
    legs: list[Any] = []
    hedge: dict[str, Any] | None = None
    atm = 0.20
    rate = div = 0.0
    if pol is not None:
        if pol.index_symbol.upper() != INDEX:
            raise ValidationError.for_field("draft", f"hedges {pol.index_symbol}, not {INDEX}")
        legs, _ = _legs_for_mc(pol, day)
        ivs = [lg.iv for lg in pol.legs if lg.kind == "put" and math.isfinite(lg.iv)]
        atm = ivs[0] if ivs else 0.20
        rate = float(pol.assumptions.get("rate", 0.0))
        div = float(pol.assumptions.get("index_dividend_yield", 0.0))
        hedge = {"strategy": pol.strategy, "expiry": pol.expiry, "instrument": pol.underlying_symbol,
                 "premium_net": pol.premium_net, "floor_pct": pol.floor_pct,
                 "legs": [lg.to_dict() for lg in pol.legs], "synthetic": bool(pol.pricing_source and pol.pricing_source.synthetic)}
        if abs(pol.portfolio_value - pm.value) > 0.02 * pm.value:
            warnings.append(f"the draft was sized for {pol.portfolio_value:,.0f}; the portfolio is worth {pm.value:,.0f}")
    surface = ModelSurface(atm_vol=atm)
    floor = pol.floor_pct * pm.value if pol is not None else (1.0 - 0.10) * pm.value
    res = run_scenario(pm.holdings, pm.model, spec, index=pm.index_col, index_spot=pm.spot, legs=legs,
                       surface=surface, rate=rate, dividend_yield=div, floor=floor, level=req.level,
                       n_paths=req.n_paths, seed=req.seed, monitor_path=req.monitor_path, keep_paths=True)
    story = scenario_narrative(
        scenario_name=spec.name, index_move=spec.index_move, vol_multiplier=spec.vol_multiplier,
        horizon_days=spec.horizon_days, structure=pol.strategy if pol is not None else None,
        initial_value=res.initial_value, median_unhedged=res.unhedged.median.value,
        median_hedged=res.hedged.median.value, premium=res.hedge_premium, es_unhedged=res.es_unhedged.value,
        es_hedged=res.es_hedged.value, level=req.level, n_paths=res.n_paths)
    told = narrate(story, narrator if narrator is not None else _llm(ctx))
    out = {
        "label": ESTIMATE_LABEL,
        "as_of": day.isoformat(),
        "scenario": spec.to_dict(),
        "portfolio": {"name": name, "id": pid, "value": pm.value, "left_out": pm.left_out},
        "hedge": hedge,
        "result": _with_histograms(res.to_dict(), res.final_unhedged, res.final_hedged),
        "narrative": {"text": told.text, "choice": told.choice, "reason": told.reason, "label": ESTIMATE_LABEL},
        "warnings": warnings,
    }
    _audit(ctx, "scenario", user_id=user_id, portfolio_id=pid, choice=told.choice, prompt=told.prompt,
           output=told.llm_text if told.llm_text is not None else told.text,
           details={"scenario": spec.to_dict(), "n_paths": req.n_paths, "seed": req.seed, "hedge": hedge,
                    "es_unhedged": res.es_unhedged.value, "es_hedged": res.es_hedged.value,
                    "served": told.text, "reason": told.reason})
    return _plain(out)


def _with_histograms(result: dict[str, Any], unhedged: np.ndarray, hedged: np.ndarray, bins: int = 40) -> dict[str, Any]:
    """Add ``histogram`` ({edges, centers, counts, density}) of the final values to each side (common bins).

    ``density`` is the share of paths in each bin (sums to 1), an estimate.
    """
    both = np.concatenate([unhedged, hedged])
    lo, hi = float(np.quantile(both, 0.001)), float(np.quantile(both, 0.999))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    out = dict(result)
    for side, values in (("unhedged", unhedged), ("hedged", hedged)):
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
        out[side] = {**result[side], "histogram": {
            "edges": edges.tolist(), "centers": (0.5 * (edges[1:] + edges[:-1])).tolist(),
            "counts": counts.tolist(), "density": (counts / values.size).tolist(),
            "note": "share of simulated paths per bin; the outer 0.1% on each side are put in the end bins"}}
    return out


# =============================================================================== backtest


def index_backtest(ctx: AppContext, strategy: str, *, start: dt.date | None = None, end: dt.date | None = None,
                   include_series: bool = False) -> dict[str, Any]:
    """Walk-forward PPUT/CLL-style backtest on the index history (model-priced estimates).

    ATM implied vol: the VIX close where the market data have it, the
    realised-vol proxy elsewhere (each leg says which).
    """
    from floorguard.core.backtest import run_backtest

    closes = _index_closes(ctx, None)
    implied = None
    try:
        vix = ctx.market_data().price_history(["VIX"])["VIX"]
        implied = (vix.reindex(closes.index) / 100.0).to_numpy(dtype=np.float64)
    except (SymbolNotFoundError, DataError):
        implied = None
    res = run_backtest(list(closes.index), closes.to_numpy(), strategy,  # type: ignore[arg-type]
                       implied_atm=implied, start=start, end=end)
    out = res.to_dict(include_series=include_series)
    out["reconciliation"] = {
        "premium_paid": res.premium_paid, "payoffs_received": res.payoffs_received, "hedge_pnl": res.hedge_pnl,
        "payoffs_minus_premium": res.payoffs_received - res.premium_paid,
        "legs_pnl_sum": float(sum(leg.pnl for leg in res.legs)),
    }
    return _plain(out)


def positions_from_payload(
    ctx: AppContext, user_id: int, *, portfolio_id: int | None, positions: Sequence[dict[str, Any]] | None
) -> tuple[Portfolio | list[Position], int | None]:
    """The caller's stored portfolio (ownership checked: another user's is NotFound) or inline positions."""
    from floorguard.exceptions import FieldError

    if portfolio_id is not None and positions:
        raise ValidationError.for_field("portfolio_id", "give positions or a portfolio_id, not both")
    if portfolio_id is not None:
        return portfolio_for_user(ctx, user_id, portfolio_id), int(portfolio_id)
    if not positions:
        raise ValidationError.for_field("positions", "give positions or a stored portfolio_id")
    out: list[Position] = []
    errors: list[FieldError] = []
    for i, p in enumerate(positions):
        try:
            out.append(Position(symbol=str(p.get("symbol", "")).strip().upper(), quantity=p.get("quantity"),  # type: ignore[arg-type]
                                price=None if p.get("price") is None else float(p["price"]),
                                asset_type=p.get("asset_type") or "equity", beta=p.get("beta"), sector=p.get("sector")))
        except ValidationError as exc:
            errors.extend(FieldError(f"positions.{i}.{e.field}", e.reason) for e in exc.errors)
    if errors:
        raise ValidationError("; ".join(str(e) for e in errors), errors=errors)
    return out, None
