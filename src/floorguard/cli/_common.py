"""Shared CLI plumbing: JSON output, error mapping, option helpers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from floorguard.exceptions import ConfigurationError, FloorguardError

__all__ = [
    "JsonOpt",
    "console",
    "err_console",
    "emit",
    "fail",
    "run_app",
    "to_jsonable",
]

console = Console()
err_console = Console(stderr=True)

#: The ``--json`` flag every result-printing command takes.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def to_jsonable(obj: Any) -> Any:
    """Convert results to plain JSON types (NaN and inf become ``null``)."""
    import numpy as np

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return [to_jsonable(x) for x in obj.tolist()]
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict) and not isinstance(obj, Mapping):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(x) for x in obj]
    try:
        import pandas as pd

        if isinstance(obj, pd.Timestamp):
            return obj.isoformat()
        if isinstance(obj, pd.Series):
            return {str(k): to_jsonable(v) for k, v in obj.items()}
        if isinstance(obj, pd.DataFrame):
            return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON, or through ``render`` (rich) for people."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")
    elif render is not None:
        render(data)
    else:
        console.print_json(json.dumps(to_jsonable(data), allow_nan=False))


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise (code 2)."""
    err_console.print(f"error: {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _click_families() -> list[Any]:
    """Exception modules of click and of Typer's vendored copy (Typer >= 0.20)."""
    families: list[Any] = [click.exceptions]
    try:
        from typer._click import exceptions as vendored  # type: ignore[import-not-found]

        families.append(vendored)
    except ImportError:  # pragma: no cover - older Typer uses click itself
        pass
    return families


def _classes(attr: str) -> tuple[type[BaseException], ...]:
    return tuple(getattr(m, attr) for m in _click_families() if hasattr(m, attr))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def run_app(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Run ``app`` mapping errors to exit codes without tracebacks.

    Domain errors and bad usage exit 2 with one line on stderr; any other
    exception exits 1 with one line, unless ``FLOORGUARD_DEBUG`` is set.
    """
    debug = bool(os.environ.get("FLOORGUARD_DEBUG"))
    try:
        # With standalone_mode=False click returns the code of typer.Exit.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except FloorguardError as exc:
        if debug:
            raise
        err_console.print(f"error: {_one_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except _classes("Exit") as exc:
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except _classes("NoArgsIsHelpError"):
        sys.exit(0)  # the help text has been printed: asking for it is not an error
    except _classes("ClickException") as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        err_console.print(f"error: {_one_line(message)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except _classes("Abort"):
        err_console.print("aborted", highlight=False)
        sys.exit(130)
    except (KeyboardInterrupt, BrokenPipeError):  # pragma: no cover
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        if debug:
            raise
        if isinstance(exc, ConfigurationError):  # pragma: no cover - subclass of FloorguardError
            sys.exit(2)
        err_console.print(
            f"internal error: {type(exc).__name__}: {_one_line(exc)} (set FLOORGUARD_DEBUG=1 for details)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
