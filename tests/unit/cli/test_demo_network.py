"""The demo's expert network: seeded once, every candidate brought to their gate by the real
functions, the demo project behind an NDA its staff accepted, and a network worth searching."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import User
from expertloop.cli.demo_network import (
    CANDIDATES,
    DEMO_CANDIDATE,
    DEMO_NETWORK_SIZE,
    WORK_SAMPLE_HOURLY_MINOR,
    WORK_SAMPLE_PROJECT,
)
from expertloop.cli.demo_seed import DEMO_LOGINS, seed_demo
from expertloop.cli.demo_work import demo_project
from expertloop.experts import matching, vetting
from expertloop.experts.models import (
    AssessmentAttempt,
    AssessmentBank,
    Candidate,
    ExpertProfile,
    Interview,
    VettingState,
    VettingTransition,
)
from expertloop.llm.hub import ModelHub
from expertloop.payments.models import Rate
from expertloop.projects import ndas, targets
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.settings import Settings


def _seed(db: Session, settings: Settings) -> None:
    assert seed_demo(session=db, hub=ModelHub.from_settings(settings), settings=settings)
    db.flush()


def _user(db: Session, email: str) -> User:
    user = users_uc.find_by_email(session=db, email=email)
    assert user is not None
    return user


def test_network_is_seeded_once(db: Session, settings: Settings) -> None:
    _seed(db, settings)
    counted = (User, Candidate, VettingTransition, ExpertProfile)
    counts = {m: db.scalar(select(func.count()).select_from(m)) for m in counted}
    assert seed_demo(session=db, hub=ModelHub.from_settings(settings), settings=settings) is False
    assert counts == {m: db.scalar(select(func.count()).select_from(m)) for m in counted}
    # The demo logins, the invented network and the candidates who applied.
    applied = sum(1 for c in CANDIDATES if c.moves is not None)
    assert counts[User] == len(DEMO_LOGINS) + DEMO_NETWORK_SIZE + applied


def test_candidates_stand_at_their_gates_through_real_moves(
    db: Session, settings: Settings
) -> None:
    _seed(db, settings)
    lena = _user(db, DEMO_CANDIDATE.email)
    status = vetting.my_status(db, lena)
    assert status is not None and status.state == VettingState.assessment
    assert status.action == "assessment"
    # Every candidate's history starts with the invitation; the operator gave each move a reason.
    for candidate in db.scalars(select(Candidate)):
        moves = list(
            db.scalars(
                select(VettingTransition)
                .where(VettingTransition.candidate_id == candidate.id)
                .order_by(VettingTransition.id)
            )
        )
        assert moves[0].from_state is None and moves[0].to_state == VettingState.invited
        assert moves[-1].to_state == candidate.state
        assert all(
            m.reason
            for m in moves
            if m.actor_id is not None and m.from_state not in (None, VettingState.invited)
        )
    states = {c.email: c.state for c in db.scalars(select(Candidate))}
    expected = {
        c.email: (c.moves[-1][0] if c.moves else VettingState.applied)
        if c.moves is not None
        else VettingState.invited
        for c in CANDIDATES
    }
    assert {e: states[e] for e in expected} == expected
    # One referral, by Kenji, still invited.
    kenji = _user(db, "kenji@experts.expertloop.org")
    referred = db.scalars(select(Candidate).where(Candidate.referrer_user_id == kenji.id)).all()
    assert [c.state for c in referred] == [VettingState.invited]
    # Nothing is made up: no attempt or interview exists until a candidate takes one.
    assert db.scalar(select(func.count()).select_from(AssessmentAttempt)) == 0
    assert db.scalar(select(func.count()).select_from(Interview)) == 0
    assert db.scalar(select(func.count()).select_from(AssessmentBank))


def test_invitations_went_out_as_mail_files(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"data_dir": tmp_path})
    _seed(db, settings)
    files = sorted((settings.data_dir / "mail").glob("*.eml"))
    # One per candidate and the referral.
    assert len(files) == len(CANDIDATES) + 1
    recipients = set()
    for path in files:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        recipients.add(str(message["To"]).rsplit("<", 1)[-1].rstrip(">").lower())
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and "/join/" in body.get_content()
    assert {c.email for c in CANDIDATES} <= recipients


def test_demo_project_is_behind_an_nda_its_staff_accepted(db: Session, settings: Settings) -> None:
    _seed(db, settings)
    project = demo_project(session=db)
    assert project is not None
    assert ndas.current_nda(db, project.id) is not None
    assert project.public_summary
    for login in DEMO_LOGINS[2:]:
        user = _user(db, login.email)
        assert projects_uc.is_staffed(db, project.id, user.id)
        state = ndas.nda_state(session=db, actor=user, project_id=project.id)
        assert state.acceptance is not None and not state.pending


def test_the_work_sample_is_staffed_on_a_paid_vetting_project(
    db: Session, settings: Settings
) -> None:
    _seed(db, settings)
    priya = _user(db, "priya@candidates.expertloop.org")
    status = vetting.my_status(db, priya)
    assert status is not None and status.state == VettingState.work_sample
    project = db.scalars(select(Project).where(Project.name == WORK_SAMPLE_PROJECT)).one()
    assert status.work_sample_project_id == project.id
    assert projects_uc.is_staffed(db, project.id, priya.id)
    # Paid like any project: a project-wide rate covers whoever does a work sample there.
    rate = db.scalars(select(Rate).where(Rate.project_id == project.id)).one()
    assert rate.user_id is None and rate.hourly_minor == WORK_SAMPLE_HOURLY_MINOR
    assert targets.list_targets(session=db, actor=_user(db, DEMO_LOGINS[0].email), project=project)


def test_the_network_is_searchable(db: Session, settings: Settings) -> None:
    _seed(db, settings)
    operator = _user(db, DEMO_LOGINS[0].email)
    found = matching.search(db, actor=operator, query=matching.MatchQuery(text="forecasts"))
    names = {item.name for item in found.items}
    assert "Dr. Amira Haddad" in names
    by_domain = matching.search(db, actor=operator, query=matching.MatchQuery(domain="medicine"))
    assert by_domain.items
