"""``rubrics``: each step's prompt with its rubric and reference, for rubric-graded RL and evals.

A rubric item carries its criterion text and points. The expert's criteria earn points; each
fault the experts located in a model answer becomes a pitfall with negative points, so a grader
penalises an answer that repeats it. Two shapes of the same items in every row:

- HealthBench (https://github.com/openai/simple-evals, ``healthbench_eval.py``): ``rubrics`` with
  ``criterion``, ``points``, ``tags``;
- Rubrics as Rewards (https://arxiv.org/abs/2507.17746, the RaR datasets): ``rubric`` with
  ``title``, ``description``, ``weight``.
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
    plain,
    row_id,
)
from expertloop.workbench.lineage import AnnotationLine, ProblemSetLineage, StepLine

CRITERION_POINTS = 5  # every expert criterion must hold for a step to pass: "essential"
FAULT_POINTS = {"minor": -1, "major": -3, "critical": -5}
_RANK = {"minor": 0, "major": 1, "critical": 2}

HEALTHBENCH_ITEM = pa.struct(
    [
        pa.field("criterion", pa.string()),
        pa.field("points", pa.int64()),
        pa.field("tags", pa.list_(pa.string())),
    ]
)
RAR_ITEM = pa.struct(
    [
        pa.field("title", pa.string()),
        pa.field("description", pa.string()),
        pa.field("weight", pa.int64()),
    ]
)


def pitfalls(step: StepLine) -> list[AnnotationLine]:
    """Return the step's located answer faults, one per (category, quote), the worst kept."""
    found: dict[tuple[str, str], AnnotationLine] = {}
    for rev in step.revisions:
        for run in rev.runs:
            for a in run.annotations:
                if a.side != "response":
                    continue
                key = (a.category, a.quote.strip())
                if key not in found or _RANK[a.severity] > _RANK[found[key].severity]:
                    found[key] = a
    return list(found.values())


def fault_text(a: AnnotationLine) -> str:
    """Describe a located fault as the behaviour a grader penalises."""
    text = (
        f"{a.category_label}: states “{a.quote.strip()}”" if a.quote.strip() else a.category_label
    )
    if a.note:
        text += f" ({a.note})"
    return text


class Rubrics(ExportFormat):
    """Prompt, rubric items (criteria and pitfalls) and reference answer per step."""

    name = "rubrics"
    version = "1.0"
    description = (
        "Rubric-graded prompts: `prompt` messages and `question`, `reference_answer`, "
        "`reference` facts, and the rubric twice: HealthBench `rubrics` (criterion, points, tags) "
        "and Rubrics-as-Rewards `rubric` (title, description, weight); located faults are "
        "pitfalls with negative points."
    )
    task_categories = ("text-generation", "reinforcement-learning")
    arrow_schema = pa.schema(
        [
            *ID_FIELDS,
            pa.field("prompt", MESSAGES),
            pa.field("question", pa.string()),
            pa.field("reference_answer", pa.string()),
            pa.field("reference", pa.string()),
            pa.field("rubrics", pa.list_(HEALTHBENCH_ITEM)),
            pa.field("rubric", pa.list_(RAR_ITEM)),
        ]
    )

    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        for step in problem_set.steps:
            latest = step.latest
            if latest is None:
                continue
            faults = pitfalls(step)
            if not latest.rubric and not faults:
                continue
            healthbench: list[dict[str, Any]] = []
            rar: list[dict[str, Any]] = []
            for i, criterion in enumerate(latest.rubric, start=1):
                healthbench.append(
                    {
                        "criterion": criterion,
                        "points": CRITERION_POINTS,
                        "tags": ["level:example", "source:rubric"],
                    }
                )
                rar.append(
                    {
                        "title": f"Criterion {i}",
                        "description": f"Essential Criteria: {criterion}",
                        "weight": CRITERION_POINTS,
                    }
                )
            for a in faults:
                text = fault_text(a)
                points = FAULT_POINTS[a.severity]
                healthbench.append(
                    {
                        "criterion": text,
                        "points": points,
                        "tags": [
                            "level:example",
                            "source:located_fault",
                            f"category:{a.category}",
                            f"severity:{a.severity}",
                        ],
                    }
                )
                rar.append(
                    {
                        "title": f"Pitfall: {a.category_label}",
                        "description": f"Pitfall Criteria: {text}",
                        "weight": points,
                    }
                )
            messages = step.messages()
            target = step.target_answer()
            yield {
                "id": row_id(problem_set, step),
                "problem_set_id": problem_set.id,
                "step": step.number,
                "prompt": messages,
                "question": plain(messages),
                "reference_answer": target[0] if target is not None else "",
                "reference": latest.reference,
                "rubrics": healthbench,
                "rubric": rar,
            }
