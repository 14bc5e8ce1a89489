"""The caller's own account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from floorguard.api.deps import UserDep
from floorguard.api.schemas import UserOut

router = APIRouter(prefix="/api", tags=["accounts"])


@router.get("/me", response_model=UserOut, summary="Who am I (role and approved strategy level)")
def me(user: UserDep) -> dict[str, Any]:
    return user.to_dict()
