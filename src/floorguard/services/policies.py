"""The policy lifecycle: quote -> draft -> bind (broker) -> monitor -> claim -> settle -> ledger.

Transactions and exactly-once
-----------------------------
* **Quote**: suitability first (a refused strategy says which level it
  needs), then the insurance engine, the insured-notional limits per index
  and per user, and a stored draft with a time to live.
* **Bind** runs under an ``Idempotency-Key``. The key row is claimed with a
  unique constraint; a retry with the same key replays the first outcome,
  and a retry while the first is still running waits for it. The draft moves
  ``open -> binding`` by compare-and-set, so one draft gives one policy. Each
  leg has a deterministic client order id (draft id + leg), written to
  ``broker_orders`` *before* it is sent; a bind that is interrupted (broker
  timeout, lost database) is resumed by retrying with the same key: orders the
  broker already has are found by client order id and never placed twice.
* **Partial fills**: with ``partial_bind_policy="unwind"`` the filled legs are
  closed at the touch and the policy is ``cancelled``; with
  ``"partially_bound"`` the filled legs stay and the policy says so. Every
  step is an event.
* **Settlement** writes the ``policy_settlements`` row (primary key = policy),
  flips the status by compare-and-set and posts the payout under the unique
  journal reference ``payout:policy:<id>`` in one transaction: a rerun or a
  parallel run credits nothing twice.

Ledger (per investor; every entry balances)::

    premium paid     Dr insurance_premium:user:<id>   Cr wallet:user:<id>
    unwind proceeds  Dr wallet:user:<id>              Cr insurance_premium:user:<id>
    payout credited  Dr wallet:user:<id>              Cr insurance_payout:user:<id>
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from floorguard.brokers.base import Broker, Order, OrderRequest
from floorguard.domain.policy import HedgeLeg, PolicyDraft
from floorguard.domain.portfolio import Position
from floorguard.domain.settlement import SettlementTerms, mark_to_market, settle
from floorguard.exceptions import (
    BrokerError,
    BrokerTimeoutError,
    ConflictError,
    DataError,
    FloorguardError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    QuoteRefusedError,
    ServiceBusyError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.persistence import repositories as repo
from floorguard.persistence.lifecycle import BrokerOrderRow, IdempotencyKey, PolicySettlement, QuoteDraft
from floorguard.persistence.orm import InsurancePolicy, InsurancePolicyEvent, InsurancePolicyNav
from floorguard.persistence.types import to_decimal
from floorguard.services.context import AppContext
from floorguard.services.market_quotes import QuoteFeed, current_leg_quotes, leg_instrument
from floorguard.services.users import Principal, required_level

__all__ = [
    "bind",
    "BindOutcome",
    "claim",
    "get_broker",
    "get_policy_view",
    "list_policy_views",
    "LIVE_STATUSES",
    "mark_policy",
    "monitor_all",
    "monitor_policy",
    "now",
    "prepare_quote",
    "PreparedQuote",
    "price_quote",
    "PricedDraft",
    "quote",
    "quote_feed",
    "reconcile_binds",
    "settle_due",
    "settle_policy_once",
    "store_quote",
    "store_timeout",
    "StoredQuote",
]

logger = logging.getLogger("floorguard.policies")

#: Policies that hold a hedge (count against limits, get monitored and settled).
LIVE_STATUSES = ("active", "partially_bound")
_CENT = Decimal("0.01")
_KEY_LEASE_SECONDS = 30.0


# =============================================================================== plumbing


def now(ctx: AppContext) -> dt.datetime:
    """The service clock (``ctx.resources["clock"]`` when set, else UTC now)."""
    clock: Callable[[], dt.datetime] | None = ctx.resources.get("clock")
    value = clock() if clock is not None else dt.datetime.now(dt.UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def quote_feed(ctx: AppContext) -> QuoteFeed:
    """The top-of-book feed the paper broker fills against (one per context)."""
    with ctx._lock:  # noqa: SLF001 - the context's own lock guards its resources
        feed = ctx.resources.get("quote_feed")
        if feed is None:
            feed = QuoteFeed()
            ctx.resources["quote_feed"] = feed
        return feed  # type: ignore[no-any-return]


def get_broker(ctx: AppContext) -> Broker:
    """The configured broker, built once per context (``ctx.resources["broker"]``)."""
    with ctx._lock:  # noqa: SLF001
        broker = ctx.resources.get("broker")
        if broker is not None:
            return broker  # type: ignore[no-any-return]
        settings = ctx.settings
        if settings.broker == "upstox":
            from floorguard.brokers.upstox import UpstoxBroker, UpstoxInstrumentMaster
            from floorguard.exceptions import ConfigurationError

            master_path = settings.data_home / "upstox" / "complete.json.gz"
            if not master_path.is_file():
                raise ConfigurationError(
                    f"the Upstox broker needs the instrument master at {master_path} "
                    "(download complete.json.gz from Upstox)"
                )
            broker = UpstoxBroker(
                settings.upstox_access_token,
                UpstoxInstrumentMaster.from_file(master_path),
                sandbox=settings.upstox_sandbox,
                timeout_seconds=settings.broker_timeout_seconds,
            )
        else:
            from floorguard.brokers.paper import PaperBroker

            broker = PaperBroker(
                quote_feed(ctx),
                slippage_bps=settings.paper_slippage_bps,
                book_path=settings.data_home / "paper_broker.sqlite",
            )
        ctx.resources["broker"] = broker
        return broker


def _money(x: float | Decimal) -> Decimal:
    return to_decimal(x).quantize(_CENT, rounding=ROUND_HALF_UP)


def _event(session: Session, policy_id: int, kind: str, details: dict[str, Any], ts: dt.datetime) -> None:
    repo.add_policy_event(session, policy_id=policy_id, event_type=kind, details=_jsonable(details), ts=ts)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    return obj


def _prepare_accounts(ctx: AppContext, user_id: int) -> None:
    """Create the user's ledger accounts in their own transaction (safe against a concurrent creator)."""
    for _ in range(3):
        try:
            with ctx.session() as session:
                _ensure_user_accounts(session, user_id)
            return
        except IntegrityError:
            continue  # another transaction created one of them first: look again


def _ensure_user_accounts(session: Session, user_id: int) -> dict[str, str]:
    codes = {
        "wallet": f"wallet:user:{user_id}",
        "premium": f"insurance_premium:user:{user_id}",
        "payout": f"insurance_payout:user:{user_id}",
    }
    repo.ensure_account(session, code=codes["wallet"], name=f"Wallet of user {user_id}", type="asset", user_id=user_id)
    repo.ensure_account(
        session, code=codes["premium"], name=f"Insurance premiums of user {user_id}", type="expense", user_id=user_id
    )
    repo.ensure_account(
        session, code=codes["payout"], name=f"Insurance payouts to user {user_id}", type="income", user_id=user_id
    )
    return codes


def _post_cash(
    session: Session,
    *,
    user_id: int,
    policy_id: int,
    reference: str,
    description: str,
    debit: str,
    credit: str,
    amount: Decimal,
    ts: dt.datetime,
) -> int | None:
    """Post ``amount`` (signed: negative swaps the sides); zero posts nothing."""
    if amount == 0:
        return None
    if amount < 0:
        debit, credit, amount = credit, debit, -amount
    entry = repo.post_entry(
        session,
        description=description,
        lines=[(debit, amount, 0), (credit, 0, amount)],
        reference=reference,
        policy_id=policy_id,
        ts=ts,
    )
    return entry.id


# =============================================================================== quote


def check_suitability(user: Principal, strategy: str) -> None:
    """Refuse a strategy above the user's approved level, saying why."""
    need = required_level(strategy)
    if user.strategy_level < need:
        allowed = user.to_dict()["strategy_level_allows"]
        raise QuoteRefusedError(
            f"quote refused: {strategy.replace('_', ' ')} needs strategy approval level {need}; "
            f"you are approved for level {user.strategy_level} ({allowed}). Ask an administrator for approval."
        )


def _live_notional(
    conn: Session | sa.Connection, *, user_ids: Sequence[int], index_symbols: Sequence[str]
) -> tuple[dict[str, float], dict[int, float]]:
    """Insured notional of live policies, per index (all users) and per user (all indices).

    One grouped query for any number of users and indices (a batch of quotes
    checks all its limits with it).
    """
    notional = sa.func.sum(InsurancePolicy.coverage_notional)
    q = (
        sa.select(InsurancePolicy.index_symbol, InsurancePolicy.user_id, notional)
        .where(
            InsurancePolicy.status.in_((*LIVE_STATUSES, "draft")),
            sa.or_(InsurancePolicy.index_symbol.in_(sorted(set(index_symbols))),
                   InsurancePolicy.user_id.in_(sorted(set(user_ids)))),
        )
        .group_by(InsurancePolicy.index_symbol, InsurancePolicy.user_id)
    )
    by_index: dict[str, float] = {}
    by_user: dict[int, float] = {}
    for index_symbol, user_id, total in conn.execute(q):
        value = float(total or 0)
        by_index[index_symbol] = by_index.get(index_symbol, 0.0) + value
        by_user[user_id] = by_user.get(user_id, 0.0) + value
    return by_index, by_user


def _limit_figures(
    settings: Any, *, index_symbol: str, on_index: float, of_user: float, notional: float
) -> dict[str, Any]:
    """The limit check on totals already read: figures, or ``LimitExceededError``."""
    per_index = on_index + notional
    per_user = of_user + notional
    if per_index > settings.max_insured_notional_per_index:
        raise LimitExceededError(
            f"refused: insured notional on {index_symbol} would reach {per_index:,.0f}, above the per-index "
            f"limit {settings.max_insured_notional_per_index:,.0f}"
        )
    if per_user > settings.max_insured_notional_per_user:
        raise LimitExceededError(
            f"refused: your insured notional would reach {per_user:,.0f}, above the per-user limit "
            f"{settings.max_insured_notional_per_user:,.0f}"
        )
    return {
        "index_total_after": per_index,
        "index_limit": settings.max_insured_notional_per_index,
        "user_total_after": per_user,
        "user_limit": settings.max_insured_notional_per_user,
    }


