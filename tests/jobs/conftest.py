"""The service fixtures, for the job tests."""

from tests.api.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    _pg_template,
    _sqlite_template,
    admin,
    alice,
    app,
    bob,
    client,
    clock,
    make_user,
    paper,
    quoted,
    store_draft,
    svc_ctx,
    svc_db,
    svc_settings,
)
