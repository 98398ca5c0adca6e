"""``iterations``: the whole lineage of every step, the history no other tool keeps.

One row per step: each revision's prompt, rubric, reference and reason, the annotations that
motivated it and the word diff from the previous prompt; its runs with their rubric results and
located faults; and the ideal answer with its diff to the model answer it began as.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from expertloop.datasets.formats.base import (
    DIFF_OP,
    ID_FIELDS,
    MESSAGES,
    SPAN,
    ExportFormat,
    FormatContext,
    chat,
    iso,
    row_id,
    span,
)
from expertloop.workbench.lineage import (
    IdealLine,
    ProblemSetLineage,
    RevisionLine,
    RunLine,
    StepLine,
)

CRITERION = pa.struct(
    [
        pa.field("index", pa.int64()),
        pa.field("criterion", pa.string()),
        pa.field("met", pa.bool_()),
    ]
)
PARAMS = pa.struct(
    [
        pa.field("temperature", pa.float64()),
        pa.field("top_p", pa.float64()),
        pa.field("max_tokens", pa.int64()),
        pa.field("seed", pa.int64()),
    ]
)
RUN = pa.struct(
    [
        pa.field("step_run_id", pa.int64()),
        pa.field("endpoint_id", pa.int64()),
        pa.field("endpoint", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("model_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("finish_reason", pa.string()),
        pa.field("chained", pa.bool_()),
        pa.field("params", PARAMS),
        pa.field("system_prompt", pa.string()),
        pa.field("messages", MESSAGES),
        pa.field("answer", pa.string()),
        pa.field("passing", pa.bool_()),
        pa.field("rubric", pa.list_(CRITERION)),
        pa.field("annotations", pa.list_(SPAN)),
        pa.field("created_at", pa.string()),
    ]
)
REVISION = pa.struct(
    [
        pa.field("number", pa.int64()),
        pa.field("prompt", pa.string()),
        pa.field("rubric", pa.list_(pa.string())),
        pa.field("reference", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("motivated_by", pa.list_(SPAN)),
        pa.field("prompt_diff", pa.list_(DIFF_OP)),
        pa.field("prompt_annotations", pa.list_(SPAN)),
        pa.field("runs", pa.list_(RUN)),
        pa.field("expert", pa.string()),
        pa.field("created_at", pa.string()),
    ]
)
IDEAL = pa.struct(
    [
        pa.field("text", pa.string()),
        pa.field("based_on_step_run_id", pa.int64()),
        pa.field("revision", pa.int64()),
        pa.field("diff", pa.list_(DIFF_OP)),
        pa.field("expert", pa.string()),
    ]
)


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _run(run: RunLine, ctx: FormatContext) -> dict[str, Any]:
    p = run.params
    return {
        "step_run_id": run.step_run_id,
        "endpoint_id": run.endpoint_id,
        "endpoint": run.endpoint_name,
        "provider": run.provider,
        "model_id": run.model_id,
        "status": run.status,
        "finish_reason": run.finish_reason,
        "chained": run.chained,
        "params": {
            "temperature": _number(p.get("temperature")),
            "top_p": _number(p.get("top_p")),
            "max_tokens": _number(p.get("max_tokens")),
            "seed": _number(p.get("seed")),
        },
        "system_prompt": run.system_prompt,
        "messages": chat(run.messages),
        "answer": run.answer,
        "passing": run.passing,
        "rubric": [{"index": c.index, "criterion": c.criterion, "met": c.met} for c in run.rubric],
        "annotations": [span(a, ctx) for a in run.annotations],
        "created_at": iso(run.created_at),
    }


def _revision(rev: RevisionLine, ctx: FormatContext) -> dict[str, Any]:
    return {
        "number": rev.number,
        "prompt": rev.prompt,
        "rubric": list(rev.rubric),
        "reference": rev.reference,
        "reason": rev.reason,
        "motivated_by": [span(a, ctx) for a in rev.motivating],
        "prompt_diff": [{"op": op, "text": text} for op, text in rev.prompt_diff],
        "prompt_annotations": [span(a, ctx) for a in rev.prompt_annotations],
        "runs": [_run(r, ctx) for r in rev.runs],
        "expert": ctx.expert(rev.author_id),
        "created_at": iso(rev.created_at),
    }


def _ideal(ideal: IdealLine | None, ctx: FormatContext) -> dict[str, Any] | None:
    if ideal is None:
        return None
    return {
        "text": ideal.text,
        "based_on_step_run_id": ideal.based_on_step_run_id,
        "revision": ideal.revision_number,
        "diff": [{"op": op, "text": text} for op, text in ideal.diff],
        "expert": ctx.expert(ideal.author_id),
    }


class Iterations(ExportFormat):
    """Every step's revisions, runs, faults, rubric results and ideal answer, as lived."""

    name = "iterations"
    version = "1.0"
    description = (
        "The lineage of every step: revisions (prompt, rubric, reference, reason, motivating "
        "annotations, prompt diff), their runs with rubric results and spans, and the ideal "
        "answer with its diff to the model answer it began as."
    )
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("problem_set_title", pa.string()),
            pa.field("domain", pa.string()),
            pa.field("persona", pa.string()),
            pa.field("title", pa.string()),
            pa.field("chain", pa.bool_()),
            pa.field("earlier_messages", MESSAGES),
            pa.field("passing", pa.bool_()),
            pa.field("done", pa.bool_()),
            pa.field("revisions", pa.list_(REVISION)),
            pa.field("ideal_answer", IDEAL),
            pa.field("expert", pa.string()),
            pa.field("accepted_at", pa.string()),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        expert = ctx.expert(problem_set.author_id)
        for step in problem_set.steps:
            yield self._row(problem_set, step, expert, ctx)

    def _row(
        self, ps: ProblemSetLineage, step: StepLine, expert: str, ctx: FormatContext
    ) -> dict[str, Any]:
        return {
            "id": row_id(ps, step),
            "problem_set_id": ps.id,
            "step": step.number,
            "problem_set_title": ps.title,
            "domain": ps.domain,
            "persona": ps.persona,
            "title": step.title,
            "chain": step.chain,
            # The conversation before this step's prompt (chain mode), as a model gets it.
            "earlier_messages": step.messages()[:-1] if step.latest is not None else [],
            "passing": step.passing,
            "done": step.done,
            "revisions": [_revision(r, ctx) for r in step.revisions],
            "ideal_answer": _ideal(step.ideal, ctx),
            "expert": expert,
            "accepted_at": iso(ps.accepted_at),
        }
