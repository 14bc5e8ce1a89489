"""API latency: ``POST /api/insurance/quote`` for a 20-position portfolio, 50 concurrent clients.

The server runs as the product serves it, ``floorguard serve --workers N``
(uvicorn; SQLite file in WAL mode; synthetic chain; scheduler off; JSON logs
to a file), on loopback. The load generator is ``wrk`` (C, keep-alive
connections, closed loop: each connection sends its next request when the
previous answer arrives), so the clients cost the two shared cores little;
``apt install wrk`` (Debian) or ``brew install wrk``. A Lua script gives the
request bodies and prints the latency percentiles, errors and non-2xx count.

Loads per server, after the server's own start-up warm-up has finished:

* **1 connection**: the identical portfolio (service time);
* **same portfolio**: 50 connections, the identical portfolio: identical
  requests within 30 s share one engine run (the quote memo), yet each
  response authenticates, checks the rate limit and the insured-notional
  limits, stores its own draft (its own id and time to live) and returns it;
* **distinct portfolios**: 50 connections, every request with its own
  quantities, so each runs the insurance engine.

Server CPU per request (user + system time of the server processes over the
load, from ``/proc``) is printed beside the latencies: on a shared machine it
moves much less than wall-clock figures. With ``FLOORGUARD_BENCH_BASELINE_SRC``
set to the ``src`` folder of an older checkout (``git archive <rev> src | tar
-x -C DIR``), that version is measured first, in the same run, with the same
client and environment. With ``FLOORGUARD_BENCH_API_POSTGRES_URL`` set to a
PostgreSQL URL whose user may create databases, this tree is also measured on
a fresh PostgreSQL database (created and dropped here; the PostgreSQL server
shares the same cores).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._harness import machine

SYMBOLS = ("AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM").split()
CONNECTIONS = 50
DURATION_S = int(os.environ.get("FLOORGUARD_BENCH_API_SECONDS", "15"))
WARM_UP_TIMEOUT_S = 180.0

_LUA = r"""
-- request bodies: the 20-position quote; "distinct" gives every request its own quantity
local symbols = {%(symbols)s}
local distinct = %(distinct)s
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tonumber(tid) or 0  -- set by setup() in this thread's Lua state
end

local function body(q0)
  local parts = {}
  for k, s in ipairs(symbols) do
    local q = 100
    if k == 1 then q = q0 end
    parts[#parts + 1] = string.format('{"symbol":"%%s","quantity":%%d}', s, q)
  end
  return '{"positions":[' .. table.concat(parts, ",") ..
         '],"floor_pct":0.9,"term_days":30,"strategy":"protective_put"}'
end

local fixed = body(100)

request = function()
  counter = counter + 1
  local b = fixed
  if distinct then b = body(100 + thread_id * 10000000 + counter) end
  return wrk.format("POST", "/api/insurance/quote", nil, b)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"p999_us":%%d,' ..
    '"max_us":%%d,"mean_us":%%.1f,"connect_errors":%%d,"read_errors":%%d,"write_errors":%%d,' ..
    '"non_2xx":%%d,"timeouts":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (Linux ``/proc``)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            pids.append(int(stat.parent.name))
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, token: str, lua: Path, connections: int, seconds: int) -> dict[str, Any]:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
         "-s", str(lua), "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
         f"{url}/api/insurance/quote"],
        capture_output=True, text=True, check=True,
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    r["throughput"] = r["requests"] / (r["duration_us"] / 1e6)
    r["connections"] = connections
    return r


