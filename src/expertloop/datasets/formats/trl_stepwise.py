"""``trl-stepwise``: TRL's stepwise supervision type, for process reward models.

https://huggingface.co/docs/trl/dataset_formats#stepwise-supervision — ``prompt``,
``completions`` (one per step) and ``labels`` (one bool per completion). One row per problem
set: the prompt is the problem; each step contributes its prompt and a model answer, labelled
True when that answer is the one that makes the step pass and False for the newest answer of a
step that does not pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import ExportFormat, FormatContext, row_id
from expertloop.workbench.lineage import ProblemSetLineage, RunLine, StepLine


def problem_text(ps: ProblemSetLineage) -> str:
    """Return the problem as one prompt: title, statement and context."""
    parts = [ps.title.strip()]
    if ps.statement.strip():
        parts.append(ps.statement.strip())
    if ps.context.strip():
        parts.append(f"Context:\n{ps.context.strip()}")
    return "\n\n".join(parts)


def step_answer(step: StepLine) -> tuple[RunLine, bool] | None:
    """Return the model answer that stands for the step and whether the step passes on it."""
    latest = step.latest
    if latest is None:
        return None
    if step.passing:
        run = step.run(step.passing_step_run_id)
        # The passing run belongs to a target model the filters dropped: the step says nothing.
        return (run, True) if run is not None else None
    finished = [r for r in latest.runs if r.ok and r.answer.strip()]
    return (finished[-1], False) if finished else None


class TRLStepwise(ExportFormat):
    """A problem set's steps as a sequence of model answers with pass/fail labels."""

    name = "trl-stepwise"
    version = "1.0"
    description = (
        "TRL stepwise supervision: `prompt` (the problem), `completions` (each step's prompt and "
        "a model answer) and `labels` (whether the step passed on that answer)."
    )
    arrow_schema = pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("problem_set_id", pa.int64()),
            pa.field("prompt", pa.string()),
            pa.field("completions", pa.list_(pa.string())),
            pa.field("labels", pa.list_(pa.bool_())),
            pa.field("steps", pa.list_(pa.string())),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        completions: list[str] = []
        labels: list[bool] = []
        numbers: list[str] = []
        for step in problem_set.steps:
            found = step_answer(step)
            if found is None or step.latest is None:
                continue
            run, passed = found
            completions.append(f"Step {step.number}: {step.latest.prompt}\n\n{run.answer}")
            labels.append(passed)
            numbers.append(step.number)
        if completions:
            yield {
                "id": row_id(problem_set),
                "problem_set_id": problem_set.id,
                "prompt": problem_text(problem_set),
                "completions": completions,
                "labels": labels,
                "steps": numbers,
            }
