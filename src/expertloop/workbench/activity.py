"""Activity heartbeats from the workbench, and the tracked time they add up to.

The page sends a heartbeat about every 30 seconds while it is visible and focused and the expert
typed or clicked since the last one. Time between two consecutive heartbeats of a user counts
when the gap is at most the idle cutoff, and goes to the project and problem set of the earlier
heartbeat; a longer gap counts nothing. Several open tabs never count twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.types import utcnow
from expertloop.workbench import policies
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import Heartbeat
from expertloop.workbench.policies import Access

KINDS = frozenset({"active", "typing", "click", "visible"})
# Heartbeats closer together than this are one (a page that fires twice, two tabs).
MIN_GAP = dt.timedelta(seconds=5)


def record(
    *,
    session: Session,
    access: Access,
    loaded: Loaded | None = None,
    kind: str = "active",
    now: dt.datetime | None = None,
) -> Heartbeat | None:
    """Store a heartbeat for the actor on a project (and problem set); None when deduplicated."""
    if kind not in KINDS:
        raise ValidationFailed(f"Unknown activity kind {kind!r}.")
    if not (policies.can_create(access)):
        raise PermissionDenied("Only the people working on the project track time on it.")
    if loaded is not None and loaded.problem_set.author_id != access.actor.id:
        raise PermissionDenied("Time is tracked on your own problem sets.")
    if loaded is not None and loaded.problem_set.project_id != access.project.id:
        raise ValidationFailed("That problem set is not in this project.")
    if loaded is not None and not loaded.can_edit:
        return None  # a submitted or accepted problem set is not worked on: no time counts
    at = now or utcnow()
    last = session.scalar(
        select(Heartbeat.at)
        .where(Heartbeat.user_id == access.actor.id)
        .order_by(Heartbeat.at.desc())
        .limit(1)
    )
    if last is not None and at - last < MIN_GAP:
        return None
    row = Heartbeat(
        user_id=access.actor.id,
        project_id=access.project.id,
        problem_set_id=loaded.problem_set.id if loaded is not None else None,
        at=at,
        kind=kind,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Tracked:
    """Seconds of tracked time per (project id, problem set id or None)."""

    seconds: dict[tuple[int, int | None], float]

    def total(self, project_id: int | None = None, problem_set_id: int | None = None) -> float:
        return sum(
            s
            for (p, ps), s in self.seconds.items()
            if (project_id is None or p == project_id)
            and (problem_set_id is None or ps == problem_set_id)
        )


def tracked(
    *,
    session: Session,
    user_id: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    idle_cutoff: dt.timedelta = dt.timedelta(minutes=5),
) -> Tracked:
    """Add up a user's tracked time from their heartbeats (see the module docstring)."""
    query = select(Heartbeat.at, Heartbeat.project_id, Heartbeat.problem_set_id).where(
        Heartbeat.user_id == user_id
    )
    if since is not None:
        query = query.where(Heartbeat.at >= since)
    if until is not None:
        query = query.where(Heartbeat.at < until)
    rows = session.execute(query.order_by(Heartbeat.at, Heartbeat.id)).all()
    seconds: dict[tuple[int, int | None], float] = defaultdict(float)
    for earlier, later in pairwise(rows):
        gap = later.at - earlier.at
        if gap <= idle_cutoff:
            seconds[(earlier.project_id, earlier.problem_set_id)] += gap.total_seconds()
    return Tracked(dict(seconds))
