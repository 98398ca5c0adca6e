"""The vetting pipeline's transitions, exhaustively: every (from, to) pair against a table
written out here, and for each allowed move who may make it (an operator; the candidate for
their own apply and withdraw; nobody else). Refusals say why in words."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import recent
from expertloop.experts import pipeline
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    InvitationKind,
    VettingState,
)
from tests.factories import make_org, make_project, make_user

S = VettingState
_seq = itertools.count(1)
ALL = list(VettingState)

# The allowed moves as the product defines them; a change to TRANSITIONS must change this too.
EXPECTED: dict[VettingState, set[VettingState]] = {
    S.invited: {S.applied, S.rejected, S.withdrawn},
    S.applied: {S.assessment, S.interview, S.work_sample, S.approved, S.rejected, S.paused,
                S.withdrawn},
    S.assessment: {S.interview, S.work_sample, S.approved, S.rejected, S.paused, S.withdrawn},
    S.interview: {S.assessment, S.work_sample, S.approved, S.rejected, S.paused, S.withdrawn},
    S.work_sample: {S.interview, S.approved, S.rejected, S.paused, S.withdrawn},
    S.approved: {S.paused, S.withdrawn},
    S.paused: {S.applied, S.assessment, S.interview, S.work_sample, S.approved, S.rejected,
               S.withdrawn},
    S.rejected: {S.applied},
    S.withdrawn: set(),
}  # fmt: skip
# The candidate's own moves: accepting the invitation, and withdrawing from wherever they may.
EXPECTED_BY_CANDIDATE = {(S.invited, S.applied)} | {
    (s, S.withdrawn) for s in ALL if S.withdrawn in EXPECTED[s]
}


def make_candidate(
    db: Session,
    state: VettingState = S.applied,
    *,
    user: User | None = None,
    email: str | None = None,
    name: str = "",
    domain: str = "finance",
    with_profile: bool = True,
) -> Candidate:
    """Make a candidate standing in ``state`` (with an expert account unless ``invited``)."""
    if user is None and state != S.invited:
        user = make_user(db, Role.expert, name=name or None)
    if user is not None and with_profile and db.get(ExpertProfile, user.id) is None:
        db.add(ExpertProfile(user_id=user.id, headline="Analyst", vetting_state=state))
    candidate = Candidate(
        email=email or (user.email if user else f"invited{next(_seq)}@tests.expertloop.org"),
        name=name or (user.name if user else "Invited person"),
        user_id=user.id if user else None,
        state=state,
        domain=domain,
        source=InvitationKind.operator,
    )
    db.add(candidate)
    db.flush()
    return candidate


@pytest.fixture
def people(db: Session) -> dict[str, User]:
    return {
        "operator": make_user(db, Role.operator),
        "other_expert": make_user(db, Role.expert),
        "reviewer": make_user(db, Role.reviewer),
        "client": make_user(db, Role.client),
    }


def test_the_table_is_the_pipelines() -> None:
    assert {s: set(v) for s, v in pipeline.TRANSITIONS.items()} == EXPECTED
    assert set(pipeline.BY_CANDIDATE) == EXPECTED_BY_CANDIDATE
    assert set(pipeline.NEXT_STEP) == set(ALL)  # every state tells the candidate what is next
    assert pipeline.ORDER[0] == S.invited and pipeline.ORDER[-1] == S.approved


@pytest.mark.parametrize(("start", "to"), list(itertools.product(ALL, ALL)))
def test_every_pair(
    db: Session, people: dict[str, User], start: VettingState, to: VettingState
) -> None:
    # The candidate has an account here even when invited (the apply is theirs to make).
    candidate = make_candidate(db, start, user=make_user(db, Role.expert))
    allowed = to in EXPECTED[start]
    actors: dict[str, User | None] = {**people, "candidate": None}
    if candidate.user_id is not None:
        actors["candidate"] = db.get(User, candidate.user_id)
    for who, actor in actors.items():
        if actor is None:
            continue
        may = who == "operator" or (who == "candidate" and (start, to) in EXPECTED_BY_CANDIDATE)
        with db.begin_nested() as savepoint:
            if not allowed:
                with pytest.raises(Conflict) as refused:
                    pipeline.move(session=db, actor=actor, candidate=candidate, to=to, reason="r")
                assert "cannot move" in refused.value.message
                assert refused.value.details["state"] == start.value
            elif not may:
                with pytest.raises(PermissionDenied) as denied:
                    pipeline.move(session=db, actor=actor, candidate=candidate, to=to, reason="r")
                assert "operator" in denied.value.message
            else:
                version = candidate.version
                row = pipeline.move(
                    session=db, actor=actor, candidate=candidate, to=to, reason="Because."
                )
                assert (row.from_state, row.to_state, row.actor_id) == (start, to, actor.id)
                assert candidate.state == to and candidate.version == version + 1
                if candidate.user_id is not None:
                    profile = db.get(ExpertProfile, candidate.user_id)
                    assert profile is not None
                    db.refresh(profile)
                    assert profile.vetting_state == to
            savepoint.rollback()
        db.expire(candidate)
        assert candidate.state == start  # each try undone before the next actor


def test_a_move_is_audited_and_kept(db: Session, people: dict[str, User]) -> None:
    candidate = make_candidate(db, S.applied)
    op = people["operator"]
    pipeline.move(session=db, actor=op, candidate=candidate, to=S.assessment, reason="Strong CV")
    pipeline.move(session=db, actor=op, candidate=candidate, to=S.interview, reason="Passed 9/10")
    rows = pipeline.history(db, candidate.id)
    assert [(r.from_state, r.to_state, r.reason) for r in rows] == [
        (S.applied, S.assessment, "Strong CV"),
        (S.assessment, S.interview, "Passed 9/10"),
    ]
    events = recent(session=db, kind="experts.candidate_moved", limit=2)
    assert [e.data["to_state"] for e in events] == ["interview", "assessment"]
    assert all(e.actor_user_id == op.id and e.subject_id == str(candidate.id) for e in events)


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_an_operator_must_give_a_reason(db: Session, people: dict[str, User], reason: str) -> None:
    candidate = make_candidate(db, S.interview)
    with pytest.raises(ValidationFailed) as refused:
        pipeline.move(
            session=db, actor=people["operator"], candidate=candidate, to=S.approved, reason=reason
        )
    assert refused.value.message == "Give a reason for the decision."
    assert candidate.state == S.interview
    assert not pipeline.history(db, candidate.id)


def test_the_candidate_withdraws_without_a_reason(db: Session) -> None:
    candidate = make_candidate(db, S.assessment)
    me = db.get(User, candidate.user_id)
    assert me is not None
    row = pipeline.move(session=db, actor=me, candidate=candidate, to=S.withdrawn, reason="")
    assert row.to_state == S.withdrawn and row.actor_id == me.id


def test_a_candidate_cannot_move_someone_else(db: Session) -> None:
    mine, theirs = make_candidate(db, S.interview), make_candidate(db, S.interview)
    me = db.get(User, mine.user_id)
    assert me is not None
    with pytest.raises(PermissionDenied):
        pipeline.move(session=db, actor=me, candidate=theirs, to=S.withdrawn, reason="")


def test_a_deactivated_operator_decides_nothing(db: Session, people: dict[str, User]) -> None:
    candidate = make_candidate(db, S.interview)
    op = people["operator"]
    op.is_active = False
    with pytest.raises(PermissionDenied):
        pipeline.move(session=db, actor=op, candidate=candidate, to=S.approved, reason="Good")


def test_a_stale_version_is_refused(db: Session, people: dict[str, User]) -> None:
    candidate = make_candidate(db, S.interview)
    with pytest.raises(Conflict) as stale:
        pipeline.move(
            session=db,
            actor=people["operator"],
            candidate=candidate,
            to=S.approved,
            reason="Good",
            expected_version=candidate.version + 1,
        )
    assert stale.value.details == {"version": candidate.version}
    assert candidate.state == S.interview


def test_staffable_only_when_vetted_or_on_the_work_sample(db: Session) -> None:
    operator_made = make_user(db, Role.expert)
    pipeline.check_staffable(db, operator_made.id, 1)  # no candidate row: vouched for
    for state in ALL:
        candidate = make_candidate(db, state)
        if candidate.user_id is None:
            continue
        candidate.work_sample_project_id = None
        if state == S.approved:
            pipeline.check_staffable(db, candidate.user_id, 1)
            continue
        with pytest.raises(Conflict) as refused:
            pipeline.check_staffable(db, candidate.user_id, 1)
        assert "not vetted yet" in refused.value.message
        assert refused.value.details == {"vetting_state": state.value}
    sample = make_candidate(db, S.work_sample)
    assert sample.user_id is not None
    project = make_project(db, make_org(db))
    sample.work_sample_project_id = project.id
    db.flush()
    pipeline.check_staffable(db, sample.user_id, project.id)
    with pytest.raises(Conflict):
        pipeline.check_staffable(db, sample.user_id, project.id + 1)


# A random walk: whoever tries whatever move, the history stays one unbroken chain from where the
# candidate started to where they stand, the version counts the moves, and refusals change nothing.
ACTORS = ("operator", "candidate", "other_expert", "client")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.sampled_from(ALL),
    tries=st.lists(st.tuples(st.sampled_from(ACTORS), st.sampled_from(ALL)), max_size=12),
)
def test_any_walk_keeps_one_chain(
    db: Session,
    people: dict[str, User],
    start: VettingState,
    tries: list[tuple[str, VettingState]],
) -> None:
    with db.begin_nested() as savepoint:
        candidate = make_candidate(db, start, user=make_user(db, Role.expert))
        me = db.get(User, candidate.user_id)
        made = 0
        for who, to in tries:
            actor = me if who == "candidate" else people[who]
            assert actor is not None
            before = (candidate.state, candidate.version)
            allowed = to in EXPECTED[candidate.state]
            may = who == "operator" or (
                who == "candidate" and (candidate.state, to) in EXPECTED_BY_CANDIDATE
            )
            try:
                pipeline.move(session=db, actor=actor, candidate=candidate, to=to, reason="Why")
            except (Conflict, PermissionDenied):
                assert not (allowed and may)
                assert (candidate.state, candidate.version) == before
                continue
            assert allowed and may
            made += 1
        rows = pipeline.history(db, candidate.id)
        assert len(rows) == made and candidate.version == 1 + made
        chain = [start, *(r.to_state for r in rows)]
        assert [r.from_state for r in rows] == chain[:-1]
        assert chain[-1] == candidate.state
        profile = db.get(ExpertProfile, candidate.user_id)
        assert profile is not None
        db.refresh(profile)
        assert profile.vetting_state == candidate.state
        savepoint.rollback()
