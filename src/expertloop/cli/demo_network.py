"""The demo's expert network: profiles, an NDA, candidates at every gate and a searchable network.

Seeded once, on an instance whose demo accounts exist and that has no candidate yet:

* the demo project gets an NDA, accepted by the people already staffed on it (so their work
  stays open to them), and a public summary;
* the demo experts and reviewer get profiles; ``DEMO_NETWORK_SIZE`` invented approved experts
  (``demo_network_data``) make the "Find experts" page worth searching;
* the shipped question banks and the default interview guide are installed;
* candidates stand at each gate, every one brought there through the real functions (invited
  by mail into the data directory, applied through their link, moved by the operator with a
  reason): Lena, a demo login, is at the assessment, so a newcomer can take it and then the
  interview with the local model.

Nothing here is a result: no assessment score, interview transcript or suggestion is made up;
those come only from a candidate taking them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Organisation, OrganisationKind, Role, User
from expertloop.accounts.passwords import hash_password
from expertloop.cli.demo_network_data import SyntheticExpert, synthetic_experts
from expertloop.experts import (
    interview_guides,
    invitations,
    question_banks,
    referrals,
    search_index,
    vetting,
)
from expertloop.experts import profiles as profiles_uc
from expertloop.experts.models import Candidate, VettingState
from expertloop.mail import mailer_from_settings
from expertloop.payments import rates as pay_rates
from expertloop.projects import ndas, targets
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.web.api.experts_vetting import decide_and_staff

S = VettingState

DEMO_NETWORK_SIZE = 40


@dataclass(frozen=True)
class NetworkLogin:
    """A demo login of the expert network (printed with the others)."""

    state: VettingState
    name: str
    email: str
    password: str


DEMO_CANDIDATE = NetworkLogin(
    S.assessment, "Lena Fischer", "lena@candidates.expertloop.org", "candidate-demo-pass"
)

NDA_TEXT = """\
# Mutual confidentiality agreement — Northwind finance assistant evaluation

1. Northwind Analytics shares budgets, forecasts and the behaviour of its finance assistant with
   you only to write and review training problems on this project.
2. Keep all of it confidential: do not copy it into other tools, models or documents, and do not
   talk about the project outside ExpertLoop.
3. What you write here belongs to Northwind Analytics once it is accepted and paid.
4. This agreement lasts for the project and three years after it ends.
"""

VETTING_ORGANISATION = "ExpertLoop Vetting"
WORK_SAMPLE_PROJECT = "Finance work sample"
WORK_SAMPLE_HOURLY_MINOR = 60_00
WORK_SAMPLE_RATES_FROM = dt.date(2026, 1, 1)
WORK_SAMPLE_GUIDELINES = """\
# Finance work sample

