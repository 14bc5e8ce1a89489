"""Service-level fixtures: the API fixtures (including drafts quoted once per session)."""

from tests.api.conftest import (  # noqa: F401 - fixtures and helpers re-exported for this folder
    _pg_template,
    _sqlite_template,
    admin,
    alice,
    app,
    assert_consistent,
    bob,
    client,
    clock,
    make_user,
    paper,
    principal,
    quoted,
    store_draft,
    svc_ctx,
    svc_db,
    svc_settings,
)
