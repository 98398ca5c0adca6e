"""Seed a demo instance: an operator, a client organisation with a client user, experts,
a reviewer, the bundled local model and a staffed project that targets it, a half-done
problem set of the demo expert (the Northwind retail unit's expenses, growth forecast and budget)
for a newcomer to continue at once, and a second expert's accepted problem set (``demo_accepted``)
so the client can build and download a dataset at once.

Idempotent: accounts, project and model are created only on an instance without users; the
problem set only when the demo expert has none on the demo project yet. The problem set goes
through the workbench's own use cases (so the audit trail is the one real work leaves); its two
model runs are stored sample answers, written through ``llm.runs`` without calling the model, so
seeding is fast and deterministic. The data and every reference figure are in ``demo_data``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import OrganisationKind, Role, User
from expertloop.cli.demo_accepted import seed_accepted
from expertloop.cli.demo_data import PROBLEM_SET_TITLE, STATEMENT, context_text, demo_problem
from expertloop.cli.demo_network import seed_network
from expertloop.cli.demo_work import PROJECT_NAME, demo_project, span, stored_run
from expertloop.errors import NotFound
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import ModelHub
from expertloop.payments import bonuses as pay_bonuses
from expertloop.payments import rates as pay_rates
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.projects.models import StaffRole
from expertloop.settings import Settings
from expertloop.workbench import assess, problem_sets, steps, taxonomy
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import ProblemSet, Step
from expertloop.workbench.progress import latest_revisions


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    name: str
    email: str
    password: str


# Demo pay: base hourly rates (minor units) from the start of the year; the project caps a
# week at 20 hours, bills the client a 25 % margin and pays USD 50 per accepted problem set.
DEMO_HOURLY_MINOR = {Role.expert: 185_00, Role.reviewer: 220_00}
DEMO_RATES_FROM = dt.date(2026, 1, 1)

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

DEMO_EXPERT = "amira@experts.expertloop.org"


def seed_demo(*, session: Session, hub: ModelHub, settings: Settings | None = None) -> bool:
    """Create what the demo lacks; return False when everything was already there.

    Accounts, project and model come only on an instance without users; each sample problem set
    only when its expert has none on the demo project yet (so a rerun never duplicates it and
    never touches the expert's own work). With ``settings`` (the data directory its invitation
    mail goes to), the expert network too, once (``demo_network``).
    """
    created = False
    if not session.scalar(select(func.count()).select_from(User)):
        _seed_accounts(session=session, hub=hub)
        created = True
    half_done = seed_problem_set(session=session)
    accepted = seed_accepted(session=session)
    network = False
    project = demo_project(session=session)
    if settings is not None and project is not None:
        network = seed_network(session=session, settings=settings, project=project)
    return created or half_done or accepted or network


def _seed_accounts(*, session: Session, hub: ModelHub) -> None:
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
        name=PROJECT_NAME,
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
        # The reviewer leads the project: she reviews its problem sets and approves its time.
        role = StaffRole.lead if login.role == Role.reviewer else StaffRole.expert
        projects_uc.staff_user(
            session=session,
            actor=operator,
            project=project,
            user_id=users[login.email].id,
            role=role,
        )
        # Pay is ready from the start: submitted weeks can be approved and paid at once.
        pay_rates.set_rate(
            session=session,
            actor=operator,
            currency="USD",
            hourly_minor=DEMO_HOURLY_MINOR[login.role],
            effective_from=DEMO_RATES_FROM,
            user_id=users[login.email].id,
        )
    pay_rates.set_terms(
        session=session, actor=operator, project=project, weekly_cap_minutes=20 * 60, margin_bp=2500
    )
    pay_bonuses.add_rule(
        session=session,
        actor=operator,
        project=project,
        kind="per_accepted_item",
        currency="USD",
        amount_minor=50_00,
    )


def seed_problem_set(*, session: Session) -> bool:
    """Give the demo expert a half-done problem set on the demo project, once.

    Steps 1 and 2 have a stored run each: step 1 passes (every criterion met; a minor off-scope
    note does not block it); step 2's answer has a major calculation error, annotated, which
    motivated its revision 2 (not run yet). Steps 3, 4 and 4.1 have only their first revision.
    Returns False (and changes nothing) when the expert or project is missing, the expert
    already has a problem set there or is no longer staffed, or the project lost the local model
    or the categories used.
    """
    expert = session.scalar(select(User).where(User.email == DEMO_EXPERT))
    project = demo_project(session=session)
    if expert is None or project is None:
        return False
    already = session.scalar(
        select(ProblemSet.id)
        .where(ProblemSet.project_id == project.id, ProblemSet.author_id == expert.id)
        .limit(1)
    )
    if already is not None:
        return False
    try:
        endpoints = targets.list_targets(session=session, actor=expert, project=project)
    except NotFound:  # the expert is no longer staffed on the project
        return False
    categories = taxonomy.current(session=session, project_id=project.id)
    if (
        not endpoints  # someone removed the local model from the project's targets
        or categories.get("off_scope") is None  # or the categories the demo uses
        or categories.get("calculation_error") is None
    ):
        return False
    endpoint = endpoints[0]
    problem = demo_problem()
    access = project_access(session=session, actor=expert, project_id=project.id)
    ps = problem_sets.create(
        session=session,
        access=access,
        title=PROBLEM_SET_TITLE,
        statement=STATEMENT,
        context=context_text(),
        persona="business_owner",
    )
    loaded = Loaded(access, ps)
    added: list[Step] = []
    for index, spec in enumerate(problem.steps):
        added.append(
            steps.add(
                session=session,
                loaded=loaded,
                title=spec.title,
                prompt=spec.prompt,
                rubric=list(spec.rubric),
                reference=spec.reference,
                chain=spec.chain,
                parent_id=added[3].id if index == 4 else None,  # 4.1 is a sub-step of step 4
            )
        )
    first = latest_revisions(session=session, step_ids=[s.id for s in added])

    step1, step2 = added[0], added[1]
    rev1 = first[step1.id]
    run1 = stored_run(
        session=session,
        loaded=loaded,
        step=step1,
        revision=rev1,
        endpoint=endpoint,
        answer=problem.answer1,
    )
    for criterion in range(len(rev1.rubric)):
        assess.score(
            session=session,
            loaded=loaded,
            revision=rev1,
            step_run=run1,
            criterion=criterion,
            met=True,
        )
    start, end = span(problem.answer1, problem.answer1_offscope)
    assess.add(
        session=session,
        loaded=loaded,
        revision=rev1,
        step_run=run1,
        category="off_scope",
        severity="minor",
        note="Unasked advice, and the lease is fixed until June 2026; harmless here.",
        start=start,
        end=end,
        quote=problem.answer1_offscope,
    )

    rev2_1 = first[step2.id]
    run2 = stored_run(
        session=session,
        loaded=loaded,
        step=step2,
        revision=rev2_1,
        endpoint=endpoint,
        answer=problem.answer2,
    )
    for criterion, met in enumerate((True, False, False)):
        assess.score(
            session=session,
            loaded=loaded,
            revision=rev2_1,
            step_run=run2,
            criterion=criterion,
            met=met,
        )
    start, end = span(problem.answer2, problem.answer2_error)
    fault = assess.add(
        session=session,
        loaded=loaded,
        revision=rev2_1,
        step_run=run2,
        category="calculation_error",
        severity="major",
        note=problem.answer2_error_note,
        start=start,
        end=end,
        quote=problem.answer2_error,
    )
    revised = problem.step2_revision2
    steps.update_draft(
        session=session,
        loaded=loaded,
        step=step2,
        version=step2.version,
        changes={
            "draft_prompt": revised.prompt,
            "draft_rubric": list(revised.rubric),
            "draft_reference": revised.reference,
        },
    )
    steps.revise(
        session=session,
        loaded=loaded,
        step=step2,
        reason=problem.step2_revision2_reason,
        motivated_by=[fault.id],
    )
    return True
