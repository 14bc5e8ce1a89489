"""Insurance commands: ``quote``, ``compare``, ``payoff``, ``unwind``, ``mark``, ``hedge-mix``.

``floorguard quote PORTFOLIO --floor 0.90 --term-days 30 --strategy collar --json``
prints ``{"ok": true, "draft": {...}}``; without ``--chain`` the prices come
from a synthetic chain and the draft says so. ``floorguard payoff DRAFT.json
--final-portfolio-value V --final-index-level L`` settles a draft.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from floorguard.cli._common import JsonOpt, console, emit

__all__ = ["register"]


def _money(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:,.2f}"


def _render_draft(data: dict[str, Any]) -> None:
    d = data["draft"]
    src = d.get("pricing_source") or {}
    label = "SYNTHETIC (model estimate)" if src.get("synthetic") else f"chain {src.get('source')}"
    console.print(
        f"[bold]{d['strategy']}[/bold] on {d['underlying_symbol']} ({d['index_symbol']}), "
        f"expiry {d['expiry']}, prices: {label} as of {src.get('as_of')}"
    )
    console.print(
        f"portfolio {_money(d['portfolio_value'])}  beta {d['beta']:.3f}  floor {d['floor_pct']:.0%} "
        f"= {_money(d['floor_value'])}  hedged notional {_money(d['coverage_notional'])}"
    )
    t = Table("leg", "strike", "contracts", "price", "premium", "mid", "iv")
    for leg in d["legs"]:
        t.add_row(f"{leg['side']} {leg['kind']}", f"{leg['strike']:g}", str(leg["contracts"]),
                  _money(leg["price"]), _money(leg["premium"]), _money(leg["mid"]),
                  "-" if leg.get("iv") is None else f"{leg['iv']:.2%}")
    console.print(t)
    a = d["analytics"]
    console.print(
        f"net premium {_money(d['premium_net'])} ({a['premium_pct']:.2%} of the portfolio; mid estimate "
        f"{_money(d['premium_net_mid'])}); hedge ratio {a['hedge_ratio']:.2f}; "
        f"max loss {_money(a['max_loss'])}; breakeven {_money(a['breakeven_level'])}"
    )
    for w in d.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _render_payoff(data: dict[str, Any]) -> None:
    t = Table("item", "value")
    for k in ("floor_value", "shortfall", "put_intrinsic", "call_intrinsic", "hedge_payoff", "compensation",
              "residual_loss"):
        t.add_row(k, _money(data.get(k)))
    console.print(t)


#: A user's contracts file; takes precedence over FLOORGUARD_CONTRACTS_PATH.
ContractsOpt = Annotated[
    Path | None,
    typer.Option("--contracts", help="Your contracts JSON file, extending/overriding the bundled specifications "
                 "(default: FLOORGUARD_CONTRACTS_PATH)."),
]


def register(app: typer.Typer) -> None:
    """Add the insurance commands to ``app``."""

    @app.command("quote")
    def quote(
        portfolio: Annotated[str, typer.Argument(help="Portfolio CSV/JSON file or stored portfolio name.")],
        floor: Annotated[float, typer.Option("--floor", help="Floor as a fraction of today's value (0.90).")] = 0.90,
        term_days: Annotated[int, typer.Option("--term-days", help="Term in calendar days.")] = 30,
        strategy: Annotated[str, typer.Option(
            "--strategy", help="protective_put | collar | put_spread | tail_hedge")] = "protective_put",
        index: Annotated[str, typer.Option("--index", help="Hedge index.")] = "SPX",
        instrument: Annotated[str | None, typer.Option(
            "--instrument", help="Fix the option instrument (SPX, XSP, SPY); default: best contract-size fit.")] = None,
        chain: Annotated[Path | None, typer.Option("--chain", help="CBOE delayed-quotes CSV.")] = None,
        beta: Annotated[float | None, typer.Option("--beta", help="Override the portfolio beta.")] = None,
        index_level: Annotated[float | None, typer.Option("--index-level", help="Index level (synthetic chain).")] = None,
        rate: Annotated[float | None, typer.Option("--rate", help="Risk-free rate per year (continuous).")] = None,
        dividend_yield: Annotated[float | None, typer.Option("--dividend-yield", help="Index dividend yield.")] = None,
        portfolio_dividend_yield: Annotated[float | None, typer.Option(
            "--portfolio-dividend-yield", help="Portfolio dividend yield.")] = None,
        multiplier: Annotated[float | None, typer.Option("--multiplier", help="Override the contract multiplier.")] = None,
        cap: Annotated[float | None, typer.Option("--cap", help="Collar upside cap (0.05); omit for zero-cost.")] = None,
        coverage: Annotated[float, typer.Option("--coverage", help="Share of the exposure to hedge (0-1].")] = 1.0,
        notional: Annotated[str, typer.Option(
            "--notional", help="beta_adjusted (value x beta, Hull) | full (value).")] = "beta_adjusted",
        rounding: Annotated[str, typer.Option("--rounding", help="Contract rounding: up | down | nearest.")] = "up",
        lower_floor: Annotated[float | None, typer.Option(
            "--lower-floor", help="Put spread: portfolio level of the short put (default floor - 0.10).")] = None,
        tail_budget: Annotated[float, typer.Option(
            "--tail-budget", help="Tail hedge premium budget, fraction of the portfolio.")] = 0.005,
        vol: Annotated[float | None, typer.Option("--vol", help="ATM vol of the synthetic surface.")] = None,
        contracts: ContractsOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Quote a portfolio-insurance policy draft."""
        from floorguard.cli._data import make_context
        from floorguard.services.insurance import QuoteRequest, quote_policy

        req = QuoteRequest(
            floor_pct=floor, term_days=term_days, strategy=strategy, index=index, instrument=instrument,
            chain_path=chain, beta=beta, index_level=index_level, rate=rate, dividend_yield=dividend_yield,
            portfolio_dividend_yield=portfolio_dividend_yield, multiplier=multiplier, cap=cap,
            coverage=coverage, notional_mode=notional, rounding=rounding,  # type: ignore[arg-type]
            lower_floor_pct=lower_floor, tail_budget_pct=tail_budget, vol=vol, contracts_path=contracts,
        )
        ctx = make_context()
        try:
            draft = quote_policy(ctx, portfolio, req)
        finally:
            ctx.close()
        emit({"ok": True, "draft": draft.to_dict()}, as_json, _render_draft)

    @app.command("compare")
    def compare(
        portfolio: Annotated[str, typer.Argument(help="Portfolio CSV/JSON file or stored portfolio name.")],
        floor: Annotated[float, typer.Option("--floor", help="Floor as a fraction of today's value.")] = 0.90,
        term_days: Annotated[int, typer.Option("--term-days", help="Term in calendar days.")] = 30,
        chain: Annotated[Path | None, typer.Option("--chain", help="CBOE delayed-quotes CSV.")] = None,
        index_level: Annotated[float | None, typer.Option("--index-level", help="Index level (synthetic).")] = None,
        vol: Annotated[float | None, typer.Option("--vol", help="ATM vol of the synthetic surface.")] = None,
        cap: Annotated[float | None, typer.Option("--cap", help="Collar upside cap; omit for zero-cost.")] = None,
        tail_budget: Annotated[float, typer.Option("--tail-budget", help="Tail hedge budget.")] = 0.005,
        contracts: ContractsOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Compare the four strategy families (seed 20.3 table: premium, coverage, breakeven, score)."""
        from floorguard.cli._data import make_context
        from floorguard.services.insurance import QuoteRequest, compare_strategies

        req = QuoteRequest(floor_pct=floor, term_days=term_days, chain_path=chain, index_level=index_level,
                           vol=vol, cap=cap, tail_budget_pct=tail_budget, contracts_path=contracts)
        ctx = make_context()
        try:
            rows = compare_strategies(ctx, portfolio, req)
        finally:
            ctx.close()

        def render(data: dict[str, Any]) -> None:
            t = Table("expiry", "structure", "put", "call", "premium", "% port.", "coverage", "breakeven",
                      "score")
            for r in data["rows"]:
                if "refused" in r:
                    t.add_row("-", r["strategy"], "-", "-", "-", "-", "-", "-", "refused")
                    continue
                t.add_row(r["expiry"], r["strategy"], f"{r['put_strike']:g}",
                          "-" if r["call_strike"] is None else f"{r['call_strike']:g}", _money(r["premium"]),
                          f"{r['premium_pct']:.2%}", f"{r['coverage']:.2f}", _money(r["breakeven"]),
                          "-" if r["score"] is None else f"{r['score']:.3f}")
            console.print(t)
            if any(r.get("synthetic") for r in data["rows"]):
                console.print("prices are SYNTHETIC model estimates; scores assume a lognormal index (estimate)")

        emit({"rows": rows}, as_json, render)

    @app.command("payoff")
    def payoff(
        draft: Annotated[Path, typer.Argument(help="Draft JSON (from 'floorguard quote --json').")],
        final_portfolio_value: Annotated[float, typer.Option("--final-portfolio-value", help="Portfolio value at expiry.")],
        final_index_level: Annotated[float, typer.Option(
            "--final-index-level", help="Settlement level of the option underlying (strike units).")],
        coverage_ratio: Annotated[float | None, typer.Option(
            "--coverage-ratio", help="Share of the shortfall covered (default: the draft's).")] = None,
        rule: Annotated[str, typer.Option("--rule", help="min | hedge_payoff | shortfall")] = "min",
        deductible: Annotated[float, typer.Option("--deductible", help="Dollars the investor bears first.")] = 0.0,
        max_payout: Annotated[float | None, typer.Option("--max-payout", help="Compensation cap, dollars.")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Settle a policy draft at expiry (floor, shortfall, intrinsic values, compensation)."""
        from floorguard.domain.settlement import SettlementTerms
        from floorguard.services.insurance import load_draft, settle_draft

        d = load_draft(draft)
        terms = SettlementTerms(
            coverage_ratio=d.coverage_ratio if coverage_ratio is None else coverage_ratio,
            rule=rule,  # type: ignore[arg-type]
            deductible=deductible, cap=max_payout,
        )
        res = settle_draft(d, final_portfolio_value, final_index_level, terms)
        emit(res.to_dict(), as_json, _render_payoff)

    @app.command("unwind")
    def unwind(
        draft: Annotated[Path, typer.Argument(help="Draft JSON (from 'floorguard quote --json').")],
        chain: Annotated[Path, typer.Option("--chain", help="CBOE CSV with the current quotes.")],
        contracts: ContractsOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Early termination: proceeds of closing the hedge (long legs at the bid, short at the ask)."""
        from floorguard.cli._data import make_context
        from floorguard.services.insurance import contracts_path_for, load_draft, unwind_draft

        ctx = make_context()
        try:
            contracts_file = contracts_path_for(ctx, contracts)
        finally:
            ctx.close()
        res = unwind_draft(load_draft(draft), chain, contracts_file)

        def render(d: dict[str, Any]) -> None:
            console.print(f"unwind proceeds {_money(d['proceeds'])} (at the mid {_money(d['proceeds_mid'])}); "
                          f"premium paid {_money(d['premium_paid'])}; P&L {_money(d['pnl'])}")

        emit(res.to_dict(), as_json, render)

    @app.command("mark")
    def mark(
        draft: Annotated[Path, typer.Argument(help="Draft JSON (from 'floorguard quote --json').")],
        underlying_level: Annotated[float, typer.Option("--underlying-level", help="Current level (strike units).")],
        vol: Annotated[float | None, typer.Option("--vol", help="Flat vol; default each leg's IV at the quote.")] = None,
        portfolio_value: Annotated[float | None, typer.Option("--portfolio-value", help="Current value.")] = None,
        as_of: Annotated[str | None, typer.Option("--as-of", help="ISO time (UTC); default now.")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Mark a hedge to market before expiry (Black-Scholes-Merton over the remaining life; an estimate)."""
        import datetime as dt

        from floorguard.cli._data import make_context
        from floorguard.exceptions import ValidationError
        from floorguard.services.insurance import load_draft, mark_draft

        when = None
        if as_of is not None:
            try:
                when = dt.datetime.fromisoformat(as_of)
            except ValueError:
                raise ValidationError.for_field("as_of", f"must be an ISO time, got {as_of!r}") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
        d = load_draft(draft)
        ctx = make_context()
        try:
            res = mark_draft(ctx, d, underlying_level, when, vol, portfolio_value)
        finally:
            ctx.close()

        def render(x: dict[str, Any]) -> None:
            console.print(f"hedge value {_money(x['hedge_value'])} (intrinsic {_money(x['intrinsic'])}, "
                          f"time value {_money(x['time_value'])}); P&L {_money(x['pnl'])} - model estimate")
            for w in x.get("warnings") or []:
                console.print(f"warning: {w}")

        emit(res.to_dict(), as_json, render)

    @app.command("hedge-mix")
    def hedge_mix(
        portfolio: Annotated[str, typer.Argument(help="Portfolio CSV/JSON file or stored portfolio name.")],
        indices: Annotated[str, typer.Option("--indices", help="Comma-separated index symbols.")] = "SPX,IXIC",
        term_days: Annotated[int, typer.Option("--term-days", help="Term in days (basis risk horizon).")] = 30,
        as_json: JsonOpt = False,
    ) -> None:
        """Variance-minimising mix of index hedges and the basis risk left."""
        from floorguard.cli._data import make_context
        from floorguard.services.insurance import multi_index_for_portfolio

        names = [s.strip().upper() for s in indices.split(",") if s.strip()]
        ctx = make_context()
        try:
            res = multi_index_for_portfolio(ctx, portfolio, names, term_days)
        finally:
            ctx.close()

        def render(d: dict[str, Any]) -> None:
            t = Table("index", "ratio", "notional", "alone: R^2")
            for k in d["indices"]:
                t.add_row(k, f"{d['ratios'][k]:.3f}", _money(d["notionals"][k]),
                          f"{d['single_index'][k]['r_squared']:.3f}")
            console.print(t)
            console.print(f"R^2 {d['r_squared']:.3f}; residual vol {d['residual_vol']:.2%}/yr; "
                          f"basis risk over the term {_money(d['basis_risk'])} (1 sd)")
            for w in d["warnings"]:
                console.print(f"note: {w}", highlight=False)

        emit(res.to_dict(), as_json, render)
