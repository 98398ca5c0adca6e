"""``errors``: every annotated text with its located faults, for error analytics and evals.

One row per annotated model answer (``side`` "response": ``text`` is the answer) and per
annotated prompt (``side`` "prompt": ``text`` is the revision's prompt). Span offsets count
Unicode code points into ``text``, end exclusive, so ``text[start:end] == quote`` in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    ID_FIELDS,
    MESSAGES,
    SPAN,
    ExportFormat,
    FormatContext,
    row_id,
    sent_messages,
    span,
)
from expertloop.workbench.lineage import ProblemSetLineage

RESULT = pa.struct([pa.field("criterion", pa.string()), pa.field("met", pa.bool_())])


class Errors(ExportFormat):
    """Annotated answers and prompts with their spans, categories and severities."""

    name = "errors"
    version = "1.0"
    description = (
        "Error-annotated evaluation set: each annotated model answer (and annotated prompt) with "
        "its spans (code-point start/end, quote), category, side, severity, note, the model and "
        "endpoint, and the taxonomy version."
    )
    task_categories = ("token-classification", "text-classification")
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("revision", pa.int64()),
            pa.field("side", pa.string()),
            pa.field("text", pa.string()),
            pa.field("prompt", pa.string()),
            pa.field("messages", MESSAGES),
            pa.field("step_run_id", pa.int64()),
            pa.field("model_id", pa.string()),
            pa.field("endpoint_id", pa.int64()),
            pa.field("endpoint", pa.string()),
            pa.field("spans", pa.list_(SPAN)),
            pa.field("taxonomy_version", pa.int64()),
            pa.field("rubric", pa.list_(RESULT)),
            pa.field("expert", pa.string()),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        expert = ctx.expert(problem_set.author_id)
        for step in problem_set.steps:
            for rev in step.revisions:
                if rev.prompt_annotations:
                    yield {
                        "id": row_id(problem_set, step, f"v{rev.number}", "prompt"),
                        "problem_set_id": problem_set.id,
                        "step": step.number,
                        "revision": rev.number,
                        "side": "prompt",
                        "text": rev.prompt,
                        "prompt": rev.prompt,
                        "messages": step.messages(rev.prompt),
                        "step_run_id": None,
                        "model_id": None,
                        "endpoint_id": None,
                        "endpoint": None,
                        "spans": [span(a, ctx) for a in rev.prompt_annotations],
                        "taxonomy_version": max(a.taxonomy_version for a in rev.prompt_annotations),
                        "rubric": [],
                        "expert": expert,
                    }
                for run in rev.runs:
                    notes = [a for a in run.annotations if a.side == "response"]
                    if not notes:
                        continue
                    yield {
                        "id": row_id(problem_set, step, f"v{rev.number}", f"r{run.step_run_id}"),
                        "problem_set_id": problem_set.id,
                        "step": step.number,
                        "revision": rev.number,
                        "side": "response",
                        "text": run.answer,
                        "prompt": rev.prompt,
                        "messages": sent_messages(step, run),
                        "step_run_id": run.step_run_id,
                        "model_id": run.model_id,
                        "endpoint_id": run.endpoint_id,
                        "endpoint": run.endpoint_name,
                        "spans": [span(a, ctx) for a in notes],
                        "taxonomy_version": max(a.taxonomy_version for a in notes),
                        "rubric": [{"criterion": c.criterion, "met": c.met} for c in run.rubric],
                        "expert": expert,
                    }
