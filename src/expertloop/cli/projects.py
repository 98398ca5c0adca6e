"""``expertloop projects``: list projects and staff experts and reviewers on them."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.cli.common import console, db_session, fail
from expertloop.experts.pipeline import check_staffable
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project, StaffRole

app = typer.Typer(help="Projects and their staffing.", no_args_is_help=True)


def _operator(session: Session, email: str) -> User:
    """The operator the command acts as (audited): the one named, else the first active one."""
    if email:
        user = users_uc.find_by_email(session=session, email=email)
        if user is None or user.role != Role.operator or not user.is_active:
            raise fail(f"{email} is not an active operator.")
        return user
    user = session.scalar(
        select(User).where(User.role == Role.operator, User.is_active.is_(True)).order_by(User.id)
    )
    if user is None:
        raise fail("No active operator exists; create one with `expertloop users create`.")
    return user


def _project(session: Session, actor: User, project_id: int) -> Project:
    return projects_uc.get_project(session=session, project_id=project_id, actor=actor)


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    limit: int = typer.Option(200, min=1, max=10_000),
) -> None:
    """List projects."""
    with db_session() as session:
        actor = _operator(session, "")
        rows, total = projects_uc.list_projects(session=session, actor=actor, limit=limit)
        if as_json:
            items = [
                {
                    "id": p.id,
                    "name": p.name,
                    "domain": p.domain,
                    "organisation_id": p.organisation_id,
                }
                for p in rows
            ]
            typer.echo(json.dumps(items, indent=2))
            return
        table = Table(title=f"Projects ({len(rows)} of {total})")
        for col in ("id", "name", "domain", "organisation"):
            table.add_column(col)
        for p in rows:
            table.add_row(str(p.id), p.name, p.domain, str(p.organisation_id))
        console.print(table)


@app.command("staff")
def staff(
    project_id: int = typer.Option(..., "--project", help="Project id."),
    email: str = typer.Option(..., help="The expert's or reviewer's login email."),
    role: StaffRole | None = typer.Option(
        None,
        help=(
            "expert (the default for someone new), reviewer, or lead (a reviewer who also "
            "approves the project's time). For someone already on the project: their new role."
        ),
    ),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Staff an expert, reviewer or lead on a project (or change the role of someone on it)."""
    with db_session() as session:
        actor = _operator(session, operator)
        project = _project(session, actor, project_id)
        user = users_uc.find_by_email(session=session, email=email)
        if user is None:
            raise fail(f"No user with email {email}.")
        current = projects_uc.staff_role(session, project.id, user.id)
        if current is not None and role is not None and current != role:
            projects_uc.change_staff_role(
                session=session, actor=actor, project=project, user_id=user.id, role=role
            )
            console.print(
                f"[green]Changed[/] {user.email} on {project.name} from {current.value} "
                f"to {role.value}."
            )
            return
        role = role or StaffRole.expert
        check_staffable(session, user.id, project.id)
        projects_uc.staff_user(
            session=session, actor=actor, project=project, user_id=user.id, role=role
        )
        console.print(f"[green]Staffed[/] {user.email} as {role.value} on {project.name}.")


@app.command("unstaff")
def unstaff(
    project_id: int = typer.Option(..., "--project", help="Project id."),
    email: str = typer.Option(..., help="The staffed user's login email."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Remove a user from a project."""
    with db_session() as session:
        actor = _operator(session, operator)
        project = _project(session, actor, project_id)
        user = users_uc.find_by_email(session=session, email=email)
        if user is None:
            raise fail(f"No user with email {email}.")
        projects_uc.unstaff_user(session=session, actor=actor, project=project, user_id=user.id)
        console.print(f"Removed {user.email} from {project.name}.")
