"""Tables of the uncertainty & opportunity engine (seed section 20.6, 20.9, 20.10).

Created by the migration ``0300_opportunities``:

* ``forecast_models``: each fitted version of a forecasting model (models as
  artefacts): its name, version, data window, parameters and fit metrics.
  Scoring reads the latest version instead of refitting.
* ``opportunity_feedback``: an investor's accept / reject of a recommended
  hedge, used to nudge the ranking and for the adoption KPI.
* ``opportunity_audit``: every served recommendation set, scenario run and
  narrative (prompt, model output, the text chosen and why), for audit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from floorguard.persistence.orm import Base, utcnow
from floorguard.persistence.types import JSONType

__all__ = ["FEEDBACK_DECISIONS", "ForecastModelRow", "OpportunityAudit", "OpportunityFeedback"]

FEEDBACK_DECISIONS = ("accepted", "rejected")


class ForecastModelRow(Base):
    """One stored version of a fitted forecasting model."""

    __tablename__ = "forecast_models"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data_symbol: Mapped[str] = mapped_column(sa.String(32))
    data_start: Mapped[dt.date] = mapped_column(sa.Date)
    data_end: Mapped[dt.date] = mapped_column(sa.Date)
    n_obs: Mapped[int]
    #: model parameters (``arch``/statsmodels names and values) and options
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: log-likelihood, AIC, BIC, convergence, messages
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class OpportunityFeedback(Base):
    """An investor's accept or reject of one recommended hedge."""

    __tablename__ = "opportunity_feedback"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('accepted', 'rejected')", name="decision"),
        sa.Index("ix_opportunity_feedback_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    portfolio_id: Mapped[int | None] = mapped_column(sa.ForeignKey("portfolios.id", ondelete="SET NULL"))
    recommendation_id: Mapped[str] = mapped_column(sa.String(64))
    structure: Mapped[str] = mapped_column(sa.String(32))
    expiry: Mapped[dt.date | None] = mapped_column(sa.Date)
    decision: Mapped[str] = mapped_column(sa.String(16))
    draft_id: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class OpportunityAudit(Base):
    """A logged model output: recommendations served, a scenario run, a narrative."""

    __tablename__ = "opportunity_audit"
    __table_args__ = (sa.Index("ix_opportunity_audit_kind_ts", "kind", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    portfolio_id: Mapped[int | None] = mapped_column(sa.ForeignKey("portfolios.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    recommendation_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: the narrator that produced the served text: ``template`` or ``llm``
    choice: Mapped[str | None] = mapped_column(sa.String(16))
    prompt: Mapped[str | None] = mapped_column(sa.Text)
    output: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
