"""Foundation commands: ``db``, ``data``, ``portfolio``, ``demo``, ``serve``.

Every command builds a fresh :class:`~floorguard.services.context.AppContext`
from the environment (``FLOORGUARD_*``), so nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from floorguard.cli._common import JsonOpt, console, emit

__all__ = ["register", "make_context"]

UserOpt = Annotated[
    str, typer.Option("--user", help="User the portfolio belongs to (created when importing).")
]


def make_context() -> Any:
    """Settings from the environment -> AppContext (configuration errors are one line)."""
    from pydantic import ValidationError as PydanticValidationError

    from floorguard.config import Settings
    from floorguard.exceptions import ConfigurationError
    from floorguard.services.context import AppContext

    try:
        settings = Settings()
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ConfigurationError(f"invalid setting {where}: {first.get('msg')}") from exc
    return AppContext(settings)


@contextmanager
def _context() -> Iterator[Any]:
    ctx = make_context()
    try:
        yield ctx
    finally:
        ctx.close()


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100.0 * x:.2f}%"


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


# -------------------------------------------------------------------- db
def _db_upgrade(revision: str, as_json: bool) -> None:
    from floorguard.persistence.db import current_revision, make_engine, safe_url, upgrade

    with _context() as ctx:
        url = ctx.database_url
        upgrade(url, revision)
        engine = make_engine(url)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
        data = {"database": safe_url(url), "revision": current}
        emit(data, as_json, lambda d: console.print(f"database {d['database']} at revision {d['revision']}"))


# ------------------------------------------------------------------ data
def _data_status(as_json: bool) -> dict[str, Any]:
    from floorguard.exceptions import ConfigurationError
    from floorguard.marketdata import BundledSource, CsvSource, check_quality
    from floorguard.persistence import repositories as repo
    from floorguard.persistence.db import check_connection

    out: dict[str, Any] = {"sources": [], "cache": {}}
    with _context() as ctx:
        settings = ctx.settings
        chain = ctx.market_data()
        for source in chain.sources:
            entry: dict[str, Any] = {"name": source.name, "symbols": []}
            if isinstance(source, BundledSource):
                entry["files"] = {k: str(v) for k, v in source.files().items()}
                report = source.quality(stale_days=settings.stale_price_days)
                for sym in source.symbols():
                    inst = source.instrument(sym)
                    first, last = source.date_range(sym)
                    entry["symbols"].append(
                        {
                            "symbol": sym,
                            "name": inst.name,
                            "asset_type": inst.asset_type,
                            "sector": inst.sector,
                            "dataset": source.dataset(sym),
                            "first": first.isoformat(),
                            "last": last.isoformat(),
                            "n_observations": report.n_observations.get(sym, 0),
                            "quality_flags": report.flags(sym),
                            "quality_counts": report.counts(sym),
                        }
                    )
                entry["quality"] = report.to_dict()
                entry["notes"] = dict(source.notes)
                entry["extras"] = {
                    "fama_french_monthly": _span(source.fama_french()),
                    "credit_spread_monthly": _span(source.credit_spread()),
                    "spx_ohlcv_daily": _span(source.ohlcv("SPX")),
                    "ixic_ohlcv_daily": _span(source.ohlcv("IXIC")),
                }
            elif isinstance(source, CsvSource):
                report = source.quality(stale_days=settings.stale_price_days)
                frame = source.frame()
                entry["path"] = str(source.path)
                for sym in source.symbols():
                    col = frame[sym].dropna()
                    entry["symbols"].append(
                        {
                            "symbol": sym,
                            "first": col.index[0].date().isoformat(),
                            "last": col.index[-1].date().isoformat(),
                            "n_observations": int(len(col)),
                            "quality_flags": report.flags(sym),
                            "quality_counts": report.counts(sym),
                        }
                    )
                entry["quality"] = report.to_dict()
            out["sources"].append(entry)
        # an unreachable database is an error (exit 2); an unmigrated one is reported
        check_connection(ctx.engine)
        try:
            with ctx.session() as session:
                cached = repo.cached_universe(session)
                series = []
                for c in cached:
                    closes = repo.load_prices(session, symbol=c.symbol, source=c.source)
                    report = check_quality(closes.rename(c.symbol), stale_days=settings.stale_price_days)
                    series.append(
                        {**c.to_dict(), "quality_flags": report.flags(c.symbol),
                         "quality_counts": report.counts(c.symbol)}
                    )
            out["cache"] = {"available": True, "series": series}
        except ConfigurationError as exc:
            out["cache"] = {"available": False, "reason": " ".join(str(exc).split())}
    return out


def _span(frame: Any) -> dict[str, Any]:
    return {
        "first": frame.index[0].date().isoformat(),
        "last": frame.index[-1].date().isoformat(),
        "columns": [str(c) for c in frame.columns],
        "rows": int(len(frame)),
    }


def _render_status(data: dict[str, Any]) -> None:
    for source in data["sources"]:
        table = Table(title=f"market data: {source['name']}")
        for col in ("symbol", "name", "type", "sector", "first", "last", "obs", "quality"):
            table.add_column(col)
        for s in source["symbols"]:
            flags = s["quality_flags"]
            counts = s["quality_counts"]
            quality = "ok" if not flags else ", ".join(f"{k}:{counts[k]}" for k in flags)
            table.add_row(
                s["symbol"],
                s.get("name", s["symbol"]),
                s.get("asset_type", "-"),
                s.get("sector") or "-",
                s["first"],
                s["last"],
                str(s["n_observations"]),
                quality,
            )
        console.print(table)
        for sym, note in source.get("notes", {}).items():
            console.print(f"note ({sym}): {note}")
        for name, span in source.get("extras", {}).items():
            console.print(f"{name}: {span['first']} .. {span['last']} ({span['rows']} rows)")
    cache = data["cache"]
    if cache.get("available"):
        console.print(f"database cache: {len(cache['series'])} cached series")
        for c in cache["series"]:
            flags = ", ".join(c["quality_flags"]) or "ok"
            console.print(
                f"  {c['symbol']} ({c['source']}): {c['first']} .. {c['last']}, {c['n']} closes, "
                f"quality {flags}, fetched {c['fetched_at']}"
            )
    else:
        console.print(f"database cache unavailable: {cache.get('reason')}")


def _data_prices(symbols: list[str], start: str | None, end: str | None, as_json: bool) -> None:
    with _context() as ctx:
        frame = ctx.market_data().price_history(symbols, start, end)
    data = {
        "provenance": frame.attrs.get("provenance", {}),
        "prices": [
            {"date": idx.date().isoformat(), **{c: row[c] for c in frame.columns}}
            for idx, row in frame.iterrows()
        ],
    }

    def render(d: dict[str, Any]) -> None:
        table = Table(title="daily closes (last 10 rows)")
        table.add_column("date")
        for c in frame.columns:
            table.add_column(c, justify="right")
        for row in d["prices"][-10:]:
            table.add_row(row["date"], *[_money(row[c]) for c in frame.columns])
        console.print(table)
        for sym, p in d["provenance"].items():
            console.print(f"{sym}: {p.get('source')} ({p.get('dataset')}) {p.get('first')} .. {p.get('as_of')}")

    emit(data, as_json, render)


# -------------------------------------------------------------- portfolio
def _render_valuation(v: dict[str, Any]) -> None:
    provenance = {
        f"{p['price_source']} {p['price_as_of'] or ''}".strip() for p in v["positions"]
    }
    mixed = len(provenance) > 1
    table = Table(title=f"portfolio {v['name']} ({v['currency']})")
    table.add_column("symbol", no_wrap=True)
    for col in ("quantity", "price", "value", "weight"):
        table.add_column(col, justify="right", no_wrap=True)
    if mixed:
        table.add_column("price from")
    table.add_column("sector")
    for p in v["positions"]:
        cells = [
            p["symbol"],
            f"{p['quantity']:,.6g}",
            _money(p["price"]),
            _money(p["value"]),
            _pct(p["weight"]),
        ]
        if mixed:
            cells.append(f"{p['price_source']} {p['price_as_of'] or ''}".strip())
        cells.append(p["sector"] or "-")
        table.add_row(*cells)
    console.print(table)
    console.print(f"net value {_money(v['net_value'])}  gross {_money(v['gross_value'])}")
    for src, what in v["sources"].items():
        console.print(f"prices from {src}: {what}")


def _serve_workers(host: str, port: int, workers: int) -> None:
    """Run ``workers`` uvicorn processes on one listening socket; each builds its app from the environment.

    The socket is bound here with ``IPPROTO_TCP``: uvicorn's own ``bind_socket``
    leaves the protocol 0, and asyncio only sets ``TCP_NODELAY`` on sockets
    whose protocol is TCP, so every response would wait for the client's
    delayed ACK (~40 ms) under Nagle's algorithm.
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("floorguard.api.app:create_app", factory=True, host=host, port=port,
                            workers=workers, log_level="info")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def register(app: typer.Typer) -> None:
    """Add the ``db``, ``data``, ``portfolio``, ``demo`` and ``serve`` commands."""
    db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    data = typer.Typer(help="Market data: bundled, csv, yfinance.", no_args_is_help=True)
    portfolio = typer.Typer(help="Import, list and show portfolios.", no_args_is_help=True)
    demo = typer.Typer(help="Demo investor and portfolio on bundled data.", no_args_is_help=True)

    @db.command("upgrade")
    def db_upgrade(
        revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
        as_json: JsonOpt = False,
    ) -> None:
        """Apply the migrations to FLOORGUARD_DATABASE_URL (default: SQLite under data_home)."""
        _db_upgrade(revision, as_json)

    @data.command("status")
    def data_status(as_json: JsonOpt = False) -> None:
        """Bundled and cached universe: date ranges and quality flags."""
        emit(_data_status(as_json), as_json, _render_status)

    @data.command("prices")
    def data_prices(
        symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. SPX AAPL.")],
        start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")] = None,
        end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Daily closes with their provenance."""
        _data_prices(symbols, start, end, as_json)

    @portfolio.command("import")
    def portfolio_import(
        file: Annotated[Path, typer.Argument(help="CSV or JSON portfolio file.")],
        name: Annotated[str, typer.Option("--name", help="Name to store it under.")],
        user: UserOpt = "demo",
        replace: Annotated[bool, typer.Option(help="Overwrite a portfolio with this name.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Validate every row, then store the portfolio (nothing is written on any error)."""
        from floorguard.services.portfolios import import_portfolio, value_portfolio

        with _context() as ctx:
            stored = import_portfolio(ctx, file, name=name, owner=user, replace=replace)
            valuation = value_portfolio(ctx, stored)
        result = {"imported": stored.to_dict(), "valuation": valuation.to_dict()}

        def render(d: dict[str, Any]) -> None:
            console.print(f"imported {len(stored.positions)} positions as {stored.name!r} for {user}")
            _render_valuation(d["valuation"])

        emit(result, as_json, render)

    @portfolio.command("show")
    def portfolio_show(
        name: Annotated[str, typer.Argument(help="Stored portfolio name or a CSV/JSON file.")],
        user: UserOpt = "demo",
        as_json: JsonOpt = False,
    ) -> None:
        """Positions valued with the provenance of every price."""
        from floorguard.services.portfolios import resolve_portfolio, value_portfolio

        with _context() as ctx:
            p = resolve_portfolio(ctx, name, owner=user)
            valuation = value_portfolio(ctx, p)
        emit(valuation.to_dict(), as_json, _render_valuation)

    @portfolio.command("list")
    def portfolio_list(user: UserOpt = "demo", as_json: JsonOpt = False) -> None:
        """Stored portfolios of a user."""
        from floorguard.services.portfolios import list_portfolios

        with _context() as ctx:
            items = [s.to_dict() for s in list_portfolios(ctx, owner=user)]

        def render(d: list[dict[str, Any]]) -> None:
            table = Table(title=f"portfolios of {user}")
            for col in ("id", "name", "positions", "currency", "updated"):
                table.add_column(col)
            for s in d:
                table.add_row(str(s["id"]), s["name"], str(s["n_positions"]), s["currency"], s["updated_at"])
            console.print(table)

        emit(items, as_json, render)

    @demo.command("load")
    def demo_load(
        as_json: JsonOpt = False,
        token: Annotated[
            bool, typer.Option("--token/--no-token", help="Issue a dashboard login token for the demo investor.")
        ] = True,
    ) -> None:
        """Create the demo investor and portfolio (idempotent) and print a risk summary."""
        from floorguard.services.demo import issue_demo_token, load_demo

        with _context() as ctx:
            result = load_demo(ctx)
            login = issue_demo_token(ctx) if token else None
            address = f"http://{ctx.settings.host}:{ctx.settings.port}/"

        def render(d: dict[str, Any]) -> None:
            _render_valuation(d["valuation"])
            r = d["risk"]
            if r:
                console.print(
                    f"risk ({r['start']} .. {r['end']}, {r['n_returns']} daily returns, {r['method']}):"
                )
                console.print(
                    f"  annualised volatility {_pct(r['annual_volatility'])}, "
                    f"max drawdown {_pct(r['max_drawdown'])}, "
                    f"1-day VaR {int(r['var_level'] * 100)}% {_pct(r['var_1d'])} "
                    f"({_money(r['var_1d_amount'])} {d['valuation']['currency']})"
                )
                console.print(f"  {r['label']}")
            for note in d["notes"]:
                console.print(f"note: {note}")
            if d.get("login_token"):
                console.print(
                    f"dashboard: {d['dashboard']} (log in as {d['user']} with this token, shown once):"
                )
                console.print(f"  {d['login_token']}", highlight=False, soft_wrap=True)

        payload = result.to_dict()
        if login:
            payload |= {"login_token": login, "dashboard": address}
        emit(payload, as_json, render)

    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Bind address (default FLOORGUARD_HOST).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default FLOORGUARD_PORT).")] = None,
        workers: Annotated[int, typer.Option(
            min=1, max=64,
            help="Worker processes (uvicorn). Each has its own caches and quote rate limiter; "
                 "more than 1 needs FLOORGUARD_SCHEDULER_ENABLED=false (run the jobs elsewhere).")] = 1,
    ) -> None:
        """Start the API server (uvicorn) on the configured database."""
        import uvicorn

        from floorguard.api.app import create_app
        from floorguard.exceptions import ValidationError

        with _context() as ctx:
            ctx.check_database()
            bind_host = host or ctx.settings.host
            bind_port = port if port is not None else ctx.settings.port
            if workers > 1 and ctx.settings.scheduler_enabled:
                raise ValidationError.for_field(
                    "workers", "more than one worker would run the job scheduler once per worker: "
                    "set FLOORGUARD_SCHEDULER_ENABLED=false and run the jobs in one process")
            console.print(f"floorguard API on http://{bind_host}:{bind_port} (docs at /docs)"
                          + (f", {workers} workers" if workers > 1 else ""))
            if workers > 1:
                _serve_workers(bind_host, bind_port, workers)
            else:
                uvicorn.run(create_app(ctx.settings, ctx=ctx), host=bind_host, port=bind_port, log_level="info")

    app.add_typer(db, name="db")
    app.add_typer(data, name="data")
    app.add_typer(portfolio, name="portfolio")
    app.add_typer(demo, name="demo")
