"""The caller's own home: what the home page shows, as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from expertloop.payments.week_time import WeekTime
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.pages.home import feed_href, home_data
from expertloop.workbench import feed as feed_uc
from expertloop.workbench.home import ExpertHome
from expertloop.workbench.team import TeamProject

router = APIRouter(prefix="/me", tags=["me"], responses=ERRORS)


class FeedItemOut(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    text: str
    href: str | None
    times: int  # the same event this many times in a row, told once


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    next_before_id: int | None


class QueuedOut(BaseModel):
    id: int
    title: str
    project_id: int
    project_name: str
    status: str
    submitted_at: dt.datetime | None


class HomeOut(BaseModel):
    role: str
    expert: ExpertHome | None = None
    week: WeekTime | None = None  # experts and reviewers: this week's time as pay counts it
    team: list[TeamProject] | None = None
    review_queue: list[QueuedOut] | None = None
    feed: FeedOut | None = None


def _feed_out(page: feed_uc.FeedPage) -> FeedOut:
    return FeedOut(
        items=[
            FeedItemOut(
                id=i.id, at=i.at, kind=i.kind, text=i.text, href=feed_href(i.link), times=i.times
            )
            for i in page.items
        ],
        next_before_id=page.next_before_id,
    )


@router.get("/home", response_model=HomeOut)
def my_home(user: CurrentUser, db: DB, settings: AppSettings) -> HomeOut:
    """Return what the caller's home page shows: progress, team, review queue, activity."""
    data = home_data(db, settings, user)
    queue = data.get("review_queue")
    return HomeOut(
        role=user.role.value,
        expert=data.get("expert"),
        week=data.get("week"),
        team=data.get("team"),
        review_queue=[
            QueuedOut(
                id=ps.id,
                title=ps.title,
                project_id=project.id,
                project_name=project.name,
                status=ps.status.value,
                submitted_at=ps.submitted_at,
            )
            for ps, project in queue
        ]
        if queue is not None
        else None,
        feed=_feed_out(data["feed"]) if "feed" in data else None,
    )


@router.get("/activity", response_model=FeedOut)
def my_activity(
    user: CurrentUser,
    db: DB,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = feed_uc.PAGE,
) -> FeedOut:
    """Return the activity feed in words, newest first; page with ``before_id`` (operators)."""
    return _feed_out(
        feed_uc.activity_feed(session=db, actor=user, limit=limit, before_id=before_id)
    )
