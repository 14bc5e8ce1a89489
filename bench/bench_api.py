"""API latency: ``POST /api/insurance/quote`` for a 20-position portfolio, 50 concurrent clients.

The server is ``uvicorn --factory floorguard.api.app:create_app`` in a
subprocess on loopback (one worker, SQLite, synthetic chain, scheduler off);
the clients are ``httpx.AsyncClient`` tasks. Two runs, same server:

* **warm** - every client quotes the same portfolio: identical requests
  within 30 s share one engine run (the quote memo, single flight); each
  response still stores its own draft with its own TTL;
* **cold** - every request has different quantities, so each one runs the
  whole insurance engine (valuation, betas, synthetic chain, strategy).

Bounded: ``WARM_REQUESTS`` / ``COLD_REQUESTS`` requests and a wall-time cap.
"""

from __future__ import annotations

import asyncio
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
    statuses: dict[int, int] = {}
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
                resp = await client.post("/api/insurance/quote", json=_body(i if distinct else None))
                latencies.append(time.perf_counter() - t0)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), WALL_CAP_SECONDS)
        wall = time.perf_counter() - t0
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
    return {"n": len(lat), "concurrency": concurrency, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "max_ms": lat[-1] * 1000, "throughput": len(lat) / wall, "wall_s": wall, "statuses": statuses}


def main() -> None:
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
    sys.path.insert(0, str(ROOT / "src"))
    from floorguard.persistence.db import upgrade

    upgrade(db)
    out = subprocess.run(
        [sys.executable, "-m", "floorguard.cli", "user", "create", "--name", "bench", "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:  # the console entry point is floorguard.cli:main
        out = subprocess.run(
            [sys.executable, "-c", "import sys; from floorguard.cli import main; main(sys.argv[1:])",
             "user", "create", "--name", "bench", "--json"],
            env=env, capture_output=True, text=True, check=True,
        )
    import json

    token = json.loads(out.stdout)["token"]
    port = _free_port()
    log = (tmp / "server.log").open("w")  # the JSON logs: a file, never an unread pipe
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "floorguard.api.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        # warm-up: load market data, calendars, the pricing stack
        httpx.post(f"{url}/api/insurance/quote", json=_body(None), timeout=120,
                   headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        single = asyncio.run(_run(url, token, 200, 1, distinct=False))
        warm = asyncio.run(_run(url, token, WARM_REQUESTS, CONCURRENCY, distinct=False))
        cold = asyncio.run(_run(url, token, COLD_REQUESTS, CONCURRENCY, distinct=True))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nMachine: {machine()}; uvicorn 1 worker, SQLite, synthetic chain, loopback\n")
    print("| run | requests | clients | p50 (ms) | p99 (ms) | max (ms) | throughput (req/s) | statuses |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    runs = (("service time: 1 client, identical portfolio", single),
            ("warm: identical portfolio (quote memo)", warm), ("cold: distinct portfolios (full engine)", cold))
    for name, r in runs:
        print(f"| {name} | {r['n']} | {r['concurrency']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['max_ms']:.1f} | {r['throughput']:.1f} | {r['statuses']} |")


if __name__ == "__main__":
    main()
