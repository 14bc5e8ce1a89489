"""Timing helpers shared by the benchmarks.

Rules: medians of ``repeat`` runs after one warm-up; every ratio is between
two timings taken in the same process run; peers that monkey-patch or pin
old packages (py_vollib_vectorized) run in their own virtual environment,
``.venv-peers``, built on first use from the pins in ``bench/peers.txt``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = ROOT / ".venv-peers"


def median_time(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs."""
    return median_wall_cpu(fn, repeat, warmup)[0]


def median_wall_cpu(
    fn: Callable[[], Any], repeat: int = 3, warmup: int = 1
) -> tuple[float, float]:
    """Median wall and median CPU (process) time of ``fn()`` in seconds.

    CPU time is reported beside wall time because the machine is shared: under
    load the wall time stretches, the CPU time of single-threaded work much less.
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def peer_python() -> Path:
    """Python of the peers' environment, created on first call."""
    py = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-r", str(ROOT / "bench" / "peers.txt")], check=True)
        # py_vollib_vectorized's own metadata pulls broken versions; pins above, then no deps.
        subprocess.run([*pip, "--no-deps", "py_vollib_vectorized==0.1.1"], check=True)
        stamp.touch()
    return py


def run_peer(code: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``code`` in the peers' environment; it must print one JSON object."""
    out = subprocess.run(
        [str(peer_python()), "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"peer benchmark failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """One line describing the machine, for the results table."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
