"""Typed audit events and the append-only audit log they land in."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


class AuditLog(Base):
    """One audit event; rows are never updated or deleted (enforced by database triggers)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every audit event: who did it, from where, and to what."""

    kind: str = field(init=False, default="event")
    actor_user_id: int | None = None
    organisation_id: int | None = None
    ip: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the event-specific fields (everything but the common ones)."""
        common = {"kind", "actor_user_id", "organisation_id", "ip", "subject_type", "subject_id"}
        return {k: v for k, v in self.__dict__.items() if k not in common}


EMITTED_KINDS_KEY = "expertloop.events.emitted_kinds"


def emit(event: Event, *, session: Session) -> AuditLog:
    """Append ``event`` to the audit log within the caller's transaction.

    The kinds emitted are noted in ``session.info`` so that an after-commit listener (set up by
    the composition root, e.g. for webhooks) can react to what a transaction recorded.
    """
    row = AuditLog(
        kind=event.kind,
        actor_user_id=event.actor_user_id,
        organisation_id=event.organisation_id,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        ip=event.ip,
        data=event.payload(),
    )
    session.add(row)
    session.flush()
    session.info.setdefault(EMITTED_KINDS_KEY, set()).add(event.kind)
    return row


def recent(
    *, session: Session, kind: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[AuditLog]:
    """Return audit rows, newest first, optionally of one kind, paginated by id."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if kind:
        query = query.where(AuditLog.kind == kind)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(session.scalars(query))


# --- The activity feed's words ---------------------------------------------------------------
# One sentence per event kind (per action for transitions), so that a feed speaks words, not
# codes. Placeholders: {actor}; {subject}, the object the event is about (a page links it);
# {user} and {project}, the names of data["user_id"] and data["project_id"]; any other name is a
# field of the event's data. A kind missing here gets FALLBACK_SENTENCE.
SENTENCES: dict[str, str] = {
    "auth.login_succeeded": "{actor} logged in",
    "auth.login_failed": "A login to {subject} failed",
    "auth.logged_out": "{actor} logged out",
    "auth.password_changed": "{actor} changed their password",
    "auth.token_created": "{actor} created an API token",
    "auth.token_revoked": "{actor} revoked an API token",
    "accounts.organisation_created": "{actor} added the organisation {subject}",
    "accounts.user_created": "{actor} added {subject} as {role}",
    "accounts.role_changed": "{actor} made {subject} {to_role}",
    "accounts.user_deactivated": "{actor} deactivated {subject}",
    "accounts.user_reactivated": "{actor} reactivated {subject}",
    "projects.created": "{actor} created the project {subject}",
    "projects.updated": "{actor} edited the project {subject}",
    "experts.candidate_moved": "{actor} moved candidate {subject} from {from_state} to {to_state}",
    "experts.interview_guide_saved": "{actor} saved version {version} of the interview guide",
    "experts.interview_started": "{actor} started their interview",
    "experts.interview_completed": "{actor} answered the last interview question",
    "experts.interview_scored": "{actor} had the model suggest a score for {subject}",
    "experts.assessment_bank_saved": "{actor} saved the {domain} question bank",
    "experts.assessment_question_saved": "{actor} saved {subject} of a question bank",
    "experts.assessment_started": "{actor} started a domain assessment",
    "experts.assessment_submitted": "{actor} closed {subject}",
    "experts.assessment_graded": "{actor} graded {subject}: {score} of {max_score}",
    "experts.candidate_entered": "{actor} added candidate {subject} to the pipeline ({source})",
    "experts.invitation_created": "{actor} sent an invitation link to candidate {subject}",
    "experts.invitation_revoked": "{actor} revoked an invitation link of candidate {subject}",
    "experts.invitation_accepted": "{actor} accepted their invitation and applied",
    "experts.profile_saved": "{actor} saved the expert profile of {subject}",
    "projects.staffed": "{actor} staffed {user} on {subject} as {role}",
    "projects.staff_role_changed": "{actor} made {user} {to_role} on {subject}",
    "projects.unstaffed": "{actor} took {user} off {subject}",
    "projects.target_models_changed": "{actor} changed the target models of {subject}",
    "projects.nda_published": "{actor} published version {nda_version} of the NDA of {subject}",
    "projects.nda_accepted": "{actor} accepted version {nda_version} of the NDA of {subject}",
    "models.endpoint_added": "{actor} connected the model {subject}",
    "models.endpoint_updated": "{actor} changed the model {subject}",
    "models.endpoint_removed": "{actor} removed the model {subject}",
    "workbench.problem_set_created": "{actor} started {subject}",
    "workbench.problem_set_transitioned:start": "{actor} started work on {subject}",
    "workbench.problem_set_transitioned:resume": "{actor} resumed work on {subject}",
    "workbench.problem_set_transitioned:submit": "{actor} submitted {subject} for review",
    "workbench.problem_set_transitioned:start_review": "{actor} began reviewing {subject}",
    "workbench.problem_set_transitioned:accept": "{actor} accepted {subject}",
    "workbench.problem_set_transitioned:return": "{actor} returned {subject} to its author",
    "workbench.step_added": "{actor} added {subject}",
    "workbench.step_deleted": "{actor} deleted a step",
    "workbench.steps_reordered": "{actor} reordered the steps of {subject}",
    "workbench.step_revised": "{actor} revised {subject} (revision {number})",
    "workbench.step_run_started": "{actor} ran {subject}",
    "workbench.annotation_added": "{actor} marked a {severity} fault in {subject}",
    "workbench.annotation_deleted": "{actor} removed a fault mark in {subject}",
    "workbench.rubric_scored": "{actor} scored the rubric of {subject}",
    "workbench.ideal_answer_started": "{actor} began the ideal answer of {subject}",
    "workbench.taxonomy_changed": "{actor} changed the fault taxonomy of {subject}",
    "payments.rate_set": "{actor} set an hourly rate",
    "payments.terms_set": "{actor} set the pay terms of {subject}",
    "payments.adjustment_requested": "{actor} asked for a time adjustment",
    "payments.adjustment_decided": "{actor} decided a time adjustment ({status})",
    "payments.timesheet_transitioned": "{actor} moved the week of {week_start} to {to_status}",
    "payments.bonus_awarded": "{actor} awarded {user} a bonus",
    "payments.bonus_rule_set": "{actor} set a bonus rule on {subject}",
    "payments.payout_run": "{actor} ran payouts to {period_end}",
    "payments.transaction_reversed": "{actor} reversed a ledger transaction",
    "payments.project_completed": "{actor} marked {subject} complete",
    "datasets.snapshot_created": "{actor} started snapshot {number} of {project}",
    "datasets.snapshot_ready": "Snapshot {number} of {project} is ready",
    "datasets.snapshot_failed": "Snapshot {number} of {project} failed",
    "datasets.seed_import_received": "{actor} uploaded seeds to {project}",
    "datasets.seeds_imported": "{rows} seeds were imported into {project}",
    "datasets.seed_import_failed": "A seed import into {project} failed",
    "datasets.seed_picked_up": "{actor} picked up a seed in {project}",
    "jobs.submitted": "{actor} queued a {job_kind} job",
    "jobs.failed": "A {job_kind} job failed",
    "jobs.cancelled": "{actor} cancelled a {job_kind} job",
    "review.comment_added": "{actor} commented on {subject}",
    "review.return_recorded": "{actor} kept the state of {subject} at its return ({steps} steps)",
    "review.settings_changed": "{actor} changed who reads the review comments of {subject}",
    "webhooks.created": "{actor} added a webhook",
    "webhooks.updated": "{actor} changed a webhook",
    "webhooks.deleted": "{actor} deleted a webhook",
    "webhooks.redelivered": "{actor} redelivered a webhook event",
}
FALLBACK_SENTENCE = "{actor}: {what}"


@dataclass(frozen=True)
class Segment:
    """A piece of a sentence: the template's own words, or a value put in (a name, a title:
    user text, which a page isolates); ``subject`` marks the name of the object it is about."""

    text: str
    value: bool = False
    subject: bool = False


@dataclass(frozen=True)
class Sentence:
    """An event told in words, in pieces so that a page can link the object's name."""

    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


