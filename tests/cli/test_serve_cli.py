"""``floorguard serve --workers N``: options and the one-scheduler rule (no server is started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floorguard.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return int(exc.value.code or 0), cap.out, cap.err


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    assert _run(capsys, "db", "upgrade")[0] == 0
    return tmp_path


def test_serve_workers_need_the_scheduler_off(home: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("FLOORGUARD_SCHEDULER_ENABLED", "true")
    code, _, err = _run(capsys, "serve", "--workers", "2")
    assert code == 2 and "workers" in err and "SCHEDULER" in err and calls == []

    import socket

    from uvicorn import supervisors

    started: list[tuple[Any, list[socket.socket]]] = []

    def fake_run(self: Any) -> None:
        s = self.sockets[0]
        started.append((self.config, [s]))
        # TCP protocol on the listening socket: asyncio then sets TCP_NODELAY on each connection
        assert (s.family, s.type, s.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)

    monkeypatch.setattr(supervisors.Multiprocess, "run", fake_run)
    monkeypatch.setenv("FLOORGUARD_SCHEDULER_ENABLED", "false")
    code, out, err = _run(capsys, "serve", "--workers", "2", "--port", "0")
    assert code == 0, err
    assert "2 workers" in out and calls == []
    (config, _), = started
    # several processes: uvicorn imports the factory in each worker
    assert config.app == "floorguard.api.app:create_app" and config.factory is True and config.workers == 2

    code, _, err = _run(capsys, "serve")
    assert code == 0, err
    (app, kw), = calls
    assert not isinstance(app, str) and "workers" not in kw  # one process: the app object itself

    assert _run(capsys, "serve", "--workers", "0")[0] == 2