def check_limits(
    conn: Session | sa.Connection, settings: Any, *, user_id: int, index_symbol: str, notional: float
) -> dict[str, Any]:
    """Maximum insured notional per index (all users) and per user, including this one."""
    by_index, by_user = _live_notional(conn, user_ids=[user_id], index_symbols=[index_symbol])
    return _limit_figures(settings, index_symbol=index_symbol, on_index=by_index.get(index_symbol, 0.0),
                          of_user=by_user.get(user_id, 0.0), notional=notional)


def _positions_from_request(ctx: AppContext, user: Principal, body: dict[str, Any]) -> tuple[list[Position], int | None]:
    portfolio_id = body.get("portfolio_id")
    positions = body.get("positions")
    if portfolio_id is not None and positions:
        raise ValidationError.for_field("portfolio_id", "give positions or a portfolio_id, not both")
    prices = {str(k).upper(): v for k, v in (body.get("prices") or {}).items()}
    if portfolio_id is not None:
        with ctx.session() as session:
            portfolio = repo.get_portfolio_by_id(session, portfolio_id=int(portfolio_id), owner_id=user.id)
        return list(portfolio.with_prices({k: float(v) for k, v in prices.items()}).positions), int(portfolio_id)
    if not positions:
        raise ValidationError.for_field("positions", "give positions (with prices) or a stored portfolio_id")
    out: list[Position] = []
    errors = []
    for i, p in enumerate(positions):
        symbol = str(p.get("symbol", "")).strip().upper()
        price = p.get("price", prices.get(symbol))
        try:
            out.append(
                Position(
                    symbol=symbol,
                    quantity=p.get("quantity"),  # type: ignore[arg-type]
                    price=None if price is None else float(price),
                    asset_type=p.get("asset_type") or "equity",
                    beta=p.get("beta"),
                    sector=p.get("sector"),
                )
            )
        except ValidationError as exc:
            from floorguard.exceptions import FieldError

            errors.extend(FieldError(f"positions.{i}.{e.field}", e.reason) for e in exc.errors)
    if errors:
        raise ValidationError("; ".join(str(e) for e in errors), errors=errors)
    for sym in prices:
        if sym not in {p.symbol for p in out}:
            raise ValidationError.for_field(f"prices.{sym}", "no position has this symbol")
    return out, None


#: Seconds an identical quote request reuses the engine's draft (quotes are snapshots).
QUOTE_MEMO_SECONDS = 30.0

#: Seconds a caller waits for its draft to be stored (503 after that; a still-queued write is cancelled).
QUOTE_STORE_TIMEOUT_SECONDS = 60.0


def _quote_memo(ctx: AppContext) -> Any:
    """Identical quote requests within ``QUOTE_MEMO_SECONDS`` share one engine run.

    A :class:`~floorguard.services._cache.ContentCache` (single flight: concurrent
    identical requests wait for the one in flight) of :class:`PricedDraft`. The
    key covers every engine input: positions and prices, the request, the
    pricing settings and the clock's minute bucket; the draft keeps the time it
    was priced at (``start_utc``, ``pricing_source.as_of``), so a reused quote
    says how old it is.
    """
    from floorguard.services._cache import context_cache

    return context_cache(ctx, "quote_memo", ttl=QUOTE_MEMO_SECONDS, size=256)


def _memo_key(ctx: AppContext, positions: Sequence[Position], request: Any) -> tuple[Any, ...]:
    """Every input of the engine run, as a hashable tuple (the request is a frozen dataclass)."""
    t = request.as_of or now(ctx)
    s = ctx.settings
    return (
        tuple((p.symbol, p.quantity, p.price, p.asset_type, p.beta, p.sector) for p in positions),
        dataclasses.replace(request, as_of=None),
        t.replace(second=0, microsecond=0),
        (s.risk_free_rate, s.index_dividend_yield, s.max_spread_pct, s.min_open_interest, s.min_volume,
         tuple(s.market_data_sources), s.contracts_path, s.default_index),
    )


