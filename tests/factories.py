"""Factories for test data: real domain rows, created through the same tables the app uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Organisation, OrganisationKind, Role, User
from expertloop.accounts.passwords import hash_password
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm import runs as llm_runs
from expertloop.llm.hub import ModelHub
from expertloop.llm.interface import Completion, RunStatus
from expertloop.llm.models import ModelEndpoint
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.projects.models import Project, Staffing, StaffRole
from expertloop.workbench import access as wb_access
from expertloop.workbench import problem_sets as wb_problem_sets
from expertloop.workbench import runs as wb_runs
from expertloop.workbench import steps as wb_steps
from expertloop.workbench.models import ProblemSet, Step, StepRun

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # Argon2 is slow on purpose; hash the shared test password once per run.
    return hash_password(PASSWORD)


def make_org(
    db: Session, kind: OrganisationKind = OrganisationKind.client, name: str | None = None
) -> Organisation:
    """Create an organisation (there is at most one operator organisation)."""
    if kind == OrganisationKind.operator:
        existing = users_uc.operator_organisation(session=db)
        if existing is not None:
            return existing
    return users_uc.create_organisation(session=db, name=name or f"Org {next(_seq)}", kind=kind)


def make_user(
    db: Session,
    role: Role,
    org: Organisation | None = None,
    email: str | None = None,
    name: str | None = None,
) -> User:
    """Create an active user with the shared test password."""
    if org is None:
        kind = OrganisationKind.client if role == Role.client else OrganisationKind.operator
        org = make_org(db, kind)
    n = next(_seq)
    user = User(
        organisation_id=org.id,
        email=email or f"{role.value}{n}@tests.expertloop.org",
        name=name or f"{role.value.title()} {n}",
        role=role,
        password_hash=_password_hash(),
    )
    db.add(user)
    db.flush()
    return user


def make_project(
    db: Session, org: Organisation, actor: User | None = None, name: str | None = None
) -> Project:
    """Create a project for a client organisation."""
    actor = actor or make_user(db, Role.operator)
    return projects_uc.create_project(
        session=db,
        actor=actor,
        organisation_id=org.id,
        name=name or f"Project {next(_seq)}",
        domain="finance",
        guidelines="# Guidelines\n\nBe precise.",
    )


def staff(db: Session, project: Project, user: User, role: StaffRole | None = None) -> Staffing:
    """Staff ``user`` on ``project`` (as an operator would)."""
    operator = make_user(db, Role.operator)
    if role is None:
        role = StaffRole.reviewer if user.role == Role.reviewer else StaffRole.expert
    return projects_uc.staff_user(
        session=db, actor=operator, project=project, user_id=user.id, role=role
    )


@dataclass
class World:
    """Two client organisations, the operator, and experts staffed on A's project only."""

    operator: User
    org_a: Organisation
    org_b: Organisation
    client_a: User
    client_b: User
    expert_a: User
    expert_b: User
    reviewer_a: User
    project_a: Project
    project_b: Project


def make_world(db: Session) -> World:
    """Build the two-tenant world used by isolation tests."""
    operator = make_user(db, Role.operator)
    org_a, org_b = make_org(db, name="Tenant A"), make_org(db, name="Tenant B")
    client_a, client_b = make_user(db, Role.client, org_a), make_user(db, Role.client, org_b)
    expert_a, expert_b = make_user(db, Role.expert), make_user(db, Role.expert)
    reviewer_a = make_user(db, Role.reviewer)
    project_a = make_project(db, org_a, operator, "A's confidential project")
    project_b = make_project(db, org_b, operator, "B's confidential project")
    staff(db, project_a, expert_a)
    staff(db, project_a, reviewer_a)
    staff(db, project_b, expert_b)
    return World(
        operator,
        org_a,
        org_b,
        client_a,
        client_b,
        expert_a,
        expert_b,
        reviewer_a,
        project_a,
        project_b,
    )


# --- Workbench ---------------------------------------------------------------------------------


def scripted_target(
    db: Session,
    hub: ModelHub,
    project: Project,
    *,
    answers: dict[str, str] | None = None,
    name: str | None = None,
    organisation_id: int | None = None,
) -> ModelEndpoint:
    """Add a scripted (deterministic) model and make it one more target of ``project``.

    ``answers`` maps a substring of the last user message to the answer given.
    """
    operator = make_user(db, Role.operator)
    n = next(_seq)
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=operator,
        box=hub.box,
        policy=hub.runtime.policy,
        name=name or f"Scripted {n}",
        provider="scripted",
        model_id=f"scripted-{n}",
        options={"answers": answers or {}},
        organisation_id=organisation_id,
    )
    current = [e.id for e in targets.list_targets(session=db, actor=operator, project=project)]
    targets.set_targets(
        session=db, actor=operator, project=project, endpoint_ids=[*current, endpoint.id]
    )
    return endpoint


def make_problem_set(
    db: Session, project: Project, author: User, title: str | None = None, **fields: Any
) -> ProblemSet:
    """Create a problem set on ``project`` written by ``author`` (who must be staffed)."""
    access = wb_access.project_access(session=db, actor=author, project_id=project.id)
    return wb_problem_sets.create(
        session=db, access=access, title=title or f"Problem set {next(_seq)}", **fields
    )


def make_step(
    db: Session,
    problem_set: ProblemSet,
    author: User,
    *,
    prompt: str = "",
    rubric: list[str] | None = None,
    title: str = "",
    chain: bool = False,
    parent_id: int | None = None,
) -> Step:
    """Add a step (a prompt cuts revision 1 at once)."""
    loaded = wb_access.problem_set(session=db, actor=author, problem_set_id=problem_set.id)
    return wb_steps.add(
        session=db,
        loaded=loaded,
        title=title or f"Step {next(_seq)}",
        prompt=prompt,
        rubric=rubric,
        chain=chain,
        parent_id=parent_id,
    )


def make_step_run(
    db: Session, step: Step, author: User, endpoint: ModelEndpoint, answer: str
) -> StepRun:
    """Record a finished run of the step's newest revision answering ``answer`` (no model call)."""
    loaded = wb_access.problem_set(session=db, actor=author, problem_set_id=step.problem_set_id)
    revision = wb_steps.revisions_of(session=db, step_id=step.id)[-1]
    step_run, run, _endpoint = wb_runs.start(
        session=db, loaded=loaded, step=step, revision=revision, endpoint_id=endpoint.id
    )
    llm_runs.finish_run(
        session=db, run_id=run.id, completion=Completion(text=answer, status=RunStatus.ok)
    )
    return step_run
