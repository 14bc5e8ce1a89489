"""API latency: ``POST /api/insurance/quote`` for a 20-position portfolio, 50 concurrent clients.

The server is ``uvicorn --factory floorguard.api.app:create_app`` in a
subprocess on loopback (SQLite, synthetic chain, scheduler off); 2 worker
processes through ``floorguard serve --workers 2``; the clients are
``httpx.AsyncClient`` tasks on the same machine. Three loads per server:

* **1 client** - the service time of one request (identical portfolio);
* **warm** - every client quotes the same portfolio: identical requests
  within 30 s share one engine run (the quote memo, single flight); each
  response still stores its own draft with its own TTL;
* **cold** - every request has different quantities, so each one runs the
  insurance engine (valuation, strategy, synthetic chain); the betas of the
  same 20 symbols come from the context's beta cache after the first.

With ``FLOORGUARD_BENCH_BASELINE_SRC`` set to the ``src`` folder of an older
checkout, that version is measured first in the same run (before/after).
Bounded: ``WARM_REQUESTS`` / ``COLD_REQUESTS`` requests and a wall-time cap.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._harness import ROOT, machine

SYMBOLS = ("AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM").split()
CONCURRENCY = 50
WARM_REQUESTS = 1000
COLD_REQUESTS = 50
WALL_CAP_SECONDS = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(i: int | None) -> dict[str, Any]:
    bump = 0 if i is None else i + 1
    return {
        "positions": [{"symbol": s, "quantity": 100 + (bump if k == 0 else 0)} for k, s in enumerate(SYMBOLS)],
        "floor_pct": 0.9,
        "term_days": 30,
        "strategy": "protective_put",
    }


async def _run(url: str, token: str, n: int, concurrency: int, distinct: bool) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                try:
                    resp = await client.post("/api/insurance/quote", json=_body(i if distinct else None))
                    status: int | str = resp.status_code
                except httpx.TransportError as exc:  # counted, not hidden: e.g. a keep-alive close race
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), WALL_CAP_SECONDS)
        wall = time.perf_counter() - t0
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
    return {"n": len(lat), "concurrency": concurrency, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "max_ms": lat[-1] * 1000, "throughput": len(lat) / wall, "wall_s": wall, "statuses": statuses}


def _measure(label: str, workers: int, src: str | None) -> dict[str, Any]:
    """Start a server (``src`` overrides the floorguard source tree), run the three loads, stop it."""
    tmp = Path(tempfile.mkdtemp(prefix="fg-bench-api-"))
    db = f"sqlite:///{tmp / 'bench.db'}"
    env = {
        **os.environ,
        "FLOORGUARD_ENV": "development",
        "FLOORGUARD_DATABASE_URL": db,
        "FLOORGUARD_DATA_HOME": str(tmp / "home"),
        "FLOORGUARD_SCHEDULER_ENABLED": "false",
        "FLOORGUARD_QUOTE_RATE_LIMIT_PER_MINUTE": "1000000",
        "FLOORGUARD_MAX_INSURED_NOTIONAL_PER_USER": "1e12",
        "FLOORGUARD_MAX_INSURED_NOTIONAL_PER_INDEX": "1e12",
        "PYTHONWARNINGS": "ignore",
    }
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    subprocess.run([sys.executable, "-c", "import sys; from floorguard.persistence.db import upgrade; upgrade(sys.argv[1])",
                    db], env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from floorguard.cli import main; main(sys.argv[1:])",
         "user", "create", "--name", "bench", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )
    token = json.loads(out.stdout)["token"]
    port = _free_port()
    log = (tmp / "server.log").open("w")  # the JSON logs: a file, never an unread pipe
    if workers == 1:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "floorguard.api.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
    else:  # as the product serves several workers (its socket keeps TCP_NODELAY; see cli/_data.py)
        cmd = [sys.executable, "-c", "import sys; from floorguard.cli import main; main(sys.argv[1:])",
               "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        # warm-up: load market data, calendars, the pricing stack (each worker: a few requests)
        for i in range(2 * workers):
            httpx.post(f"{url}/api/insurance/quote", json=_body(None if i == 0 else 10_000 + i), timeout=120,
                       headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        load0 = os.getloadavg()[0]
        single = asyncio.run(_run(url, token, 200, 1, distinct=False))
        warm = asyncio.run(_run(url, token, WARM_REQUESTS, CONCURRENCY, distinct=False))
        cold = asyncio.run(_run(url, token, COLD_REQUESTS, CONCURRENCY, distinct=True))
        load1 = os.getloadavg()[0]
        log.flush()
        errors = [ln for ln in (tmp / "server.log").read_text().splitlines() if '"level": "error"' in ln]
        if errors:
            print(f"{label}, {workers} worker(s): {len(errors)} server errors, first: {errors[0][:400]}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"label": label, "workers": workers, "single": single, "warm": warm, "cold": cold,
            "load": (load0, load1)}


def main() -> None:
    """Measure this tree (1 and 2 workers) and, if ``FLOORGUARD_BENCH_BASELINE_SRC`` names the ``src``
    folder of an older checkout (``git archive <rev> src | tar -x -C DIR``), that baseline in the same run."""
    variants: list[tuple[str, int, str | None]] = []
    baseline = os.environ.get("FLOORGUARD_BENCH_BASELINE_SRC")
    if baseline:
        variants.append((f"baseline ({os.environ.get('FLOORGUARD_BENCH_BASELINE_LABEL', baseline)})", 1, baseline))
    variants += [("this tree", 1, None), ("this tree", 2, None)]
    results = [_measure(label, workers, src) for label, workers, src in variants]

    print(f"\nMachine: {machine()}; uvicorn, SQLite, synthetic chain, loopback, "
          f"client (httpx) on the same 2 cores\n")
    print("| server | workers | run | requests | clients | p50 (ms) | p99 (ms) | max (ms) | throughput (req/s) "
          "| statuses | load avg (1 min) before/after |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|")
    names = (("single", "1 client, identical portfolio"), ("warm", "50 clients, identical portfolio (quote memo)"),
             ("cold", "50 clients, distinct portfolios (full engine)"))
    for res in results:
        for key, name in names:
            r = res[key]
            print(f"| {res['label']} | {res['workers']} | {name} | {r['n']} | {r['concurrency']} | "
                  f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['throughput']:.1f} | "
                  f"{r['statuses']} | {res['load'][0]:.1f} / {res['load'][1]:.1f} |")


if __name__ == "__main__":
    main()
