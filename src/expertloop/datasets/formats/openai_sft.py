"""``openai-sft``: OpenAI chat fine-tuning JSONL, one conversation per finished step.

https://platform.openai.com/docs/guides/supervised-fine-tuning — each line holds ``messages``
(system, user, assistant). A chain-mode step becomes a multi-turn conversation carrying the
earlier steps' prompts and answers; the last assistant turn is the step's ideal answer, or the
model answer that passed when no ideal answer was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import MESSAGES, FormatContext, ShortFormat, assistant
from expertloop.workbench.lineage import ProblemSetLineage
from expertloop.workbench.lineage_sft import SFTProblemSet


class OpenAISFT(ShortFormat):
    """Prompt → ideal answer as OpenAI chat fine-tuning examples."""

    name = "openai-sft"
    version = "1.0"
    description = (
        "OpenAI chat fine-tuning (SFT) examples: `messages` with the step's prompt (and, in chain "
        "mode, the earlier steps as turns) and the ideal answer as the assistant's reply."
    )
    arrow_schema = pa.schema([pa.field("messages", MESSAGES)])

    def rows(
        self, problem_set: ProblemSetLineage | SFTProblemSet, ctx: FormatContext
    ) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            target = step.target_answer()
            if target is None:
                continue
            text, _source, run = target
            messages = step.messages()
            if run is not None and run.system_prompt:
                messages = [{"role": "system", "content": run.system_prompt}, *messages]
            yield {"messages": [*messages, *assistant(text)]}
