"""A project lead's view of their team's work in progress, per project and per expert.

A lead is a reviewer staffed on a project as ``lead`` (the account must still be a reviewer: a
staffing outlives a change of role). Leads review every problem set of their projects, so the
view may name and link each of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.projects.models import Project, Staffing, StaffRole
from expertloop.projects.projects import nda_cleared
from expertloop.workbench.models import Heartbeat, ProblemSet, Status

# How a problem set's status counts on the team view.
BUCKETS: dict[Status, str] = {
    Status.draft: "in_progress",
    Status.in_progress: "in_progress",
    Status.submitted: "submitted",
    Status.in_review: "submitted",
    Status.returned: "returned",
    Status.accepted: "accepted",
}
# The open problem sets listed under each expert, returned work first.
OPEN_ORDER = (Status.returned, Status.in_progress, Status.draft, Status.submitted, Status.in_review)
OPEN_LISTED = 5


@dataclass(frozen=True)
class OpenProblemSet:
    """A problem set of the team that is not accepted yet."""

    id: int
    title: str
    status: Status
    updated_at: dt.datetime


@dataclass
class MemberWork:
    """One expert's problem sets on one project, counted by where they stand."""

    user_id: int
    name: str
    staff_role: str | None  # None: an author no longer staffed on the project
    in_progress: int = 0
    submitted: int = 0
    returned: int = 0
    accepted: int = 0
    last_activity: dt.datetime | None = None
    open_problem_sets: list[OpenProblemSet] = field(default_factory=list)
    more_open: int = 0


@dataclass(frozen=True)
class TeamProject:
    """A project the actor leads and its team's work."""

    project_id: int
    project_name: str
    members: list[MemberWork]


def led_projects(*, session: Session, actor: User) -> list[Project]:
    """Return the projects the actor leads, by name."""
    if actor.role != Role.reviewer or not actor.is_active:
        return []
    return list(
        session.scalars(
            select(Project)
            .join(Staffing, Staffing.project_id == Project.id)
            .where(Staffing.user_id == actor.id, Staffing.role == StaffRole.lead, nda_cleared())
            .order_by(Project.name, Project.id)
        )
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # Aggregates (max) come back without the column type's conversion on some backends.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def team_work(*, session: Session, actor: User) -> list[TeamProject]:
    """Return, per project the actor leads, each expert's problem sets by status and their
    last activity (newest heartbeat, else newest change to a problem set)."""
    projects = led_projects(session=session, actor=actor)
    if not projects:
        return []
    ids = [p.id for p in projects]
    members: dict[tuple[int, int], MemberWork] = {}
    for staffing, person in session.execute(
        select(Staffing, User)
        .join(User, User.id == Staffing.user_id)
        .where(Staffing.project_id.in_(ids), Staffing.role == StaffRole.expert, nda_cleared())
    ):
        members[(staffing.project_id, person.id)] = MemberWork(
            person.id, person.name, staffing.role.value
        )
    sets = session.execute(
        select(ProblemSet, User.name)
        .join(User, User.id == ProblemSet.author_id)
        .where(ProblemSet.project_id.in_(ids))
        .order_by(ProblemSet.updated_at.desc(), ProblemSet.id.desc())
    ).all()
    for ps, name in sets:
        key = (ps.project_id, ps.author_id)
        member = members.get(key)
        if member is None:  # a reviewer who writes, or an expert unstaffed since
            member = members[key] = MemberWork(ps.author_id, name, None)
        bucket = BUCKETS[ps.status]
        setattr(member, bucket, getattr(member, bucket) + 1)
        updated = _aware(ps.updated_at)
        if member.last_activity is None or (updated and updated > member.last_activity):
            member.last_activity = updated
        if ps.status != Status.accepted:
            member.open_problem_sets.append(
                OpenProblemSet(ps.id, ps.title, ps.status, ps.updated_at)
            )
    for project_id, user_id, at in session.execute(
        select(Heartbeat.project_id, Heartbeat.user_id, func.max(Heartbeat.at))
        .where(Heartbeat.project_id.in_(ids))
        .group_by(Heartbeat.project_id, Heartbeat.user_id)
    ):
        member = members.get((project_id, user_id))
        beat = _aware(at)
        if (
            member is not None
            and beat is not None
            and (member.last_activity is None or beat > member.last_activity)
        ):
            member.last_activity = beat
    for member in members.values():
        member.open_problem_sets.sort(key=lambda p: OPEN_ORDER.index(p.status))
        member.more_open = max(0, len(member.open_problem_sets) - OPEN_LISTED)
        del member.open_problem_sets[OPEN_LISTED:]
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    result = []
    for project in projects:
        team = [m for (pid, _uid), m in members.items() if pid == project.id]
        team.sort(key=lambda m: (-(m.last_activity or never).timestamp(), m.name.lower()))
        result.append(TeamProject(project.id, project.name, team))
    return result
