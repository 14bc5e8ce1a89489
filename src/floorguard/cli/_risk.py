"""``floorguard risk``: the risk report and the beta comparison.

* ``floorguard risk PORTFOLIO [--start D] [--end D] [--benchmark SP500] [--json]``
* ``floorguard risk betas PORTFOLIO [--compare] [--json]``

``risk`` is a group whose default command is the report: when the first
argument is not a sub-command name, ``report`` is inserted, so both forms work
(``floorguard risk report PORTFOLIO`` is the explicit spelling). PORTFOLIO is a
CSV/JSON portfolio file or the name of a stored portfolio.
"""

from __future__ import annotations

from typing import Annotated, Any

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from floorguard.cli._common import JsonOpt, console, emit

__all__ = ["register"]

PortfolioArg = Annotated[str, typer.Argument(help="Portfolio file (CSV/JSON) or stored portfolio name.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="First day of the return window (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last day of the return window (YYYY-MM-DD).")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Owner of a stored portfolio (default: demo).")]
RemedyOpt = Annotated[
    str | None,
    typer.Option("--remedy", help="When the 6-factor fit is multicollinear: 'ridge' or 'orthogonal' "
                 "(factors orthogonalised against the market) instead of the single-factor fallback."),
]


def _check_remedy(remedy: str | None) -> str | None:
    from floorguard.exceptions import ValidationError

    if remedy is not None and remedy not in ("ridge", "orthogonal"):
        raise ValidationError.for_field("remedy", f"must be ridge or orthogonal, got {remedy!r}")
    return remedy


class _DefaultReportGroup(TyperGroup):
    """A group that runs ``report`` when its first argument is not a sub-command."""

    default_command = "report"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100.0 * float(x):.2f}%"


def _num(x: Any, nd: int = 3) -> str:
    return "-" if x is None else f"{float(x):.{nd}f}"


def _resolve(ctx: Any, portfolio: str, user: str | None) -> Any:
    from floorguard.services.portfolios import resolve_portfolio

    return resolve_portfolio(ctx, portfolio, owner=user)


