"""Uncertainty & opportunity commands: ``opportunities``, ``scenario``, ``backtest``.

``floorguard opportunities PORTFOLIO --json`` prints the risk windows, the
ranked hedge table (Expiry | Structure | Put Strike | Call Strike | Premium |
Coverage% | Breakeven | Score) and the narrative; ``floorguard scenario
PORTFOLIO --preset severe [--draft FILE] [--paths N] [--seed S] --json`` runs
a Monte Carlo scenario hedged against unhedged; ``floorguard backtest
--strategy pput|collar [--start D] [--end D] --json`` runs the walk-forward
backtest on the bundled S&P 500. PORTFOLIO is a CSV/JSON file or a stored
portfolio name. Every figure is a model estimate and is labelled as such.
Long runs show a progress bar (not with ``--json``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from floorguard.cli._common import JsonOpt, console, emit, err_console

__all__ = ["register"]

ESTIMATE_NOTE = "All figures are model estimates (not guarantees)."


def _num(x: Any, fmt: str = ",.2f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, fmt)


@contextlib.contextmanager
def _progress(enabled: bool, what: str) -> Iterator[Callable[[str, float], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=1.0)

        def update(stage: str, frac: float) -> None:
            bar.update(task, completed=min(max(frac, 0.0), 1.0), description=f"{what}: {stage}")

        yield update


def _render_opportunities(data: dict[str, Any]) -> None:
    console.print(f"[bold]Uncertainty windows[/bold] for {data['portfolio']['name']} "
                  f"(value {_num(data['portfolio']['value'])}, data as of {data['as_of']}; estimates)")
    wt = Table()
    for col in ("id", "start", "end", "reason", "severity", "index move band", "P5 / median / P95 return (est.)"):
        wt.add_column(col, overflow="fold")
    for w in data["windows"]:
        d = w.get("drawdown") or {}
        wt.add_row(w["id"], w["start"], w["end"], w["reason"], f"{w['severity']:.2f}",
                   f"{w['move_band']['lower']:+.1%} .. {w['move_band']['upper']:+.1%}",
                   f"{d.get('p5', float('nan')):+.1%} / {d.get('median', float('nan')):+.1%} / "
                   f"{d.get('p95', float('nan')):+.1%}")
    console.print(wt)
    rec = data["recommendations"]
    t = Table(title=f"Hedges for window {rec['window_id']} (estimates)")
    for col in rec["columns"]:
        t.add_column(col, overflow="fold")
    for r in rec["table"]:
        t.add_row(r["Expiry"], r["Structure"], _num(r["Put Strike"], ",.2f"), _num(r["Call Strike"], ",.2f"),
                  _num(r["Premium"]), _num(r["Coverage%"], ".1f"), _num(r["Breakeven"]), _num(r["Score"], ".3f"))
    console.print(t)
    console.print(data["narrative"]["text"], highlight=False)
    for w in data.get("warnings", []):
        console.print(f"[yellow]note:[/yellow] {w}", highlight=False)


def _render_scenario(data: dict[str, Any]) -> None:
    r = data["result"]
    sc = data["scenario"]
    console.print(f"[bold]{sc['name']}[/bold] scenario, {r['n_paths']:,} paths, as of {data['as_of']} (estimates)")
    t = Table("", "unhedged", "hedged")
    for k in ("p5", "median", "p95", "mean"):
        t.add_row(f"final value {k}", f"{_num(r['unhedged'][k]['value'])} ± {_num(r['unhedged'][k]['se'])}",
                  f"{_num(r['hedged'][k]['value'])} ± {_num(r['hedged'][k]['se'])}")
    t.add_row(f"VaR {r['level']:.0%} (loss fraction)", _num(r["var_unhedged"]["value"], ".4f"),
              _num(r["var_hedged"]["value"], ".4f"))
    t.add_row(f"ES {r['level']:.0%} (loss fraction)", _num(r["es_unhedged"]["value"], ".4f"),
              _num(r["es_hedged"]["value"], ".4f"))
    if r.get("p_floor_breach_unhedged"):
        t.add_row("P(floor breach)", _num(r["p_floor_breach_unhedged"]["value"], ".4f"),
                  _num(r["p_floor_breach_hedged"]["value"], ".4f"))
    console.print(t)
    console.print(data["narrative"]["text"], highlight=False)
    for w in data.get("warnings", []):
        console.print(f"[yellow]note:[/yellow] {w}", highlight=False)


def _render_backtest(data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['strategy']}[/bold] backtest {data['start']} .. {data['end']} "
                  f"({data['n_legs']} legs; {data['label']})")
    t = Table("metric", "hedged", "unhedged")
    for k in ("annual_return", "annual_vol", "max_drawdown", "worst_month", "total_return"):
        t.add_row(k, _num(data["hedged"][k], ".2%"), _num(data["unhedged"][k], ".2%"))
    console.print(t)
    console.print(f"cost of protection {_num(data['cost_of_protection'], '.2%')} a year; premium paid "
                  f"{_num(data['premium_paid'])}, payoffs received {_num(data['payoffs_received'])}, hedge P&L "
                  f"{_num(data['hedge_pnl'])}; hit rate {_num(data['hit_rate'], '.1%')}, over-hedge ratio "
                  f"{_num(data['over_hedge_ratio'], '.1%')}, cost efficiency {_num(data['hedge_cost_efficiency'], '.2f')}")
    console.print(f"pricing sources: {data['pricing_sources']}. {ESTIMATE_NOTE}")


def _render_models(data: dict[str, Any]) -> None:
    t = Table()
    for col in ("name", "version", "kind", "data window", "n_obs", "loglik", "converged"):
        t.add_column(col, overflow="fold")
    for m in data["models"]:
        met = m.get("metrics", {})
        t.add_row(m["name"], str(m["version"]), m["kind"], f"{m['data_start']} .. {m['data_end']}", str(m["n_obs"]),
                  _num(met.get("loglik"), ",.1f"), str(met.get("converged")))
    console.print(t)


def _date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from floorguard.exceptions import ValidationError

        raise ValidationError.for_field(field, f"must be a date YYYY-MM-DD, got {value!r}") from None


def register(app: typer.Typer) -> None:
    """Add the opportunity, scenario and backtest commands to ``app``."""

    @app.command("opportunities")
    def opportunities(
        portfolio: Annotated[str, typer.Argument(help="Portfolio CSV/JSON file or stored portfolio name.")],
        horizon: Annotated[int, typer.Option("--horizon", help="Forecast horizon in trading days.")] = 21,
        target_drawdown: Annotated[float, typer.Option(
            "--target-drawdown", help="Drawdown to protect against (floor = 1 - this).")] = 0.10,
        structures: Annotated[str | None, typer.Option(
            "--structures", help="Comma-separated: protective_put,collar,put_spread,tail_hedge.")] = None,
        paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths per candidate.")] = 20_000,
        seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same numbers).")] = 7,
        chain: Annotated[Path | None, typer.Option("--chain", help="CBOE delayed-quotes CSV (else synthetic).")] = None,
        events: Annotated[Path | None, typer.Option("--events", help="Events file: CSV or iCalendar (.ics).")] = None,
        headlines: Annotated[Path | None, typer.Option("--headlines", help="Headlines CSV (date,headline).")] = None,
        as_of: Annotated[str | None, typer.Option(
            "--as-of", help="Use data up to this date YYYY-MM-DD (default: the latest close).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Upcoming uncertainty windows and ranked hedges (estimates)."""
        from floorguard.cli._data import make_context
        from floorguard.domain.opportunities import STRUCTURES
        from floorguard.services.opportunities import OpportunityRequest
        from floorguard.services.opportunities import opportunities as run

        ev_text = events.read_text(encoding="utf-8") if events is not None else None
        is_ics = events is not None and events.suffix.lower() in (".ics", ".ical")
        req = OpportunityRequest(
            horizon_days=horizon, target_drawdown=target_drawdown, n_paths=paths, seed=seed, chain_path=chain,
            structures=tuple(s.strip() for s in structures.split(",") if s.strip()) if structures else STRUCTURES,
            events_csv=None if is_ics else ev_text, events_ics=ev_text if is_ics else None,
            headlines_csv=headlines.read_text(encoding="utf-8") if headlines is not None else None,
            as_of=_date(as_of, "as_of"),
        )
        ctx = make_context()
        try:
            with _progress(not as_json, "opportunities") as bar:
                out = run(ctx, portfolio, req, progress=bar)
        finally:
            ctx.close()
        emit(out, as_json, _render_opportunities)

    @app.command("scenario")
    def scenario(
        portfolio: Annotated[str, typer.Argument(help="Portfolio CSV/JSON file or stored portfolio name.")],
        preset: Annotated[str, typer.Option("--preset", help="mild | base | severe | tail")] = "severe",
        index_move: Annotated[float | None, typer.Option(
            "--index-move", help="Custom shock: index return over the horizon (-0.12); overrides --preset.")] = None,
        vol_mult: Annotated[float, typer.Option("--vol-mult", help="Custom shock: volatility multiplier.")] = 1.0,
        horizon: Annotated[int, typer.Option("--horizon", help="Custom shock: trading days.")] = 21,
        draft: Annotated[Path | None, typer.Option("--draft", help="Policy draft JSON (from 'floorguard quote --json').")] = None,
        strategy: Annotated[str, typer.Option(
            "--strategy", help="Hedge to quote when no --draft: protective_put|collar|put_spread|tail_hedge|none")] = "protective_put",
        floor: Annotated[float, typer.Option("--floor", help="Floor of the quoted hedge.")] = 0.90,
        term_days: Annotated[int, typer.Option("--term-days", help="Term of the quoted hedge (calendar days).")] = 45,
        paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.")] = 20_000,
        seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
        monitor: Annotated[bool, typer.Option("--monitor", help="Daily steps with floor-breach monitoring.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Monte Carlo scenario: hedged against unhedged portfolio (estimates)."""
        from floorguard.cli._data import make_context
        from floorguard.services.opportunities import ScenarioRequest, run_portfolio_scenario

        req = ScenarioRequest(preset=preset, index_move=index_move, vol_multiplier=vol_mult, horizon_days=horizon,
                              strategy=None if strategy.lower() == "none" else strategy, floor_pct=floor,
                              term_days=term_days, n_paths=paths, seed=seed, monitor_path=monitor)
        req.validate()
        if draft is not None and not draft.is_file():
            from floorguard.exceptions import ValidationError

            raise ValidationError.for_field("draft", f"no such file: {draft}")
        ctx = make_context()
        try:
            with _progress(not as_json, "scenario") as bar:
                if bar:
                    bar("simulating", 0.1)
                out = run_portfolio_scenario(ctx, portfolio, req, draft=draft)
                if bar:
                    bar("done", 1.0)
        finally:
            ctx.close()
        emit(out, as_json, _render_scenario)

    models = typer.Typer(help="Forecasting models stored as versioned artefacts (fit, list).", no_args_is_help=True)
    app.add_typer(models, name="models")

    @models.command("fit")
    def models_fit(
        as_of: Annotated[str | None, typer.Option("--as-of", help="Last data date YYYY-MM-DD (default: latest).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Fit the GARCH and regime models and store a new version of each (run it weekly, e.g. from cron)."""
        from floorguard.cli._data import make_context
        from floorguard.services.opportunities import fit_forecast_models

        day = _date(as_of, "as_of")
        ctx = make_context()
        try:
            with _progress(not as_json, "fitting models") as bar:
                if bar:
                    bar("fitting", 0.1)
                out = fit_forecast_models(ctx, as_of=day)
        finally:
            ctx.close()
        emit({"models": out}, as_json, _render_models)

    @models.command("list")
    def models_list(
        name: Annotated[str | None, typer.Option("--name", help="Only this model (garch:SPX, regimes:SPX).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Stored model versions with their data window and fit metrics."""
        from floorguard.cli._data import make_context
        from floorguard.services.opportunities import list_models

        ctx = make_context()
        try:
            out = list_models(ctx, name)
        finally:
            ctx.close()
        emit({"models": out}, as_json, _render_models)

    @app.command("backtest")
    def backtest(
        strategy: Annotated[str, typer.Option("--strategy", help="pput (5% OTM monthly put) | collar (95-110)")] = "pput",
        start: Annotated[str | None, typer.Option("--start", help="First date YYYY-MM-DD.")] = None,
        end: Annotated[str | None, typer.Option("--end", help="Last date YYYY-MM-DD.")] = None,
        legs: Annotated[bool, typer.Option("--legs", help="Include every leg and the daily values (JSON).")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Walk-forward PPUT/CLL-style backtest on the bundled S&P 500 (model-priced estimates)."""
        from floorguard.cli._data import make_context
        from floorguard.exceptions import ValidationError
        from floorguard.services.opportunities import index_backtest

        if strategy not in ("pput", "collar"):
            raise ValidationError.for_field("strategy", f"must be pput or collar, got {strategy!r}")
        d0, d1 = _date(start, "start"), _date(end, "end")
        ctx = make_context()
        try:
            with _progress(not as_json, f"backtest {strategy}") as bar:
                if bar:
                    bar("running", 0.1)
                out = index_backtest(ctx, strategy, start=d0, end=d1, include_series=legs)
                if bar:
                    bar("done", 1.0)
        finally:
            ctx.close()
        emit(out, as_json, _render_backtest)