@dataclass(frozen=True)
class PricedDraft:
    """One engine run's draft, encoded once: identical quotes share it (and its JSON)."""

    draft: PolicyDraft
    #: ``draft.to_dict()`` (plain JSON types); read-only, shared
    draft_dict: dict[str, Any]
    #: ``draft_dict`` as compact JSON text
    draft_json: str

    @classmethod
    def of(cls, draft: PolicyDraft) -> PricedDraft:
        import json

        d = draft.to_dict()
        return cls(draft=draft, draft_dict=d,
                   draft_json=json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")))


@dataclass(frozen=True)
class PreparedQuote:
    """A checked quote request (suitability, positions, engine inputs); ``priced`` once the engine ran."""

    user: Principal
    body: dict[str, Any]
    positions: tuple[Position, ...]
    portfolio_id: int | None
    request: Any
    quoted_at: dt.datetime
    memo_key: tuple[Any, ...]
    priced: PricedDraft | None


@dataclass(frozen=True)
class StoredQuote:
    """A stored draft: what ``POST /api/insurance/quote`` answers."""

    draft_id: str
    expires_at: dt.datetime
    priced: PricedDraft

    def to_dict(self) -> dict[str, Any]:
        """``{"ok": True, "draft_id", "expires_at", "draft"}`` (the draft dict is shared: do not mutate)."""
        return {"ok": True, "draft_id": self.draft_id, "expires_at": self.expires_at.isoformat(),
                "draft": self.priced.draft_dict}

    def to_json(self) -> bytes:
        """:meth:`to_dict` as JSON bytes, reusing the draft's encoding."""
        head = f'{{"ok":true,"draft_id":"{self.draft_id}","expires_at":"{self.expires_at.isoformat()}","draft":'
        return (head + self.priced.draft_json + "}").encode()


def store_timeout() -> ServiceBusyError:
    """The error of a draft not stored within ``QUOTE_STORE_TIMEOUT_SECONDS``.

    The caller cancels the queued write, so the draft is not stored; if its
    transaction had already begun it lands, open and never bound, and expires.
    """
    return ServiceBusyError(
        f"the draft was not stored within {QUOTE_STORE_TIMEOUT_SECONDS:g} s (database busy); quote again",
        retry_after=5,
    )


def prepare_quote(ctx: AppContext, user: Principal, body: dict[str, Any]) -> PreparedQuote:
    """Check a quote request and look it up in the quote memo; never runs the engine.

    Cheap enough for an event loop when ``body`` has positions (a stored
    ``portfolio_id`` costs one read). ``priced`` is ``None`` when no identical
    request was priced in the last ``QUOTE_MEMO_SECONDS``: then call
    :func:`price_quote` (on a worker thread).

    Raises
    ------
    QuoteRefusedError
        The strategy is above the user's approved level.
    ValidationError
        Bad positions, prices or request fields (each named).
    """
    from floorguard.services.insurance import QuoteRequest

    strategy = str(body.get("strategy") or "protective_put")
    check_suitability(user, strategy)
    positions, portfolio_id = _positions_from_request(ctx, user, body)
    t0 = now(ctx)
    request = QuoteRequest(
        floor_pct=float(body.get("floor_pct", 0.9)),
        term_days=int(body.get("term_days", 30)),
        strategy=strategy,
        index=str(body.get("index_symbol") or ctx.settings.default_index).upper(),
        cap=body.get("upside_cap_pct"),
        coverage=float(body.get("coverage_ratio", 1.0)),
        index_level=body.get("index_level"),
        # priced at the whole second, as the engine's own clock is: quotes within one
        # second share the priced expiries (services/insurance.py caches them per as_of)
        as_of=t0.replace(microsecond=0),
    )
    key = _memo_key(ctx, positions, request)
    return PreparedQuote(user=user, body=body, positions=tuple(positions), portfolio_id=portfolio_id,
                         request=request, quoted_at=t0, memo_key=key, priced=_quote_memo(ctx).peek(key))


def price_quote(ctx: AppContext, prepared: PreparedQuote) -> PreparedQuote:
    """Run the insurance engine for ``prepared`` (once per identical request in flight; blocking)."""
    if prepared.priced is not None:
        return prepared
    from floorguard.services.insurance import quote_policy

    priced = _quote_memo(ctx).get_or_compute(
        prepared.memo_key, lambda: PricedDraft.of(quote_policy(ctx, list(prepared.positions), prepared.request))
    )
    return dataclasses.replace(prepared, priced=priced)


@dataclass(frozen=True)
class _DraftWrite:
    """One draft row waiting for the group commit (the limits are read in its transaction)."""

    row: dict[str, Any]
    request_base: dict[str, Any]
    settings: Any
    stored: StoredQuote


def _write_drafts(conn: sa.Connection, items: list[_DraftWrite]) -> list[StoredQuote | LimitExceededError]:
    """Group-commit handler: one limits query for the batch, one multi-row insert of the accepted drafts."""
    import json

    from floorguard.persistence.types import RawJSON

    by_index, by_user = _live_notional(conn, user_ids=[w.row["user_id"] for w in items],
                                       index_symbols=[w.row["index_symbol"] for w in items])
    outcomes: list[StoredQuote | LimitExceededError] = []
    rows: list[dict[str, Any]] = []
    for w in items:
        index_symbol, user_id = w.row["index_symbol"], w.row["user_id"]
        try:
            limits = _limit_figures(w.settings, index_symbol=index_symbol, on_index=by_index.get(index_symbol, 0.0),
                                    of_user=by_user.get(user_id, 0.0),
                                    notional=w.stored.priced.draft.coverage_notional)
        except LimitExceededError as exc:
            outcomes.append(exc)
            continue
        rows.append({**w.row, "request": RawJSON(json.dumps({**w.request_base, "limits": limits}, allow_nan=False))})
        outcomes.append(w.stored)
    if rows:
        conn.execute(sa.insert(QuoteDraft.__table__), rows)
    for w, outcome in zip(items, outcomes, strict=True):
        if outcome is w.stored:
            draft = w.stored.priced.draft
            logger.info("quote %s for user %s: %s %s", w.stored.draft_id, w.row["user_id"], draft.strategy,
                        draft.index_symbol)
    return outcomes


def store_quote(ctx: AppContext, prepared: PreparedQuote) -> Future[StoredQuote]:
    """Check the insured-notional limits and store the draft, group-committed.

    The future resolves once the draft's transaction committed (or with the
    refusal, e.g. :class:`~floorguard.exceptions.LimitExceededError`); the
    limits are read in that same transaction.
    """
    from floorguard.persistence.types import RawJSON

    priced = prepared.priced
    if priced is None:
        raise ValueError("store_quote needs a priced quote: call price_quote first")
    draft = priced.draft
    user, t0 = prepared.user, prepared.quoted_at
    draft_id = uuid.uuid4().hex
    expires = t0 + dt.timedelta(seconds=ctx.settings.draft_ttl_seconds)
    write = _DraftWrite(
        row={
            "id": draft_id,
            "user_id": user.id,
            "portfolio_id": prepared.portfolio_id,
            "status": "open",
            "created_at": t0,
            "expires_at": expires,
            "strategy": draft.strategy,
            "index_symbol": draft.index_symbol,
            "coverage_notional": _money(draft.coverage_notional),
            "premium_net": _money(draft.premium_net if math.isfinite(draft.premium_net) else 0.0),
            "draft": RawJSON(priced.draft_json),
        },
        request_base={
            **_jsonable(prepared.body),
            "positions_used": [p.to_dict() for p in prepared.positions],
            "quoted_at": t0.isoformat(),
            "user_strategy_level": user.strategy_level,
        },
        settings=ctx.settings,
        stored=StoredQuote(draft_id=draft_id, expires_at=expires, priced=priced),
    )
    return ctx.group_committer().submit(_write_drafts, write)


def quote(ctx: AppContext, user: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Quote a policy draft and store it for ``settings.draft_ttl_seconds``.

    The blocking composition of :func:`prepare_quote`, :func:`price_quote`
    and :func:`store_quote` (the API awaits the same steps without blocking
    its event loop).

    Parameters
    ----------
    body : dict
        The seed's request (``positions``, ``prices``, ``floor_pct``,
        ``term_days``, ``strategy``) or a ``portfolio_id``; optional
        ``index_symbol``, ``coverage_ratio``, ``upside_cap_pct``,
        ``early_trigger_pct``.

    Returns
    -------
    dict
        ``{"ok": True, "draft_id", "expires_at", "draft": PolicyDraft.to_dict()}``.
    """
    prepared = price_quote(ctx, prepare_quote(ctx, user, body))
    future = store_quote(ctx, prepared)
    try:
        stored = future.result(timeout=QUOTE_STORE_TIMEOUT_SECONDS)
    except FutureTimeout as exc:
        future.cancel()  # still queued: never written (already writing: lands open and unbound)
        raise store_timeout() from exc
    import json

    return json.loads(stored.to_json())  # the caller's own copy: the memo's draft dict stays intact


# =============================================================================== bind


@dataclass(frozen=True)
class BindOutcome:
    """What a bind answered: an HTTP status and body (replayed for retries)."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    policy_id: int | None = None


class _Resumable(Exception):
    """The broker's state is unknown; keep the key open for a retry to resume."""

    def __init__(self, message: str, status_code: int = 504) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _request_hash(draft_id: str) -> str:
    return hashlib.sha256(f"bind:{draft_id}".encode()).hexdigest()


def _claim_key(ctx: AppContext, user_id: int, key: str, req_hash: str, t: dt.datetime) -> tuple[str, Any]:
    """Claim the idempotency key: ("owner", id) | ("completed", (status, body, policy)) | ("busy", None)."""
    if not key or len(key) > 200 or not key.isprintable():
        raise ValidationError.for_field("Idempotency-Key", "send a header of 1-200 printable characters")
    lease = t + dt.timedelta(seconds=_KEY_LEASE_SECONDS)
    try:
        with ctx.session() as session:
            row = IdempotencyKey(
                user_id=user_id, scope="bind", key=key, request_hash=req_hash, status="in_progress",
                locked_until=lease, created_at=t, updated_at=t,
            )
            session.add(row)
            session.flush()
            return "owner", row.id
    except IntegrityError:
        pass
    with ctx.session() as session:
        row = session.scalar(
            sa.select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.scope == "bind", IdempotencyKey.key == key
            )
        )
        if row is None:  # pragma: no cover - deleted between the two statements
            raise ConflictError("idempotency key vanished; retry")
        if row.request_hash != req_hash:
            raise ConflictError(
                "this Idempotency-Key was already used for a different draft; use a new key for a new bind"
            )
        if row.status == "completed":
            return "completed", (row.response_status, row.response, row.policy_id)
        # in progress: take over only when the holder's lease ran out (crashed or gave up)
        taken = session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.id == row.id, IdempotencyKey.status == "in_progress",
                   IdempotencyKey.locked_until < t)
            .values(locked_until=lease, updated_at=t)
        ).rowcount
        if taken == 1:
            return "owner", row.id
        return "busy", None


def _finish_key(ctx: AppContext, key_id: int, outcome: BindOutcome) -> None:
    with ctx.session() as session:
        session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(status="completed", response_status=outcome.status_code, response=_jsonable(outcome.body),
                    policy_id=outcome.policy_id, updated_at=now(ctx))
        )


def _release_key(ctx: AppContext, key_id: int) -> None:
    """Leave the key in progress but let the next retry take it over at once."""
    try:
        with ctx.session() as session:
            session.execute(
                sa.update(IdempotencyKey)
                .where(IdempotencyKey.id == key_id)
                .values(locked_until=now(ctx) - dt.timedelta(seconds=1))
            )
    except (SQLAlchemyError, FloorguardError):
        logger.warning("could not release idempotency key %s; it expires with its lease", key_id)


def _problem_body(exc: FloorguardError) -> tuple[int, dict[str, Any]]:
    from floorguard.exceptions import AuthenticationError, RateLimitedError

    status = 422
    for cls, code in (
        (NotFoundError, 404), (ConflictError, 409), (PermissionDeniedError, 403),
        (AuthenticationError, 401), (RateLimitedError, 429), (BrokerTimeoutError, 504), (BrokerError, 502),
    ):
        if isinstance(exc, cls):
            status = code
            break
    return status, {"error": type(exc).__name__, "detail": exc.message, "errors": [e.to_dict() for e in exc.errors]}


def bind(
    ctx: AppContext,
    user: Principal,
    draft_id: str,
    idempotency_key: str,
    *,
    wait_seconds: float = 20.0,
) -> BindOutcome:
    """Bind a stored draft through the broker, exactly once per idempotency key.

    Returns
    -------
    BindOutcome
        201 with the policy when bound (also ``partially_bound``); for a
        failed bind the error status and body. ``replayed`` is true when the
        outcome is the stored one of an earlier request with the same key.

    Raises
    ------
    ConflictError
        The key was used for another draft, or is still being processed
        after ``wait_seconds``.
    """
    req_hash = _request_hash(draft_id)
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            state, data = _claim_key(ctx, user.id, idempotency_key, req_hash, now(ctx))
        except OperationalError as exc:  # SQLite "database is locked" under a burst: wait and retry
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            state, data = "busy", None
        if state == "completed":
            status, body, policy_id = data
            return BindOutcome(int(status), dict(body or {}), replayed=True, policy_id=policy_id)
        if state == "owner":
            key_id = int(data)
            break
        if time.monotonic() > deadline:
            raise ConflictError("a bind with this Idempotency-Key is still in progress; retry shortly")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    try:
        outcome = _bind_owned(ctx, user, draft_id, key_id)
    except _Resumable as exc:
        _release_key(ctx, key_id)
        if exc.status_code == 504:
            raise BrokerTimeoutError(exc.message) from None
        raise BrokerError(exc.message) from None
    except FloorguardError as exc:
        from floorguard.exceptions import ConfigurationError

        if isinstance(exc, (BrokerError, ConfigurationError)):  # transient: a retry resumes
            _release_key(ctx, key_id)
            raise
        status, body = _problem_body(exc)
        outcome = BindOutcome(status, body)
        _finish_key(ctx, key_id, outcome)
        raise
    except BaseException:
        _release_key(ctx, key_id)
        raise
    _finish_key(ctx, key_id, outcome)
    return outcome


