"""``trl-kto``: TRL's unpaired preference type (``prompt``, ``completion``, ``label``).

https://huggingface.co/docs/trl/dataset_formats#unpaired-preference — ``label`` True for the
step's ideal (or passing) answer, False for each annotated (flawed) model answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    ID_FIELDS,
    ExportFormat,
    FormatContext,
    flawed_runs,
    plain,
    row_id,
    sent_messages,
)
from expertloop.workbench.lineage import ProblemSetLineage


class TRLKTO(ExportFormat):
    """Desirable and undesirable answers, one per row, for KTO."""

    name = "trl-kto"
    version = "1.0"
    description = (
        "TRL unpaired preference (standard): `prompt`, `completion`, `label` (true: the ideal "
        "or passing answer; false: an annotated model answer)."
    )
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("prompt", pa.string()),
            pa.field("completion", pa.string()),
            pa.field("label", pa.bool_()),
            pa.field("source", pa.string()),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            target = step.target_answer()
            chosen_run = None
            if target is not None:
                text, source, chosen_run = target
                yield {
                    "id": row_id(problem_set, step),
                    "problem_set_id": problem_set.id,
                    "step": step.number,
                    "prompt": plain(step.messages()),
                    "completion": text,
                    "label": True,
                    "source": source,
                }
            for _number, run in flawed_runs(step, chosen_run):
                yield {
                    "id": row_id(problem_set, step, f"r{run.step_run_id}"),
                    "problem_set_id": problem_set.id,
                    "step": step.number,
                    "prompt": plain(sent_messages(step, run)),
                    "completion": run.answer,
                    "label": False,
                    "source": "annotated_run",
                }
