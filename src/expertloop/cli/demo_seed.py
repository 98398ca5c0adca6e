"""Seed a demo instance: an operator, a client organisation with a client user, experts,
a reviewer, the bundled local model and a staffed project that targets it. Idempotent: an
instance that has users is left alone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import OrganisationKind, Role, User
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import ModelHub
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.projects.models import StaffRole


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    name: str
    email: str
    password: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(
        Role.operator, "Olivia Operator", "operator@demo.expertloop.org", "operator-demo-pass"
    ),
    DemoLogin(Role.client, "Chris Client", "client@northwind.example.com", "client-demo-pass"),
    DemoLogin(Role.expert, "Dr. Amira Haddad", "amira@experts.expertloop.org", "expert-demo-pass"),
    DemoLogin(
        Role.expert, "Kenji Watanabe, CFA", "kenji@experts.expertloop.org", "expert-demo-pass"
    ),
    DemoLogin(Role.reviewer, "Rosa Reviewer", "rosa@experts.expertloop.org", "reviewer-demo-pass"),
)

GUIDELINES = """\
# Finance agent evaluation — guidelines

You are probing an AI agent that helps a **business-unit controller**. Write problems a real
finance team meets: tracking expenses, forecasting growth, drafting next year's budget.

## What a good problem looks like
- Real figures (tables in Markdown are fine) and a concrete decision to make.
- Steps small enough that one model answer can be checked against a rubric.

## Marking errors
| category | example |
|---|---|
| calculation error | growth rate computed on the wrong base |
| invented data | a cost line that is not in the context |

Never paste client confidential data into other tools.
"""


def seed_demo(*, session: Session, hub: ModelHub) -> bool:
    """Create the demo data; return False when the instance already has users."""
    if session.scalar(select(func.count()).select_from(User)):
        return False
    ops = users_uc.create_organisation(
        session=session, name="ExpertLoop Operations", kind=OrganisationKind.operator
    )
    client_org = users_uc.create_organisation(
        session=session, name="Northwind Analytics", kind=OrganisationKind.client
    )
    users: dict[str, User] = {}
    for login in DEMO_LOGINS:
        org = client_org if login.role == Role.client else ops
        users[login.email] = users_uc.create_user(
            session=session,
            organisation=org,
            email=login.email,
            name=login.name,
            role=login.role,
            password=login.password,
        )
    operator = users[DEMO_LOGINS[0].email]
    project = projects_uc.create_project(
        session=session,
        actor=operator,
        organisation_id=client_org.id,
        name="Finance agent evaluation",
        domain="finance",
        description="Probe Northwind's finance assistant on budgeting and forecasting tasks.",
        guidelines=GUIDELINES,
    )
    local = endpoints_uc.add_endpoint(
        session=session,
        actor=None,
        box=hub.box,
        policy=hub.runtime.policy,
        name="SmolLM2 135M (local)",
        provider="local",
        model_id="SmolLM2-135M-Instruct",
        defaults={"temperature": 0.2, "max_tokens": 256, "seed": 42},
    )
    targets.set_targets(session=session, actor=operator, project=project, endpoint_ids=[local.id])
    for login in DEMO_LOGINS[2:]:
        role = StaffRole.reviewer if login.role == Role.reviewer else StaffRole.expert
        projects_uc.staff_user(
            session=session,
            actor=operator,
            project=project,
            user_id=users[login.email].id,
            role=role,
        )
    return True