def _load_draft_row(session: Session, user: Principal, draft_id: str) -> QuoteDraft:
    row = session.get(QuoteDraft, draft_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError(f"draft {draft_id} not found")
    return row


def _client_order_id(draft_id: str, purpose: str, leg_index: int) -> str:
    prefix = {"open": "fo", "unwind": "fu", "close": "fc"}[purpose]
    return f"{prefix}-{draft_id}-{leg_index}"


def _start_bind(ctx: AppContext, user: Principal, draft_id: str, broker: Broker, key_id: int) -> int:
    """Checks, then draft open -> binding, policy row, order rows; returns the policy id."""
    t = now(ctx)
    with ctx.session() as session:
        row = _load_draft_row(session, user, draft_id)
        if row.status == "binding" and row.policy_id is not None:
            holder = session.get(IdempotencyKey, key_id)
            if holder is not None and holder.policy_id == row.policy_id:
                return int(row.policy_id)  # resume an interrupted bind under its own key
            raise ConflictError(
                f"draft {draft_id} is being bound under another Idempotency-Key; retry with that key"
            )
        if row.status in ("bound", "failed") and row.policy_id is not None:
            raise ConflictError(f"draft {draft_id} was already bound (policy {row.policy_id}); quote again")
        if row.status == "expired" or row.expires_at <= t:
            if row.status == "open":
                row.status = "expired"
            raise QuoteRefusedError(
                f"draft {draft_id} expired at {row.expires_at.isoformat()}; request a new quote"
            )
        draft = PolicyDraft.from_dict(row.draft)
        check_suitability(user, draft.strategy)
        limits = check_limits(
            session, ctx.settings, user_id=user.id, index_symbol=draft.index_symbol, notional=draft.coverage_notional
        )
        fresh = _freshness(ctx, draft, t)
        updated = session.execute(
            sa.update(QuoteDraft).where(QuoteDraft.id == draft_id, QuoteDraft.status == "open").values(status="binding")
        ).rowcount
        if updated != 1:
            raise ConflictError(f"draft {draft_id} is being bound by another request")
        put = draft.put_leg or next((leg for leg in draft.legs if leg.kind == "put"), None)
        call = draft.call_leg
        if put is None:
            raise ValidationError.for_field("draft.put_leg", "the draft has no put leg")
        policy = InsurancePolicy(
            user_id=user.id,
            portfolio_id=row.portfolio_id,
            status="draft",
            created_at=t,
            updated_at=t,
            start_utc=draft.start_utc,
            end_utc=draft.end_utc,
            floor_pct=draft.floor_pct,
            index_symbol=draft.index_symbol,
            strategy=draft.strategy,
            put_strike=to_decimal(put.strike),
            call_strike=None if call is None else to_decimal(call.strike),
            contracts_put=int(put.contracts),
            contracts_call=None if call is None else int(call.contracts),
            premium_put=_money(put.premium if math.isfinite(put.premium) else 0.0),
            premium_call=None if call is None else _money(call.premium if math.isfinite(call.premium) else 0.0),
            premium_net=_money(draft.premium_net if math.isfinite(draft.premium_net) else 0.0),
            coverage_notional=_money(draft.coverage_notional),
            portfolio_value_at_bind=_money(draft.portfolio_value),
            beta=float(draft.beta),
            draft={
                **row.draft,
                "draft_id": draft_id,
                "terms": {
                    "coverage_ratio": draft.coverage_ratio,
                    "early_trigger_pct": row.request.get("early_trigger_pct"),
                    "early_trigger_index_level": (
                        None if row.request.get("early_trigger_pct") is None
                        else float(draft.metadata.get("index_level") or 0) * (1 - float(row.request["early_trigger_pct"]))
                    ),
                },
                "positions": row.request.get("positions_used", []),
            },
        )
        session.add(policy)
        session.flush()
        row.policy_id = policy.id
        session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.id == key_id).values(policy_id=policy.id))
        for i, leg in enumerate(draft.legs):
            if leg.contracts <= 0:
                continue
            inst = leg_instrument(draft, leg)
            price = fresh["quotes"][i]
            side = "buy" if leg.side == "long" else "sell"
            tol = ctx.settings.bind_slippage_tolerance
            limit = price["ask"] * (1 + tol) if side == "buy" else max(price["bid"] * (1 - tol), 0.0)
            session.add(
                BrokerOrderRow(
                    policy_id=policy.id, purpose="open", leg_index=i,
                    client_order_id=_client_order_id(draft_id, "open", i), broker=broker.name,
                    side=side, instrument=inst.to_dict(), quantity=int(leg.contracts),
                    limit_price=round(limit, 6), state="submitting", created_at=t, updated_at=t,
                )
            )
        _event(session, policy.id, "bind_started", {
            "draft_id": draft_id,
            "quote_parameters": row.request,
            "strategy": draft.strategy,
            "strikes": [{"kind": leg.kind, "side": leg.side, "strike": leg.strike, "contracts": leg.contracts,
                         "reason": leg.strike_reason} for leg in draft.legs],
            "premium_quoted": draft.premium_net,
            "limits": limits,
            "freshness": fresh,
            "broker": broker.name,
        }, t)
        return int(policy.id)


def _freshness(ctx: AppContext, draft: PolicyDraft, t: dt.datetime) -> dict[str, Any]:
    """Re-quote the legs; refuse when a price moved past the tolerance or a quote is illiquid."""
    current = current_leg_quotes(ctx, draft, t)
    tol = ctx.settings.bind_slippage_tolerance
    rows = []
    problems = []
    for leg, q in zip(draft.legs, current.quotes, strict=True):
        quoted = float(leg.price)
        side_px = q.ask if leg.side == "long" else q.bid
        mid = q.mid
        spread = (q.ask - q.bid) / mid if mid > 0 else math.inf
        moved = (side_px - quoted) / quoted if quoted > 0 else 0.0
        rows.append({"kind": leg.kind, "side": leg.side, "strike": leg.strike, "quoted": quoted,
                     "bid": q.bid, "ask": q.ask, "moved": moved, "spread_pct": spread})
        if leg.side == "long" and moved > tol:
            problems.append(f"{leg.kind} {leg.strike:g} ask moved {moved:+.1%} (> {tol:.0%} tolerance)")
        if leg.side == "short" and -moved > tol:
            problems.append(f"{leg.kind} {leg.strike:g} bid fell {moved:+.1%} (> {tol:.0%} tolerance)")
        if leg.side == "long" and not q.ask > 0:
            problems.append(f"{leg.kind} {leg.strike:g} has no ask")
        if leg.side == "short" and not q.bid > 0:
            problems.append(f"{leg.kind} {leg.strike:g} has no bid")
        if spread > ctx.settings.max_spread_pct:
            problems.append(f"{leg.kind} {leg.strike:g} spread {spread:.1%} > {ctx.settings.max_spread_pct:.0%}")
    if problems:
        raise QuoteRefusedError("bind refused, the quote is no longer good: " + "; ".join(problems) + "; quote again")
    feed = quote_feed(ctx)
    for leg, q in zip(draft.legs, current.quotes, strict=True):
        feed.publish(leg_instrument(draft, leg), q)
    return {"source": current.source, "details": current.details, "quotes": rows, "tolerance": tol}


def _submit(broker: Broker, row: BrokerOrderRow, request: OrderRequest, attempts: int = 3) -> Order:
    """Place (or find) an order; timeouts are retried by client order id, which never duplicates."""
    last: BrokerTimeoutError | None = None
    for _ in range(attempts):
        try:
            if row.broker_order_id:
                return broker.status(row.broker_order_id)
            found = broker.find(request.client_order_id)
            if found is not None:
                return found
            return broker.place(request)
        except BrokerTimeoutError as exc:
            last = exc
            continue
    assert last is not None
    raise last


def _update_order_row(session: Session, row_id: int, order: Order, t: dt.datetime) -> BrokerOrderRow:
    row = session.get(BrokerOrderRow, row_id)
    assert row is not None
    row.broker_order_id = order.broker_order_id
    row.state = order.state
    row.filled_quantity = int(order.filled_quantity)
    row.avg_fill_price = order.avg_fill_price
    row.reason = order.reason
    row.updated_at = t
    return row


def _order_request(row: BrokerOrderRow) -> OrderRequest:
    from floorguard.brokers.base import OptionInstrument

    return OrderRequest(
        client_order_id=row.client_order_id,
        instrument=OptionInstrument.from_dict(row.instrument),
        side=row.side,  # type: ignore[arg-type]
        quantity=int(row.quantity),
        limit_price=row.limit_price,
        time_in_force="ioc",
        tag=f"policy {row.policy_id} {row.purpose} leg {row.leg_index}",
    )


def _run_orders(ctx: AppContext, broker: Broker, policy_id: int, purpose: str) -> list[BrokerOrderRow]:
    """Send every non-terminal order of ``purpose``; stop at the first leg that does not fill."""
    with ctx.session() as session:
        rows = list(session.scalars(
            sa.select(BrokerOrderRow)
            .where(BrokerOrderRow.policy_id == policy_id, BrokerOrderRow.purpose == purpose)
            .order_by(BrokerOrderRow.leg_index)
        ))
    done: list[BrokerOrderRow] = []
    for row in rows:
        if row.state in ("filled", "cancelled", "rejected"):
            done.append(row)
            if row.state != "filled":
                break
            continue
        request = _order_request(row)
        try:
            order = _submit(broker, row, request)
        except BrokerTimeoutError as exc:
            with ctx.session() as session:
                r = session.get(BrokerOrderRow, row.id)
                assert r is not None
                r.state = "unknown"
                r.reason = exc.message
                _event(session, policy_id, "order_unknown", {"client_order_id": row.client_order_id,
                                                             "leg": row.leg_index, "purpose": purpose,
                                                             "reason": exc.message}, now(ctx))
            raise _Resumable(
                f"broker did not answer for leg {row.leg_index} ({exc.message}); the order state is unknown: "
                "retry the bind with the same Idempotency-Key to resume (nothing will be placed twice)"
            ) from None
        except BrokerError as exc:
            order = Order(broker_order_id=row.broker_order_id or "", request=request, state="rejected",
                          reason=exc.message)
        t = now(ctx)
        with ctx.session() as session:
            updated = _update_order_row(session, row.id, order, t)
            if not order.broker_order_id:
                updated.broker_order_id = None
            _event(session, policy_id, f"order_{order.state}", {
                "purpose": purpose, "leg": row.leg_index, "client_order_id": row.client_order_id,
                "broker": broker.name, "broker_order_id": order.broker_order_id or None,
                "side": row.side, "instrument": row.instrument, "quantity": row.quantity,
                "limit_price": row.limit_price, "filled_quantity": order.filled_quantity,
                "avg_fill_price": order.avg_fill_price, "reason": order.reason,
            }, t)
            done.append(updated)
        if order.state != "filled":
            break
    return done


