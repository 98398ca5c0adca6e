"""The audit log as an outbox: turn new audit rows into deliveries for matching subscriptions.

A scan reads the audit rows of the source kinds after a stored cursor, makes one delivery per
matching active subscription (unique on (subscription, audit row), so a re-scan adds nothing),
and advances the cursor. Audit ids are handed out before commit, so on PostgreSQL a row can
become visible after a higher one was scanned: each scan therefore also re-reads the last few
minutes (``LOOKBACK``), which the unique key makes harmless.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from expertloop.events import AuditLog
from expertloop.types import utcnow
from expertloop.webhooks.models import DeliveryStatus, WebhookCursor, WebhookDelivery
from expertloop.webhooks.models import WebhookSubscription as Sub
from expertloop.workbench import problem_sets as wb_problem_sets

PROBLEM_SET_ACCEPTED = "problem_set.accepted"
SNAPSHOT_READY = "snapshot.ready"
JOB_FAILED = "job.failed"
EVENT_TYPES = (PROBLEM_SET_ACCEPTED, SNAPSHOT_READY, JOB_FAILED)
EVENT_LABELS = {
    PROBLEM_SET_ACCEPTED: "A problem set was accepted",
    SNAPSHOT_READY: "A dataset snapshot is ready to download",
    JOB_FAILED: "A background job failed",
}

# The audit kinds that can become webhook events (the after-commit trigger listens for these).
SOURCE_KINDS = frozenset(
    {"workbench.problem_set_transitioned", "datasets.snapshot_ready", "jobs.failed"}
)
LOOKBACK = dt.timedelta(minutes=10)
SCAN_LIMIT = 2000
CURSOR_ID = 1


def event_type_of(row: AuditLog) -> str | None:
    """Return the webhook event type an audit row stands for, if any."""
    data = row.data or {}
    if row.kind == "workbench.problem_set_transitioned":
        return PROBLEM_SET_ACCEPTED if data.get("to_status") == "accepted" else None
    if row.kind == "datasets.snapshot_ready":
        return SNAPSHOT_READY
    if row.kind == "jobs.failed":
        # A failed delivery job is no client event, and reporting it could loop.
        return None if str(data.get("job_kind", "")).startswith("webhooks.") else JOB_FAILED
    return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _problem_set_data(session: Session, row: AuditLog, api: str) -> dict[str, Any]:
    ps_id = _int(row.subject_id)
    ps = wb_problem_sets.facts(session=session, problem_set_id=ps_id) if ps_id is not None else None
    return {
        "problem_set_id": ps_id,
        "project_id": ps.project_id if ps else None,
        "accepted_at": _iso(ps.accepted_at) if ps and ps.accepted_at else _iso(row.at),
        "url": f"{api}/problem-sets/{ps_id}",
    }


def _snapshot_data(_session: Session, row: AuditLog, api: str) -> dict[str, Any]:
    snapshot_id = _int(row.subject_id)
    return {
        "snapshot_id": snapshot_id,
        "project_id": _int(row.data.get("project_id")),
        "number": _int(row.data.get("number")),
        "url": f"{api}/snapshots/{snapshot_id}",
        "download_url": f"{api}/snapshots/{snapshot_id}/archive",
    }


def _job_data(_session: Session, row: AuditLog, api: str) -> dict[str, Any]:
    job_id = _int(row.subject_id)
    return {
        "job_id": job_id,
        "job_kind": str(row.data.get("job_kind", "")),
        "project_id": _int(row.data.get("project_id")),
        "error": str(row.data.get("error", ""))[:1000],
        "url": f"{api}/jobs/{job_id}",
    }


# Only ids, URLs of API resources and non-personal facts: never secrets, never experts' data.
_DATA: dict[str, Callable[[Session, AuditLog, str], dict[str, Any]]] = {
    PROBLEM_SET_ACCEPTED: _problem_set_data,
    SNAPSHOT_READY: _snapshot_data,
    JOB_FAILED: _job_data,
}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def body_for(session: Session, row: AuditLog, event_type: str, base_url: str) -> str:
    """Return the JSON body of the event an audit row stands for."""
    api = base_url.rstrip("/") + "/api/v1"
    payload = {
        "type": event_type,
        "timestamp": _iso(row.at),
        "data": _DATA[event_type](session, row, api),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _lock_cursor(session: Session, now: dt.datetime) -> WebhookCursor:
    # Writing first takes the row lock (PostgreSQL) or the write lock (SQLite) before reading,
    # so concurrent scans queue up instead of racing to insert the same deliveries.
    result = session.execute(
        update(WebhookCursor).where(WebhookCursor.id == CURSOR_ID).values(updated_at=now)
    )
    if getattr(result, "rowcount", 0) == 0:
        # The migration creates the row; a database made otherwise starts from the beginning,
        # which is harmless: subscriptions only get events from after they were created.
        session.add(WebhookCursor(id=CURSOR_ID, last_audit_id=0, updated_at=now))
        session.flush()
    cursor = session.scalars(
        select(WebhookCursor)
        .where(WebhookCursor.id == CURSOR_ID)
        .execution_options(populate_existing=True)
    ).one()
    return cursor


def scan(
    *,
    session: Session,
    base_url: str,
    max_attempts: int,
    now: dt.datetime | None = None,
    limit: int = SCAN_LIMIT,
) -> list[int]:
    """Create the deliveries for audit rows not scanned yet; return the new delivery ids."""
    now = now or utcnow()
    cursor = _lock_cursor(session, now)
    newest = int(session.scalar(select(func.max(AuditLog.id))) or 0)
    subs = list(session.scalars(select(Sub).where(Sub.is_active.is_(True))))
    if not subs:
        cursor.last_audit_id = max(cursor.last_audit_id, newest)
        session.flush()
        return []
    by_org: dict[int, list[Sub]] = {}
    for sub in subs:
        by_org.setdefault(sub.organisation_id, []).append(sub)
    source = select(AuditLog).where(
        or_(
            and_(
                AuditLog.kind == "workbench.problem_set_transitioned",
                AuditLog.data["to_status"].as_string() == "accepted",
            ),
            AuditLog.kind.in_(SOURCE_KINDS - {"workbench.problem_set_transitioned"}),
        ),
        AuditLog.organisation_id.in_(by_org),
    )
    fresh = list(
        session.scalars(
            source.where(AuditLog.id > cursor.last_audit_id, AuditLog.id <= newest)
            .order_by(AuditLog.id)
            .limit(limit)
        )
    )
    late = list(
        session.scalars(
            source.where(AuditLog.id <= cursor.last_audit_id, AuditLog.at >= now - LOOKBACK)
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
    )
    rows = sorted(late, key=lambda r: r.id) + fresh
    wanted: list[tuple[Sub, AuditLog, str]] = []
    for row in rows:
        event_type = event_type_of(row)
        if event_type is None or row.organisation_id is None:
            continue
        for sub in by_org.get(row.organisation_id, []):
            if event_type in sub.events and row.at >= sub.created_at:
                wanted.append((sub, row, event_type))
    existing: set[tuple[int, int]] = set()
    if wanted:
        pairs = list({(sub.id, row.id) for sub, row, _ in wanted})
        existing = {
            (s, a)
            for s, a in session.execute(
                select(WebhookDelivery.subscription_id, WebhookDelivery.audit_id).where(
                    tuple_(WebhookDelivery.subscription_id, WebhookDelivery.audit_id).in_(pairs)
                )
            )
        }
    created: list[WebhookDelivery] = []
    bodies: dict[tuple[int, str], str] = {}
    for sub, row, event_type in wanted:
        if (sub.id, row.id) in existing:
            continue
        existing.add((sub.id, row.id))
        key = (row.id, event_type)
        if key not in bodies:
            bodies[key] = body_for(session, row, event_type, base_url)
        delivery = WebhookDelivery(
            subscription_id=sub.id,
            audit_id=row.id,
            event_type=event_type,
            message_id=f"msg_{uuid.uuid4().hex}",
            body=bodies[key],
            status=DeliveryStatus.pending,
            attempts=0,
            max_attempts=max_attempts,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(delivery)
        created.append(delivery)
    # Rows of other kinds or organisations need no second look: skip to the newest id, unless
    # the limit cut this scan short.
    reached = fresh[-1].id if len(fresh) >= limit else newest
    cursor.last_audit_id = max(cursor.last_audit_id, reached)
    session.flush()
    return [d.id for d in created]
