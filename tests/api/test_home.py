"""The role-aware home over HTTP: the page and /api/v1/me/home tell the same read models."""

# ruff: noqa: RUF001 - the feed quotes titles with typographic quotes, as people read them

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.payments import timesheets
from expertloop.projects.models import Staffing, StaffRole
from expertloop.types import utcnow
from expertloop.web.pages.home import ago
from expertloop.workbench.models import Heartbeat
from tests.conftest import ApiClient
from tests.factories import World, make_problem_set, make_step

RLO = "\u202e"
Login = Callable[[User], ApiClient]


def _lead(db: Session, world: World) -> None:
    row = db.scalar(
        select(Staffing).where(
            Staffing.project_id == world.project_a.id, Staffing.user_id == world.reviewer_a.id
        )
    )
    assert row is not None
    row.role = StaffRole.lead
    db.commit()


def test_expert_home_shows_progress_and_where_to_continue(
    login_as: Login, db: Session, world: World
) -> None:
    ps = make_problem_set(db, world.project_a, world.expert_a, title="Renal dosing")
    step = make_step(db, ps, world.expert_a, prompt="Adjust the dose.", title="Adjust")
    db.commit()
    expert = login_as(world.expert_a)

    page = expert.get("/")
    assert page.status_code == 200
    assert 'data-testid="continue-link"' in page.text
    assert f'href="/steps/{step.id}"' in page.text
    assert 'data-testid="my-problem-sets"' in page.text

    data = expert.get("/api/v1/me/home").json()
    assert data["role"] == "expert"
    assert data["expert"]["continue_at"]["step_id"] == step.id
    assert data["expert"]["continue_at"]["step_number"] == "1"
    assert [p["title"] for p in data["expert"]["problem_sets"]] == ["Renal dosing"]
    assert data["expert"]["problem_sets"][0]["steps_total"] == 1
    assert data["team"] is None and data["feed"] is None


def test_home_counts_this_weeks_time_as_the_timesheet_will(
    login_as: Login, db: Session, world: World
) -> None:
    ps = make_problem_set(db, world.project_a, world.expert_a)
    monday = dt.datetime.combine(timesheets.week_of(utcnow().date()), dt.time(), tzinfo=dt.UTC)
    for minutes in (1, 3, 5):  # two 2-minute gaps count 4 minutes
        at = monday + dt.timedelta(minutes=minutes)
        db.add(
            Heartbeat(
                user_id=world.expert_a.id, project_id=ps.project_id, problem_set_id=ps.id, at=at
            )
        )
    last_week = monday - dt.timedelta(days=2)
    for minutes in (0, 2):  # last week's time is not this week's
        at = last_week + dt.timedelta(minutes=minutes)
        db.add(
            Heartbeat(
                user_id=world.expert_a.id, project_id=ps.project_id, problem_set_id=ps.id, at=at
            )
        )
    db.commit()
    expert = login_as(world.expert_a)
    week = expert.get("/api/v1/me/home").json()["week"]
    assert week == {"week_start": monday.date().isoformat(), "seconds": 240}
    assert "0 h 04 min" in expert.get("/").text
    # The Time page's own figure for the week agrees.
    lines = expert.get("/api/v1/me/time").json()["lines"]
    assert sum(line["capped_seconds"] for line in lines) == 240


def test_a_new_expert_gets_the_empty_state(login_as: Login, world: World) -> None:
    page = login_as(world.expert_b).get("/")
    assert 'data-testid="continue-empty"' in page.text
    assert 'data-testid="continue-link"' not in page.text


def test_other_tenants_work_stays_out_of_the_home(
    login_as: Login, db: Session, world: World
) -> None:
    make_problem_set(db, world.project_a, world.expert_a, title="A's secret plan")
    db.commit()
    _lead(db, world)
    for user in (world.expert_b, world.client_b):
        client = login_as(user)
        assert "A&#39;s secret plan" not in client.get("/").text
        assert "A's secret plan" not in client.get("/api/v1/me/home").text
    assert "A's secret plan" in login_as(world.reviewer_a).get("/api/v1/me/home").text


