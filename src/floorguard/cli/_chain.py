"""Option-chain commands: ``chain import FILE`` and ``chain surface FILE``.

FILE is a CBOE delayed-quotes CSV (cboe.com, "Download CSV"). ``import``
prints the underlying, spot (and where it came from), as-of time, expiries,
quote counts and quality flags; ``surface`` fits a volatility surface to the
out-of-the-money mids and prints, per expiry, the forward, rate and dividend
yield used (from put-call parity, or settings when the chain cannot imply
them), ATM vol, skew, fit error and arbitrage flags.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from floorguard.cli._common import JsonOpt, console, emit

__all__ = ["register", "chain_surface_report"]

FileArg = Annotated[Path, typer.Argument(help="CBOE delayed-quotes CSV file.")]
ContractsOpt = Annotated[
    Path | None,
    typer.Option("--contracts", help="Your contracts JSON file, extending the bundled specifications."),
]


def _read(path: Path, contracts: Path | None = None) -> Any:
    """Read a chain; ``--contracts`` wins over ``FLOORGUARD_CONTRACTS_PATH``."""
    from floorguard.cli._data import make_context
    from floorguard.marketdata.cboe import read_cboe_csv

    if contracts is None:
        contracts = make_context().settings.contracts_path  # the context builds nothing: no close needed
    return read_cboe_csv(path, contracts_path=contracts)


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def chain_surface_report(path: Path, rate: float | None = None, contracts: Path | None = None) -> dict[str, Any]:
    """Fit the chain in ``path`` and return the per-expiry report as plain data."""
    from floorguard.config import get_settings
    from floorguard.domain.chains import fit_chain_surface

    settings = get_settings()
    chain = _read(path, contracts)
    surface, inputs = fit_chain_surface(
        chain,
        rate=rate,
        fallback_rate=settings.risk_free_rate,
        fallback_dividend=settings.index_dividend_yield,
    )
    report = getattr(surface, "fit_report", None)
    rows: list[dict[str, Any]] = []
    by_t: dict[float, Any] = {}
    if report is not None:
        items = report.to_dict("records") if hasattr(report, "to_dict") and not isinstance(report, dict) else report
        if isinstance(items, dict):
            items = list(items.values())
        for item in items:
            d = item if isinstance(item, dict) else getattr(item, "__dict__", {})
            d = item.to_dict() if hasattr(item, "to_dict") else dict(d)
            t = _float(d.get("t", d.get("t_years")))
            if t is not None:
                by_t[round(t, 10)] = d
    for exp, est in sorted(inputs.forwards_by_expiry.items()):
        fit = by_t.get(round(est.t_years, 10), {})
        n = sum(1 for e in inputs.expiries if e == exp)
        rows.append(
            {
                "expiry": exp.isoformat(),
                "t_years": est.t_years,
                "forward": est.forward,
                "rate": est.rate,
                "dividend_yield": est.dividend_yield,
                "forward_method": est.method,
                "n_quotes": int(fit.get("n_quotes", n)),
                "atm_vol": _float(fit.get("atm_vol")),
                "skew": _float(fit.get("skew")),
                "rmse": _float(fit.get("rmse")),
                "butterfly_ok": fit.get("butterfly_ok"),
                "calendar_ok": fit.get("calendar_ok"),
            }
        )
    flags = [
        f"{r['expiry']}: " + ", ".join(
            name for name, ok in (("butterfly arbitrage", r["butterfly_ok"]), ("calendar arbitrage", r["calendar_ok"]))
            if ok is False
        )
        for r in rows
        if r["butterfly_ok"] is False or r["calendar_ok"] is False
    ]
    return {
        "underlying": chain.underlying,
        "spot": chain.spot,
        "spot_note": chain.spot_note,
        "as_of": chain.as_of.isoformat(),
        "source": chain.label,
        "style": chain.style,
        "n_quotes_fitted": int(inputs.ivs.size),
        "dropped": inputs.n_dropped,
        "expiries": rows,
        "arbitrage_flags": flags,
        "skipped": [dict(x) for x in getattr(surface, "skipped", [])],
        "rmse_units": "vol points (1 = 0.01 of vol)",
        "notes": [
            "implied vols of out-of-the-money mids; forwards from put-call parity "
            + ("(American chain: rate from settings)" if chain.style == "american" else ""),
        ],
    }


def register(app: typer.Typer) -> None:
    """Add the ``chain`` command group to ``app``."""
    chain_app = typer.Typer(help="Read option chains and fit volatility surfaces.", no_args_is_help=True)
    app.add_typer(chain_app, name="chain")

    @chain_app.command("import")
    def import_cmd(file: FileArg, contracts: ContractsOpt = None, as_json: JsonOpt = False) -> None:
        """Read a CBOE CSV; print underlying, spot, as-of, expiries, counts and quality flags."""
        data = _read(file, contracts).summary()

        def render(d: dict[str, Any]) -> None:
            console.print(
                f"[bold]{d['underlying']}[/bold] spot {d['spot']:,.4f} ({d['spot_note']})\n"
                f"as of {d['as_of']} (valued at {d['valuation_time']}), source {d['label']}, {d['style']}\n"
                f"{d['n_quotes']} quotes ({d['n_two_sided']} two-sided) in {d['n_expiries']} expiries"
            )
            table = Table(box=box.SIMPLE, pad_edge=False)
            for col in ("expiry", "roots", "t_years", "calls", "puts"):
                table.add_column(col, justify="right" if col not in ("expiry", "roots") else "left")
            for e in d["expiries"]:
                table.add_row(e["expiry"], e["roots"], f"{e['t_years']:.4f}", str(e["calls"]), str(e["puts"]))
            console.print(table)
            flags = ", ".join(f"{k}={v}" for k, v in d["quality_flags"].items())
            console.print(f"quality flags: {flags}")

        emit(data, as_json, render)

    @chain_app.command("surface")
    def surface_cmd(
        file: FileArg,
        rate: Annotated[
            str | None,
            typer.Option("--rate", help="Known rate; default: implied by the chain or settings.", metavar="FLOAT"),
        ] = None,
        contracts: ContractsOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Fit a volatility surface; print ATM vol, skew, fit error and arbitrage flags per expiry."""
        from floorguard.cli._pricing import _num

        data = chain_surface_report(file, None if rate is None else _num("rate", rate), contracts)

        def render(d: dict[str, Any]) -> None:
            console.print(
                f"[bold]{d['underlying']}[/bold] spot {d['spot']:,.4f}, as of {d['as_of']}, "
                f"{d['n_quotes_fitted']} quotes fitted ({d['source']})"
            )
            rates = sorted({round(r["rate"], 4) for r in d["expiries"]})
            console.print(f"rate(s) used: {', '.join(f'{r:.4f}' for r in rates)}; rmse in vol points")
            table = Table(box=box.SIMPLE, pad_edge=False)
            for col in ("expiry", "t", "forward", "div", "n", "ATM", "skew", "rmse", "ok"):
                table.add_column(col, justify="left" if col == "expiry" else "right", no_wrap=True)

            def f(x: float | None, fmt: str) -> str:
                return "-" if x is None else format(x, fmt)

            for r in d["expiries"]:
                ok = r["butterfly_ok"] is not False and r["calendar_ok"] is not False
                table.add_row(
                    r["expiry"], f(r["t_years"], ".3f"), f(r["forward"], ".1f"),
                    f(r["dividend_yield"], ".4f"), str(r["n_quotes"]), f(r["atm_vol"], ".4f"),
                    f(r["skew"], ".2f"), f(r["rmse"], ".2f"), "yes" if ok else "NO",
                )
            console.print(table)
            console.print("arbitrage flags: " + ("; ".join(d["arbitrage_flags"]) or "none"))

        emit(data, as_json, render)
