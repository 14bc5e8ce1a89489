"""App factory of the browser tests: the real ``create_app`` on a test service clock.

The bundled market data end on 2022-12-28. Quotes, binds and monitoring read
the service clock (``ctx.resources["clock"]``, see
``floorguard.services.policies.now``), so the tests start it on that day after
the close and let it advance in real time: prices are then current, as they
would be for a user on live data. A test can move the clock forward by writing
a number of seconds to the file named by ``FLOORGUARD_E2E_CLOCK_OFFSET`` (used
to space the monitoring runs that write NAV snapshots).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

#: The last close of the bundled data, 16:30 New York time.
CLOCK_START = dt.datetime(2022, 12, 28, 21, 30, tzinfo=dt.UTC)


def create() -> Any:
    """``uvicorn --factory _e2e_app:create`` (settings from the environment)."""
    from floorguard.api.app import create_app

    app = create_app()
    t0 = time.monotonic()
    offset_file = os.environ.get("FLOORGUARD_E2E_CLOCK_OFFSET")

    def clock() -> dt.datetime:
        offset = 0.0
        if offset_file and Path(offset_file).is_file():
            offset = float(Path(offset_file).read_text() or 0)
        return CLOCK_START + dt.timedelta(seconds=time.monotonic() - t0 + offset)

    app.state.ctx.resources["clock"] = clock
    return app
