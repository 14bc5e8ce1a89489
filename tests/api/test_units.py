"""Small pieces of the API layer: rate limiter, error mapping, JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest

from floorguard.api._observability import JsonLogFormatter
from floorguard.api._ratelimit import RateLimiter
from floorguard.api.errors import status_for
from floorguard.exceptions import (
    AuthenticationError,
    BrokerError,
    BrokerTimeoutError,
    ConflictError,
    DataError,
    LimitExceededError,
    NotFoundError,
    OrderRejectedError,
    PermissionDeniedError,
    QuoteRefusedError,
    RateLimitedError,
    ServiceBusyError,
    ValidationError,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_refills_at_limit_per_period() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    for _ in range(3):
        limiter.hit(1)
    with pytest.raises(RateLimitedError) as exc:
        limiter.hit(1)
    assert exc.value.retry_after == 20  # one token per 60/3 s
    limiter.hit(2)  # buckets are per user
    clock.t = 19.0
    with pytest.raises(RateLimitedError) as exc:
        limiter.hit(1)
    assert exc.value.retry_after == 1
    clock.t = 20.0
    limiter.hit(1)
    RateLimiter(0).hit(1)  # 0 disables


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ValidationError("x"), 422), (QuoteRefusedError("x"), 422), (LimitExceededError("x"), 422),
        (DataError("x"), 422), (NotFoundError("x"), 404), (AuthenticationError("x"), 401),
        (PermissionDeniedError("x"), 403), (ConflictError("x"), 409), (RateLimitedError("x", retry_after=3), 429),
        (BrokerTimeoutError("x"), 504), (OrderRejectedError("x"), 502), (BrokerError("x"), 502),
        (ServiceBusyError("x", retry_after=5), 503),
    ],
)
def test_domain_errors_map_to_statuses(exc: Exception, status: int) -> None:
    assert status_for(exc)[0] == status  # type: ignore[arg-type]


def test_json_log_line_has_extras() -> None:
    record = logging.LogRecord("floorguard.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.request_id = "rid"
    record.status = 200
    line = json.loads(JsonLogFormatter().format(record))
    assert line == {**line, "message": "GET /x", "request_id": "rid", "status": 200, "level": "info"}
