"""Request and response models of the REST API (pydantic 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BindRequest",
    "ClaimRequest",
    "PolicyList",
    "PortfolioIn",
    "PortfolioOut",
    "PortfolioSummaryOut",
    "PortfolioUpdate",
    "PositionIn",
    "QuoteRequest",
    "SettleRequest",
    "UserCreate",
    "UserOut",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PositionIn(_Strict):
    symbol: str = Field(min_length=1, max_length=32, examples=["AAPL"])
    quantity: float = Field(description="Units held; negative for shorts; never zero.", examples=[10])
    price: float | None = Field(None, gt=0, description="Price per unit; omit to use market data.")
    asset_type: Literal["equity", "etf", "fund", "private", "cash", "custom"] = "equity"
    beta: float | None = Field(None, ge=-10, le=10)
    sector: str | None = Field(None, max_length=64)


class PortfolioIn(_Strict):
    name: str = Field(min_length=1, max_length=120)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    positions: list[PositionIn] = Field(min_length=1, max_length=5000)
    replace: bool = Field(False, description="Replace an existing portfolio of the same name.")


class PortfolioUpdate(_Strict):
    name: str | None = Field(None, min_length=1, max_length=120)
    positions: list[PositionIn] = Field(min_length=1, max_length=5000)


class PositionOut(BaseModel):
    symbol: str
    quantity: float
    price: float | None
    asset_type: str
    beta: float | None
    sector: str | None


class PortfolioOut(BaseModel):
    id: int
    name: str
    owner_id: int
    currency: str
    positions: list[PositionOut]


class PortfolioSummaryOut(BaseModel):
    id: int
    name: str
    owner_id: int
    currency: str
    n_positions: int
    created_at: dt.datetime
    updated_at: dt.datetime


class UserCreate(_Strict):
    name: str = Field(min_length=1, max_length=120)
    role: Literal["investor", "admin"] = "investor"
    strategy_level: int = Field(1, ge=0, le=3)


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    strategy_level: int
    strategy_level_allows: str


class UserCreated(UserOut):
    token: str = Field(description="Shown once; only its hash is stored.")
    note: str


class StrategyLevelIn(_Strict):
    strategy_level: int = Field(ge=0, le=3)


class QuotePosition(_Strict):
    symbol: str = Field(min_length=1, max_length=32, examples=["AAPL"])
    quantity: float = Field(examples=[10])
    beta: float | None = Field(None, ge=-10, le=10)
    price: float | None = Field(None, gt=0)
    asset_type: Literal["equity", "etf", "fund", "private", "cash", "custom"] = "equity"
    sector: str | None = Field(None, max_length=64)


class QuoteRequest(_Strict):
    """The seed's quote body, or a stored ``portfolio_id``."""

    positions: list[QuotePosition] | None = Field(None, min_length=1, max_length=5000)
    prices: dict[str, float] | None = Field(None, description="Price per symbol (overrides market data).")
    portfolio_id: int | None = Field(None, ge=1, description="Use a stored portfolio instead of positions.")
    floor_pct: float = Field(0.9, gt=0.5, lt=1.0, examples=[0.9])
    term_days: int = Field(30, ge=1, le=730, examples=[30])
    strategy: Literal["protective_put", "collar", "put_spread", "tail_hedge"] = "protective_put"
    index_symbol: str | None = Field(None, max_length=16, description="Hedge index (default from settings).")
    coverage_ratio: float = Field(1.0, gt=0, le=1)
    early_trigger_pct: float | None = Field(
        None, gt=0, lt=1,
        description="Early-trigger term: a claim before expiry pays if the index has fallen this share below its level at the quote.",
    )
    upside_cap_pct: float | None = Field(None, gt=0, lt=1, description="Collar: short call this far above spot.")
    index_level: float | None = Field(
        None, gt=0, description="Current level of the hedge index (default: its last close in the market data)."
    )


class BindRequest(_Strict):
    draft_id: str = Field(min_length=1, max_length=64)
    confirm: bool = Field(True, description="The investor accepts the draft's terms.")


class ClaimRequest(_Strict):
    policy_id: int = Field(ge=1)


class SettleRequest(_Strict):
    policy_ids: list[int] | None = Field(None, description="Settle only these (default: every policy due).")
    as_of: dt.datetime | None = Field(None, description="Settle policies whose term ended by then (default now).")
    settlement_prices: dict[str, float] | None = Field(
        None, description="Official settlement level per index symbol (default: its close on the expiry date)."
    )


class PolicyList(BaseModel):
    policies: list[dict[str, Any]]
