"""The public surface is exactly ``floorguard.__all__`` (httpx's guard)."""

import importlib
import subprocess
import sys

import floorguard


def test_all_names_resolve() -> None:
    for name in floorguard.__all__:
        assert getattr(floorguard, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert floorguard.__all__ == sorted(set(floorguard.__all__), key=str.casefold)


def test_dir_matches_all() -> None:
    assert sorted(dir(floorguard), key=str.casefold) == floorguard.__all__


def test_import_builds_nothing() -> None:
    """Importing floorguard must not build settings, engines or load data."""
    code = (
        "import sys, floorguard;"
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'floorguard.config', 'pandas') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_attribute() -> None:
    mod = importlib.import_module("floorguard")
    try:
        mod.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