def _signed_cash(rows: Sequence[BrokerOrderRow]) -> Decimal:
    """Cash paid for fills (buys positive, sells negative), dollars."""
    total = Decimal(0)
    for r in rows:
        if r.filled_quantity and r.avg_fill_price is not None:
            mult = float(r.instrument.get("multiplier", 100.0))
            value = to_decimal(r.avg_fill_price) * r.filled_quantity * to_decimal(mult)
            total += value if r.side == "buy" else -value
    return _money(total)


def _bind_owned(ctx: AppContext, user: Principal, draft_id: str, key_id: int) -> BindOutcome:
    broker = get_broker(ctx)
    policy_id = _start_bind(ctx, user, draft_id, broker, key_id)
    opened = _run_orders(ctx, broker, policy_id, "open")
    with ctx.session() as session:
        all_open = list(session.scalars(
            sa.select(BrokerOrderRow).where(BrokerOrderRow.policy_id == policy_id, BrokerOrderRow.purpose == "open")
            .order_by(BrokerOrderRow.leg_index)
        ))
    complete = all(r.state == "filled" for r in all_open) and len(opened) == len(all_open)
    if complete:
        return _finalise(ctx, user, policy_id, draft_id, "active", all_open, [])
    failed = next(r for r in opened if r.state != "filled")
    any_fill = any(r.filled_quantity > 0 for r in all_open)
    if ctx.settings.partial_bind_policy == "partially_bound" and any_fill:
        return _finalise(ctx, user, policy_id, draft_id, "partially_bound", all_open, [], failed=failed)
    unwound = _unwind(ctx, broker, policy_id, all_open) if any_fill else []
    leftover = [r for r in unwound if r.state != "filled"]
    if leftover:
        return _finalise(ctx, user, policy_id, draft_id, "partially_bound", all_open, unwound, failed=failed)
    return _finalise(ctx, user, policy_id, draft_id, "cancelled", all_open, unwound, failed=failed)


def _unwind(ctx: AppContext, broker: Broker, policy_id: int, opened: Sequence[BrokerOrderRow]) -> list[BrokerOrderRow]:
    """Close every filled quantity at the touch (IOC, no limit)."""
    t = now(ctx)
    with ctx.session() as session:
        existing = {
            r.leg_index for r in session.scalars(
                sa.select(BrokerOrderRow).where(BrokerOrderRow.policy_id == policy_id, BrokerOrderRow.purpose == "unwind")
            )
        }
        for r in opened:
            if r.filled_quantity <= 0 or r.leg_index in existing:
                continue
            draft_id = r.client_order_id.split("-")[1]
            session.add(BrokerOrderRow(
                policy_id=policy_id, purpose="unwind", leg_index=r.leg_index,
                client_order_id=_client_order_id(draft_id, "unwind", r.leg_index), broker=broker.name,
                side="sell" if r.side == "buy" else "buy", instrument=r.instrument,
                quantity=int(r.filled_quantity), limit_price=None, state="submitting", created_at=t, updated_at=t,
            ))
        _event(session, policy_id, "unwind_started", {
            "reason": "a leg did not fill; closing the filled legs (partial_bind_policy=unwind)",
            "legs": [{"leg": r.leg_index, "filled": r.filled_quantity} for r in opened if r.filled_quantity > 0],
        }, t)
    result: list[BrokerOrderRow] = []
    # unwind every leg even if one fails: _run_orders stops at a failure, so go leg by leg
    with ctx.session() as session:
        ids = [r.id for r in session.scalars(
            sa.select(BrokerOrderRow).where(BrokerOrderRow.policy_id == policy_id, BrokerOrderRow.purpose == "unwind")
            .order_by(BrokerOrderRow.leg_index))]
    for row_id in ids:
        with ctx.session() as session:
            row = session.get(BrokerOrderRow, row_id)
            assert row is not None
            session.expunge(row)
        if row.state not in ("filled", "cancelled", "rejected"):
            request = _order_request(row)
            try:
                order = _submit(broker, row, request)
            except BrokerTimeoutError as exc:
                raise _Resumable(
                    f"broker did not answer while unwinding leg {row.leg_index} ({exc.message}); "
                    "retry the bind with the same Idempotency-Key to finish"
                ) from None
            except BrokerError as exc:
                order = Order(broker_order_id="", request=request, state="rejected", reason=exc.message)
            with ctx.session() as session:
                row = _update_order_row(session, row.id, order, now(ctx))
                if not order.broker_order_id:
                    row.broker_order_id = None
                _event(session, policy_id, f"unwind_{order.state}", {
                    "leg": row.leg_index, "client_order_id": row.client_order_id,
                    "broker_order_id": row.broker_order_id, "filled_quantity": order.filled_quantity,
                    "avg_fill_price": order.avg_fill_price, "reason": order.reason,
                }, now(ctx))
                session.flush()
                session.expunge(row)
        result.append(row)
    return result


def _finalise(
    ctx: AppContext,
    user: Principal,
    policy_id: int,
    draft_id: str,
    status: str,
    opened: Sequence[BrokerOrderRow],
    unwound: Sequence[BrokerOrderRow],
    failed: BrokerOrderRow | None = None,
) -> BindOutcome:
    t = now(ctx)
    paid = _signed_cash(opened)
    received = -_signed_cash(unwound)  # selling back what was bought: positive proceeds
    _prepare_accounts(ctx, user.id)
    with ctx.session() as session:
        policy = session.get(InsurancePolicy, policy_id)
        assert policy is not None
        draft_row = session.get(QuoteDraft, draft_id)
        assert draft_row is not None
        codes = _ensure_user_accounts(session, user.id)
        entry_premium = _post_cash(
            session, user_id=user.id, policy_id=policy_id, reference=f"premium:policy:{policy_id}",
            description=f"premium paid for policy {policy_id}", debit=codes["premium"], credit=codes["wallet"],
            amount=paid, ts=t,
        )
        entry_unwind = _post_cash(
            session, user_id=user.id, policy_id=policy_id, reference=f"unwind:policy:{policy_id}",
            description=f"unwind proceeds of policy {policy_id}", debit=codes["wallet"], credit=codes["premium"],
            amount=received, ts=t,
        )
        legs = []
        for r in opened:
            mult = float(r.instrument.get("multiplier", 100.0))
            net = r.filled_quantity - sum(u.filled_quantity for u in unwound if u.leg_index == r.leg_index)
            legs.append({
                "leg": r.leg_index, "side": r.side, "instrument": r.instrument, "client_order_id": r.client_order_id,
                "broker_order_id": r.broker_order_id, "state": r.state, "ordered": r.quantity,
                "filled": r.filled_quantity, "net_contracts": net, "avg_fill_price": r.avg_fill_price,
                "cash": None if r.avg_fill_price is None else float(r.avg_fill_price) * r.filled_quantity * mult,
            })
        execution = {
            "broker": opened[0].broker if opened else None,
            "legs": legs,
            "premium_paid": str(paid),
            "unwind_proceeds": str(received),
            "premium_net_executed": str(paid - received),
            "bound_at": t.isoformat(),
        }
        policy.draft = {**policy.draft, "execution": execution}
        if status in LIVE_STATUSES:
            execution["hedge_ratio_at_bind"] = _hedge_ratio_at_bind(ctx, policy, t)
            policy.draft = {**policy.draft, "execution": execution}
        policy.status = status
        policy.updated_at = t
        if status in LIVE_STATUSES:
            policy.premium_net = paid
            put_rows = [r for r in opened if r.instrument.get("option_type") == "put" and r.side == "buy"]
            call_rows = [r for r in opened if r.instrument.get("option_type") == "call"]
            if put_rows:
                policy.premium_put = _signed_cash(put_rows[:1])
                policy.contracts_put = int(put_rows[0].filled_quantity)
            if call_rows:
                policy.premium_call = -_signed_cash(call_rows[:1])
                policy.contracts_call = int(call_rows[0].filled_quantity)
            policy.start_utc = max(policy.start_utc, t) if policy.start_utc < t else policy.start_utc
        draft_row.status = "bound" if status in LIVE_STATUSES else "failed"
        details: dict[str, Any] = {"status": status, "execution": execution,
                                   "journal_entries": [e for e in (entry_premium, entry_unwind) if e]}
        if failed is not None:
            details["failed_leg"] = {"leg": failed.leg_index, "state": failed.state, "reason": failed.reason}
        _event(session, policy_id, {"active": "bound", "partially_bound": "partially_bound",
                                    "cancelled": "bind_failed"}[status], details, t)
        view = _policy_view(session, policy, ctx, t, with_history=False)
    if status == "cancelled":
        reason = failed.reason if failed is not None else "a leg did not fill"
        detail = (f"bind failed at leg {failed.leg_index if failed else '?'} ({failed.state if failed else ''}: "
                  f"{reason}); filled legs were unwound, nothing is insured (policy {policy_id} cancelled)")
        return BindOutcome(502, {"error": "OrderRejectedError", "detail": detail, "errors": [],
                                 "policy_id": policy_id, "policy": view}, policy_id=policy_id)
    body: dict[str, Any] = {"ok": True, "policy": view}
    if status == "partially_bound":
        body["warning"] = (
            f"only part of the hedge was bought (leg {failed.leg_index if failed else '?'}: "
            f"{failed.reason if failed else 'not filled'}); the policy is partially bound"
        )
    return BindOutcome(201, body, policy_id=policy_id)


