"""The ``floorguard`` command line: a thin edge over the service layer.

Each area registers its commands from its own private module (``_data.py``,
``_pricing.py``, ...), listed in ``COMMAND_MODULES``. ``main()`` maps domain
errors to a one-line message and exit code 2; it never prints a traceback
(set ``FLOORGUARD_DEBUG=1`` to see one).
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["build_app", "main"]

#: Modules that define ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: list[str] = [
    "_data",
    "_users",
    "_pricing",
    "_chain",
    "_risk",
    "_insurance",
    "_opportunities",
]


def build_app() -> typer.Typer:
    """Build the Typer application with every command registered."""
    app = typer.Typer(
        name="floorguard",
        help="Portfolio risk analytics and portfolio insurance with listed index options.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"floorguard.cli.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from floorguard.cli._common import run_app

    run_app(build_app(), argv)
