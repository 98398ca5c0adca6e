"""``expertloop users``: create and list accounts."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Organisation, OrganisationKind, Role
from expertloop.cli.common import console, db_session, fail

app = typer.Typer(help="User accounts.", no_args_is_help=True)


@app.command("create")
def create(
    email: str = typer.Option(..., help="Login email."),
    name: str = typer.Option(..., help="Display name."),
    role: Role = typer.Option(..., help="operator, client, expert or reviewer."),
    organisation: str = typer.Option(
        "", help="Organisation slug or name; created if missing. Default: the operator's."
    ),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters."
    ),
) -> None:
    """Create a user (and their organisation if it does not exist yet)."""
    with db_session() as session:
        org: Organisation | None
        if organisation:
            org = users_uc.find_organisation(session=session, slug_or_name=organisation)
            if org is None:
                kind = OrganisationKind.client if role == Role.client else OrganisationKind.operator
                org = users_uc.create_organisation(session=session, name=organisation, kind=kind)
        else:
            org = users_uc.operator_organisation(session=session)
            if org is None:
                if role == Role.client:
                    raise fail("A client needs --organisation (the client organisation's name).")
                org = users_uc.create_organisation(
                    session=session, name="Operations", kind=OrganisationKind.operator
                )
        user = users_uc.create_user(
            session=session, organisation=org, email=email, name=name, role=role, password=password
        )
        console.print(f"[green]Created[/] {user.email} ({user.role.value}) in {org.name}.")


@app.command("list")
def list_cmd(
    role: Role | None = typer.Option(None, help="Only this role."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    limit: int = typer.Option(200, min=1, max=10_000),
) -> None:
    """List users."""
    with db_session() as session:
        rows, total = users_uc.list_users(session=session, actor=None, role=role, limit=limit)
        orgs = {o.id: o.name for o in users_uc.list_organisations_all(session=session)}
        if as_json:
            items = [
                {
                    "id": u.id,
                    "email": u.email,
                    "name": u.name,
                    "role": u.role.value,
                    "organisation": orgs.get(u.organisation_id),
                    "is_active": u.is_active,
                }
                for u in rows
            ]
            typer.echo(json.dumps(items, indent=2))
            return
        table = Table(title=f"Users ({len(rows)} of {total})")
        for col in ("id", "email", "name", "role", "organisation", "active"):
            table.add_column(col)
        for u in rows:
            table.add_row(
                str(u.id),
                u.email,
                u.name,
                u.role.value,
                orgs.get(u.organisation_id, ""),
                "yes" if u.is_active else "no",
            )
        console.print(table)
