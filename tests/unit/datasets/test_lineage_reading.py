"""The short reading (``workbench.lineage_sft``) gives every SFT format the same rows as the whole
lineage (``workbench.lineage``), with any chunk size and target-model filter."""

from __future__ import annotations

import pytest

from expertloop.datasets.formats import FORMATS, FormatContext
from expertloop.datasets.formats.base import ShortFormat
from expertloop.workbench import lineage, lineage_sft
from tests.unit.datasets.conftest import Kit


@pytest.mark.parametrize("model", [None, "a", "b"])
@pytest.mark.parametrize("chunk_size", [1, 2, 500])
def test_short_reading_gives_the_same_rows(kit: Kit, model: str | None, chunk_size: int) -> None:
    kit.rich()
    kit.simple("Second")
    kit.rich("Again")
    endpoints = {"a": (kit.model_a.id,), "b": (kit.model_b.id,)}
    filters = lineage.LineageFilters(endpoint_ids=endpoints[model] if model else None)
    project_id = kit.world.project_a.id

    whole = list(lineage.accepted(session=kit.db, project_id=project_id, filters=filters))
    short = list(
        lineage_sft.accepted(
            session=kit.db, project_id=project_id, filters=filters, chunk_size=chunk_size
        )
    )
    assert [ps.id for ps in short] == [ps.id for ps in whole if ps.steps]
    for full_ps, short_ps in zip([ps for ps in whole if ps.steps], short, strict=True):
        assert [s.number for s in short_ps.steps] == [s.number for s in full_ps.steps]
        for full_step, short_step in zip(full_ps.steps, short_ps.steps, strict=True):
            assert short_step.earlier == full_step.earlier
            assert short_step.messages() == full_step.messages()
            full_target, short_target = full_step.target_answer(), short_step.target_answer()
            assert (full_target is None) == (short_target is None)
            if full_target is not None and short_target is not None:
                assert full_target[:2] == short_target[:2]
                full_run, short_run = full_target[2], short_target[2]
                assert (full_run and full_run.system_prompt) == (
                    short_run and short_run.system_prompt
                )
    # Some step is done by a passing run with no ideal answer: the short read carries that run.
    assert any(s.passing and s.ideal is None for ps in whole for s in ps.steps), (
        "the fixture has a step that passes on a run"
    )
    ctx = FormatContext(pseudonym_key=b"k" * 32)
    short_formats = [f for f in FORMATS.values() if isinstance(f, ShortFormat)]
    assert {f.name for f in short_formats} == {"openai-sft", "trl-sft", "trl-sft-conversational"}
    for fmt in short_formats:
        expected = [row for ps in whole for row in fmt.rows(ps, ctx)]
        assert expected, fmt.name
        assert [row for ps in short for row in fmt.rows(ps, ctx)] == expected, fmt.name
