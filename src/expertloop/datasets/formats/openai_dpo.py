"""``openai-dpo``: OpenAI preference fine-tuning JSONL (direct preference optimisation).

https://platform.openai.com/docs/guides/direct-preference-optimization — each line holds
``input.messages``, ``preferred_output`` and ``non_preferred_output`` (each a list with one
assistant message). The input is what the flawed model run was sent; the preferred output is the
step's ideal answer (or the run that passed); the non-preferred one is the annotated answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    MESSAGES,
    ExportFormat,
    FormatContext,
    assistant,
    flawed_runs,
    sent_messages,
)
from expertloop.workbench.lineage import ProblemSetLineage


class OpenAIDPO(ExportFormat):
    """Ideal answer against the flawed model answer, in OpenAI's preference shape."""

    name = "openai-dpo"
    version = "1.0"
    description = (
        "OpenAI preference fine-tuning (DPO) pairs: `input.messages` as the flawed run was "
        "sent, `preferred_output` the ideal (or passing) answer, `non_preferred_output` the "
        "annotated one."
    )
    arrow_schema = pa.schema(
        [
            pa.field("input", pa.struct([pa.field("messages", MESSAGES)])),
            pa.field("preferred_output", MESSAGES),
            pa.field("non_preferred_output", MESSAGES),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            target = step.target_answer()
            if target is None:
                continue
            chosen, _source, chosen_run = target
            for _number, run in flawed_runs(step, chosen_run):
                if run.answer == chosen:
                    continue
                yield {
                    "input": {"messages": sent_messages(step, run)},
                    "preferred_output": assistant(chosen),
                    "non_preferred_output": assistant(run.answer),
                }
