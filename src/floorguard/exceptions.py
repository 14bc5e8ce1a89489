"""Domain errors and warnings of floorguard.

Callers catch by category. Only ``floorguard.api.errors`` maps these to HTTP
status codes and only ``floorguard.cli`` maps them to exit codes; the core and
domain layers raise them and know nothing about either.

Hierarchy::

    FloorguardError
      x ValidationError            bad input; names the field and the reason   -> 422 / exit 2
        + PortfolioImportError     every bad row: line, field, reason
      x NotFoundError              unknown id, or another user's object        -> 404 / exit 2
      x AuthenticationError        missing or bad token                        -> 401
      x PermissionDeniedError      authenticated but not allowed (role)        -> 403
      x ConflictError              state transition or idempotency clash       -> 409
      x RateLimitedError           too many requests (retry_after seconds)     -> 429
      x DataError                  market data missing, stale or unusable      -> 422 / exit 2
        + SymbolNotFoundError      a symbol no source knows
      x PricingError               a model cannot price the inputs             -> 422
      x QuoteRefusedError          insurance quote refused (suitability,       -> 422
                                   liquidity, limits, missing prices)
        + LimitExceededError       insured-notional limit per index or user
      x BrokerError                the broker failed                           -> 502
        + BrokerTimeoutError
        + OrderRejectedError
      x ConfigurationError         settings unusable (unreachable database,    -> 500 / exit 2
                                   default secret outside development)
      x ServiceBusyError           a write did not land in time (database      -> 503
                                   busy); retry after ``retry_after`` seconds

    FloorguardWarning (UserWarning)
      + DataQualityWarning
      + ConvergenceWarning
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AuthenticationError",
    "BrokerError",
    "BrokerTimeoutError",
    "ConfigurationError",
    "ConflictError",
    "ConvergenceWarning",
    "DataError",
    "DataQualityWarning",
    "FieldError",
    "FloorguardError",
    "FloorguardWarning",
    "LimitExceededError",
    "NotFoundError",
    "OrderRejectedError",
    "PermissionDeniedError",
    "PortfolioImportError",
    "PricingError",
    "QuoteRefusedError",
    "RateLimitedError",
    "ServiceBusyError",
    "SymbolNotFoundError",
    "ValidationError",
]


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of the input.

    Parameters
    ----------
    field : str
        Dotted name of the field (``"positions.3.quantity"``, ``"floor_pct"``).
    reason : str
        Human-readable reason (``"must be a number, got 'abc'"``).
    line : int or None
        1-based line of the source file, when the input came from a file.
    """

    field: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.line is not None:
            out["line"] = self.line
        return out


class FloorguardError(Exception):
    """Base of every error floorguard raises on purpose."""

    def __init__(self, message: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[FieldError] = list(errors or [])

    def __str__(self) -> str:
        return self.message


class ValidationError(FloorguardError):
    """Bad input. ``errors`` names each bad field and why."""

    @classmethod
    def for_field(cls, field: str, reason: str, line: int | None = None) -> ValidationError:
        err = FieldError(field, reason, line)
        return cls(str(err), errors=[err])


class PortfolioImportError(ValidationError):
    """A portfolio file has bad rows; nothing was written."""


class NotFoundError(FloorguardError):
    """The object does not exist, or belongs to somebody else."""


class AuthenticationError(FloorguardError):
    """Missing, malformed or unknown credentials."""


class PermissionDeniedError(FloorguardError):
    """The caller is known but may not do this."""


class ConflictError(FloorguardError):
    """The request clashes with the current state (status, idempotency key)."""


class RateLimitedError(FloorguardError):
    """Too many requests; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class DataError(FloorguardError):
    """Market data are missing, stale or unusable."""


class SymbolNotFoundError(DataError):
    """No configured source knows the symbol."""


class PricingError(FloorguardError):
    """A model cannot price the given inputs."""


class QuoteRefusedError(FloorguardError):
    """An insurance quote was refused; the message says why."""


class LimitExceededError(QuoteRefusedError):
    """An insured-notional limit (per index or per user) would be exceeded."""


class BrokerError(FloorguardError):
    """The broker failed to place, report or cancel an order."""


class BrokerTimeoutError(BrokerError):
    """The broker did not answer in time; the order state is unknown."""


class OrderRejectedError(BrokerError):
    """The broker rejected the order."""


class ConfigurationError(FloorguardError):
    """Settings are unusable (unreachable database, default secret in production)."""


class ServiceBusyError(FloorguardError):
    """The service could not finish in time (e.g. a write waiting on a busy database); retry later."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class FloorguardWarning(UserWarning):
    """Base of floorguard's warnings."""


class DataQualityWarning(FloorguardWarning):
    """Data were usable but flawed (gaps, stale prices)."""


class ConvergenceWarning(FloorguardWarning):
    """A numerical fit did not converge cleanly."""
