"""Settings, injected rather than imported.

``Settings`` reads ``FLOORGUARD_*`` environment variables (and an optional
``.env`` file). Nothing is built at import time: call :func:`get_settings`
(cached) or construct ``Settings(...)`` directly in tests, and pass the object
down. Precedence: constructor argument > environment > default.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "DEV_SECRET"]

#: The development-only secret. Refused outside ``env="development"``/``"test"``.
DEV_SECRET = "dev-insecure-secret-change-me"


def _default_data_home() -> Path:
    return Path.home() / ".floorguard"


class Settings(BaseSettings):
    """Runtime configuration of floorguard.

    Every field can be set through ``FLOORGUARD_<FIELD>`` (upper case).
    """

    model_config = SettingsConfigDict(env_prefix="FLOORGUARD_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    #: Folder for the embedded database, caches and model artefacts.
    data_home: Path = Field(default_factory=_default_data_home)
    #: SQLAlchemy URL; default ``sqlite:///<data_home>/floorguard.db``.
    database_url: str | None = None
    #: Secret used to pepper API-token hashes. Must be set outside development.
    secret_key: str | None = None
    #: Folder of extracted bundled data files, overriding discovery in installed wheels.
    bundled_data_dir: Path | None = None

    # --- market data ---------------------------------------------------------
    market_data_sources: list[str] = Field(default_factory=lambda: ["bundled"])
    stale_price_days: int = 5
    csv_data_path: Path | None = None

    # --- pricing defaults (used only when the chain cannot imply them) ------
    risk_free_rate: float = 0.04
    index_dividend_yield: float = 0.015
    portfolio_dividend_yield: float = 0.015

    # --- insurance -----------------------------------------------------------
    default_index: str = "SPX"
    #: A user's contracts JSON file (format of the bundled ``data/contracts.json``):
    #: its entries extend the bundled specifications and replace those of the same
    #: symbol. A command's ``--contracts`` option takes precedence.
    contracts_path: Path | None = None
    max_spread_pct: float = 0.25
    min_open_interest: int = 10
    min_volume: int = 0
    max_insured_notional_per_index: float = 50_000_000.0
    max_insured_notional_per_user: float = 10_000_000.0
    draft_ttl_seconds: int = 900
    bind_slippage_tolerance: float = 0.05
    partial_bind_policy: Literal["unwind", "partially_bound"] = "unwind"

    # --- broker ----------------------------------------------------------------
    broker: Literal["paper", "upstox"] = "paper"
    paper_slippage_bps: float = 0.0
    broker_timeout_seconds: float = 10.0
    upstox_access_token: str | None = None
    upstox_sandbox: bool = True

    # --- service ---------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    quote_rate_limit_per_minute: int = 60
    #: Seconds an API process reuses a token's lookup (user, role, strategy level)
    #: before reading it again; 0 reads the database on every request. A token
    #: revoked, or a level changed, by another process takes effect within this
    #: time; in the process that changed it, at once.
    auth_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    max_request_bytes: int = 2_000_000
    monitor_interval_seconds: int = 900
    near_breach_margin: float = 0.02
    roll_delta_threshold: float = 0.15
    webhook_url: str | None = None
    dask_scheduler: str | None = None
    scheduler_enabled: bool = True
    #: At start-up the API prices one demo quote in the background (loads data,
    #: calendars, the GARCH fit), then freezes the heap out of the garbage
    #: collector (services/warmup.py). Off in tests (env "test").
    warm_up_on_start: bool = True

    # --- narrative -------------------------------------------------------------
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.secret_key is None or self.secret_key == DEV_SECRET:
            if self.env == "production":
                raise ValueError(
                    "FLOORGUARD_SECRET_KEY must be set to a private value when "
                    "FLOORGUARD_ENV=production"
                )
            self.secret_key = DEV_SECRET
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite under ``data_home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_home / 'floorguard.db'}"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, built on first call (never at import)."""
    return Settings()
