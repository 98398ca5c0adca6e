"""Factories for test data: real domain rows, created through the same tables the app uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Organisation, OrganisationKind, Role, User
from expertloop.accounts.passwords import hash_password
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project, Staffing, StaffRole

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
