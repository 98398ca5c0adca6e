"""A project's lead reviews its experts' weeks and adjustments: hours only, their projects only.

The rule: a lead (a reviewer staffed as ``lead``) approves or returns a submitted week when all
of its time is on projects they lead, and decides adjustments on those projects; never their own.
Everyone else who is not the expert or an operator gets 404, and a lead never sees pay.
"""

from __future__ import annotations

import datetime as dt

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.payments import rates
from expertloop.payments.models import LedgerTransaction, Timesheet, TimesheetStatus
from expertloop.payments.timesheets import week_of
from expertloop.projects.models import Project, StaffRole
from expertloop.types import utcnow
from expertloop.workbench import activity
from expertloop.workbench.access import project_access
from tests.factories import World, make_problem_set, make_project, make_user, staff

MONDAY = week_of(utcnow().date()) - dt.timedelta(weeks=1)  # last week: it can be submitted
WORKED_AT = dt.datetime.combine(MONDAY, dt.time(9), tzinfo=dt.UTC)


def _lead(db: Session, project: Project) -> User:
    lead = make_user(db, Role.reviewer, name="Lena Lead")
    staff(db, project, lead, StaffRole.lead)
    db.commit()
    return lead


def _work(db: Session, user: User, project: Project, minutes: int, offset_h: int = 0) -> None:
    """``user`` works ``minutes`` on ``project`` last Monday (a heartbeat every 30 s)."""
    access = project_access(session=db, actor=user, project_id=project.id)
    start = WORKED_AT + dt.timedelta(hours=offset_h)
    for i in range(minutes * 2 + 1):
        activity.record(session=db, access=access, now=start + dt.timedelta(seconds=30 * i))
    db.commit()


def _rate(db: Session, w: World, user: User) -> None:
    rates.set_rate(
        session=db,
        actor=w.operator,
        currency="USD",
        hourly_minor=20_000,
        effective_from=MONDAY - dt.timedelta(weeks=4),
        user_id=user.id,
    )
    db.commit()


