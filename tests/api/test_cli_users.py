"""``floorguard user create --json`` prints a token that authenticates against the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from floorguard.cli import build_app


@pytest.fixture()
def cli_env(svc_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FLOORGUARD_ENV", "test")
    monkeypatch.setenv("FLOORGUARD_DATABASE_URL", svc_settings.database_url)
    monkeypatch.setenv("FLOORGUARD_SECRET_KEY", svc_settings.secret_key)
    monkeypatch.setenv("FLOORGUARD_DATA_HOME", str(svc_settings.data_home))
    from floorguard.config import get_settings

    get_settings.cache_clear()
    yield svc_settings
    get_settings.cache_clear()


def test_user_create_prints_a_working_token(cli_env: Any, client: Any) -> None:
    # The CLI revokes in another context (as another process would): with the token
    # cache off, the API refuses the revoked token on the very next request
    # (tests/api/test_auth_cache.py covers the cached window).
    cli_env.auth_cache_seconds = 0.0
    runner = CliRunner()
    result = runner.invoke(build_app(), ["user", "create", "--name", "dana", "--admin", "--strategy-level", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["role"] == "admin" and data["strategy_level"] == 3 and data["token"].startswith("fg_")
    me = client.get("/api/me", headers={"Authorization": f"Bearer {data['token']}"}).json()
    assert me["name"] == "dana" and me["role"] == "admin"
    again = runner.invoke(build_app(), ["user", "create", "--name", "dana", "--json"])
    assert again.exit_code != 0
    listed = json.loads(runner.invoke(build_app(), ["user", "list", "--json"]).stdout)
    assert [u["name"] for u in listed] == ["dana"]
    tok = json.loads(runner.invoke(build_app(), ["user", "token", "--name", "dana", "--revoke-others", "--json"]).stdout)
    assert tok["revoked"] == 1
    assert client.get("/api/me", headers={"Authorization": f"Bearer {data['token']}"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {tok['token']}"}).status_code == 200
    approved = json.loads(runner.invoke(build_app(), ["user", "approve", "--name", "dana", "--strategy-level", "1",
                                                      "--json"]).stdout)
    assert approved["strategy_level"] == 1


def test_bad_level_exits_2(cli_env: Any) -> None:
    from floorguard.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["user", "create", "--name", "x", "--strategy-level", "7"])
    assert exc.value.code == 2