Write one small problem set (two or three steps) a business-unit controller would bring to a
finance assistant: real figures, a decision to make, a rubric per step. Run it on the target
model, mark its errors and fix the prompts until a run passes, then submit it for review. Your
hours here are tracked and paid at the project's rate like any other project's.
"""

PUBLIC_SUMMARY = (
    "Write and check budgeting and forecasting problems for a finance assistant used by "
    "business-unit controllers. Financial planning and analysis experience required."
)


@dataclass(frozen=True)
class DemoCandidate:
    """A candidate of the story and how far the operator has brought them."""

    name: str
    email: str
    domain: str
    # The moves after applying, each with the operator's reason; None: invited only.
    moves: tuple[tuple[VettingState, str], ...] | None
    profile: profiles_uc.ProfileData | None = None


def _profile(
    headline: str,
    domains: list[tuple[str, str]],
    *,
    years: int,
    country: str,
    zone: str,
    languages: list[tuple[str, str]],
    hours: int,
    rate_minor: int,
    resume: str,
) -> profiles_uc.ProfileData:
    return profiles_uc.ProfileData(
        headline=headline,
        domains=domains,
        years_experience=years,
        country=country,
        time_zone=zone,
        languages=languages,
        weekly_hours=hours,
        rate_minor=rate_minor,
        rate_currency="USD",
        resume=resume,
    )


# The demo accounts' own profiles (by email).
STAFF_PROFILES: dict[str, profiles_uc.ProfileData] = {
    "amira@experts.expertloop.org": _profile(
        "Financial planning lead, 14 years in retail and consumer goods",
        [("finance", "financial_planning"), ("accounting", "management_accounting")],
        years=14,
        country="AE",
        zone="Asia/Dubai",
        languages=[("en", "C2"), ("ar", "native"), ("fr", "B2")],
        hours=20,
        rate_minor=185_00,
        resume=(
            "Dr. Amira Haddad led budgeting and rolling forecasts for a regional retail group "
            "of 240 stores. She built driver-based cash-flow models, ran the monthly variance "
            "review with business-unit controllers and taught corporate finance at university."
        ),
    ),
    "kenji@experts.expertloop.org": _profile(
        "CFA charterholder, 11 years in corporate finance and valuation",
        [("finance", "corporate_finance"), ("finance", "asset_management")],
        years=11,
        country="JP",
        zone="Asia/Tokyo",
        languages=[("ja", "native"), ("en", "C1")],
        hours=15,
        rate_minor=175_00,
        resume=(
            "Kenji Watanabe valued acquisitions with discounted cash flow and comparable "
            "multiples, wrote the treasury's working-capital forecasts and reviewed capital "
            "expenditure plans for a listed manufacturer."
        ),
    ),
    "rosa@experts.expertloop.org": _profile(
        "Audit manager and reviewer, 16 years in financial reporting",
        [("accounting", "audit"), ("accounting", "financial_reporting")],
        years=16,
        country="ES",
        zone="Europe/Madrid",
        languages=[("es", "native"), ("en", "C2")],
        hours=20,
        rate_minor=220_00,
        resume=(
            "Rosa audited consolidated statements under IFRS, reviewed forecasts and budgets "
            "for lenders and trained junior auditors in analytical review."
        ),
    ),
}


def _candidate_profile(
    domain: str, spec: str, headline: str, resume: str
) -> profiles_uc.ProfileData:
    return _profile(
        headline,
        [(domain, spec)],
        years=8,
        country="DE",
        zone="Europe/Berlin",
        languages=[("de", "native"), ("en", "C1")],
        hours=15,
        rate_minor=120_00,
        resume=resume,
    )


CANDIDATES: tuple[DemoCandidate, ...] = (
    DemoCandidate(
        DEMO_CANDIDATE.name,
        DEMO_CANDIDATE.email,
        "finance",
        ((S.assessment, "Eight years of FP&A at a retailer: a good fit; take the finance bank."),),
        _candidate_profile(
            "finance",
            "financial_planning",
            "FP&A analyst, 8 years in retail budgeting",
            "Lena Fischer prepares the annual budget and the quarterly reforecast for a "
            "German fashion retailer and reports variances to the CFO.",
        ),
    ),
    DemoCandidate(
        "Arjun Mehta",
        "arjun@candidates.expertloop.org",
        "finance",
        (
            (
                S.interview,
                "Worked with our team on a past engagement; the assessment is waived, "
                "interview next.",
            ),
        ),
        _candidate_profile(
            "finance",
            "risk_management",
            "Credit risk modeller, 9 years at a bank",
            "Arjun Mehta builds probability-of-default models and stress tests for a retail "
            "bank's loan book.",
        ),
    ),
    DemoCandidate(
        "Priya Raman",
        "priya@candidates.expertloop.org",
        "finance",
        (
            (S.assessment, "Corporate FP&A background; take the finance bank."),
            (
                S.work_sample,
                "Strong written answers in the assessment; a paid work sample on budgeting next.",
            ),
        ),
        _candidate_profile(
            "finance",
            "financial_planning",
            "Corporate FP&A manager, 10 years",
            "Priya Raman runs the planning cycle of a logistics group: budgets, reforecasts and "
            "the board pack.",
        ),
    ),
    DemoCandidate(
        "Grace Mwangi",
        "grace@candidates.expertloop.org",
        "medicine",
        (),
        _candidate_profile(
            "medicine",
            "pharmacology",
            "Clinical pharmacist, 7 years in hospital care",
            "Grace Mwangi reviews prescriptions for drug interactions and doses on a "
            "hospital's medical wards.",
        ),
    ),
    DemoCandidate(
        "Hiroshi Sato",
        "hiroshi@candidates.expertloop.org",
        "software",
        ((S.rejected, "No hands-on experience in the software domain yet; welcome back later."),),
        _candidate_profile(
            "software",
            "backend",
            "Student, interested in backend work",
            "Hiroshi Sato studies computer science and builds small web services.",
        ),
    ),
    DemoCandidate("Tomás Rivera", "tomas@candidates.expertloop.org", "law", None),
)


def _user(session: Session, email: str) -> User | None:
    return users_uc.find_by_email(session=session, email=email)


def _protect_project(session: Session, operator: User, project: Project, staff: list[User]) -> None:
    projects_uc.update_project(
        session=session,
        actor=operator,
        project=project,
        version=project.version,
        changes={
            "public_summary": PUBLIC_SUMMARY,
            "expected_hours_per_week": 10,
            "hourly_rate_cents": 185_00,
            "rate_currency": "USD",
        },
    )
    nda = ndas.publish_nda(session=session, actor=operator, project_id=project.id, text=NDA_TEXT)
    for user in staff:
        ndas.accept_nda(
            session=session,
            actor=user,
            project_id=project.id,
            version=nda.version,
            ip=None,
            user_agent="expertloop demo seed",
        )


def _synthetic(
    session: Session, organisation: Organisation, person: SyntheticExpert, password_hash: str
) -> None:
    user = users_uc.create_user(
        session=session,
        organisation=organisation,
        email=person.email,
        name=person.name,
        role=Role.expert,
        # Nobody logs in as an invented expert: one random password no one knows, hashed once.
        password="",
        password_hash=password_hash,
    )
    data = profiles_uc.ProfileData(
        headline=person.headline,
        domains=[(person.domain, spec) for spec in person.specialties],
        years_experience=person.years,
        country=person.country,
        time_zone=person.time_zone,
        languages=list(person.languages),
        weekly_hours=person.weekly_hours,
        rate_minor=person.rate_minor,
        rate_currency="USD",
        resume=person.resume,
    )
    profiles_uc.save_profile(session, actor=None, user_id=user.id, data=data)


def _work_sample_project(session: Session, operator: User, demo: Project) -> Project:
    """The vetting project work samples are done on: an internal client, a project-wide rate."""
    org = users_uc.create_organisation(
        session=session, name=VETTING_ORGANISATION, kind=OrganisationKind.client
    )
    project = projects_uc.create_project(
        session=session,
        actor=operator,
        organisation_id=org.id,
        name=WORK_SAMPLE_PROJECT,
        domain="finance",
        description="Paid work samples of finance candidates: one small problem set each.",
        guidelines=WORK_SAMPLE_GUIDELINES,
    )
    endpoints = targets.list_targets(session=session, actor=operator, project=demo)
    targets.set_targets(
        session=session, actor=operator, project=project, endpoint_ids=[e.id for e in endpoints]
    )
    # Every candidate doing a work sample here is paid at this rate (no personal rate needed).
    pay_rates.set_rate(
        session=session,
        actor=operator,
        currency="USD",
        hourly_minor=WORK_SAMPLE_HOURLY_MINOR,
        effective_from=WORK_SAMPLE_RATES_FROM,
        project_id=project.id,
    )
    return project


def _candidate(
    session: Session,
    operator: User,
    settings: Settings,
    person: DemoCandidate,
    work_sample: Project,
) -> None:
    mailer = mailer_from_settings(settings)
    result = invitations.invite(
        session,
        actor=operator,
        email=person.email,
        name=person.name,
        domain=person.domain,
        settings=settings,
        mailer=mailer,
    )
    if person.moves is None or result.link is None:
        return
    token = result.link.rsplit("/", 1)[-1]
    password = (
        DEMO_CANDIDATE.password
        if person.email == DEMO_CANDIDATE.email
        else secrets.token_urlsafe(24)
    )
    assert person.profile is not None
    user = invitations.accept(
        session,
        token=token,
        data=invitations.JoinData(name=person.name, password=password, profile=person.profile),
        settings=settings,
    )
    status = vetting.my_status(session, user)
    assert status is not None
    for to, reason in person.moves:
        # The same decision the candidate page makes (a work sample staffs them there).
        decide_and_staff(
            session=session,
            actor=operator,
            candidate_id=status.candidate_id,
            to=to,
            reason=reason,
            version=None,
            project_id=work_sample.id if to == S.work_sample else None,
        )


def seed_network(*, session: Session, settings: Settings, project: Project) -> bool:
    """Seed the expert network once (see the module's docstring); return whether it did."""
    if session.scalar(select(func.count()).select_from(Candidate)):
        return False
    operator = _user(session, "operator@demo.expertloop.org")
    if operator is None:
        return False
    question_banks.install(session)
    interview_guides.ensure_default(session)
    staff = [u for email in STAFF_PROFILES if (u := _user(session, email)) is not None]
    for user in staff:
        profiles_uc.save_profile(
            session, actor=None, user_id=user.id, data=STAFF_PROFILES[user.email]
        )
    _protect_project(session, operator, project, staff)
    organisation = session.get(Organisation, operator.organisation_id)
    assert organisation is not None
    unknown = hash_password(secrets.token_urlsafe(24))
    for person in synthetic_experts(DEMO_NETWORK_SIZE):
        _synthetic(session, organisation, person, unknown)
    work_sample = _work_sample_project(session, operator, project)
    for candidate in CANDIDATES:
        _candidate(session, operator, settings, candidate, work_sample)
    kenji = _user(session, "kenji@experts.expertloop.org")
    if kenji is not None:
        referrals.refer(
            session,
            actor=kenji,
            email="maria.lopez@peers.expertloop.org",
            name="María López",
            settings=settings,
            mailer=mailer_from_settings(settings),
        )
    search_index.rebuild(session)
    return True


__all__ = ["DEMO_CANDIDATE", "DEMO_NETWORK_SIZE", "seed_network"]
