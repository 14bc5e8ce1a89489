"""Request ids, structured JSON logs, Prometheus metrics and the body-size limit.

One pure-ASGI middleware (:class:`RequestContextMiddleware`) does all four so
that each request pays for a single wrapper:

* takes ``X-Request-ID`` from the request (if sane) or makes one, stores it in
  ``request.state.request_id`` and a context variable, and echoes it back;
* refuses bodies larger than ``settings.max_request_bytes`` with 413
  (by ``Content-Length`` up front, and by counting streamed chunks);
* observes the request count and latency per route template;
* writes one JSON access-log line per request.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "ApiMetrics",
    "JsonLogFormatter",
    "RequestContextMiddleware",
    "configure_logging",
    "current_request_id",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "floorguard_request_id", default=None
)
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


_STD_ATTRS = set(
    logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or current_request_id()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and key not in out:
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


_HANDLER_MARK = "_floorguard_json_handler"


def configure_logging(level: str | int = "INFO") -> None:
    """Attach a JSON stderr handler to the ``floorguard`` logger (idempotent)."""
    log = logging.getLogger("floorguard")
    if not any(getattr(h, _HANDLER_MARK, False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        setattr(handler, _HANDLER_MARK, True)
        log.addHandler(handler)
    log.setLevel(level)


class ApiMetrics:
    """Prometheus metrics of one app instance, in its own registry.

    A registry per app keeps tests (many apps per process) independent.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "floorguard_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "floorguard_http_request_duration_seconds",
            "Wall time to serve a request, by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "floorguard_http_requests_in_flight",
            "Requests being served right now.",
            registry=self.registry,
        )
        self.quotes = Counter(
            "floorguard_quotes", "Insurance quotes, by outcome.", ["outcome"], registry=self.registry
        )
        self.binds = Counter(
            "floorguard_binds", "Bind attempts, by resulting status.", ["status"], registry=self.registry
        )
        self.settlements = Counter(
            "floorguard_settlements",
            "Policies settled (each at most once).",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "floorguard_rate_limited", "Requests refused with 429.", registry=self.registry
        )
        self.job_runs = Counter(
            "floorguard_job_runs",
            "Scheduled job runs, by job and outcome.",
            ["job", "outcome"],
            registry=self.registry,
        )

    def watch_group_commit(self, committer: Callable[[], Any]) -> None:
        """Export the draft writer's totals; ``committer()`` gives it, or ``None`` before first use."""

        def stat(name: str) -> Callable[[], float]:
            return lambda: float(getattr(committer(), name, 0) or 0)

        Gauge("floorguard_group_commit_transactions",
              "Transactions committed by the request-path writer since start (many rows each).",
              registry=self.registry).set_function(stat("transactions"))
        Gauge("floorguard_group_commit_items", "Rows (quote drafts) written by the request-path writer since start.",
              registry=self.registry).set_function(stat("items"))


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Request id, size limit, metrics and access log for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ApiMetrics,
        max_body_bytes: int,
        access_logger: logging.Logger | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = int(max_body_bytes)
        self.log = access_logger or logging.getLogger("floorguard.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        if not _RID_OK.match(rid):
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = _request_id.set(rid)
        start = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        method = scope.get("method", "GET")
        self.metrics.in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                raw = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in raw):
                    raw.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = raw
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, send_wrapper, rid)
                return
            seen = 0

            async def receive_wrapper() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > self.max_body_bytes:
                        raise _BodyTooLarge
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except _BodyTooLarge:
                if status_holder["started"]:  # pragma: no cover - apps read bodies first
                    raise
                await self._too_large(scope, send_wrapper, rid)
        finally:
            _request_id.reset(token)
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            status = status_holder["status"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            if status == 429:
                self.metrics.rate_limited.inc()
            state = scope.get("state", {})
            self.log.info(
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "request_id": rid,
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000.0, 3),
                    "user_id": state.get("user_id"),
                },
            )

    async def _too_large(self, scope: Scope, send: Send, rid: str) -> None:
        body = json.dumps(
            {
                "type": "https://floorguard.dev/problems/payload-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"request body exceeds {self.max_body_bytes} bytes",
                "instance": scope.get("path"),
                "request_id": rid,
                "errors": [],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
