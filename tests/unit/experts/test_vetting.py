"""Vetting read models and decisions: the board's counts, funnel and weeks; the candidate list's
filters and pages; a candidate's detail; ``decide`` (reason, stale version, work sample); the
candidate's own status (steps, next step, the reasons they are told and no more)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.experts import vetting
from expertloop.experts.models import (
    ExpertProfile,
    LanguageLevel,
    ProfileDomain,
    ProfileLanguage,
    VettingState,
    VettingTransition,
)
from expertloop.projects.models import Project
from tests.factories import make_org, make_project, make_user
from tests.unit.experts.test_pipeline import make_candidate

S = VettingState


@pytest.fixture
def op(db: Session) -> User:
    return make_user(db, Role.operator, name="Olga Operator")


@pytest.fixture
def project(db: Session, op: User) -> Project:
    return make_project(db, make_org(db), op, "Vetting project")


def _walk(
    db: Session, op: User, candidate_id: int, *states: VettingState, project_id: int | None = None
) -> None:
    for state in states:
        c = vetting.get_candidate(db, actor=op, candidate_id=candidate_id)
        vetting.decide(
            db,
            actor=op,
            candidate_id=candidate_id,
            to=state,
            reason=f"to {state.value}",
            version=c.version,
            work_sample_project_id=project_id if state == S.work_sample else None,
        )


def test_board_counts_funnel_and_weeks(db: Session, op: User) -> None:
    a = make_candidate(db, S.applied)
    b = make_candidate(db, S.applied)
    make_candidate(db, S.invited)
    # The funnel counts the moves into each gate: applying is a move too.
    for c in (a, b):
        db.add(VettingTransition(candidate_id=c.id, from_state=S.invited, to_state=S.applied))
    db.flush()
    _walk(db, op, a.id, S.assessment, S.interview, S.approved)
    _walk(db, op, b.id, S.assessment, S.rejected)
    board = vetting.board(db, actor=op)
    counts = {c.state: c.count for c in board.counts}
    assert [c.state for c in board.counts] == list(vetting.COLUMNS)
    assert counts[S.invited] == 1 and counts[S.approved] == 1 and counts[S.rejected] == 1
    assert counts[S.applied] == 0 and board.total == 3
    funnel = {f.state: (f.reached, f.percent_of_applied) for f in board.funnel}
    assert funnel[S.applied] == (2, 100.0)
    assert funnel[S.assessment] == (2, 100.0)
    assert funnel[S.interview] == (1, 50.0)
    assert funnel[S.work_sample] == (0, 0.0)
    assert funnel[S.approved] == (1, 50.0)
    assert len(board.weeks) == 12
    this_week = board.weeks[-1]
    assert this_week.week_start.weekday() == 0
    assert this_week.counts["assessment"] == 2 and this_week.counts["rejected"] == 1
    assert sum(w.counts["approved"] for w in board.weeks[:-1]) == 0


def test_board_buckets_moves_by_week(db: Session, op: User) -> None:
    c = make_candidate(db, S.applied)
    today = dt.date(2026, 12, 3)  # a Thursday
    at = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)  # the Tuesday of the week before
    db.add(VettingTransition(candidate_id=c.id, from_state=S.applied, to_state=S.interview, at=at))
    old = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # before the four weeks shown
    db.add(VettingTransition(candidate_id=c.id, from_state=S.applied, to_state=S.interview, at=old))
    db.flush()
    board = vetting.board(db, actor=op, weeks=4, today=today)
    assert [w.week_start for w in board.weeks] == [
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 30),
    ]
    assert [w.counts["interview"] for w in board.weeks] == [0, 0, 1, 0]


def test_the_funnel_before_anyone_applied(db: Session, op: User) -> None:
    board = vetting.board(db, actor=op)
    assert all(f.reached == 0 and f.percent_of_applied is None for f in board.funnel)


@pytest.mark.parametrize("role", [Role.client, Role.expert, Role.reviewer])
def test_only_operators_see_candidates(db: Session, role: Role) -> None:
    outsider = make_user(db, role)
    c = make_candidate(db, S.interview)
    with pytest.raises(NotFound):
        vetting.board(db, actor=outsider)
    with pytest.raises(NotFound):
        vetting.list_candidates(db, actor=outsider)
    with pytest.raises(NotFound):
        vetting.detail(db, actor=outsider, candidate_id=c.id)
    with pytest.raises(NotFound):
        vetting.decide(
            db, actor=outsider, candidate_id=c.id, to=S.approved, reason="x", version=c.version
        )
    assert c.state == S.interview


def test_list_filters_and_pages(db: Session, op: User) -> None:
    ada = make_candidate(db, S.interview, name="Ada Lovelace", domain="software")
    make_candidate(db, S.interview, name="Grace Hopper", domain="software")
    make_candidate(db, S.applied, name="Ada Byron", domain="law")
    make_candidate(db, S.invited, email="someone_50%@example.org", domain="law")
    everyone = vetting.list_candidates(db, actor=op, limit=200)
    assert everyone.total >= 4
    assert [c.id for c in vetting.list_candidates(db, actor=op, state=S.interview).items] == [
        c.id for c in everyone.items if c.state == S.interview
    ]
    by_name = vetting.list_candidates(db, actor=op, search="ADA ")
    assert {c.name for c in by_name.items} == {"Ada Lovelace", "Ada Byron"}
    assert vetting.list_candidates(db, actor=op, search="ada", domain="software").total == 1
    assert vetting.list_candidates(db, actor=op, search="ada", state=S.applied).total == 1
    # Wildcards in the search are text, not patterns.
    assert vetting.list_candidates(db, actor=op, search="_50%").total == 1
    assert vetting.list_candidates(db, actor=op, search="%").total == 1
    assert vetting.list_candidates(db, actor=op, search=ada.email).items[0].id == ada.id
    pages = [vetting.list_candidates(db, actor=op, limit=3, offset=o) for o in (0, 3, 6, 9)]
    ids = [c.id for p in pages for c in p.items]
    assert sorted(ids) == sorted(c.id for c in everyone.items) and len(set(ids)) == len(ids)


def test_detail_profile_history_and_allowed(db: Session, op: User) -> None:
    c = make_candidate(db, S.applied, name="Ada Lovelace", with_profile=False)
    assert c.user_id is not None
    db.add(
        ExpertProfile(
            user_id=c.user_id,
            headline="Numerical analyst",
            years_experience=12,
            country="GB",
            phone="+44 20 0000",
            resume="Wrote the first program.",
            links=["https://example.org/ada"],
        )
    )
    db.flush()
    db.add(ProfileDomain(user_id=c.user_id, domain="software", specialty="backend"))
    db.add(ProfileLanguage(user_id=c.user_id, language="en", level=LanguageLevel.native))
    c.note = "Met at a conference"
    _walk(db, op, c.id, S.assessment)
    view = vetting.detail(db, actor=op, candidate_id=c.id)
    assert view.candidate.state == S.assessment and view.note == "Met at a conference"
    assert view.profile is not None
    assert view.profile.domains == [("software", "backend")]
    assert view.profile.languages == [("en", "native")]
    assert view.profile.resume == "Wrote the first program." and view.profile.phone
    assert [(t.from_state, t.to_state, t.actor_name, t.reason) for t in view.history] == [
        (S.applied, S.assessment, "Olga Operator", "to assessment")
    ]
    assert view.allowed == [
        S.interview, S.work_sample, S.approved, S.paused, S.rejected, S.withdrawn
    ]  # fmt: skip
    with pytest.raises(NotFound):
        vetting.detail(db, actor=op, candidate_id=c.id + 10_000)


def test_detail_of_an_invited_person(db: Session, op: User) -> None:
    c = make_candidate(db, S.invited)
    view = vetting.detail(db, actor=op, candidate_id=c.id)
    assert view.profile is None and view.history == []
    assert view.allowed == [S.applied, S.rejected, S.withdrawn]


@pytest.mark.parametrize("reason", ["", "  \n\t "])
def test_decide_needs_a_reason(db: Session, op: User, reason: str) -> None:
    c = make_candidate(db, S.interview)
    with pytest.raises(ValidationFailed) as refused:
        vetting.decide(
            db, actor=op, candidate_id=c.id, to=S.approved, reason=reason, version=c.version
        )
    assert refused.value.details == {"field": "reason"}
    assert c.state == S.interview


def test_decide_refuses_control_characters_and_long_reasons(db: Session, op: User) -> None:
    c = make_candidate(db, S.interview)
    for reason in ("bad\x00", "x" * (vetting.REASON_MAX + 1)):
        with pytest.raises(ValidationFailed):
            vetting.decide(
                db, actor=op, candidate_id=c.id, to=S.approved, reason=reason, version=c.version
            )


def test_decide_on_a_stale_version(db: Session, op: User) -> None:
    c = make_candidate(db, S.interview)
    seen = c.version
    vetting.decide(db, actor=op, candidate_id=c.id, to=S.paused, reason="On holiday", version=seen)
    with pytest.raises(Conflict) as stale:
        vetting.decide(db, actor=op, candidate_id=c.id, to=S.approved, reason="Good", version=seen)
    assert stale.value.details == {"version": seen + 1, "state": "paused"}
    assert "reload" in stale.value.message


def test_decide_a_move_not_allowed(db: Session, op: User) -> None:
    c = make_candidate(db, S.approved)
    with pytest.raises(Conflict) as refused:
        vetting.decide(
            db, actor=op, candidate_id=c.id, to=S.interview, reason="Again", version=c.version
        )
    assert refused.value.message == "A candidate who is approved cannot move to interview."


def test_work_sample_records_the_project(db: Session, op: User, project: Project) -> None:
    c = make_candidate(db, S.interview)
    with pytest.raises(ValidationFailed) as missing:
        vetting.decide(
            db, actor=op, candidate_id=c.id, to=S.work_sample, reason="Good", version=c.version
        )
    assert missing.value.details == {"field": "project_id"}
    vetting.decide(
        db,
        actor=op,
        candidate_id=c.id,
        to=S.work_sample,
        reason="Good",
        version=c.version,
        work_sample_project_id=project.id,
    )
    assert c.state == S.work_sample and c.work_sample_project_id == project.id
    invited = make_candidate(db, S.paused, user=None, with_profile=False)
    invited.user_id = None
    db.flush()
    with pytest.raises(Conflict):
        vetting.decide(
            db,
            actor=op,
            candidate_id=invited.id,
            to=S.work_sample,
            reason="Good",
            version=invited.version,
            work_sample_project_id=project.id,
        )


def test_my_status_steps_and_links(db: Session, op: User, project: Project) -> None:
    c = make_candidate(db, S.applied)
    me = db.get(User, c.user_id)
    assert me is not None
    mine = vetting.my_status(db, me)
    assert mine is not None and mine.action is None and mine.reasons == []
    assert [s.status for s in mine.steps] == [
        "done", "current", "upcoming", "upcoming", "upcoming", "upcoming"
    ]  # fmt: skip
    _walk(db, op, c.id, S.interview)
    mine = vetting.my_status(db, me)
    assert mine is not None
    assert mine.action == "interview" and mine.next_step.startswith("Take the text interview")
    # The assessment was skipped by the operator: shown as such, not as done.
    assert [s.status for s in mine.steps][:4] == ["done", "skipped", "skipped", "current"]
    _walk(db, op, c.id, S.work_sample, project_id=project.id)
    mine = vetting.my_status(db, me)
    assert mine is not None
    assert mine.action == "work_sample" and mine.work_sample_project_id == project.id


def test_my_status_tells_rejected_and_paused_reasons_only(db: Session, op: User) -> None:
    c = make_candidate(db, S.applied)
    c.note = "Private: cousin of a client"
    db.add(VettingTransition(candidate_id=c.id, from_state=S.invited, to_state=S.applied))
    me = db.get(User, c.user_id)
    assert me is not None
    vetting.decide(
        db, actor=op, candidate_id=c.id, to=S.assessment, reason="Internal: CV looks thin",
        version=c.version,
    )  # fmt: skip
    vetting.decide(
        db, actor=op, candidate_id=c.id, to=S.paused, reason="We pause finance intake until May.",
        version=c.version,
    )  # fmt: skip
    vetting.decide(
        db, actor=op, candidate_id=c.id, to=S.rejected, reason="Below the pass mark (55%).",
        version=c.version,
    )  # fmt: skip
    mine = vetting.my_status(db, me)
    assert mine is not None and mine.state == S.rejected
    assert [(r.state, r.reason) for r in mine.reasons] == [
        (S.rejected, "Below the pass mark (55%)."),
        (S.paused, "We pause finance intake until May."),
    ]
    told = repr(mine)
    assert "Internal" not in told and "cousin" not in told
    # Off the path: the gates reached are done, none is current.
    assert [s.status for s in mine.steps] == [
        "done", "done", "done", "upcoming", "upcoming", "upcoming"
    ]  # fmt: skip


def test_my_status_of_someone_not_vetted(db: Session) -> None:
    assert vetting.my_status(db, make_user(db, Role.expert)) is None