def reconcile_binds(ctx: AppContext, *, grace_seconds: float = 300.0) -> dict[str, Any]:
    """Finish binds abandoned mid-way (no retry came within ``grace_seconds``).

    An interrupted bind keeps its Idempotency-Key ``in_progress``; if the client
    never retries, this job resumes it under the same key (orders are found at
    the broker by client order id), so the database, the broker and the ledger
    end up agreeing and a late retry by the client replays the outcome.
    """
    t = now(ctx)
    cutoff = t - dt.timedelta(seconds=grace_seconds)
    with ctx.session() as session:
        rows = session.execute(
            sa.select(IdempotencyKey.user_id, IdempotencyKey.key, QuoteDraft.id)
            .join(QuoteDraft, QuoteDraft.policy_id == IdempotencyKey.policy_id)
            .where(IdempotencyKey.status == "in_progress", IdempotencyKey.scope == "bind",
                   IdempotencyKey.locked_until < cutoff)
        ).all()
    done, failed = [], []
    for user_id, key, draft_id in rows:
        with ctx.session() as session:
            from floorguard.services.users import get_user

            user = get_user(session, user_id)
        try:
            outcome = bind(ctx, user, draft_id, key, wait_seconds=0.0)
            done.append({"draft_id": draft_id, "policy_id": outcome.policy_id, "status_code": outcome.status_code})
        except FloorguardError as exc:
            failed.append({"draft_id": draft_id, "error": exc.message})
    return {"resumed": done, "still_pending": failed}


# =============================================================================== views


def _hedge_ratio_at_bind(ctx: AppContext, policy: InsurancePolicy, t: dt.datetime) -> float | None:
    """Share of the portfolio's index exposure the executed hedge offsets, at the quote's levels.

    ``-hedge delta / (beta * portfolio value / underlying level)``: the
    monitoring job compares later values with it to suggest a roll.
    """
    try:
        draft = _effective_draft(policy)
        rate = float(draft.assumptions.get("rate", ctx.settings.risk_free_rate))
        div = float(draft.assumptions.get("index_dividend_yield", ctx.settings.index_dividend_yield))
        mtm = mark_to_market(draft, t, float(draft.underlying_level), rate, div)
        exposure = float(policy.beta) * float(draft.portfolio_value) / float(draft.underlying_level)
        ratio = -mtm.greeks["delta"] / exposure
    except (FloorguardError, ZeroDivisionError, ValueError):
        return None
    return ratio if math.isfinite(ratio) else None


def _same_leg(a: HedgeLeg, b: HedgeLeg | None) -> bool:
    """Same option position (quotes may hold NaN, so not dataclass equality)."""
    return b is not None and (a.kind, a.side, a.strike, a.expiry) == (b.kind, b.side, b.strike, b.expiry)


def _effective_draft(policy: InsurancePolicy) -> PolicyDraft:
    """The quoted draft with executed contracts and premium (what the policy actually holds)."""
    data = dict(policy.draft)
    draft = PolicyDraft.from_dict({k: v for k, v in data.items() if k not in ("execution", "terms", "positions", "draft_id")})
    execution = data.get("execution") or {}
    by_leg = {int(x["leg"]): x for x in execution.get("legs", [])}
    legs: list[HedgeLeg] = []
    put_leg = call_leg = None
    for i, leg in enumerate(draft.legs):
        x = by_leg.get(i)
        contracts = int(x["net_contracts"]) if x is not None else (leg.contracts if not execution else 0)
        price = float(x["avg_fill_price"]) if x is not None and x.get("avg_fill_price") is not None else leg.price
        new = dataclasses.replace(leg, contracts=contracts, price=price,
                                  premium=price * contracts * leg.multiplier)
        legs.append(new)
        if put_leg is None and _same_leg(leg, draft.put_leg):
            put_leg = new
        if call_leg is None and _same_leg(leg, draft.call_leg):
            call_leg = new
    premium = float(execution.get("premium_net_executed", draft.premium_net)) if execution else draft.premium_net
    return dataclasses.replace(draft, legs=legs, put_leg=put_leg, call_leg=call_leg, premium_net=premium)


def _policy_view(
    session: Session, policy: InsurancePolicy, ctx: AppContext, t: dt.datetime, *, with_history: bool = True
) -> dict[str, Any]:
    floor_value = float(policy.floor_pct) * float(policy.portfolio_value_at_bind)
    latest = session.scalar(
        sa.select(InsurancePolicyNav).where(InsurancePolicyNav.policy_id == policy.id)
        .order_by(InsurancePolicyNav.ts.desc()).limit(1)
    )
    settlement = session.get(PolicySettlement, policy.id)
    out: dict[str, Any] = {
        "id": policy.id,
        "user_id": policy.user_id,
        "portfolio_id": policy.portfolio_id,
        "status": policy.status,
        "strategy": policy.strategy,
        "index_symbol": policy.index_symbol,
        "start_utc": policy.start_utc.isoformat(),
        "end_utc": policy.end_utc.isoformat(),
        "days_remaining": max(0.0, (policy.end_utc - t).total_seconds() / 86400.0),
        "floor_pct": policy.floor_pct,
        "floor_value": floor_value,
        "portfolio_value_at_bind": float(policy.portfolio_value_at_bind),
        "coverage_notional": float(policy.coverage_notional),
        "beta": policy.beta,
        "put_strike": float(policy.put_strike),
        "call_strike": None if policy.call_strike is None else float(policy.call_strike),
        "contracts_put": policy.contracts_put,
        "contracts_call": policy.contracts_call,
        "premium_net": float(policy.premium_net),
        "breach_flag": policy.breach_flag,
        "terms": policy.draft.get("terms", {}),
        "execution": policy.draft.get("execution"),
        "pricing_source": policy.draft.get("pricing_source"),
        "warnings": policy.draft.get("warnings", []),
        "mtm": None,
        "settlement": None,
    }
    if latest is not None:
        out["mtm"] = {
            "ts": latest.ts.isoformat(),
            "portfolio_value": float(latest.portfolio_value),
            "index_level": latest.index_level,
            "hedge_value": float(latest.hedge_value),
            "shortfall": float(latest.shortfall),
            "intrinsic": float(latest.intrinsic_est),
            "floor_gap": float(latest.portfolio_value) - floor_value,
            "pnl": float(latest.hedge_value) - float(policy.premium_net),
            "age_seconds": max(0.0, (t - latest.ts).total_seconds()),
            "note": "latest mark of the monitoring job; hedge valued with the pricing engine (estimate)",
        }
    out["shortfall"] = None if latest is None else float(latest.shortfall)
    if settlement is not None:
        out["settlement"] = {
            "kind": settlement.kind,
            "settled_at": settlement.settled_at.isoformat(),
            "settlement_date": settlement.settlement_date.isoformat(),
            "final_index_level": settlement.final_index_level,
            "final_portfolio_value": float(settlement.final_portfolio_value),
            "shortfall": float(settlement.shortfall),
            "hedge_payoff": float(settlement.hedge_payoff),
            "compensation": float(settlement.compensation),
        }
    if with_history:
        navs = session.scalars(
            sa.select(InsurancePolicyNav).where(InsurancePolicyNav.policy_id == policy.id).order_by(InsurancePolicyNav.ts)
        ).all()
        out["nav_history"] = [
            {"ts": n.ts.isoformat(), "portfolio_value": float(n.portfolio_value), "index_level": n.index_level,
             "hedge_value": float(n.hedge_value), "shortfall": float(n.shortfall), "intrinsic": float(n.intrinsic_est)}
            for n in navs
        ]
        events = session.scalars(
            sa.select(InsurancePolicyEvent).where(InsurancePolicyEvent.policy_id == policy.id)
            .order_by(InsurancePolicyEvent.id)
        ).all()
        out["events"] = [{"id": e.id, "ts": e.ts.isoformat(), "type": e.event_type, "details": e.details} for e in events]
        out["orders"] = [
            {"purpose": o.purpose, "leg": o.leg_index, "client_order_id": o.client_order_id,
             "broker_order_id": o.broker_order_id, "side": o.side, "quantity": o.quantity, "state": o.state,
             "filled_quantity": o.filled_quantity, "avg_fill_price": o.avg_fill_price, "reason": o.reason}
            for o in session.scalars(
                sa.select(BrokerOrderRow).where(BrokerOrderRow.policy_id == policy.id)
                .order_by(BrokerOrderRow.purpose, BrokerOrderRow.leg_index))
        ]
    return out


def get_policy_view(ctx: AppContext, user: Principal, policy_id: int) -> dict[str, Any]:
    """One policy with MTM, shortfall, days remaining, NAV history, events (own policies; admins all)."""
    with ctx.session() as session:
        policy = repo.get_policy(session, policy_id=policy_id, user_id=None if user.is_admin else user.id)
        return _policy_view(session, policy, ctx, now(ctx))


def list_policy_views(
    ctx: AppContext, user: Principal, *, all_users: bool = False, status: str | None = None
) -> list[dict[str, Any]]:
    """The caller's policies (every user's for ``all_users``, admins only)."""
    if all_users and not user.is_admin:
        raise PermissionDeniedError("the all-policies view needs the admin role")
    with ctx.session() as session:
        rows = repo.list_policies(session, user_id=None if all_users else user.id, status=status)
        t = now(ctx)
        return [_policy_view(session, p, ctx, t, with_history=False) for p in rows]


# =============================================================================== market values