def _submitted_week(login_as, db: Session, w: World, user: User, minutes: int = 60) -> int:  # type: ignore[no-untyped-def]
    _rate(db, w, user)
    _work(db, user, w.project_a, minutes)
    r = login_as(user).post("/api/v1/timesheets", json={"week_start": MONDAY.isoformat()})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_lead_approves_a_week_on_their_project_and_sees_hours_not_pay(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    api = login_as(lead)

    queue = api.get("/api/v1/timesheets/review")
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()
    assert item["id"] == sheet_id and item["user_name"] == world.expert_a.name
    (line,) = item["lines"]
    assert (line["project_id"], line["tracked_seconds"]) == (world.project_a.id, 3600)
    assert "amount_minor" not in line and "hourly_minor" not in line
    assert api.get(f"/api/v1/timesheets/{sheet_id}").json()["lines"] == []

    approved = api.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["lines"] == []  # the lead approved hours; the pay is not theirs to see
    sheet = db.get(Timesheet, sheet_id)
    db.refresh(sheet)
    assert sheet is not None and sheet.decided_by_id == lead.id
    assert db.get(LedgerTransaction, sheet.transaction_id) is not None  # posted at the rate
    (frozen,) = login_as(world.expert_a).get(f"/api/v1/timesheets/{sheet_id}").json()["lines"]
    assert frozen["amount_minor"] == 20_000  # 1 h at USD 200.00/h
    assert api.get("/api/v1/timesheets/review").json() == []
    # The lead still has no window on the expert's money.
    assert api.get(f"/api/v1/users/{world.expert_a.id}/statement").status_code == 404


def test_a_lead_returns_a_week_with_a_comment(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    api = login_as(lead)
    assert api.post(f"/api/v1/timesheets/{sheet_id}/return", json={}).status_code == 422
    returned = api.post(
        f"/api/v1/timesheets/{sheet_id}/return", json={"comment": "Monday looks doubled"}
    )
    assert returned.status_code == 200, returned.text
    mine = login_as(world.expert_a).get(f"/api/v1/timesheets/{sheet_id}").json()
    assert (mine["status"], mine["comment"]) == ("returned", "Monday looks doubled")


def test_a_week_partly_on_another_project_goes_to_the_operators(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    other = make_project(db, world.org_a, world.operator, "A's second project")
    staff(db, other, world.expert_a)
    db.commit()
    _work(db, world.expert_a, other, 30, offset_h=3)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    api = login_as(lead)
    assert api.get("/api/v1/timesheets/review").json() == []
    assert api.get(f"/api/v1/timesheets/{sheet_id}").status_code == 404
    assert api.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 404
    operator = login_as(world.operator)
    assert operator.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 200


def test_a_lead_never_reviews_their_own_week(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, lead)
    api = login_as(lead)
    assert api.get("/api/v1/timesheets/review").json() == []
    refused = api.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert refused.status_code == 403
    assert "lead" in refused.json()["error"]["message"]
    db.expire_all()
    assert db.get(Timesheet, sheet_id).status == TimesheetStatus.submitted  # type: ignore[union-attr]


def test_people_who_do_not_lead_the_week_get_404(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    lead_b = _lead(db, world.project_b)  # leads the other organisation's project
    for who in (world.reviewer_a, world.expert_b, world.client_a, world.client_b, lead_b):
        api = login_as(who)
        assert api.get(f"/api/v1/timesheets/{sheet_id}").status_code == 404, who.email
        assert api.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 404, who.email
        r = api.post(f"/api/v1/timesheets/{sheet_id}/return", json={"comment": "x"})
        assert r.status_code == 404, who.email
        queue = api.get("/api/v1/timesheets/review")
        assert queue.status_code == 200 and queue.json() == [], who.email
    db.expire_all()
    assert db.get(Timesheet, sheet_id).status == TimesheetStatus.submitted  # type: ignore[union-attr]


def test_a_lead_decides_adjustments_on_their_projects_only(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    lead_b = _lead(db, world.project_b)
    body = {
        "project_id": world.project_a.id,
        "work_date": MONDAY.isoformat(),
        "minutes": 45,
        "reason": "Call with the client's finance team",
    }
    asked = login_as(world.expert_a).post("/api/v1/time-adjustments", json=body)
    assert asked.status_code == 201, asked.text
    adj_id = asked.json()["id"]
    api = login_as(lead)
    listed = api.get("/api/v1/time-adjustments", params={"status": "requested"}).json()
    assert [a["id"] for a in listed] == [adj_id]
    assert login_as(lead_b).get("/api/v1/time-adjustments").json() == []
    assert login_as(lead_b).post(f"/api/v1/time-adjustments/{adj_id}/approve").status_code == 404
    plain_reviewer = login_as(world.reviewer_a)
    assert plain_reviewer.post(f"/api/v1/time-adjustments/{adj_id}/approve").status_code == 404
    decided = api.post(f"/api/v1/time-adjustments/{adj_id}/approve")
    assert decided.status_code == 200 and decided.json()["status"] == "approved"

    own = login_as(lead).post("/api/v1/time-adjustments", json=body)
    assert own.status_code == 201, own.text
    refused = api.post(f"/api/v1/time-adjustments/{own.json()['id']}/approve")
    assert refused.status_code == 403


def test_a_lead_reviews_the_projects_problem_sets(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    ps = make_problem_set(db, world.project_a, world.expert_a, "Lead can read this")
    db.commit()
    api = login_as(lead)
    assert api.get(f"/api/v1/problem-sets/{ps.id}").status_code == 200
    other_lead = login_as(_lead(db, world.project_b))
    assert other_lead.get(f"/api/v1/problem-sets/{ps.id}").status_code == 404


# --- The page -----------------------------------------------------------------------------------


def _form(api, url: str, **data: object):  # type: ignore[no-untyped-def]
    return api.post(url, data={k: str(v) for k, v in data.items()}, follow_redirects=False)


def test_team_time_page_lists_hours_and_approves(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a, minutes=90)
    api = login_as(lead)
    page = api.get("/team-time")
    assert page.status_code == 200
    assert world.expert_a.name in page.text and "1:30:00" in page.text
    assert "USD" not in page.text and "200.00" not in page.text  # hours, never pay
    assert str(escape(world.project_a.name)) in page.text

    refused = _form(api, f"/team-time/timesheets/{sheet_id}/return", comment="")
    assert refused.status_code == 422 and "Say what to fix" in refused.text
    done = _form(api, f"/team-time/timesheets/{sheet_id}/approve")
    assert done.status_code == 303 and done.headers["location"].startswith("/team-time?approved=")
    db.expire_all()
    assert db.get(Timesheet, sheet_id).status == TimesheetStatus.approved  # type: ignore[union-attr]
    assert "No week is waiting for you." in api.get("/team-time").text


def test_team_time_page_for_everyone_else(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    plain = login_as(world.reviewer_a).get("/team-time")
    assert plain.status_code == 200 and "You lead no project." in plain.text
    assert world.expert_a.name not in plain.text
    for who in (world.expert_a, world.client_a, world.client_b):
        assert login_as(who).get("/team-time").status_code == 404, who.email
    op = login_as(world.operator).get("/team-time", follow_redirects=False)
    assert op.status_code == 303 and op.headers["location"].startswith("/payroll")
    lead_b = login_as(_lead(db, world.project_b))
    assert _form(lead_b, f"/team-time/timesheets/{sheet_id}/approve").status_code == 404
    assert _form(lead_b, f"/team-time/timesheets/{sheet_id}/return", comment="x").status_code == 404
    db.expire_all()
    sheet = db.scalar(select(Timesheet).where(Timesheet.id == sheet_id))
    assert sheet is not None and sheet.status == TimesheetStatus.submitted


def test_a_lead_decides_pending_adjustments_before_the_week(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    asked = login_as(world.expert_a).post(
        "/api/v1/time-adjustments",
        json={"project_id": world.project_a.id, "work_date": MONDAY.isoformat(), "minutes": 20,
              "reason": "Read the brief offline"},
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    api = login_as(lead)
    assert "1 requested adjustment for this week is waiting below" in api.get("/team-time").text
    assert api.get("/api/v1/timesheets/review").json()[0]["waiting_adjustments"] == 1
    refused = api.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert refused.status_code == 409
    assert "1 requested adjustment(s) waiting" in refused.json()["error"]["message"]
    assert api.post(f"/api/v1/time-adjustments/{asked.json()['id']}/approve").status_code == 200
    approved = api.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["transaction_id"] is None  # the posting is the operators' business
    (line,) = login_as(world.expert_a).get(f"/api/v1/timesheets/{sheet_id}").json()["lines"]
    assert line["capped_seconds"] == 3600 + 20 * 60


def test_a_lead_is_not_told_about_rates(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    _work(db, world.expert_a, world.project_a, 30)  # no rate for expert A
    sheet = login_as(world.expert_a).post(
        "/api/v1/timesheets", json={"week_start": MONDAY.isoformat()}
    )
    assert sheet.status_code == 201, sheet.text
    refused = login_as(lead).post(f"/api/v1/timesheets/{sheet.json()['id']}/approve")
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "an operator must finish it" in message and "rate" not in message
    op = login_as(world.operator).post(f"/api/v1/timesheets/{sheet.json()['id']}/approve")
    assert op.status_code == 422 and "No hourly rate" in op.json()["error"]["message"]


def test_a_lead_whose_role_changed_leads_nothing(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    api = login_as(lead)
    assert api.get("/api/v1/timesheets/review").json()[0]["id"] == sheet_id
    lead.role = Role.expert  # the staffing row still says lead
    db.commit()
    assert api.get("/api/v1/timesheets/review").json() == []
    assert api.get(f"/api/v1/timesheets/{sheet_id}").status_code == 404
    assert api.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 404


def test_a_demoted_lead_no_longer_reviews_problem_sets(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    ps = make_problem_set(db, world.project_a, world.expert_a, "Submitted for review")
    db.commit()
    author = login_as(world.expert_a)
    author.post(f"/api/v1/problem-sets/{ps.id}/transitions/start", json={})
    api = login_as(lead)
    assert api.get(f"/api/v1/problem-sets/{ps.id}").status_code == 200
    lead.role = Role.expert  # the staffing still says lead
    db.commit()
    assert api.get(f"/api/v1/problem-sets/{ps.id}").status_code == 404
    r = api.post(f"/api/v1/problem-sets/{ps.id}/transitions/return", json={"comment": "x"})
    assert r.status_code == 404


def test_a_week_of_someone_unstaffed_since_still_reaches_the_lead(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(db, world.project_a)
    sheet_id = _submitted_week(login_as, db, world, world.expert_a)
    login_as(world.operator).delete(
        f"/api/v1/projects/{world.project_a.id}/staff/{world.expert_a.id}"
    )
    queue = login_as(lead).get("/api/v1/timesheets/review").json()
    assert [item["id"] for item in queue] == [sheet_id]