def _render_report(rep: dict[str, Any]) -> None:
    pf = rep["portfolio"]
    md = rep["metadata"]
    w = md["window"]
    console.print(
        f"[bold]{pf['name']}[/bold]  net {pf['net_value']:,.2f} {pf['currency']}  "
        f"window {w['start']} .. {w['end']} ({md['observations']} days)"
    )
    m = rep["measures"]
    t = Table(title="risk measures (one-day VaR/ES as losses)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    if m.get("available"):
        t.add_row("annual volatility", _pct(m["annual_volatility"]))
        dd = m["drawdown"]
        t.add_row("max drawdown", f"{_pct(m['max_drawdown'])} ({dd['peak']} -> {dd['trough']}, recovered {dd['recovery'] or 'no'})")
        t.add_row("current drawdown", _pct(m["current_drawdown"]))
        for meth in ("historical", "gaussian", "cornish_fisher"):
            t.add_row(f"VaR {m['level']:.0%} {meth}", _pct(m["value_at_risk"][meth]))
            t.add_row(f"ES {m['level']:.0%} {meth}", _pct(m["expected_shortfall"][meth]))
        t.add_row("Sharpe / Sortino", f"{_num(m['sharpe'], 2)} / {_num(m['sortino'], 2)}")
    else:
        t.add_row("skipped", f"{m['skip_reason']}: {m['message']}")
    pb = rep["beta"]["portfolio"]
    if pb.get("available"):
        t.add_row("market beta", f"{_num(pb['beta'])} ({pb['beta_source']})")
    else:
        t.add_row("market beta", f"skipped: {pb['skip_reason']} ({pb['quality_flag']})")
    c = rep["concentration"]
    t.add_row("HHI / effective N", f"{_num(c['hhi'], 4)} / {_num(c['effective_positions'], 2)}")
    t.add_row("top 3 / top 10", f"{_pct(c['top_3'])} / {_pct(c['top_10'])}")
    if rep.get("diversification_ratio") is not None:
        t.add_row("diversification ratio", _num(rep["diversification_ratio"]))
    console.print(t)
    s = Table(title=f"sectors vs {rep['sectors']['benchmark_name']} (as of {rep['sectors']['benchmark_as_of']})")
    for col in ("sector", "net", "gross", "benchmark", "active"):
        s.add_column(col, justify="right" if col != "sector" else "left")
    for sec, net in rep["sectors"]["net"].items():
        s.add_row(sec, _pct(net), _pct(rep["sectors"]["gross"][sec]),
                  _pct(rep["sectors"]["benchmark"].get(sec)), _pct(rep["sectors"]["active"].get(sec)))
    console.print(s)
    st = rep["stress"]
    if isinstance(st, dict) and "historical" in st:
        x = Table(title="stress tests" + (" (with hedge)" if st["hedged"] else ""))
        for col in ("scenario", "market", "portfolio", "P&L", "hedged P&L"):
            x.add_column(col, justify="right" if col != "scenario" else "left")
        rows = st["historical"] + [r for k in ("market_shocks", "factor_shocks")
                                   if isinstance(st.get(k), list) for r in st[k]]
        for r in rows:
            x.add_row(r["name"], _pct(r["market_return"]), _pct(r["portfolio_return"]),
                      "-" if r["pnl"] is None else f"{r['pnl']:,.0f}",
                      "-" if r["hedged_pnl"] is None else f"{r['hedged_pnl']:,.0f}")
        console.print(x)
        console.print("note: market and factor shocks are hypothetical, applied through the estimated betas"
                      + (f" ({st['factor_shocks_note']})" if st.get("factor_shocks_note") else ""))
    for note in md["notes"] + md["estimates"]:
        console.print(f"note: {note}")


def _render_betas(data: dict[str, Any]) -> None:
    t = Table(title=f"betas of {data['portfolio']} ({data['window']['start']} .. {data['window']['end']})")
    for col in ("symbol", "path", "beta", "single-factor", "multivariate", "max VIF", "cond. no.", "quality"):
        t.add_column(col, justify="left" if col in ("symbol", "path", "quality") else "right")
    for r in data["positions"]:
        sf = r.get("single_factor") or {}
        mv = r.get("multivariate") or {}
        vif = mv.get("vif") or {}
        finite = [v for v in vif.values() if v is not None and v == v]
        t.add_row(
            r["symbol"], r["path"], _num(r.get("beta")), _num(sf.get("beta")),
            _num((mv.get("betas") or {}).get("market")), _num(max(finite), 1) if finite else "-",
            _num(mv.get("condition_number"), 1), str(mv.get("quality_flag", r.get("quality_flag", "-"))),
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add the ``risk`` group (default command ``report``, plus ``betas``)."""
    risk = typer.Typer(
        cls=_DefaultReportGroup,
        help="Risk report of a portfolio (floorguard risk PORTFOLIO) and beta diagnostics (risk betas).",
        invoke_without_command=True,
    )

    @risk.callback()
    def risk_group(ctx: typer.Context) -> None:
        """Risk report of a portfolio (floorguard risk PORTFOLIO) and beta diagnostics (risk betas)."""
        if ctx.invoked_subcommand is None:  # bare `floorguard risk`: show the usage, exit 0
            console.print(ctx.get_help())
            raise typer.Exit(0)

    @risk.command("report")
    def risk_report(
        portfolio: PortfolioArg,
        start: StartOpt = None,
        end: EndOpt = None,
        benchmark: Annotated[str, typer.Option("--benchmark", help="Sector benchmark map.")] = "SP500",
        level: Annotated[float, typer.Option("--level", help="VaR/ES confidence level.")] = 0.95,
        hedge_floor: Annotated[
            float | None,
            typer.Option("--hedge-floor", help="Show stresses with an S&P 500 put at this fraction of spot "
                         "(e.g. 0.9) on the portfolio's net value (intrinsic value, premium not deducted). "
                         "Without it, a stored portfolio's active insurance policies are used, if any."),
        ] = None,
        persist: Annotated[bool, typer.Option("--persist", help="Store betas and a snapshot (stored portfolios).")] = False,
        remedy: RemedyOpt = None,
        user: UserOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Volatility, drawdown, VaR/ES, betas with provenance, sectors, concentration, contributions, stress."""
        from floorguard.cli._data import make_context
        from floorguard.exceptions import ValidationError
        from floorguard.services.risk import MARKET_SYMBOL, RiskMetricsService, protective_put_payoff

        ctx = make_context()
        try:
            svc = RiskMetricsService(ctx, level=level, remedy=_check_remedy(remedy))
            pf = _resolve(ctx, portfolio, user)
            hedge: Any = "active"
            if hedge_floor is not None:
                if not 0.0 < hedge_floor < 2.0:
                    raise ValidationError.for_field("hedge_floor", f"must be a fraction of spot in (0, 2), got {hedge_floor}")
                from floorguard.services.portfolios import value_portfolio

                spot = ctx.market_data().last_price(MARKET_SYMBOL).price
                net = value_portfolio(ctx, pf).net_value
                hedge = protective_put_payoff(spot, hedge_floor * spot, max(net, 0.0) / (spot * 100.0))
            rep = svc.report(pf, start=start, end=end, benchmark=benchmark, persist=persist, hedge_payoff=hedge)
        finally:
            ctx.close()
        emit(rep, as_json, _render_report)

    @risk.command("betas")
    def risk_betas(
        portfolio: PortfolioArg,
        start: StartOpt = None,
        end: EndOpt = None,
        compare: Annotated[bool, typer.Option("--compare", help="Show single-factor and multivariate fits side by side.")] = False,
        remedy: RemedyOpt = None,
        user: UserOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Per position: the beta the hybrid path chose; with --compare also both fits, VIF and condition number."""
        from floorguard.cli._data import make_context
        from floorguard.services.risk import RiskMetricsService

        ctx = make_context()
        try:
            data = RiskMetricsService(ctx, remedy=_check_remedy(remedy)).betas(
                _resolve(ctx, portfolio, user), start=start, end=end
            )
        finally:
            ctx.close()
        if not compare:
            data = {**data, "positions": [
                {k: r.get(k) for k in ("symbol", "path", "beta", "quality_flag", "fallback_reason", "reason") if k in r}
                for r in data["positions"]
            ]}
        emit(data, as_json, _render_betas)

    app.add_typer(risk, name="risk")
