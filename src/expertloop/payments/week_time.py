"""An expert's time this week as pay will count it (for their home page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from expertloop.payments import timesheets


@dataclass(frozen=True)
class WeekTime:
    """Time this week: tracked, plus approved adjustments, within each project's weekly cap."""

    week_start: dt.date
    seconds: int


def week_time(
    *,
    session: Session,
    user_id: int,
    today: dt.date,
    idle_cutoff: dt.timedelta,
    default_margin_bp: int,
) -> WeekTime:
    """Add up the user's week the way their timesheet will (the Time page's figures)."""
    start = timesheets.week_of(today)
    lines = timesheets.compute_week(
        session=session,
        user_id=user_id,
        week_start=start,
        idle_cutoff=idle_cutoff,
        default_margin_bp=default_margin_bp,
    )
    return WeekTime(start, sum(line.capped_seconds for line in lines))
