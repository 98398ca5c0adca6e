"""Annotation spans are code-point offsets that survive save, reload and JSON export exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from expertloop.errors import ValidationFailed
from expertloop.llm.models import ModelRun
from expertloop.workbench import assess, steps
from expertloop.workbench.models import Annotation, Side
from expertloop.workbench.schemas import AnnotationOut
from tests.unit.workbench.conftest import Bench
from tests.unit.workbench.strategies import text_and_span

DB_SETTINGS = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None
)


def _reloaded(session_factory: sessionmaker[Session], annotation_id: int) -> dict[str, Any]:
    """Read the annotation back in a fresh session and export it as the API does."""
    with session_factory() as fresh:
        row = fresh.scalars(select(Annotation).where(Annotation.id == annotation_id)).one()
        exported: dict[str, Any] = json.loads(AnnotationOut.model_validate(row).model_dump_json())
        return exported


def _count(db: Session) -> int:
    return db.scalar(select(func.count(Annotation.id))) or 0


@DB_SETTINGS
@given(case=text_and_span(), with_quote=st.booleans())
@example(case=("👩\u200d👩\u200d👧\u200d👦 ok", 0, 7), with_quote=True)
@example(case=("مُحَمَّدٌ\r\nقال", 0, 9), with_quote=False)  # noqa: RUF001
@example(case=("e\u0301\u0301🏳\ufe0f\u200d🌈漢", 1, 3), with_quote=True)
def test_answer_span_round_trips_through_database_and_export(
    bench: Bench,
    db: Session,
    session_factory: sessionmaker[Session],
    case: tuple[str, int, int],
    with_quote: bool,
) -> None:
    text, start, end = case
    step_run = bench.run(text)
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=step_run,
        start=start,
        end=end,
        quote=text[start:end] if with_quote else None,
        category="factual_error",
        severity="minor",
        note="Wrong figure",
    )
    db.flush()
    annotation_id, model_run_id = row.id, step_run.model_run_id
    db.expire_all()

    stored = db.execute(
        select(Annotation.start, Annotation.end, Annotation.quote, Annotation.side).where(
            Annotation.id == annotation_id
        )
    ).one()
    answer = db.scalar(select(ModelRun.answer).where(ModelRun.id == model_run_id))
    assert answer == text
    assert (stored.start, stored.end, stored.quote) == (start, end, text[start:end])
    assert stored.quote == answer[stored.start : stored.end]
    assert stored.side == Side.response

    exported = _reloaded(session_factory, annotation_id)
    assert exported["start"] == start
    assert exported["end"] == end
    assert exported["quote"] == text[start:end]
    assert exported["quote"] == answer[exported["start"] : exported["end"]]
    assert exported["step_run_id"] == step_run.id
    assert exported["side"] == "response"


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25, deadline=None
)
@given(case=text_and_span(), with_quote=st.booleans())
def test_prompt_span_round_trips_through_database_and_export(
    bench: Bench,
    db: Session,
    session_factory: sessionmaker[Session],
    case: tuple[str, int, int],
    with_quote: bool,
) -> None:
    text, start, end = case
    assume(text.strip())  # a revision needs a prompt that is not blank
    step = bench.add_step(title="Prompt side", prompt=text)
    revision = steps.revisions_of(session=db, step_id=step.id)[-1]
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=revision,
        start=start,
        end=end,
        quote=text[start:end] if with_quote else None,
        category="ambiguity",
        severity="major",
    )
    db.flush()
    annotation_id = row.id
    db.expire_all()

    exported = _reloaded(session_factory, annotation_id)
    prompt = steps.revisions_of(session=db, step_id=step.id)[-1].prompt
    assert prompt == text
    assert (exported["start"], exported["end"], exported["quote"]) == (start, end, text[start:end])
    assert exported["step_run_id"] is None
    assert exported["side"] == "prompt"


@DB_SETTINGS
@given(case=text_and_span(), wrong=st.text(max_size=8))
def test_a_quote_that_does_not_match_the_offsets_is_refused(
    bench: Bench, db: Session, case: tuple[str, int, int], wrong: str
) -> None:
    text, start, end = case
    assume(wrong != text[start:end])
    step_run = bench.run(text)
    before = _count(db)
    with pytest.raises(ValidationFailed, match="does not match the offsets"):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=step_run,
            start=start,
            end=end,
            quote=wrong,
            category="factual_error",
            severity="minor",
        )
    assert _count(db) == before


@pytest.mark.parametrize(
    ("text", "start", "end", "quote"),
    [
        # The page normalised the selection (NFC) while the answer is decomposed (NFD).
        ("cafe\u0301 au lait", 0, 5, "café"),
        # The page counted UTF-16 code units (JavaScript): "ok" is at 5..7 there, 3..5 here.
        ("👍🏽 ok, fine", 5, 7, "ok"),
        # The page counted grapheme clusters: the family emoji is one, but seven code points.
        ("👩\u200d👩\u200d👧\u200d👦 family", 2, 8, "family"),
        # The page turned CRLF into LF.
        ("line one\r\nline two", 9, 17, "line two"),
    ],
)
def test_offsets_counted_another_way_are_caught_by_the_quote(
    bench: Bench, db: Session, text: str, start: int, end: int, quote: str
) -> None:
    step_run = bench.run(text)
    with pytest.raises(ValidationFailed, match="does not match the offsets"):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=step_run,
            start=start,
            end=end,
            quote=quote,
            category="factual_error",
            severity="minor",
        )
    assert _count(db) == 0


def test_code_point_offsets_of_the_same_selections_are_accepted(bench: Bench, db: Session) -> None:
    text = "👍🏽 ok, fine"
    step_run = bench.run(text)
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=step_run,
        start=3,
        end=5,
        quote="ok",
        category="factual_error",
        severity="minor",
    )
    assert (row.start, row.end, row.quote) == (3, 5, "ok")


ANSWER = "مرحبا 👍🏽 漢字\r\n"  # 13 code points


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 3, "outside the text"),
        (0, len(ANSWER) + 1, "outside the text"),
        (len(ANSWER), len(ANSWER) + 1, "outside the text"),
        (4, 4, "or empty"),
        (5, 2, "outside the text"),
        (0, None, "both start and end"),
        (None, 3, "both start and end"),
        (None, None, "Select the part of the answer"),
    ],
)
def test_spans_out_of_range_or_incomplete_are_refused(
    bench: Bench, db: Session, start: int | None, end: int | None, message: str
) -> None:
    assert len(ANSWER) == 13
    step_run = bench.run(ANSWER)
    with pytest.raises(ValidationFailed, match=message):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=step_run,
            start=start,
            end=end,
            category="factual_error",
            severity="minor",
        )
    assert _count(db) == 0


def test_the_whole_answer_is_a_valid_span(bench: Bench, db: Session) -> None:
    step_run = bench.run(ANSWER)
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=step_run,
        start=0,
        end=len(ANSWER),
        quote=ANSWER,
        category="incomplete",
        severity="critical",
    )
    assert row.quote == ANSWER


def test_a_prompt_annotation_without_a_span_exports_nulls(
    bench: Bench, db: Session, session_factory: sessionmaker[Session]
) -> None:
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        category="missing_context",
        severity="minor",
        note="  No ledger given.  ",
    )
    db.flush()
    exported = _reloaded(session_factory, row.id)
    assert (exported["start"], exported["end"], exported["quote"]) == (None, None, "")
    assert exported["note"] == "No ledger given."
    assert exported["taxonomy_version"] == 0


def test_a_prompt_span_is_checked_against_the_prompt(bench: Bench, db: Session) -> None:
    prompt = bench.revision.prompt
    assert prompt == "What is the opening balance?"
    with pytest.raises(ValidationFailed, match="outside the text"):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            start=0,
            end=len(prompt) + 1,
            category="ambiguity",
            severity="minor",
        )
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        start=12,
        end=19,
        quote="opening",
        category="ambiguity",
        severity="minor",
    )
    assert row.side == Side.prompt


@pytest.mark.parametrize(
    ("with_run", "category", "message"),
    [
        (True, "ambiguity", "not a category for an answer"),
        (False, "factual_error", "not a category for a prompt"),
        (True, "no_such_category", "Unknown category"),
    ],
)
def test_categories_must_exist_and_fit_the_side(
    bench: Bench, db: Session, with_run: bool, category: str, message: str
) -> None:
    step_run = bench.run("Some answer") if with_run else None
    with pytest.raises(ValidationFailed, match=message):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=step_run,
            start=0,
            end=4,
            category=category,
            severity="minor",
        )


def test_an_unknown_severity_is_refused(bench: Bench, db: Session) -> None:
    step_run = bench.run("Some answer")
    with pytest.raises(ValidationFailed, match="Severity"):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=step_run,
            start=0,
            end=4,
            category="factual_error",
            severity="blocker",
        )
