"""The short reading of the lineage (``history=False``) gives the formats that declare it the same
rows as the whole lineage, and every step the same standing."""

from __future__ import annotations

import pytest

from expertloop.datasets.formats import FORMATS, FormatContext
from expertloop.workbench import lineage
from tests.unit.datasets.conftest import Kit


@pytest.mark.parametrize("model", [None, "a", "b"])
def test_short_reading_gives_the_same_rows_and_standing(kit: Kit, model: str | None) -> None:
    kit.rich()
    kit.simple("Second")
    kit.rich("Again")
    endpoints = {"a": (kit.model_a.id,), "b": (kit.model_b.id,)}
    filters = lineage.LineageFilters(endpoint_ids=endpoints[model] if model else None)
    project_id = kit.world.project_a.id

    def read(history: bool, chunk_size: int) -> list[lineage.ProblemSetLineage]:
        return list(
            lineage.accepted(
                session=kit.db,
                project_id=project_id,
                filters=filters,
                chunk_size=chunk_size,
                history=history,
            )
        )

    whole = read(True, 50)
    short = read(False, 2)
    assert [ps.id for ps in short] == [ps.id for ps in whole]
    for full_ps, short_ps in zip(whole, short, strict=True):
        for full_step, short_step in zip(full_ps.steps, short_ps.steps, strict=True):
            assert (short_step.passing, short_step.done, short_step.passing_step_run_id) == (
                full_step.passing,
                full_step.done,
                full_step.passing_step_run_id,
            )
            assert short_step.earlier == full_step.earlier
            assert short_step.revisions[-1].prompt == full_step.revisions[-1].prompt
    # Some step is done by a passing run with no ideal answer: the short read carries that run.
    assert any(s.passing and s.ideal is None for ps in whole for s in ps.steps), (
        "the fixture has a step that passes on a run"
    )
    ctx = FormatContext(pseudonym_key=b"k" * 32)
    short_formats = [f for f in FORMATS.values() if not f.reads_history]
    assert {f.name for f in short_formats} == {"openai-sft", "trl-sft", "trl-sft-conversational"}
    for fmt in short_formats:
        expected = [row for ps in whole for row in fmt.rows(ps, ctx)]
        assert expected, fmt.name
        assert [row for ps in short for row in fmt.rows(ps, ctx)] == expected, fmt.name
