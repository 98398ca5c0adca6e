"""The paid work sample (issue 11): a candidate moved to the work sample is staffed on the vetting
project, where their time is tracked, approved and paid like any expert's, at the project's rate
(no personal rate needed), and appears on their statement; staffed elsewhere they are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.experts.models import VettingState
from expertloop.workbench import activity
from expertloop.workbench.access import project_access
from tests.factories import World, make_project
from tests.unit.experts.test_pipeline import make_candidate

WEEK = "2026-11-16"
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


def test_work_sample_hours_are_paid_at_the_vetting_projects_rate(
    db: Session, world: World, login_as: Any
) -> None:
    vetting_project = make_project(db, world.org_a, name="Vetting: finance work sample")
    candidate = make_candidate(db, VettingState.interview, name="Priya Raman")
    db.commit()
    user = db.get(User, candidate.user_id)
    assert user is not None
    op = login_as(world.operator)
    me = login_as(user)

    rate = op.post(
        "/api/v1/rates",
        json={"project_id": vetting_project.id, "currency": "USD", "hourly_minor": 60_00,
              "effective_from": "2026-11-01"},
    )  # fmt: skip
    assert rate.status_code == 201, rate.text
    decided = op.post(
        f"/api/v1/candidates/{candidate.id}/decision",
        json={"to": "work_sample", "reason": "A paid sample next", "version": candidate.version,
              "project_id": vetting_project.id},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["staffed_project_id"] == vetting_project.id
    # Only there: another project refuses the candidate until they are approved.
    refused = op.post(
        f"/api/v1/projects/{world.project_a.id}/staff", json={"user_id": user.id, "role": "expert"}
    )
    assert refused.status_code == 409 and "not vetted yet" in refused.text

    # Two hours of tracked work on the sample (a heartbeat every 30 s), like any expert's.
    access = project_access(session=db, actor=user, project_id=vetting_project.id)
    for i in range(2 * 60 * 2 + 1):
        activity.record(session=db, access=access, now=MONDAY + dt.timedelta(seconds=30 * i))
    db.commit()
    week = me.get("/api/v1/me/time", params={"week": WEEK}).json()
    (line,) = week["lines"]
    assert line["project_id"] == vetting_project.id and line["tracked_seconds"] == 7_200

    sheet = me.post("/api/v1/timesheets", json={"week_start": WEEK})
    assert sheet.status_code == 201, sheet.text
    approved = op.post(f"/api/v1/timesheets/{sheet.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    (frozen,) = approved.json()["lines"]
    assert frozen["amount_minor"] == 120_00  # 2 h at USD 60.00 (the project's rate)

    statement = me.get(
        f"/api/v1/users/{user.id}/statement", params={"from": "2026-11-01", "to": "2026-11-30"}
    ).json()
    assert statement["earned"] == {"USD": 120_00}
    assert "2.00 h at USD 60.00/h" in statement["lines"][0]["description"]
