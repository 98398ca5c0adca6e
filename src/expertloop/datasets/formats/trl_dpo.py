"""``trl-dpo`` and ``trl-dpo-conversational``: TRL's preference type (``prompt``, ``chosen``,
``rejected``), standard and conversational.

https://huggingface.co/docs/trl/dataset_formats#preference — chosen is the step's ideal answer,
or the model run that met every rubric criterion with no major fault; rejected is each annotated
(flawed) model answer, with the prompt it was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    ID_FIELDS,
    MESSAGES,
    ExportFormat,
    FormatContext,
    assistant,
    flawed_runs,
    plain,
    row_id,
    sent_messages,
)
from expertloop.workbench.lineage import ProblemSetLineage

_EXTRA = [
    pa.field("chosen_source", pa.string()),
    pa.field("rejected_step_run_id", pa.int64()),
    pa.field("rejected_model", pa.string()),
]


def _pairs(problem_set: ProblemSetLineage, conversational: bool) -> Iterator[dict[str, Any]]:
    for step in problem_set.steps:
        target = step.target_answer()
        if target is None:
            continue
        chosen, source, chosen_run = target
        for _number, run in flawed_runs(step, chosen_run):
            if run.answer == chosen:
                continue
            prompt = sent_messages(step, run)
            yield {
                "id": row_id(problem_set, step, f"r{run.step_run_id}"),
                "problem_set_id": problem_set.id,
                "step": step.number,
                "prompt": prompt if conversational else plain(prompt),
                "chosen": assistant(chosen) if conversational else chosen,
                "rejected": assistant(run.answer) if conversational else run.answer,
                "chosen_source": source,
                "rejected_step_run_id": run.step_run_id,
                "rejected_model": run.model_id,
            }


class TRLDPO(ExportFormat):
    """Ideal answer against the flawed model answer, TRL standard preference rows."""

    name = "trl-dpo"
    version = "1.0"
    description = (
        "TRL preference (standard, explicit prompt): `prompt`, `chosen` (ideal or passing "
        "answer), `rejected` (an annotated model answer)."
    )
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("prompt", pa.string()),
            pa.field("chosen", pa.string()),
            pa.field("rejected", pa.string()),
            *_EXTRA,
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        return _pairs(problem_set, conversational=False)


class TRLDPOConversational(ExportFormat):
    """Ideal answer against the flawed model answer, TRL conversational preference rows."""

    name = "trl-dpo-conversational"
    version = "1.0"
    description = (
        "TRL preference (conversational, explicit prompt): `prompt` messages, `chosen` and "
        "`rejected` as one assistant message each."
    )
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("prompt", MESSAGES),
            pa.field("chosen", MESSAGES),
            pa.field("rejected", MESSAGES),
            *_EXTRA,
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        return _pairs(problem_set, conversational=True)
