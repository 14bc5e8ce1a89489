"""End-to-end harness: the real app in a uvicorn subprocess, driven by headless Chromium.

* The browser is the SYSTEM Chromium (``/usr/bin/chromium``, Debian's package,
  installed by ``scripts/ensure-chromium.sh`` from ``make test``). Playwright
  never downloads a browser: we pass ``executable_path`` and the environment
  forbids downloads. Without the binary every test here skips, saying why.
* The server is ``floorguard.api.app.create_app()`` (which serves the
  dashboard at ``/``), on a service clock pinned to the bundled data's last
  day (``_e2e_app.py``), run by uvicorn in a subprocess on a free loopback port,
  against a temporary SQLite database migrated with the project's Alembic
  migrations. Two investors (alice, bob) and an admin are created through the
  user service; their tokens are handed to the tests.
* Screenshots of every page go to ``artifacts/screenshots/`` (git-ignored);
  ``FLOORGUARD_UPDATE_DOCS_IMG=1`` also refreshes the README's two in ``docs/img``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FLOORGUARD_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Never let Playwright fetch a browser of its own.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@dataclass(frozen=True)
class Server:
    """The running app and the users created for the tests."""

    base_url: str
    tokens: dict[str, str]
    database_url: str
    data_home: Path
    log: Path

    def advance_clock(self, seconds: float) -> None:
        """Move the server's service clock to ``seconds`` after its start."""
        (self.data_home / "clock_offset").write_text(repr(float(seconds)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(data_home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORGUARD_")}
    env.update(
        {
            "FLOORGUARD_ENV": "test",
            "FLOORGUARD_DATA_HOME": str(data_home),
            "FLOORGUARD_DATABASE_URL": database_url,
            "FLOORGUARD_SCHEDULER_ENABLED": "false",
            # the tests quote many floors in a row; the limit itself is tested by the API suite
            "FLOORGUARD_QUOTE_RATE_LIMIT_PER_MINUTE": "1000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env["FLOORGUARD_E2E_CLOCK_OFFSET"] = str(data_home / "clock_offset")
    if os.environ.get("FLOORGUARD_SHARED_DIR"):
        env["FLOORGUARD_SHARED_DIR"] = os.environ["FLOORGUARD_SHARED_DIR"]
    return env


def _create_users(database_url: str, settings: Any) -> dict[str, str]:
    from floorguard.persistence.db import make_engine, make_sessionmaker
    from floorguard.services.users import create_user

    engine = make_engine(database_url)
    try:
        maker = make_sessionmaker(engine)
        tokens: dict[str, str] = {}
        with maker() as session:
            for name, role, level in (
                ("alice", "investor", 2),
                ("bob", "investor", 1),
                ("root", "admin", 3),
            ):
                created = create_user(
                    session,
                    name=name,
                    secret_key=settings.secret_key,
                    role=role,
                    strategy_level=level,
                )
                tokens[name] = created.token
            session.commit()
        return tokens
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"system Chromium not found at {CHROMIUM}: run scripts/ensure-chromium.sh "
            "(Debian's chromium package); Playwright is not allowed to download a browser"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def server(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from floorguard.config import Settings
    from floorguard.persistence.db import upgrade

    home = tmp_path_factory.mktemp("e2e-home")
    database_url = f"sqlite:///{home / 'floorguard.db'}"
    settings = Settings(env="test", data_home=home, database_url=database_url)
    upgrade(database_url)
    tokens = _create_users(database_url, settings)

    port = _free_port()
    log = home / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--app-dir",
        str(Path(__file__).parent),
        "_e2e_app:create",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=home, env=_server_env(home, database_url), stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        yield Server(
            base_url=base, tokens=tokens, database_url=database_url, data_home=home, log=log
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=5)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            r = httpx.get(base + "/login", timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout}s ({last}):\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield b
        finally:
            b.close()


class Api:
    """A small JSON client for arranging state through the real API."""

    def __init__(self, base: str, token: str) -> None:
        import httpx

        self._client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60.0
        )

    def request(self, method: str, path: str, **kw: Any) -> Any:
        r = self._client.request(method, path, **kw)
        assert r.status_code < 400, f"{method} {path} -> {r.status_code}: {r.text[:2000]}"
        return r.json()

    def close(self) -> None:
        self._client.close()


@pytest.fixture(scope="session")
def api_for(server: Server) -> Iterator[Any]:
    clients: dict[str, Api] = {}

    def get(user: str) -> Api:
        if user not in clients:
            clients[user] = Api(server.base_url, server.tokens[user])
        return clients[user]

    yield get
    for c in clients.values():
        c.close()


@pytest.fixture()
def page_as(browser: Any, server: Server) -> Iterator[Any]:
    """``page_as("alice")``: a fresh browser page already holding alice's token."""
    contexts: list[Any] = []
    console_errors: list[str] = []

    def make(user: str | None, *, dark: bool = False) -> Any:
        ctx = browser.new_context(
            base_url=server.base_url,
            viewport={"width": 1400, "height": 1000},
            color_scheme="dark" if dark else "light",
        )
        contexts.append(ctx)
        if user is not None:
            token = json.dumps(server.tokens[user])
            ctx.add_init_script(f"window.sessionStorage.setItem('fg_token', {token});")
        theme = "dark" if dark else "light"
        ctx.add_init_script(
            "if (!window.localStorage.getItem('fg_theme'))"
            f" window.localStorage.setItem('fg_theme', '{theme}');"
        )
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        page.on(
            "console",
            lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: console_errors.append(f"pageerror: {exc}"))
        return page

    make.console_errors = console_errors  # type: ignore[attr-defined]
    yield make
    for ctx in contexts:
        ctx.close()


def _shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def shot() -> Any:
    """``shot(page, name)``: a full-page screenshot to ``artifacts/screenshots/<name>.png``."""
    return _shot


@pytest.fixture(scope="session")
def publish() -> Any:
    """``publish(path, name)``: copy a screenshot to ``docs/img/<name>`` for the README.

    Only with ``FLOORGUARD_UPDATE_DOCS_IMG=1``, so an ordinary test run never
    changes tracked files.
    """

    def copy(path: Path, name: str) -> None:
        if os.environ.get("FLOORGUARD_UPDATE_DOCS_IMG") == "1":
            target = REPO_ROOT / "docs" / "img"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / name)

    return copy