def _humanise(kind: str) -> str:
    area, _, what = kind.partition(".")
    return (what or area).replace("_", " ")


def describe(
    row: AuditLog,
    *,
    actor: str,
    subject: str | None,
    user_names: dict[int, str] | None = None,
    project_names: dict[int, str] | None = None,
) -> Sentence:
    """Tell an audit row in words, from ``SENTENCES`` (a kind missing there gets the fallback)."""
    data = row.data or {}
    action = data.get("action")
    template = SENTENCES.get(f"{row.kind}:{action}") if action else None
    template = template or SENTENCES.get(row.kind)
    subject_text = subject or " ".join(
        part for part in ((row.subject_type or "").replace("_", " "), row.subject_id) if part
    )

    def value(name: str) -> str | None:
        if name == "actor":
            return actor
        if name == "subject":
            return subject_text or None
        if name == "user":
            uid = data.get("user_id")
            return (user_names or {}).get(uid) if isinstance(uid, int) else None
        if name == "project":
            pid = data.get("project_id")
            return (project_names or {}).get(pid) if isinstance(pid, int) else None
        if name == "what":
            return _humanise(row.kind) + (f" ({subject_text})" if subject_text else "")
        raw = data.get(name)
        return None if raw is None or raw == "" else str(raw).replace("_", " ")

    for candidate in (template, FALLBACK_SENTENCE):
        if candidate is None:
            continue
        segments: list[Segment] = []
        complete = True
        for literal, name, _spec, _conv in string.Formatter().parse(candidate):
            if literal:
                segments.append(Segment(literal))
            if name is None:
                continue
            text = value(name)
            if text is None:
                complete = False  # a field the row lacks: the fallback still says what happened
                break
            segments.append(Segment(text, value=True, subject=name == "subject"))
        if complete:
            return Sentence(tuple(segments))
    return Sentence((Segment(actor, value=True), Segment(f": {_humanise(row.kind)}")))
