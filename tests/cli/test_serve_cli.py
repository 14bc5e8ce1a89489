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

    monkeypatch.setenv("FLOORGUARD_SCHEDULER_ENABLED", "false")
    code, out, err = _run(capsys, "serve", "--workers", "2", "--port", "8123")
    assert code == 0, err
    assert "2 workers" in out
    (app, kw), = calls
    # several processes: uvicorn imports the factory in each worker
    assert app == "floorguard.api.app:create_app" and kw["factory"] is True and kw["workers"] == 2
    assert kw["port"] == 8123

    calls.clear()
    code, _, err = _run(capsys, "serve")
    assert code == 0, err
    (app, kw), = calls
    assert not isinstance(app, str) and "workers" not in kw  # one process: the app object itself

    assert _run(capsys, "serve", "--workers", "0")[0] == 2
