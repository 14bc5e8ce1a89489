"""Schemathesis against the app's own OpenAPI document: no 5xx, every 4xx is problem+json.

Every operation gets ``FLOORGUARD_FUZZ_EXAMPLES`` generated requests (default
6) in positive and negative generation modes, sent as the admin (so admin
routes are exercised too). Bounded in time; SQLite only (the PostgreSQL run is
the same application over another engine).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")

FUZZ_EXAMPLES = int(os.environ.get("FLOORGUARD_FUZZ_EXAMPLES", "6"))


def _check(case: Any, response: Any, failures: list[str]) -> None:
    where = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500:
        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        return
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", "")
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        if not ctype.startswith("application/problem+json"):
            failures.append(f"{where}: {response.status_code} with content-type {ctype!r}")
            return
        body = response.json()
        if body.get("status") != response.status_code or not isinstance(body.get("errors"), list):
            failures.append(f"{where}: malformed problem document {body}")


def test_no_server_errors_and_problem_json(app: Any, svc_db: Any, admin: Any, clock: Any, paper: Any) -> None:
    if svc_db.backend != "sqlite":
        pytest.skip("fuzzing runs on SQLite")
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {admin.token}"}
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 18
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = op.as_strategy(generation_mode=mode)
            except Exception:  # noqa: BLE001 - an operation without negative data
                continue

            @given(case=strategy)
            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                case.headers = {**(case.headers or {}), **auth}
                _check(case, case.call(), failures)

            try:
                run()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # nothing to negate (an operation without inputs)
    assert not failures, "\n".join(dict.fromkeys(failures))
