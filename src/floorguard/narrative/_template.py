"""Deterministic template narrator (seed section 20, items 4 and 20.4).

Writes the seed's sentences from engine figures only, and records every
number and date it used so the guard can check a rephrasing against them.
Every figure is labelled as an estimate and the unhedged baseline is always
stated.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from floorguard.domain.opportunities import CandidateScore, RiskWindow

__all__ = ["Narrative", "STRUCTURE_NAMES", "scenario_narrative", "window_narrative"]

STRUCTURE_NAMES = {
    "protective_put": "protective put",
    "collar": "collar",
    "put_spread": "put spread",
    "tail_hedge": "tail hedge (far out-of-the-money put)",
}


@dataclass(frozen=True)
class Narrative:
    """A narrative text and the figures it was allowed to use.

    Attributes
    ----------
    text : str
    numbers : list of float
        Every engine figure the text shows (natural units).
    dates : list of date
    facts : dict
        The structured figures (for an LLM prompt).
    """

    text: str
    numbers: list[float] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def _money(x: float) -> str:
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def _pct(x: float, signed: bool = False) -> str:
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def _strike(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def window_narrative(
    window: RiskWindow,
    best: CandidateScore | None,
    *,
    portfolio_value: float,
    level: float,
) -> Narrative:
    """'Uncertainty expected (reason) between (start→end). Opportunity: ... estimated cost X,
    potential protection Y, residual risk Z.' plus the unhedged baseline.

    Parameters
    ----------
    window : RiskWindow
    best : CandidateScore or None
        The top-ranked hedge for the window (None: no hedge to propose).
    portfolio_value : float
        Today's value (currency).
    level : float
        Confidence level of the expected shortfalls.
    """
    lo, hi = window.move_band
    p_lo, p_hi = window.band
    vmid = window.vol_band[1]
    nums: list[float] = [lo, hi, p_lo, p_hi, vmid, level, portfolio_value]
    dates = [window.start, window.end]
    parts = [
        f"Uncertainty expected ({window.reason}) between {window.start.isoformat()} → {window.end.isoformat()} "
        f"(estimate: index move {_pct(lo, True)} to {_pct(hi, True)} in the {p_lo:.0%}–{p_hi:.0%} band, "
        f"forecast volatility {_pct(vmid)})."
    ]
    facts: dict[str, Any] = {"window": window.to_dict(), "portfolio_value": portfolio_value, "level": level}
    if best is not None:
        name = STRUCTURE_NAMES.get(best.structure, best.structure)
        strikes = f"put {_strike(best.put_strike)}" if best.put_strike is not None else ""
        if best.call_strike is not None:
            strikes += f", call {_strike(best.call_strike)}"
        parts.append(
            f"Opportunity: {name} on {best.instrument} expiring {best.expiry.isoformat()}"
            + (f" ({strikes})" if strikes else "")
            + f" with estimated cost {_money(best.premium)}, potential protection {_money(best.es_reduction)}, "
            f"residual risk {_money(best.residual_risk)} (estimates at {level:.0%} expected shortfall)."
        )
        nums += [best.premium, best.es_reduction, best.residual_risk]
        nums += [x for x in (best.put_strike, best.call_strike) if x is not None]
        dates.append(best.expiry)
        facts["recommendation"] = best.to_dict()
        es_u = best.es_unhedged
    else:
        parts.append("Opportunity: no hedge is proposed for this window (no candidate could be priced).")
        es_u = window.drawdown.es * portfolio_value if window.drawdown is not None else float("nan")
    if math.isfinite(es_u):
        parts.append(
            f"Unhedged baseline: estimated expected shortfall {_money(es_u)} "
            f"({_pct(es_u / portfolio_value)} of {_money(portfolio_value)}) at {level:.0%} confidence."
        )
        nums += [es_u, es_u / portfolio_value]
    else:
        parts.append("Unhedged baseline: the portfolio is shown without a hedge; its tail estimate is unavailable.")
    parts.append("All figures are model estimates and may differ from realised outcomes.")
    return Narrative(" ".join(parts), nums, dates, facts)


def scenario_narrative(
    *,
    scenario_name: str,
    index_move: float | None,
    vol_multiplier: float,
    horizon_days: int,
    structure: str | None,
    initial_value: float,
    median_unhedged: float,
    median_hedged: float,
    premium: float,
    es_unhedged: float,
    es_hedged: float,
    level: float,
    n_paths: int,
) -> Narrative:
    """The section 20.4 comparison sentence.

    'Under Severe scenario (−12% index), unhedged portfolio loss −$X (−Y%).
    Proposed collar limits loss to −$A (−B%) net of $premium with residual
    tail risk $R.' Values are medians of the simulated final values
    (currency) and expected shortfalls as loss fractions of ``initial_value``.
    """
    du = median_unhedged - initial_value
    dh = median_hedged - initial_value
    ru, rh = du / initial_value, dh / initial_value
    es_u_cash, es_h_cash = es_unhedged * initial_value, es_hedged * initial_value
    shock = (f"{_pct(index_move, True)} index" if index_move is not None else "model drift, no index shock")
    nums: list[float] = [vol_multiplier, float(horizon_days), du, ru, es_u_cash, level, float(n_paths), initial_value]
    if index_move is not None:
        nums.append(index_move)
    title = scenario_name.capitalize()
    word_u = "loss" if du < 0 else "gain"
    text = (
        f"Under {title} scenario ({shock}, volatility x{vol_multiplier:g}, {horizon_days} trading days), "
        f"unhedged portfolio {word_u} {_money(du)} ({_pct(ru, True)}) (median estimate)."
    )
    if structure is not None:
        name = STRUCTURE_NAMES.get(structure, structure)
        verb = "limits loss to" if dh < 0 else "leaves a gain of"
        text += (
            f" Proposed {name} {verb} {_money(dh)} ({_pct(rh, True)}) net of {_money(premium)} premium "
            f"with residual tail risk {_money(es_h_cash)} ({level:.0%} expected shortfall, estimate)."
        )
        nums += [dh, rh, premium, es_h_cash]
    text += (
        f" Unhedged baseline tail risk: {_money(es_u_cash)} ({level:.0%} expected shortfall, estimate)."
        f" All figures are model estimates from {n_paths:,} simulated paths and may differ from realised outcomes."
    )
    facts = {
        "scenario": scenario_name, "index_move": index_move, "vol_multiplier": vol_multiplier,
        "horizon_days": horizon_days, "structure": structure, "initial_value": initial_value,
        "median_change_unhedged": du, "median_change_hedged": dh if structure else None, "premium": premium,
        "es_unhedged": es_u_cash, "es_hedged": es_h_cash if structure else None, "level": level,
        "n_paths": n_paths,
    }
    return Narrative(text, nums, [], facts)
