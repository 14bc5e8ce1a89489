"""The CLI shell maps errors to one line and exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from floorguard.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_arguments_prints_help_and_exits_zero() -> None:
    out = _run()
    assert out.returncode == 0
    assert "Usage" in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("nosuch",), "No such command"),
        (("price", "--kind", "put"), "Missing option"),
        (("price", "--kind", "put", "--spot", "abc", "--strike", "1", "--expiry-years", "1",
          "--rate", "0", "--vol", "0.2"), "spot"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...], needle: str) -> None:
    out = _run(*args)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