def _closes_as_of(
    ctx: AppContext, symbols: Sequence[str], day: dt.date, *, max_age_days: int | None = None
) -> dict[str, tuple[float, dt.date, str]]:
    """Close of each symbol on or before ``day`` (price, date, source); DataError when missing or stale."""
    if not symbols:
        return {}
    market = ctx.market_data()
    try:
        frame = market.price_history(list(symbols), None, day)
    except (SymbolNotFoundError, DataError) as exc:
        raise DataError(f"no prices as of {day.isoformat()}: {exc}") from exc
    limit = ctx.settings.stale_price_days if max_age_days is None else max_age_days
    out: dict[str, tuple[float, dt.date, str]] = {}
    provenance = frame.attrs.get("provenance", {}) if hasattr(frame, "attrs") else {}
    for sym in symbols:
        col = frame[sym].dropna() if sym in frame else None
        if col is None or col.empty:
            raise DataError(f"no close for {sym} on or before {day.isoformat()}")
        when = col.index[-1].date()
        if (day - when).days > limit:
            raise DataError(
                f"the last close of {sym} is from {when.isoformat()}, more than {limit} days before {day.isoformat()}"
            )
        src = (provenance.get(sym) or {}).get("source", "market data") if isinstance(provenance, dict) else "market data"
        out[sym] = (float(col.iloc[-1]), when, str(src))
    return out


def _portfolio_value(ctx: AppContext, positions: Sequence[dict[str, Any]], day: dt.date) -> tuple[float, dict[str, Any]]:
    """Value of the insured positions on ``day``.

    Symbols the market data knows are valued at their close on or before
    ``day`` (prices given with the quote were prices *at the quote*); others
    (private assets) keep the user's price, labelled as held flat; cash is 1.
    """
    market = ctx.market_data()
    known = []
    for p in positions:
        if p.get("asset_type") == "cash":
            continue
        try:
            market.source_of(p["symbol"])
            known.append(p["symbol"])
        except (SymbolNotFoundError, DataError):
            if p.get("price") is None:
                raise DataError(f"cannot value {p['symbol']}: no price and no market data") from None
    closes = _closes_as_of(ctx, known, day)
    total = 0.0
    detail: dict[str, Any] = {}
    for p in positions:
        q = float(p["quantity"])
        if p.get("asset_type") == "cash":
            price, src = 1.0, "cash"
        elif p["symbol"] in closes:
            price, when, source = closes[p["symbol"]]
            src = f"{source} close {when.isoformat()}"
        else:
            price, src = float(p["price"]), "user price held flat (no market data): an estimate"
        total += q * price
        detail[p["symbol"]] = {"price": price, "source": src}
    return total, detail


def _hedged_positions(policy: InsurancePolicy) -> list[dict[str, Any]]:
    positions = list(policy.draft.get("positions") or [])
    if not positions:
        raise DataError(f"policy {policy.id} has no position snapshot to revalue")
    return positions


def _index_level_on(ctx: AppContext, policy: InsurancePolicy, day: dt.date, explicit: dict[str, float] | None) -> tuple[float, str]:
    draft = policy.draft
    underlying = str(draft.get("underlying_symbol") or policy.index_symbol)
    if explicit:
        for key in (underlying, policy.index_symbol):
            if key in explicit:
                level = float(explicit[key])
                if key != underlying:
                    ratio = float((draft.get("contract_spec") or {}).get("index_ratio") or 1.0)
                    level *= ratio
                return level, f"given settlement price for {key}"
    closes = _closes_as_of(ctx, [policy.index_symbol], day)
    price, when, source = closes[policy.index_symbol]
    ratio = float((draft.get("contract_spec") or {}).get("index_ratio") or 1.0)
    return price * ratio, f"{source} close of {policy.index_symbol} on {when.isoformat()} (x{ratio:g} for {underlying})"


# =============================================================================== monitoring


def _notify(ctx: AppContext, payload: dict[str, Any]) -> None:
    url = ctx.settings.webhook_url
    if not url:
        return
    import httpx

    try:
        httpx.post(url, json=_jsonable(payload), timeout=min(5.0, ctx.settings.broker_timeout_seconds))
    except httpx.HTTPError as exc:
        logger.warning("webhook %s failed: %s", url, exc)


