"""Administration: users, strategy approvals, the ledger's trial balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from floorguard.api.deps import AdminDep, CtxDep
from floorguard.api.schemas import StrategyLevelIn, UserCreate, UserCreated, UserOut
from floorguard.persistence import repositories as repo
from floorguard.services import users as user_svc

router = APIRouter(prefix="/api/admin", tags=["admin"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/users", response_model=UserCreated, status_code=201, summary="Create a user (token shown once)")
def create_user(body: UserCreate, ctx: CtxDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.session() as session:
        created = user_svc.create_user(
            session,
            name=body.name,
            secret_key=ctx.settings.secret_key or "",
            role=body.role,
            strategy_level=body.strategy_level,
        )
    return created.to_dict()


@router.get("/users", response_model=list[UserOut], summary="List users")
def list_users(ctx: CtxDep, admin: AdminDep) -> list[dict[str, Any]]:
    with ctx.session() as session:
        return [u.to_dict() for u in user_svc.list_users(session)]


@router.put("/users/{user_id}/strategy-level", response_model=UserOut, summary="Approve a strategy level")
def set_level(user_id: UserId, body: StrategyLevelIn, ctx: CtxDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.session() as session:
        out = user_svc.set_strategy_level(session, user_id, body.strategy_level).to_dict()
    user_svc.forget_principals(ctx)  # this process sees the new level at once (others within auth_cache_seconds)
    return out


@router.get("/ledger/trial-balance", summary="Balance of every ledger account (sums to zero)")
def trial_balance(ctx: CtxDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.session() as session:
        balances = repo.trial_balance(session)
    total = sum(balances.values())
    return {"accounts": {k: str(v) for k, v in balances.items()}, "total": str(total), "balanced": total == 0}
