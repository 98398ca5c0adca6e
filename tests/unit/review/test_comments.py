"""Review comments: who may add them, spans by offsets or by quote, who sees them, the home list."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.events import AuditLog
from expertloop.projects.models import StaffRole
from expertloop.review import comments
from expertloop.workbench import steps
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import Status
from tests.factories import make_user, staff
from tests.unit.workbench.conftest import Bench


def _as(bench: Bench, user_id: int) -> Loaded:
    db = bench.db
    user = db.get(User, user_id)
    assert user is not None
    access = project_access(session=db, actor=user, project_id=bench.world.project_a.id)
    return Loaded(access, bench.loaded.problem_set)


def test_a_reviewer_comments_on_a_span_of_an_answer_by_offsets_or_by_quote(bench: Bench) -> None:
    db = bench.db
    answer = "Revenue grew 12 % in Q3; the forecast assumes 12 % again."
    run = bench.run(answer)
    reviewer = _as(bench, bench.world.reviewer_a.id)
    at = answer.index("the forecast")

    by_offsets = comments.add(
        session=db,
        loaded=reviewer,
        step=bench.step,
        body="Why the same rate?",
        step_run_id=run.id,
        start=at,
        end=at + len("the forecast"),
        quote="the forecast",
    )
    by_quote = comments.add(
        session=db,
        loaded=reviewer,
        step=bench.step,
        body="Source?",
        step_run_id=run.id,
        quote="12 %",
    )
    on_step = comments.add(session=db, loaded=reviewer, step=bench.step, body="Split this step.")

    assert (by_offsets.target, by_offsets.start, by_offsets.quote) == (
        "response",
        at,
        "the forecast",
    )
    assert (by_quote.start, by_quote.end) == (answer.index("12 %"), answer.index("12 %") + 4)
    assert (on_step.target, on_step.start, on_step.quote) == ("step", None, "")
    views = comments.for_step(session=db, step_id=bench.step.id)
    assert [v.id for v in views] == [by_offsets.id, by_quote.id, on_step.id]
    first = views[0]
    assert first.before.endswith("in Q3; ") and first.after.startswith(" assumes")
    assert first.target_label.startswith(f"Answer of {bench.endpoint.name}, run #{run.id}")
    kinds = db.scalars(select(AuditLog.kind).where(AuditLog.subject_type == "review_comment")).all()
    assert kinds == ["review.comment_added"] * 3


def test_code_point_offsets_on_a_prompt_with_emoji_and_arabic(bench: Bench) -> None:
    db = bench.db
    step = bench.step
    steps.update_draft(
        session=db,
        loaded=bench.loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": "👩‍👩‍👧 حساب الميزانية\nلعام 2026"},  # noqa: RUF001
    )
    rev = steps.revise(session=db, loaded=bench.loaded, step=step)
    text = rev.prompt
    start = text.index("لعام")
    row = comments.add(
        session=db,
        loaded=_as(bench, bench.world.reviewer_a.id),
        step=step,
        body="Which year?",
        revision_id=rev.id,
        start=start,
        end=start + 4,
        quote="لعام",
    )
    assert text[row.start : row.end] == "لعام"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body": "   "}, "Write the comment first"),
        ({"body": "x" * 10_001}, "too long: 10,001 characters, at most 10,000"),
        ({"body": "bad\x00byte"}, "control character"),
        ({"body": "ok", "quote": "not in there", "run": True}, "not in that answer"),
        ({"body": "ok", "start": 0, "end": 3, "quote": "zzz", "run": True}, "does not match"),
        ({"body": "ok", "start": 5, "end": 500, "run": True}, "outside the text"),
        ({"body": "ok", "start": 1, "run": True}, "both start and end"),
        ({"body": "ok", "quote": "text"}, "Choose the prompt or the answer"),
    ],
)
def test_bad_comments_are_refused_with_a_clear_message(
    bench: Bench, kwargs: dict[str, object], message: str
) -> None:
    run = bench.run("Some answer text.")
    args = dict(kwargs)
    if args.pop("run", False):
        args["step_run_id"] = run.id
    with pytest.raises(ValidationFailed, match=message):
        comments.add(
            session=bench.db,
            loaded=_as(bench, bench.world.reviewer_a.id),
            step=bench.step,
            **args,  # type: ignore[arg-type]
        )


def test_a_run_of_another_step_is_refused(bench: Bench) -> None:
    other = bench.add_step(title="Other", prompt="Another prompt")
    rev = steps.revisions_of(session=bench.db, step_id=other.id)[-1]
    run = bench.run("elsewhere", revision=rev)
    with pytest.raises(ValidationFailed, match="not a run of this step"):
        comments.add(
            session=bench.db,
            loaded=_as(bench, bench.world.reviewer_a.id),
            step=bench.step,
            body="x",
            step_run_id=run.id,
        )


def test_only_staffed_reviewers_and_operators_comment_never_the_author(
    bench: Bench, db: Session
) -> None:
    world = bench.world
    with pytest.raises(PermissionDenied, match="own problem set"):
        comments.add(session=db, loaded=bench.loaded, step=bench.step, body="self")
    with pytest.raises(PermissionDenied, match="reviewers and operators"):
        comments.add(session=db, loaded=_as(bench, world.client_a.id), step=bench.step, body="c")
    # A reviewer staffed as a plain expert does not review.
    plain = make_user(db, Role.reviewer)
    staff(db, world.project_a, plain, StaffRole.expert)
    with pytest.raises(PermissionDenied):
        comments.add(session=db, loaded=_as(bench, plain.id), step=bench.step, body="c")
    comments.add(session=db, loaded=_as(bench, world.operator.id), step=bench.step, body="op")
    bench.loaded.problem_set.status = Status.accepted
    with pytest.raises(PermissionDenied, match="accepted"):
        comments.add(
            session=db, loaded=_as(bench, world.reviewer_a.id), step=bench.step, body="late"
        )


def test_the_client_sees_comments_only_when_the_project_allows(bench: Bench) -> None:
    db, world = bench.db, bench.world
    comments.add(session=db, loaded=_as(bench, world.reviewer_a.id), step=bench.step, body="Hm")
    client = _as(bench, world.client_a.id)
    assert comments.can_see(session=db, loaded=client) is False
    panel = comments.step_panel(session=db, loaded=client, step=bench.step)
    assert (panel.visible, panel.comments, panel.can_comment) == (False, (), False)
    with pytest.raises(PermissionDenied):
        comments.set_clients_see(
            session=db, access=_as(bench, world.reviewer_a.id).access, clients_see_comments=True
        )
    comments.set_clients_see(session=db, access=client.access, clients_see_comments=True)
    assert comments.can_see(session=db, loaded=client) is True
    assert len(comments.step_panel(session=db, loaded=client, step=bench.step).comments) == 1
    author = comments.step_panel(session=db, loaded=bench.loaded, step=bench.step)
    assert author.visible and not author.can_comment and len(author.comments) == 1
    reviewer = comments.step_panel(
        session=db, loaded=_as(bench, world.reviewer_a.id), step=bench.step
    )
    assert reviewer.can_comment
    assert [t.value for t in reviewer.targets][:2] == ["step", f"prompt:{bench.revision.id}"]


def test_the_author_finds_comments_on_their_work_newest_first(bench: Bench) -> None:
    db, world = bench.db, bench.world
    reviewer = _as(bench, world.reviewer_a.id)
    run = bench.run("An answer")
    first = comments.add(session=db, loaded=reviewer, step=bench.step, body="First")
    second = comments.add(
        session=db,
        loaded=reviewer,
        step=bench.step,
        body="Second",
        step_run_id=run.id,
        quote="answer",
    )
    mine = comments.for_author(session=db, actor=world.expert_a)
    assert [c.id for c in mine] == [second.id, first.id]
    assert mine[0].quote == "answer" and mine[0].problem_set_title == "Quarterly cash flow"
    assert mine[0].step_title == "Opening balance"
    assert comments.for_author(session=db, actor=world.expert_b) == []
    assert comments.for_author(session=db, actor=world.reviewer_a) == []


def test_parse_target() -> None:
    assert comments.parse_target("step") == (None, None)
    assert comments.parse_target("prompt:4") == (4, None)
    assert comments.parse_target("run:9") == (None, 9)
    for bad in ("", "run:", "run:x", "other:1", "step:2"):
        with pytest.raises(ValidationFailed):
            comments.parse_target(bad)