def test_lead_home_shows_the_teams_work(login_as: Login, db: Session, world: World) -> None:
    ps = make_problem_set(db, world.project_a, world.expert_a, title="Cash plan")
    db.commit()
    reviewer = login_as(world.reviewer_a)
    assert reviewer.get("/api/v1/me/home").json()["team"] == []  # a reviewer, not yet the lead
    assert 'data-testid="team"' not in reviewer.get("/").text
    _lead(db, world)

    data = reviewer.get("/api/v1/me/home").json()
    [project] = data["team"]
    assert project["project_id"] == world.project_a.id
    [member] = [m for m in project["members"] if m["user_id"] == world.expert_a.id]
    assert member["in_progress"] == 1
    assert [p["id"] for p in member["open_problem_sets"]] == [ps.id]
    page = reviewer.get("/").text
    assert 'data-testid="team"' in page
    assert f'href="/problem-sets/{ps.id}"' in page


def test_operator_feed_speaks_words_and_pages(login_as: Login, db: Session, world: World) -> None:
    expert = login_as(world.expert_a)
    created = expert.post(
        f"/api/v1/projects/{world.project_a.id}/problem-sets",
        json={"title": f"Dosage {RLO}<b>for</b> renal"},
    )
    assert created.status_code == 201, created.text
    ps_id = created.json()["id"]
    operator = login_as(world.operator)

    feed = operator.get("/api/v1/me/home").json()["feed"]
    newest = feed["items"][0]
    assert newest["text"] == f"{world.expert_a.name} started ‘Dosage {RLO}<b>for</b> renal’"
    assert newest["href"] == f"/problem-sets/{ps_id}"

    page = operator.get("/").text
    assert "<code>workbench." not in page  # the kind is no longer what the reader sees
    # The title stays inert in the page: escaped, its override taken out, isolated in <bdi>.
    link = f'<a href="/problem-sets/{ps_id}"><bdi>‘Dosage &lt;b&gt;for&lt;/b&gt; renal’</bdi></a>'
    assert link in page
    assert RLO not in page
    everything = operator.get("/api/v1/me/activity?limit=100").json()["items"]
    first = operator.get("/api/v1/me/activity?limit=2").json()
    assert [i["id"] for i in first["items"]] == [i["id"] for i in everything[:2]]
    more = operator.get(
        f"/activity?before={first['next_before_id']}", headers={"HX-Request": "true"}
    )
    assert more.status_code == 200
    assert "<html" not in more.text and 'data-testid="feed-item"' in more.text
    assert operator.get(f"/activity?before={first['next_before_id']}").text.count("<html") == 1


def test_only_operators_read_the_feed(login_as: Login, world: World) -> None:
    for user in (world.expert_a, world.client_a, world.reviewer_a):
        client = login_as(user)
        assert client.get("/api/v1/me/activity").status_code == 403
        assert client.get("/activity").status_code == 403
        assert client.get("/api/v1/me/home").json()["feed"] is None


def test_home_api_needs_a_login(client: TestClient) -> None:
    assert client.get("/api/v1/me/home").status_code == 401


def test_ago_says_how_long_ago_in_words() -> None:
    now = dt.datetime(2030, 3, 10, 12, 0, tzinfo=dt.UTC)
    cases = {
        dt.timedelta(seconds=30): "just now",
        dt.timedelta(minutes=5, seconds=59): "5 min ago",
        dt.timedelta(hours=1): "1 hour ago",
        dt.timedelta(hours=23, minutes=59): "23 hours ago",
        dt.timedelta(days=1): "1 day ago",
        dt.timedelta(days=29): "29 days ago",
        dt.timedelta(days=40): "2030-01-29",
    }
    assert {delta: ago(now - delta, now) for delta in cases} == cases
