"""``expertloop experts list`` and ``experts decide``: the vetting pipeline in a shell."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from expertloop.cli.common import console, db_session, fail
from expertloop.cli.projects import _operator
from expertloop.experts import vetting
from expertloop.experts.models import VettingState
from expertloop.experts.pipeline import check_staffable
from expertloop.experts.schemas import CandidateOut
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import StaffRole

# Words an operator types for the two usual decisions, beside the states' own names.
DECISIONS = {"approve": VettingState.approved, "reject": VettingState.rejected}


def list_cmd(
    state: VettingState | None = typer.Option(None, help="Only candidates in this state."),
    domain: str = typer.Option("", help="Only candidates vetted in this domain (taxonomy key)."),
    search: str = typer.Option("", "--search", "-q", help="Part of a name or email."),
    limit: int = typer.Option(50, min=1, max=vetting.MAX_LIMIT),
    offset: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List candidates in the vetting pipeline, latest move first."""
    with db_session() as session:
        actor = _operator(session, operator)
        page = vetting.list_candidates(
            session,
            actor=actor,
            state=state,
            domain=domain or None,
            search=search,
            limit=limit,
            offset=offset,
        )
        if as_json:
            items = [CandidateOut.model_validate(c).model_dump(mode="json") for c in page.items]
            body = {"items": items, "total": page.total, "limit": limit, "offset": offset}
            typer.echo(json.dumps(body, indent=2))
            return
        if not page.items:
            console.print("No candidates." if not (state or domain or search) else "No match.")
            return
        table = Table(title=f"Candidates ({len(page.items)} of {page.total})")
        for col in ("id", "name", "email", "domain", "state", "since", "version"):
            table.add_column(col, overflow="fold")
        for c in page.items:
            table.add_row(
                str(c.id),
                Text(c.name),  # the candidate's own text: no Rich markup from it
                Text(c.email),
                c.domain or "—",
                vetting.label(c.state),
                c.state_changed_at.strftime("%Y-%m-%d %H:%M"),
                str(c.version),
            )
        console.print(table)


def decide_cmd(
    candidate_id: int = typer.Argument(..., help="The candidate's id (see `experts list`)."),
    decision: str = typer.Argument(
        ..., help="approve, reject, or the state to move to (assessment, interview, …)."
    ),
    reason: str = typer.Option(..., help="Why (required; a rejected candidate reads it)."),
    project: int | None = typer.Option(
        None, help="For work_sample: the vetting project to staff the candidate on."
    ),
    version: int | None = typer.Option(
        None, help="The version you decided on (refused when someone decided meanwhile)."
    ),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Decide on a candidate: move them to the next state, with a reason."""
    word = decision.strip().lower().replace(" ", "_").replace("-", "_")
    to = DECISIONS.get(word)
    if to is None:
        try:
            to = VettingState(word)
        except ValueError:
            choices = ", ".join([*DECISIONS, *(s.value for s in VettingState)])
            raise fail(f"Unknown decision {decision!r}; choose one of: {choices}.") from None
    if to == VettingState.work_sample and project is None:
        raise fail("A work sample needs --project (the vetting project).")
    with db_session() as session:
        actor = _operator(session, operator)
        candidate = vetting.get_candidate(session, actor=actor, candidate_id=candidate_id)
        staffed = None
        if to == VettingState.work_sample:
            assert project is not None
            target = projects_uc.get_project(session=session, project_id=project, actor=actor)
            vetting.decide(
                session, actor=actor, candidate_id=candidate.id, to=to, reason=reason,
                version=version, work_sample_project_id=target.id,
            )  # fmt: skip
            assert candidate.user_id is not None
            check_staffable(session, candidate.user_id, target.id)
            if not projects_uc.has_staffing(session, target.id, candidate.user_id):
                projects_uc.staff_user(
                    session=session,
                    actor=actor,
                    project=target,
                    user_id=candidate.user_id,
                    role=StaffRole.expert,
                )
            staffed = target.name
        else:
            vetting.decide(
                session, actor=actor, candidate_id=candidate.id, to=to, reason=reason,
                version=version,
            )  # fmt: skip
        who = Text(candidate.name or candidate.email)
        line = Text.assemble("Moved ", who, f" to {vetting.label(to)}.")
        if staffed is not None:
            line.append(" Staffed on ")
            line.append(staffed)
            line.append(" for the work sample.")
        console.print(line)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``experts`` group."""
    app.command("list")(list_cmd)
    app.command("decide")(decide_cmd)
