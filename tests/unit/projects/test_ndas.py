"""Project NDAs: versions, acceptances, and the gate on every notion of being staffed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import SENTENCES
from expertloop.payments import timesheets
from expertloop.projects import ndas
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import NdaAcceptance, Staffing, StaffRole
from expertloop.workbench import problem_sets, team
from tests.factories import World, make_problem_set, make_user, staff


def _publish(db: Session, w: World, text: str = "Keep A's data secret.") -> int:
    nda = ndas.publish_nda(session=db, actor=w.client_a, project_id=w.project_a.id, text=text)
    db.flush()
    return nda.version


def _accept(db: Session, w: World, user, version: int):  # type: ignore[no-untyped-def]
    return ndas.accept_nda(
        session=db,
        actor=user,
        project_id=w.project_a.id,
        version=version,
        ip="203.0.113.7",
        user_agent="pytest-browser/1.0",
    )


def test_without_an_nda_staffing_is_unchanged(db: Session, world: World) -> None:
    w = world
    assert projects_uc.is_staffed(db, w.project_a.id, w.expert_a.id)
    assert projects_uc.staff_role(db, w.project_a.id, w.expert_a.id) == StaffRole.expert
    assert ndas.pending_invitations(session=db, actor=w.expert_a) == []
    state = ndas.nda_state(session=db, actor=w.expert_a, project_id=w.project_a.id)
    assert state.nda is None and state.accepted and not state.pending


def test_pending_expert_is_not_staffed_until_accepting(db: Session, world: World) -> None:
    w = world
    version = _publish(db, w)
    assert version == 1
    e = w.expert_a
    assert not projects_uc.is_staffed(db, w.project_a.id, e.id)
    assert projects_uc.staff_role(db, w.project_a.id, e.id) is None
    assert projects_uc.has_staffing(db, w.project_a.id, e.id)
    assert projects_uc.list_projects(session=db, actor=e)[1] == 0
    with pytest.raises(NotFound):
        projects_uc.get_project(session=db, project_id=w.project_a.id, actor=e)
    # The client and the operator are not staffed: the NDA does not concern them.
    assert projects_uc.get_project(session=db, project_id=w.project_a.id, actor=w.client_a)
    assert projects_uc.get_project(session=db, project_id=w.project_a.id, actor=w.operator)

    [invitation] = ndas.pending_invitations(session=db, actor=e)
    assert invitation.project.id == w.project_a.id and invitation.nda.version == 1
    state = ndas.nda_state(session=db, actor=e, project_id=w.project_a.id)
    assert state.pending and not state.accepted and not state.can_publish

    acceptance = _accept(db, w, e, 1)
    assert projects_uc.is_staffed(db, w.project_a.id, e.id)
    assert projects_uc.list_projects(session=db, actor=e)[1] == 1
    assert ndas.pending_invitations(session=db, actor=e) == []
    assert acceptance.user_id == e.id and acceptance.version == 1
    assert acceptance.ip_address == "203.0.113.7"
    assert acceptance.user_agent == "pytest-browser/1.0"
    assert acceptance.accepted_at is not None
    # Accepting again changes nothing.
    assert _accept(db, w, e, 1).id == acceptance.id


def test_a_new_version_asks_again(db: Session, world: World) -> None:
    w = world
    e = w.expert_a
    _accept(db, w, e, _publish(db, w))
    assert projects_uc.is_staffed(db, w.project_a.id, e.id)
    # Publishing the same text again is a retry, not a new version.
    assert _publish(db, w) == 1
    assert _publish(db, w, "Keep A's data secret, and its models too.") == 2
    assert not projects_uc.is_staffed(db, w.project_a.id, e.id)
    with pytest.raises(Conflict):
        _accept(db, w, e, 1)  # the version read is no longer current
    _accept(db, w, e, 2)
    assert projects_uc.is_staffed(db, w.project_a.id, e.id)
    versions = db.scalars(select(NdaAcceptance.version).where(NdaAcceptance.user_id == e.id)).all()
    assert sorted(versions) == [1, 2]


def test_who_publishes_and_accepts(db: Session, world: World) -> None:
    w = world
    with pytest.raises(PermissionDenied):
        ndas.publish_nda(session=db, actor=w.expert_a, project_id=w.project_a.id, text="x")
    with pytest.raises(NotFound):  # another organisation's project does not exist for them
        ndas.publish_nda(session=db, actor=w.client_b, project_id=w.project_a.id, text="x")
    with pytest.raises(ValidationFailed):
        ndas.publish_nda(session=db, actor=w.client_a, project_id=w.project_a.id, text="  ")
    with pytest.raises(ValidationFailed):
        _accept(db, w, w.expert_a, 1)  # no NDA yet
    _publish(db, w)
    ndas.publish_nda(session=db, actor=w.operator, project_id=w.project_a.id, text="Op's text")
    with pytest.raises(PermissionDenied):
        _accept(db, w, w.client_a, 2)  # not staffed: nothing to accept
    with pytest.raises(NotFound):
        _accept(db, w, w.expert_b, 2)
    with pytest.raises(NotFound):
        ndas.nda_state(session=db, actor=w.expert_b, project_id=w.project_a.id)
    with pytest.raises(PermissionDenied):
        ndas.acceptances(session=db, actor=w.client_a, project_id=w.project_a.id)
    _accept(db, w, w.expert_a, 2)
    rows, total = ndas.acceptances(session=db, actor=w.operator, project_id=w.project_a.id)
    assert total == 1 and rows[0].user_id == w.expert_a.id
    state = ndas.nda_state(session=db, actor=w.operator, project_id=w.project_a.id)
    assert state.acceptances == 1 and state.can_publish


def test_the_gate_reaches_other_domains(db: Session, world: World) -> None:
    """Leads, review queues and team views only count staffings in force."""
    w = world
    lead = make_user(db, Role.reviewer)
    staff(db, w.project_a, lead, StaffRole.lead)
    ps = make_problem_set(db, w.project_a, w.expert_a, "A's problem")
    assert [p.id for p in team.led_projects(session=db, actor=lead)] == [w.project_a.id]
    assert timesheets.led_projects(session=db, actor=lead) == {w.project_a.id}
    assert ps is not None
    _publish(db, w)
    assert team.led_projects(session=db, actor=lead) == []
    assert timesheets.led_projects(session=db, actor=lead) == set()
    assert problem_sets.review_queue(session=db, actor=w.reviewer_a) == []
    _accept(db, w, lead, 1)
    assert timesheets.led_projects(session=db, actor=lead) == {w.project_a.id}
    [work] = team.team_work(session=db, actor=lead)
    # The expert has not accepted yet: listed as an author no longer staffed.
    assert [(m.user_id, m.staff_role) for m in work.members] == [(w.expert_a.id, None)]
    in_force = projects_uc.active_staffing().where(Staffing.project_id == w.project_a.id)
    assert {s.user_id for s in db.scalars(in_force)} == {lead.id}
    _accept(db, w, w.expert_a, 1)
    [work] = team.team_work(session=db, actor=lead)
    assert [(m.user_id, m.staff_role) for m in work.members] == [(w.expert_a.id, "expert")]


def test_the_public_summary_is_checked(db: Session, world: World) -> None:
    w = world
    project = projects_uc.update_project(
        session=db,
        actor=w.client_a,
        project=w.project_a,
        version=w.project_a.version,
        changes={
            "public_summary": "Grade finance answers.",
            "expected_hours_per_week": 10,
            "hourly_rate_cents": 9500,
            "rate_currency": "usd",
        },
    )
    assert project.rate_currency == "USD" and project.expected_hours_per_week == 10
    for bad in ({"expected_hours_per_week": 200}, {"rate_currency": "dollars"}):
        with pytest.raises(ValidationFailed):
            projects_uc.update_project(
                session=db, actor=w.client_a, project=project, version=project.version, changes=bad
            )


def test_events_have_sentences() -> None:
    assert "projects.nda_published" in SENTENCES and "projects.nda_accepted" in SENTENCES