def _pg_database(admin_url: str, create: bool, name: str) -> str:
    """Create (or drop) database ``name`` next to ``admin_url``'s; return its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if create:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
    return str(sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def _measure(label: str, workers: int, src: str | None, pg_admin: str | None = None) -> dict[str, Any]:
    """Start a server (``src`` overrides the floorguard source tree), run the three loads, stop it."""
    tmp = Path(tempfile.mkdtemp(prefix="fg-bench-api-"))
    pg_name = f"fg_bench_api_{os.getpid()}_{workers}"
    db = _pg_database(pg_admin, True, pg_name) if pg_admin else f"sqlite:///{tmp / 'bench.db'}"
    env = {
        **os.environ,
        "FLOORGUARD_ENV": "development",
        "FLOORGUARD_DATABASE_URL": db,
        "FLOORGUARD_DATA_HOME": str(tmp / "home"),
        "FLOORGUARD_SCHEDULER_ENABLED": "false",
        "FLOORGUARD_QUOTE_RATE_LIMIT_PER_MINUTE": "100000000",
        "FLOORGUARD_MAX_INSURED_NOTIONAL_PER_USER": "1e15",
        "FLOORGUARD_MAX_INSURED_NOTIONAL_PER_INDEX": "1e15",
        "PYTHONWARNINGS": "ignore",
    }
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cli = [sys.executable, "-c", "import sys; from floorguard.cli import main; main(sys.argv[1:])"]
    subprocess.run([sys.executable, "-c", "import sys; from floorguard.persistence.db import upgrade; upgrade(sys.argv[1])",
                    db], env=env, check=True)
    token = json.loads(subprocess.run([*cli, "user", "create", "--name", "bench", "--json"], env=env,
                                      capture_output=True, text=True, check=True).stdout)["token"]
    port = _free_port()
    log_path = tmp / "server.log"
    log = log_path.open("w")  # the JSON logs: a file, never an unread pipe
    server = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    scripts = {}
    for name, distinct in (("same", "false"), ("distinct", "true")):
        scripts[name] = tmp / f"{name}.lua"
        scripts[name].write_text(_LUA % {"symbols": ",".join(f'"{s}"' for s in SYMBOLS), "distinct": distinct})
    try:
        import httpx

        deadline = time.monotonic() + WARM_UP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        # each worker warms itself up at start (services/warmup.py) and logs it; older trees do not
        while time.monotonic() < deadline and src is None:
            if log_path.read_text().count('"logger": "floorguard.warmup"') >= workers:
                break
            time.sleep(0.5)
        for i in range(4 * workers):  # this portfolio's betas and chain, in every worker
            httpx.post(f"{url}/api/insurance/quote", timeout=120, headers={"Authorization": f"Bearer {token}"},
                       json={"positions": [{"symbol": s, "quantity": 100 + (i if k == 0 else 0)}
                                           for k, s in enumerate(SYMBOLS)],
                             "floor_pct": 0.9, "term_days": 30, "strategy": "protective_put"}).raise_for_status()
        load0 = os.getloadavg()[0]
        results: dict[str, Any] = {}
        for key, script, conns in (("single", "same", 1), ("same", "same", CONNECTIONS),
                                   ("distinct", "distinct", CONNECTIONS)):
            c0 = _tree_cpu_seconds(server.pid)
            results[key] = _wrk(url, token, scripts[script], conns, DURATION_S)
            results[key]["server_cpu_ms_per_request"] = (
                1000 * (_tree_cpu_seconds(server.pid) - c0) / max(results[key]["requests"], 1))
        load1 = os.getloadavg()[0]
        log.flush()
        errors = [ln for ln in log_path.read_text().splitlines() if '"level": "error"' in ln]
        if errors:
            print(f"{label}, {workers} worker(s): {len(errors)} server errors, first: {errors[0][:400]}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if pg_admin:
            _pg_database(pg_admin, False, pg_name)
    return {"label": label, "workers": workers, **results, "load": (load0, load1)}


def main() -> None:
    """Measure the baseline (if ``FLOORGUARD_BENCH_BASELINE_SRC`` is set) and this tree, 1 and 2 workers."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench_api needs wrk (apt install wrk / brew install wrk)")
    variants: list[tuple[str, int, str | None, str | None]] = []
    baseline = os.environ.get("FLOORGUARD_BENCH_BASELINE_SRC")
    if baseline:
        label = f"before ({os.environ.get('FLOORGUARD_BENCH_BASELINE_LABEL', baseline)})"
        variants += [(label, 1, baseline, None), (label, 2, baseline, None)]
    variants += [("this tree", 1, None, None), ("this tree", 2, None, None)]
    pg_admin = os.environ.get("FLOORGUARD_BENCH_API_POSTGRES_URL")
    if pg_admin:
        variants += [("this tree, PostgreSQL", 2, None, pg_admin)]
    results = [_measure(label, workers, src, pg) for label, workers, src, pg in variants]

    print(f"\nMachine: {machine()}; floorguard serve (uvicorn), SQLite unless named, synthetic chain, loopback; "
          f"wrk, {DURATION_S} s per load, on the same 2 cores\n")
    print("| server | workers | load | requests | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | req/s "
          "| server CPU per request (ms) | non-2xx / errors | load avg before/after |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    names = (("single", "1 connection, same portfolio"), ("same", "50 connections, same portfolio"),
             ("distinct", "50 connections, distinct portfolios"))
    for res in results:
        for key, name in names:
            r = res[key]
            errs = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
            print(f"| {res['label']} | {res['workers']} | {name} | {r['requests']} | {r['p50_us'] / 1e3:.1f} | "
                  f"{r['p90_us'] / 1e3:.1f} | {r['p99_us'] / 1e3:.1f} | {r['max_us'] / 1e3:.1f} | "
                  f"{r['throughput']:.0f} | {r['server_cpu_ms_per_request']:.2f} | {r['non_2xx']} / {errs} | "
                  f"{res['load'][0]:.1f} / {res['load'][1]:.1f} |")


if __name__ == "__main__":
    main()