def monitor_policy(ctx: AppContext, policy_id: int, *, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Revalue one live policy: NAV snapshot, MTM, breach / near-breach alerts, roll suggestion.

    Returns a summary dict (``alerts`` lists the events raised).
    """
    t = as_of or now(ctx)
    with ctx.session() as session:
        policy = session.get(InsurancePolicy, policy_id)
        if policy is None:
            raise NotFoundError(f"policy {policy_id} not found")
        if policy.status not in LIVE_STATUSES:
            return {"policy_id": policy_id, "skipped": f"status {policy.status}"}
        session.expunge(policy)
    draft = _effective_draft(policy)
    day = t.date()
    pv, pv_detail = _portfolio_value(ctx, _hedged_positions(policy), day)
    level, level_src = _index_level_on(ctx, policy, day, None)
    rate = float(draft.assumptions.get("rate", ctx.settings.risk_free_rate))
    div = float(draft.assumptions.get("index_dividend_yield", ctx.settings.index_dividend_yield))
    mtm = mark_to_market(draft, t, level, rate, div, portfolio_value=pv)
    floor_value = float(policy.floor_pct) * float(policy.portfolio_value_at_bind)
    shortfall = max(0.0, floor_value - pv)
    alerts: list[dict[str, Any]] = []
    beta = float(policy.beta)
    exposure = beta * pv / level if level > 0 else math.nan  # dollars per point of the portfolio
    ratio = -mtm.greeks["delta"] / exposure if exposure and math.isfinite(exposure) else math.nan
    with ctx.session() as session:
        p = session.get(InsurancePolicy, policy_id)
        assert p is not None
        exists = session.scalar(
            sa.select(InsurancePolicyNav.id).where(InsurancePolicyNav.policy_id == policy_id, InsurancePolicyNav.ts == t)
        )
        if exists is None:
            repo.add_policy_nav(session, policy_id=policy_id, ts=t, portfolio_value=round(pv, 6), index_level=level,
                                hedge_value=round(mtm.hedge_value, 6), shortfall=round(shortfall, 6),
                                intrinsic_est=round(mtm.intrinsic, 6))
        last_alert = session.scalar(
            sa.select(InsurancePolicyEvent.event_type).where(
                InsurancePolicyEvent.policy_id == policy_id,
                InsurancePolicyEvent.event_type.in_(("floor_breach", "near_breach", "breach_cleared")),
            ).order_by(InsurancePolicyEvent.id.desc()).limit(1)
        )
        figures = {"portfolio_value": pv, "floor_value": floor_value, "floor_gap": pv - floor_value,
                   "index_level": level, "index_source": level_src, "hedge_value": mtm.hedge_value,
                   "shortfall": shortfall, "as_of": t}
        margin = ctx.settings.near_breach_margin
        if pv < floor_value:
            state = "floor_breach"
        elif pv < floor_value * (1.0 + margin):
            state = "near_breach"
        else:
            state = "breach_cleared" if last_alert in ("floor_breach", "near_breach") else None
        if state is not None and state != last_alert:
            _event(session, policy_id, state, {**figures, "near_breach_margin": margin}, t)
            alerts.append({"type": state, **figures})
        p.breach_flag = bool(p.breach_flag or pv < floor_value)
        execution = dict(p.draft.get("execution") or {})
        ratio_at_bind = execution.get("hedge_ratio_at_bind")
        if ratio_at_bind is None and math.isfinite(ratio):
            execution["hedge_ratio_at_bind"] = ratio
            p.draft = {**p.draft, "execution": execution}
        elif ratio_at_bind is not None and math.isfinite(ratio):
            drift = ratio - float(ratio_at_bind)
            if abs(drift) > ctx.settings.roll_delta_threshold:
                last_roll = session.scalar(
                    sa.select(InsurancePolicyEvent.ts).where(
                        InsurancePolicyEvent.policy_id == policy_id, InsurancePolicyEvent.event_type == "roll_suggested"
                    ).order_by(InsurancePolicyEvent.id.desc()).limit(1)
                )
                if last_roll is None or (t - last_roll) > dt.timedelta(days=1):
                    details = {"hedge_ratio_now": ratio, "hedge_ratio_at_bind": float(ratio_at_bind), "drift": drift,
                               "threshold": ctx.settings.roll_delta_threshold, "hedge_delta": mtm.greeks["delta"],
                               "suggestion": "roll the puts to a strike near the current floor level to restore the hedge ratio"}
                    _event(session, policy_id, "roll_suggested", details, t)
                    alerts.append({"type": "roll_suggested", **details})
        p.updated_at = t
    for alert in alerts:
        _notify(ctx, {"policy_id": policy_id, "user_id": policy.user_id, **alert})
    return {"policy_id": policy_id, "as_of": t.isoformat(), "portfolio_value": pv, "index_level": level,
            "hedge_value": mtm.hedge_value, "shortfall": shortfall, "hedge_ratio": ratio, "alerts": alerts,
            "prices": pv_detail}


def mark_policy(ctx: AppContext, user: Principal, policy_id: int) -> dict[str, Any]:
    """Mark one of the caller's live policies now (a monitoring run for that policy)."""
    with ctx.session() as session:
        policy = repo.get_policy(session, policy_id=policy_id, user_id=None if user.is_admin else user.id)
        status = policy.status
    if status not in LIVE_STATUSES:
        raise ConflictError(f"policy {policy_id} is {status}: only live policies are marked")
    return monitor_policy(ctx, policy_id)


def live_policy_ids(ctx: AppContext) -> list[int]:
    with ctx.session() as session:
        return list(session.scalars(
            sa.select(InsurancePolicy.id).where(InsurancePolicy.status.in_(LIVE_STATUSES)).order_by(InsurancePolicy.id)
        ))


def monitor_all(ctx: AppContext, *, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Monitor every live policy (errors are recorded per policy, never fatal to the run)."""
    results, errors = [], []
    for pid in live_policy_ids(ctx):
        try:
            results.append(monitor_policy(ctx, pid, as_of=as_of))
        except FloorguardError as exc:
            errors.append({"policy_id": pid, "error": exc.message})
    return {"monitored": len(results), "errors": errors, "results": results}


# =============================================================================== settlement


def settle_policy_once(
    ctx: AppContext,
    policy_id: int,
    *,
    as_of: dt.datetime | None = None,
    settlement_prices: dict[str, float] | None = None,
    kind: str = "expiry",
    early_proceeds: float | None = None,
) -> dict[str, Any]:
    """Settle one policy exactly once; returns ``{"settled": bool, ...}``.

    Raises
    ------
    DataError
        No usable settlement level or portfolio prices (the policy stays live).
    """
    t = as_of or now(ctx)
    with ctx.session() as session:
        policy = session.get(InsurancePolicy, policy_id)
        if policy is None:
            raise NotFoundError(f"policy {policy_id} not found")
        if session.get(PolicySettlement, policy_id) is not None or policy.status == "settled":
            return {"policy_id": policy_id, "settled": False, "reason": "already settled"}
        if policy.status not in (*LIVE_STATUSES, "expired"):
            return {"policy_id": policy_id, "settled": False, "reason": f"status {policy.status}"}
        session.expunge(policy)
    draft = _effective_draft(policy)
    day = min(t, policy.end_utc).date() if kind == "expiry" else t.date()
    pv, pv_detail = _portfolio_value(ctx, _hedged_positions(policy), day)
    level, level_src = _index_level_on(ctx, policy, day, settlement_prices)
    terms = SettlementTerms(coverage_ratio=float((policy.draft.get("terms") or {}).get("coverage_ratio") or 1.0))
    result = settle(float(policy.portfolio_value_at_bind), float(policy.floor_pct), draft.legs, pv, level, terms)
    hedge_payoff = result.hedge_payoff
    compensation = result.compensation
    if early_proceeds is not None:  # early trigger: the hedge was sold, its proceeds bound the payout
        hedge_payoff = float(early_proceeds)
        compensation = max(0.0, min(result.covered_shortfall, hedge_payoff))
    comp = _money(compensation)
    _prepare_accounts(ctx, policy.user_id)
    try:
        with ctx.session() as session:
            session.add(PolicySettlement(
                policy_id=policy_id, settled_at=t, settlement_date=day, final_index_level=level,
                final_portfolio_value=_money(pv), shortfall=_money(result.shortfall),
                hedge_payoff=_money(hedge_payoff), compensation=comp, kind=kind,
                figures=_jsonable({**result.to_dict(), "index_source": level_src, "prices": pv_detail,
                                   "hedge_payoff_used": hedge_payoff, "compensation_used": compensation}),
            ))
            session.flush()
            flipped = session.execute(
                sa.update(InsurancePolicy)
                .where(InsurancePolicy.id == policy_id, InsurancePolicy.status.in_((*LIVE_STATUSES, "expired")))
                .values(status="settled", updated_at=t)
            ).rowcount
            if flipped != 1:
                raise ConflictError(f"policy {policy_id} changed state during settlement")
            codes = _ensure_user_accounts(session, policy.user_id)
            entry = _post_cash(
                session, user_id=policy.user_id, policy_id=policy_id, reference=f"payout:policy:{policy_id}",
                description=f"{kind} payout of policy {policy_id}", debit=codes["wallet"], credit=codes["payout"],
                amount=comp, ts=t,
            )
            if entry is not None:
                session.execute(sa.update(PolicySettlement).where(PolicySettlement.policy_id == policy_id)
                                .values(journal_entry_id=entry))
            _event(session, policy_id, "settled", {
                "kind": kind, "settlement_date": day, "final_index_level": level, "index_source": level_src,
                "final_portfolio_value": pv, "floor_value": result.floor_value, "shortfall": result.shortfall,
                "hedge_payoff": hedge_payoff, "compensation": compensation, "legs": result.legs,
                "journal_entry": entry, "terms": result.terms,
            }, t)
    except (IntegrityError, ConflictError):
        return {"policy_id": policy_id, "settled": False, "reason": "already settled (concurrent run)"}
    return {"policy_id": policy_id, "settled": True, "kind": kind, "final_index_level": level,
            "final_portfolio_value": pv, "shortfall": result.shortfall, "hedge_payoff": hedge_payoff,
            "compensation": float(comp)}


def settle_due(
    ctx: AppContext,
    *,
    as_of: dt.datetime | None = None,
    policy_ids: Sequence[int] | None = None,
    settlement_prices: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Settle every live policy whose term has ended by ``as_of`` (or the listed ones, if due).

    Returns counts and per-policy outcomes; a policy without usable prices is
    ``deferred`` (with an event) and stays live.
    """
    t = as_of or now(ctx)
    with ctx.session() as session:
        q = sa.select(InsurancePolicy.id, InsurancePolicy.end_utc, InsurancePolicy.status).order_by(InsurancePolicy.id)
        if policy_ids:
            q = q.where(InsurancePolicy.id.in_(list(policy_ids)))
        else:
            q = q.where(InsurancePolicy.status.in_((*LIVE_STATUSES, "expired")), InsurancePolicy.end_utc <= t)
        rows = session.execute(q).all()
    settled, skipped, deferred = [], [], []
    for pid, end, status in rows:
        if end > t:
            skipped.append({"policy_id": pid, "reason": f"term ends {end.isoformat()}"})
            continue
        try:
            out = settle_policy_once(ctx, pid, as_of=t, settlement_prices=settlement_prices)
        except DataError as exc:
            with ctx.session() as session:
                _event(session, pid, "settlement_deferred", {"reason": exc.message, "as_of": t}, t)
            deferred.append({"policy_id": pid, "reason": exc.message})
            continue
        (settled if out["settled"] else skipped).append(out)
    return {"as_of": t.isoformat(), "settled": settled, "skipped": skipped, "deferred": deferred}


# =============================================================================== claims


def claim(ctx: AppContext, user: Principal, policy_id: int) -> dict[str, Any]:
    """Early-trigger claim: checked against the policy's terms; if met, close the hedge and pay.

    Raises
    ------
    NotFoundError
        Not the caller's policy.
    ConflictError
        The policy has no early trigger, is not live, or the trigger is not met
        (the refusal is recorded as an event with its figures).
    """
    t = now(ctx)
    with ctx.session() as session:
        policy = repo.get_policy(session, policy_id=policy_id, user_id=user.id)
        session.expunge(policy)
    if policy.status not in LIVE_STATUSES:
        raise ConflictError(f"policy {policy_id} is {policy.status}: only live policies can claim")
    terms = policy.draft.get("terms") or {}
    trigger_level = terms.get("early_trigger_index_level")
    if not terms.get("early_trigger_pct") or not trigger_level:
        with ctx.session() as session:
            _event(session, policy_id, "claim_refused", {"reason": "no early-trigger term"}, t)
        raise ConflictError(f"claim refused: policy {policy_id} has no early-trigger term; it settles at expiry")
    closes = _closes_as_of(ctx, [policy.index_symbol], t.date())
    level, when, source = closes[policy.index_symbol]
    if level > float(trigger_level):
        with ctx.session() as session:
            _event(session, policy_id, "claim_refused", {
                "reason": "trigger not met", "index_level": level, "trigger_level": trigger_level,
                "index_source": f"{source} close {when.isoformat()}"}, t)
        raise ConflictError(
            f"claim refused: {policy.index_symbol} at {level:,.2f} ({source} close {when.isoformat()}) is above "
            f"the early-trigger level {float(trigger_level):,.2f}"
        )
    broker = get_broker(ctx)
    draft = _effective_draft(policy)
    current = current_leg_quotes(ctx, draft, t)
    feed = quote_feed(ctx)
    for leg, q in zip(draft.legs, current.quotes, strict=True):
        feed.publish(leg_instrument(draft, leg), q)
    draft_id = str(policy.draft.get("draft_id") or policy_id)
    with ctx.session() as session:
        for i, leg in enumerate(draft.legs):
            if leg.contracts <= 0:
                continue
            coid = _client_order_id(draft_id, "close", i)
            if session.scalar(sa.select(BrokerOrderRow.id).where(BrokerOrderRow.client_order_id == coid)):
                continue
            session.add(BrokerOrderRow(
                policy_id=policy_id, purpose="unwind", leg_index=i, client_order_id=coid, broker=broker.name,
                side="sell" if leg.side == "long" else "buy", instrument=leg_instrument(draft, leg).to_dict(),
                quantity=int(leg.contracts), limit_price=None, state="submitting", created_at=t, updated_at=t,
            ))
        _event(session, policy_id, "claim_accepted", {"index_level": level, "trigger_level": trigger_level,
                                                      "quotes": current.source}, t)
    rows = _run_orders(ctx, broker, policy_id, "unwind")
    closing = [r for r in rows if r.client_order_id.startswith("fc-")]
    if any(r.state != "filled" for r in closing):
        bad = next(r for r in closing if r.state != "filled")
        raise BrokerError(f"claim accepted but closing leg {bad.leg_index} did not fill ({bad.reason}); retry the claim")
    proceeds = -_signed_cash(closing)
    # Like an expiry settlement, the hedge's proceeds back the payout:
    # compensation = min(covered shortfall, proceeds), credited to the wallet.
    out = settle_policy_once(ctx, policy_id, as_of=t, kind="early", early_proceeds=float(proceeds))
    return {"policy_id": policy_id, "claim": "accepted", "hedge_proceeds": float(proceeds), **out}
