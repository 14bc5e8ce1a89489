"""``floorguard user``: create users and API tokens, approve strategy levels."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from floorguard.cli._common import JsonOpt, console, emit

__all__ = ["register"]


def _ctx() -> Any:
    from floorguard.config import get_settings
    from floorguard.services.context import AppContext

    return AppContext(get_settings())


def _render_created(data: dict[str, Any]) -> None:
    console.print(f"created {data['role']} [bold]{data['name']}[/bold] (id {data['id']}, "
                  f"strategy level {data['strategy_level']}: {data['strategy_level_allows']})")
    console.print(f"API token (shown once, store it now): [bold]{data['token']}[/bold]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``user`` command group."""
    users = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)

    @users.command("create")
    def create(
        name: Annotated[str, typer.Option("--name", help="Unique user name.")],
        admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
        strategy_level: Annotated[
            int,
            typer.Option("--strategy-level", min=0, max=3,
                         help="0 none, 1 puts+collars (default), 2 + put spreads, 3 + ratio/tail."),
        ] = 1,
        as_json: JsonOpt = False,
    ) -> None:
        """Create a user and print its API token (shown once; only a hash is stored)."""
        from floorguard.services.users import create_user

        with _ctx() as ctx:
            with ctx.session() as session:
                created = create_user(
                    session,
                    name=name,
                    secret_key=ctx.settings.secret_key or "",
                    role="admin" if admin else "investor",
                    strategy_level=strategy_level,
                )
        emit(created.to_dict(), as_json, _render_created)

    @users.command("token")
    def token(
        name: Annotated[str, typer.Option("--name", help="Existing user name.")],
        revoke_others: Annotated[bool, typer.Option("--revoke-others", help="Revoke the user's other tokens.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Issue a new API token for an existing user."""
        from floorguard.persistence.repositories import get_user_by_name
        from floorguard.services.users import issue_token, revoke_tokens

        with _ctx() as ctx:
            with ctx.session() as session:
                user = get_user_by_name(session, name=name)
                revoked = revoke_tokens(session, user.id) if revoke_others else 0
                clear = issue_token(session, user.id, ctx.settings.secret_key or "", label="issued by the CLI")
        emit({"id": user.id, "name": name, "token": clear, "revoked": revoked}, as_json,
             lambda d: console.print(f"new token for {name} (shown once): [bold]{d['token']}[/bold]", soft_wrap=True))

    @users.command("list")
    def list_(as_json: JsonOpt = False) -> None:
        """List users with their role and strategy level."""
        from floorguard.services.users import list_users

        with _ctx() as ctx:
            with ctx.session() as session:
                rows = [u.to_dict() for u in list_users(session)]

        def render(data: list[dict[str, Any]]) -> None:
            from rich.table import Table

            table = Table("id", "name", "role", "level", "allows")
            for r in data:
                table.add_row(str(r["id"]), r["name"], r["role"], str(r["strategy_level"]), r["strategy_level_allows"])
            console.print(table)

        emit(rows, as_json, render)

    @users.command("approve")
    def approve(
        name: Annotated[str, typer.Option("--name", help="Existing user name.")],
        strategy_level: Annotated[int, typer.Option("--strategy-level", min=0, max=3)],
        as_json: JsonOpt = False,
    ) -> None:
        """Set a user's approved strategy level (suitability)."""
        from floorguard.persistence.repositories import get_user_by_name
        from floorguard.services.users import set_strategy_level

        with _ctx() as ctx:
            with ctx.session() as session:
                user = get_user_by_name(session, name=name)
                out = set_strategy_level(session, user.id, strategy_level).to_dict()
        emit(out, as_json, lambda d: console.print(f"{d['name']}: level {d['strategy_level']} ({d['strategy_level_allows']})"))

    app.add_typer(users, name="user")
