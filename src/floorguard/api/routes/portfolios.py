"""Portfolios of the caller: create, list, read, replace, delete, CSV/JSON upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from floorguard.api.deps import CtxDep, UserDep
from floorguard.api.schemas import PortfolioIn, PortfolioOut, PortfolioSummaryOut, PortfolioUpdate
from floorguard.exceptions import ValidationError
from floorguard.services import user_portfolios as svc

router = APIRouter(prefix="/api/portfolios", tags=["portfolios"])

PortfolioId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Portfolio id")]


@router.get("", response_model=list[PortfolioSummaryOut], summary="List my portfolios")
def list_portfolios(ctx: CtxDep, user: UserDep) -> list[dict[str, Any]]:
    return [p.to_dict() for p in svc.list_portfolios(ctx, user)]


@router.post("", response_model=PortfolioOut, status_code=201, summary="Create a portfolio from positions")
def create_portfolio(body: PortfolioIn, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    portfolio = svc.portfolio_from_positions(body.name, [p.model_dump() for p in body.positions], body.currency)
    return svc.create_portfolio(ctx, user, portfolio, replace=body.replace).to_dict()


@router.post(
    "/upload",
    response_model=PortfolioOut,
    status_code=201,
    summary="Upload a CSV or JSON portfolio file (all rows valid, or nothing stored)",
)
async def upload_portfolio(
    ctx: CtxDep,
    user: UserDep,
    file: Annotated[UploadFile, File(description="symbol,quantity[,price,asset_type,beta,sector]")],
    name: Annotated[str | None, Form(max_length=120)] = None,
    replace: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    raw = await file.read()
    filename = file.filename or "portfolio.csv"
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in ("csv", "json"):
        ctype = (file.content_type or "").lower()
        suffix = "json" if "json" in ctype else "csv"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError.for_field("file", "is not UTF-8 text") from None
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    from starlette.concurrency import run_in_threadpool

    portfolio = await run_in_threadpool(
        svc.import_portfolio_text, ctx, user, text, suffix, name=(name or stem or "portfolio"), replace=replace
    )
    return portfolio.to_dict()


@router.get("/{portfolio_id}", response_model=PortfolioOut, summary="Read one of my portfolios")
def get_portfolio(portfolio_id: PortfolioId, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return svc.get_portfolio(ctx, user, portfolio_id).to_dict()


@router.put("/{portfolio_id}", response_model=PortfolioOut, summary="Replace the positions of a portfolio")
def update_portfolio(portfolio_id: PortfolioId, body: PortfolioUpdate, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    positions = [p.model_dump() for p in body.positions]
    return svc.replace_positions(ctx, user, portfolio_id, positions, name=body.name).to_dict()


@router.delete("/{portfolio_id}", status_code=204, summary="Delete a portfolio", response_class=Response)
def delete_portfolio(portfolio_id: PortfolioId, ctx: CtxDep, user: UserDep) -> Response:
    svc.delete_portfolio(ctx, user, portfolio_id)
    return Response(status_code=204)
