"""The operator's activity feed: audit events told in words, each naming and pointing at its object.

The words come from ``expertloop.events.describe`` (one map of event kinds to sentences); this
module finds the names those sentences need (people, projects, problem sets, steps, models) in a
few queries per page, and what each event points at (an annotation or a run points at its step).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Organisation, User
from expertloop.accounts.policies import can_read_audit_log
from expertloop.errors import PermissionDenied
from expertloop.events import AuditLog, Sentence, describe
from expertloop.llm.models import ModelEndpoint
from expertloop.projects.models import Project
from expertloop.workbench.models import Annotation, ProblemSet, Step, StepRevision, StepRun

PAGE = 15
# Logins and tokens are the audit log's business: in the feed they would drown the work.
QUIET_PREFIX = "auth."
# Subject types whose object has a page of its own, under the same name in ``FeedItem.link``.
LINKED = frozenset({"problem_set", "step", "project", "job", "payout_run", "webhook", "user"})


@dataclass(frozen=True)
class FeedItem:
    """One event of the feed (or a run of the same event told once, ``times`` over)."""

    id: int
    at: dt.datetime
    kind: str
    sentence: Sentence
    link: tuple[str, int] | None  # (what, id): the object's page, e.g. ("step", 12)
    times: int = 1

    @property
    def text(self) -> str:
        return self.sentence.text


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed, newest first; ``next_before_id`` asks for the older ones."""

    items: list[FeedItem]
    next_before_id: int | None


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _ids(rows: list[AuditLog], subject_type: str) -> set[int]:
    return {
        i for r in rows if r.subject_type == subject_type and (i := _int(r.subject_id)) is not None
    }


def _names(
    session: Session, query: Select[int, str], key: InstrumentedAttribute[int], ids: set[int]
) -> dict[int, str]:
    """Map these ids to the names ``query`` selects (no query when there are none)."""
    if not ids:
        return {}
    return {i: name for i, name in session.execute(query.where(key.in_(ids)))}


def _quoted(title: str) -> str:
    return f"\u2018{title}\u2019"  # typographic single quotes around a title


def activity_feed(
    *, session: Session, actor: User, limit: int = PAGE, before_id: int | None = None
) -> FeedPage:
    """Return a page of the audit log in words (operators only)."""
    if not can_read_audit_log(actor):
        raise PermissionDenied("Only operators read the activity feed.")
    query = select(AuditLog).where(AuditLog.kind.not_like(QUIET_PREFIX + "%"))
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows = list(session.scalars(query.order_by(AuditLog.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]

    user_ids = {r.actor_user_id for r in rows if r.actor_user_id} | _ids(rows, "user")
    user_ids |= {u for r in rows if (u := _int((r.data or {}).get("user_id"))) is not None}
    people = users_uc.names_by_id(session=session, user_ids=user_ids)
    project_ids = _ids(rows, "project")
    project_ids |= {p for r in rows if (p := _int((r.data or {}).get("project_id"))) is not None}
    projects = _names(session, select(Project.id, Project.name), Project.id, project_ids)
    # Annotations and runs are told (and linked) as the step they belong to.
    step_of: dict[tuple[str, int], int] = {}
    annotation_ids, run_ids = _ids(rows, "annotation"), _ids(rows, "step_run")
    if annotation_ids:
        for aid, sid in session.execute(
            select(Annotation.id, StepRevision.step_id)
            .join(StepRevision, StepRevision.id == Annotation.revision_id)
            .where(Annotation.id.in_(annotation_ids))
        ):
            step_of[("annotation", aid)] = sid
    if run_ids:
        for rid, sid in session.execute(
            select(StepRun.id, StepRevision.step_id)
            .join(StepRevision, StepRevision.id == StepRun.revision_id)
            .where(StepRun.id.in_(run_ids))
        ):
            step_of[("step_run", rid)] = sid
    # A review comment is told (and linked) as the step it is on (its event names the step).
    for row in rows:
        if row.subject_type == "review_comment" and (oid := _int(row.subject_id)) is not None:
            step_id = _int((row.data or {}).get("step_id"))
            if step_id is not None:
                step_of[("review_comment", oid)] = step_id
    step_ids = _ids(rows, "step") | set(step_of.values())
    steps: dict[int, tuple[str, int]] = {}  # step id -> (label, problem set id)
    if step_ids:
        for sid, title, ps_title, ps_id in session.execute(
            select(Step.id, Step.title, ProblemSet.title, ProblemSet.id)
            .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
            .where(Step.id.in_(step_ids))
        ):
            of = _quoted(ps_title)
            steps[sid] = (f"{_quoted(title)} of {of}" if title else f"a step of {of}", ps_id)
    problem_sets = _names(
        session, select(ProblemSet.id, ProblemSet.title), ProblemSet.id, _ids(rows, "problem_set")
    )
    endpoints = _names(
        session,
        select(ModelEndpoint.id, ModelEndpoint.name),
        ModelEndpoint.id,
        _ids(rows, "model_endpoint"),
    )
    orgs = _names(
        session,
        select(Organisation.id, Organisation.name),
        Organisation.id,
        _ids(rows, "organisation"),
    )

    items: list[FeedItem] = []
    for row in rows:
        oid = _int(row.subject_id)
        kind = row.subject_type or ""
        subject: str | None = None
        link: tuple[str, int] | None = None
        if oid is not None:
            if kind in ("annotation", "step_run", "review_comment"):
                step_id = step_of.get((kind, oid))
                if step_id is not None and step_id in steps:
                    subject, link = steps[step_id][0], ("step", step_id)
            elif kind == "step" and oid in steps:
                subject, link = steps[oid][0], ("step", oid)
            elif kind == "problem_set" and oid in problem_sets:
                subject, link = _quoted(problem_sets[oid]), ("problem_set", oid)
            elif kind == "project" and oid in projects:
                subject, link = projects[oid], ("project", oid)
            elif kind == "user" and oid in people:
                subject, link = people[oid], ("user", oid)
            elif kind == "model_endpoint" and oid in endpoints:
                subject = endpoints[oid]
            elif kind == "organisation" and oid in orgs:
                subject = orgs[oid]
            elif kind in ("job", "payout_run", "webhook"):
                link = (kind, oid)  # pages that load (and check) the object themselves
        if link is None and kind not in LINKED:
            pid = _int((row.data or {}).get("project_id"))
            if pid is not None and pid in projects:
                link = ("project", pid)  # e.g. a snapshot or an import: its project's page
        if row.actor_user_id:
            actor_name = people.get(row.actor_user_id, f"User {row.actor_user_id}")
        else:
            actor_name = "The system"
        sentence = describe(
            row, actor=actor_name, subject=subject, user_names=people, project_names=projects
        )
        last = items[-1] if items else None
        if last is not None and (last.kind, last.sentence, last.link) == (row.kind, sentence, link):
            # One rubric scored criterion by criterion is one thing done, not five lines.
            items[-1] = replace(last, times=last.times + 1)
        else:
            items.append(FeedItem(row.id, row.at, row.kind, sentence, link))
    return FeedPage(items, rows[-1].id if more and rows else None)
