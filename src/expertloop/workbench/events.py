"""Audit events of the workbench.

Autosaved text (problem-set fields, step drafts, ideal-answer text) is versioned in its own rows
and not audited keystroke by keystroke; every structural change and every status change is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class ProblemSetCreated(Event):
    kind: str = field(init=False, default="workbench.problem_set_created")
    project_id: int = 0
    title: str = ""


@dataclass(frozen=True, kw_only=True)
class ProblemSetTransitioned(Event):
    kind: str = field(init=False, default="workbench.problem_set_transitioned")
    action: str = ""
    from_status: str = ""
    to_status: str = ""
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class StepAdded(Event):
    kind: str = field(init=False, default="workbench.step_added")
    problem_set_id: int = 0
    parent_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class StepDeleted(Event):
    kind: str = field(init=False, default="workbench.step_deleted")
    problem_set_id: int = 0


@dataclass(frozen=True, kw_only=True)
class StepsReordered(Event):
    kind: str = field(init=False, default="workbench.steps_reordered")
    step_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StepRevised(Event):
    kind: str = field(init=False, default="workbench.step_revised")
    step_id: int = 0
    number: int = 0
    motivated_by: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StepRunStarted(Event):
    kind: str = field(init=False, default="workbench.step_run_started")
    revision_id: int = 0
    model_run_id: int = 0
    endpoint_id: int = 0


@dataclass(frozen=True, kw_only=True)
class AnnotationAdded(Event):
    kind: str = field(init=False, default="workbench.annotation_added")
    revision_id: int = 0
    step_run_id: int | None = None
    category: str = ""
    severity: str = ""


@dataclass(frozen=True, kw_only=True)
class AnnotationDeleted(Event):
    kind: str = field(init=False, default="workbench.annotation_deleted")
    revision_id: int = 0


@dataclass(frozen=True, kw_only=True)
class RubricScored(Event):
    kind: str = field(init=False, default="workbench.rubric_scored")
    step_run_id: int = 0
    criterion: int = 0
    met: bool = False


@dataclass(frozen=True, kw_only=True)
class IdealAnswerStarted(Event):
    kind: str = field(init=False, default="workbench.ideal_answer_started")
    step_id: int = 0
    based_on_step_run_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaxonomyChanged(Event):
    kind: str = field(init=False, default="workbench.taxonomy_changed")
    version: int = 0
    keys: tuple[str, ...] = ()
