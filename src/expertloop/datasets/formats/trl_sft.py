"""``trl-sft`` and ``trl-sft-conversational``: TRL's SFT dataset types, one row per finished step.

https://huggingface.co/docs/trl/dataset_formats — ``trl-sft`` is the standard prompt-completion
type (``prompt``, ``completion`` strings); ``trl-sft-conversational`` is the conversational
language-modeling type (``messages``). Two configs, so each loads with its own columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    ID_FIELDS,
    MESSAGES,
    FormatContext,
    ShortFormat,
    assistant,
    plain,
    row_id,
)
from expertloop.workbench.lineage import ProblemSetLineage
from expertloop.workbench.lineage_sft import SFTProblemSet


class TRLSFT(ShortFormat):
    """Prompt → ideal answer as TRL standard prompt-completion rows."""

    name = "trl-sft"
    version = "1.0"
    description = (
        "TRL prompt-completion (standard): `prompt` (chain mode: a User/Assistant transcript of "
        "the earlier steps, then the prompt) and `completion`, the ideal answer."
    )
    arrow_schema = pa.schema(
        [*ID_FIELDS, pa.field("prompt", pa.string()), pa.field("completion", pa.string())]
    )

    def rows(
        self, problem_set: ProblemSetLineage | SFTProblemSet, ctx: FormatContext
    ) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            target = step.target_answer()
            if target is None:
                continue
            yield {
                "id": row_id(problem_set, step),
                "problem_set_id": problem_set.id,
                "step": step.number,
                "prompt": plain(step.messages()),
                "completion": target[0],
            }


class TRLSFTConversational(ShortFormat):
    """Prompt → ideal answer as TRL conversational ``messages`` rows."""

    name = "trl-sft-conversational"
    version = "1.0"
    description = (
        "TRL conversational language modeling: `messages`, the step's conversation (chain mode: "
        "with the earlier steps) ending in the ideal answer."
    )
    arrow_schema = pa.schema([*ID_FIELDS, pa.field("messages", MESSAGES)])

    def rows(
        self, problem_set: ProblemSetLineage | SFTProblemSet, ctx: FormatContext
    ) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            target = step.target_answer()
            if target is None:
                continue
            yield {
                "id": row_id(problem_set, step),
                "problem_set_id": problem_set.id,
                "step": step.number,
                "messages": [*step.messages(), *assistant(target[0])],
            }
