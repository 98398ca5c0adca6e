"""Vetting API and pages: operators see the board, list and detail, and decide (reason required,
stale version 409, moves not allowed 409, a work sample staffs the candidate); everyone else
gets 404 on every /candidates route; a candidate sees their own status only; staffing refuses an
unvetted candidate (API and CLI) and takes an approved one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from expertloop.accounts.models import Role, User
from expertloop.db import make_engine, make_session_factory, upgrade
from expertloop.events import recent
from expertloop.experts.models import Candidate, VettingState, VettingTransition
from expertloop.projects import projects as projects_uc
from tests.conftest import make_settings
from tests.factories import World, make_user
from tests.unit.experts.test_pipeline import make_candidate

S = VettingState
OUTSIDERS = ("client_a", "expert_a", "reviewer_a")


def _cand(db: Session, state: VettingState = S.interview, **kw: Any) -> Candidate:
    c = make_candidate(db, state, **kw)
    db.commit()
    return c


def _me(db: Session, c: Candidate) -> User:
    user = db.get(User, c.user_id)
    assert user is not None
    return user


def test_operator_board_list_and_detail(db: Session, world: World, login_as: Any) -> None:
    ada = _cand(db, S.interview, name="Ada Lovelace", domain="software")
    _cand(db, S.applied, name="Grace Hopper")
    op = login_as(world.operator)
    board = op.get("/api/v1/candidates/board").json()
    counts = {c["state"]: c["count"] for c in board["counts"]}
    assert counts["interview"] >= 1 and counts["applied"] >= 1
    assert len(board["weeks"]) == 12 and board["funnel"][0]["state"] == "applied"
    assert len(op.get("/api/v1/candidates/board?weeks=3").json()["weeks"]) == 3
    listed = op.get("/api/v1/candidates", params={"state": "interview", "q": "lovelace"}).json()
    assert [c["id"] for c in listed["items"]] == [ada.id] and listed["total"] == 1
    assert listed["items"][0]["email"] == ada.email
    assert op.get("/api/v1/candidates", params={"state": "sleeping"}).status_code == 422
    detail = op.get(f"/api/v1/candidates/{ada.id}").json()
    assert detail["candidate"]["state"] == "interview"
    assert detail["allowed"] == [
        "assessment", "work_sample", "approved", "paused", "rejected", "withdrawn"
    ]  # fmt: skip
    assert detail["profile"]["headline"] == "Analyst"
    assert op.get("/api/v1/candidates/999999").status_code == 404


def test_decisions_reason_stale_and_refused(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview)
    op = login_as(world.operator)
    url = f"/api/v1/candidates/{c.id}/decision"
    no_reason = op.post(url, json={"to": "approved", "reason": "  ", "version": 1})
    assert no_reason.status_code == 422, no_reason.text
    assert "reason" in no_reason.json()["error"]["message"].lower()
    missing = op.post(url, json={"to": "approved", "version": 1})
    assert missing.status_code == 422 and "Reason is required" in missing.text
    ok = op.post(url, json={"to": "approved", "reason": "Excellent interview", "version": 1})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["candidate"]["state"] == "approved" and body["candidate"]["version"] == 2
    assert body["transition"]["from_state"] == "interview"
    assert body["transition"]["actor_name"] == world.operator.name
    stale = op.post(url, json={"to": "paused", "reason": "Second tab", "version": 1})
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["details"]["version"] == 2
    assert "meanwhile" in stale.json()["error"]["message"]
    refused = op.post(url, json={"to": "interview", "reason": "Again", "version": 2})
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "A candidate who is approved cannot move to interview."
    )
    assert refused.json()["error"]["details"]["allowed"] == ["paused", "withdrawn"]
    moved = recent(session=db, kind="experts.candidate_moved", limit=1)[0]
    assert moved.subject_id == str(c.id) and moved.actor_user_id == world.operator.id
    assert moved.data["reason"] == "Excellent interview" and moved.data["to_state"] == "approved"


def test_work_sample_staffs_the_candidate(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview)
    op = login_as(world.operator)
    url = f"/api/v1/candidates/{c.id}/decision"
    needs = op.post(url, json={"to": "work_sample", "reason": "Good", "version": 1})
    assert needs.status_code == 422 and "vetting project" in needs.text
    unknown = op.post(
        url, json={"to": "work_sample", "reason": "Good", "version": 1, "project_id": 999999}
    )
    assert unknown.status_code == 404
    p = world.project_a.id
    r = op.post(url, json={"to": "work_sample", "reason": "Good", "version": 1, "project_id": p})
    assert r.status_code == 200, r.text
    assert r.json()["staffed_project_id"] == p
    assert projects_uc.staff_role(db, p, c.user_id) is not None  # type: ignore[arg-type]
    db.expire_all()
    assert db.get(Candidate, c.id).work_sample_project_id == p  # type: ignore[union-attr]
    # Nothing half-done when the staffing is refused: a client cannot be staffed as an expert.
    client_candidate = _cand(db, S.interview, user=make_user(db, Role.client))
    bad = op.post(
        f"/api/v1/candidates/{client_candidate.id}/decision",
        json={"to": "work_sample", "reason": "Good", "version": 1, "project_id": p},
    )
    assert bad.status_code == 422, bad.text
    db.expire_all()
    assert db.get(Candidate, client_candidate.id).state == S.interview  # type: ignore[union-attr]


@pytest.mark.parametrize("outsider", [*OUTSIDERS, "candidate"])
def test_non_operators_get_404(db: Session, world: World, login_as: Any, outsider: str) -> None:
    c = _cand(db, S.interview)
    who = _me(db, c) if outsider == "candidate" else getattr(world, outsider)
    api = login_as(who)
    for method, url, body in [
        ("GET", "/api/v1/candidates", None),
        ("GET", "/api/v1/candidates/board", None),
        ("GET", f"/api/v1/candidates/{c.id}", None),
        ("POST", f"/api/v1/candidates/{c.id}/decision",
         {"to": "approved", "reason": "Self-approved", "version": 1}),
        ("GET", "/candidates", None),
        ("GET", f"/candidates/{c.id}", None),
        ("POST", f"/candidates/{c.id}/decision", None),
    ]:  # fmt: skip
        if url.startswith("/api/"):
            r = api.request(method, url, json=body)
        else:
            r = api.request(method, url, data={"to": "approved", "reason": "x", "version": "1"})
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert c.email not in r.text or outsider == "candidate"
    db.expire_all()
    assert db.get(Candidate, c.id).state == S.interview  # type: ignore[union-attr]


def test_candidate_sees_own_status_only(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.applied)
    other = _cand(db, S.rejected)
    c.note = "Private note: cousin of a client"
    db.add(VettingTransition(candidate_id=c.id, from_state=S.invited, to_state=S.applied))
    db.commit()
    op = login_as(world.operator)
    for to, reason, version in [
        ("assessment", "Internal: CV thin but promising", 1),
        ("paused", "Finance intake pauses until May.", 2),
    ]:
        r = op.post(
            f"/api/v1/candidates/{c.id}/decision",
            json={"to": to, "reason": reason, "version": version},
        )
        assert r.status_code == 200, r.text
    me = login_as(_me(db, c))
    mine = me.get("/api/v1/me/vetting")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["candidate_id"] == c.id and body["state"] == "paused"
    assert [r["reason"] for r in body["reasons"]] == ["Finance intake pauses until May."]
    assert "Internal" not in mine.text and "cousin" not in mine.text
    assert body["next_step"].startswith("Your application is paused")
    assert other.email not in mine.text
    page = me.get("/vetting")
    assert page.status_code == 200
    assert "Finance intake pauses until May." in page.text and "Internal" not in page.text
    assert 'data-testid="vetting-steps"' in page.text
    home = me.get("/")
    assert 'data-testid="home-vetting"' in home.text and "/vetting" in home.text
    # Someone who is not a candidate has no vetting status.
    plain = login_as(world.expert_a)
    assert plain.get("/api/v1/me/vetting").status_code == 404
    assert plain.get("/vetting").status_code == 404
    assert 'data-testid="home-vetting"' not in plain.get("/").text


def test_status_links_per_gate(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.assessment)
    me = login_as(_me(db, c))
    assert 'href="/assessments"' in me.get("/vetting").text
    op = login_as(world.operator)
    op.post(
        f"/api/v1/candidates/{c.id}/decision",
        json={"to": "interview", "reason": "Passed", "version": 1},
    )
    assert 'href="/interviews"' in me.get("/vetting").text
    p = world.project_a.id
    op.post(
        f"/api/v1/candidates/{c.id}/decision",
        json={"to": "work_sample", "reason": "Good interview", "version": 2, "project_id": p},
    )
    page = me.get("/vetting").text
    assert f'href="/projects/{p}/problem-sets"' in page
    assert me.get("/api/v1/me/vetting").json()["action"] == "work_sample"


def test_staffing_guard(db: Session, world: World, login_as: Any) -> None:
    unvetted = _cand(db, S.interview)
    approved = _cand(db, S.approved)
    sample = _cand(db, S.work_sample)
    sample.work_sample_project_id = world.project_b.id
    db.commit()
    op = login_as(world.operator)
    url = f"/api/v1/projects/{world.project_a.id}/staff"
    r = op.post(url, json={"user_id": unvetted.user_id, "role": "expert"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["message"].startswith(
        "This expert is not vetted yet (they are interview)"
    )
    r = op.post(url, json={"user_id": sample.user_id, "role": "expert"})
    assert r.status_code == 409  # a work sample is done on its own project only
    r = op.post(
        f"/api/v1/projects/{world.project_b.id}/staff",
        json={"user_id": sample.user_id, "role": "expert"},
    )
    assert r.status_code == 201, r.text
    r = op.post(url, json={"user_id": approved.user_id, "role": "expert"})
    assert r.status_code == 201, r.text
    # A client learns nothing of anyone's vetting: refused as before, not with the state.
    client = login_as(world.client_a)
    r = client.post(url, json={"user_id": unvetted.user_id, "role": "expert"})
    assert r.status_code in (403, 404) and "vetted" not in r.text


def test_board_page(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview, name="Ada Lovelace", domain="software")
    op = login_as(world.operator)
    r = op.post(
        f"/api/v1/candidates/{c.id}/decision",
        json={"to": "assessment", "reason": "Assess first", "version": 1},
    )
    assert r.status_code == 200
    page = op.get("/candidates")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="state-counts"' in html and 'data-testid="funnel"' in html
    assert 'id="chart-funnel-data"' in html and "/static/vendor/chart.umd.min.js" in html
    spec = json.loads(re.search(r'id="chart-funnel-data">(.*?)</script>', html, re.S)[1])  # type: ignore[index]
    assessment = next(d for d in spec["datasets"] if d["label"] == "assessment")
    assert assessment["data"][-1] >= 1
    assert f'href="/candidates/{c.id}"' in html
    filtered = op.get(
        "/candidates", params={"state": "assessment", "domain": "software", "q": "ada"}
    )
    assert f'href="/candidates/{c.id}"' in filtered.text
    none = op.get("/candidates", params={"state": "approved", "q": "nobody-at-all"})
    assert 'data-testid="no-candidates"' in none.text
    bad = op.get("/candidates", params={"state": "sleeping"})
    assert bad.status_code == 200 and "Choose a vetting state" in bad.text
    # Navigation leads operators here; the board leads to the network's other operator pages.
    assert 'href="/candidates"' in op.get("/").text
    for target in (
        "/candidates/invite",
        "/assessments/grading",
        "/assessment-banks",
        "/interview-guides",
        "/experts/search",
    ):
        assert f'href="{target}"' in html
        assert op.get(target).status_code == 200, target


def test_board_pages_through_candidates(db: Session, world: World, login_as: Any) -> None:
    made = [_cand(db, S.applied, name=f"Pager {i:02}", domain="law") for i in range(27)]
    op = login_as(world.operator)
    first = op.get("/candidates", params={"domain": "law", "q": "pager"}).text
    assert "Page 1 of 2" in first and "domain=law" in first
    second = op.get("/candidates", params={"domain": "law", "q": "pager", "page": 2}).text
    shown = {c.id for c in made if f'href="/candidates/{c.id}"' in first + second}
    assert shown == {c.id for c in made}


def test_candidate_page_and_decision_form(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview, name="Ada Lovelace")
    op = login_as(world.operator)
    page = op.get(f"/candidates/{c.id}")
    assert page.status_code == 200
    html = page.text
    assert f'hx-get="/candidates/{c.id}/assessments"' in html
    assert f'hx-get="/candidates/{c.id}/interview"' in html and 'hx-trigger="load"' in html
    radios = re.findall(r'name="to" value="(\w+)"', html)
    assert radios == ["assessment", "work_sample", "approved", "paused", "rejected", "withdrawn"]
    assert str(escape(world.project_a.name)) in html  # the vetting project choice
    # In place with htmx: a missing reason is said at the form, nothing moves.
    hx = {"HX-Request": "true"}
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "approved", "reason": " ", "version": "1"},
        headers=hx,
    )
    assert r.status_code == 200 and 'data-testid="decision-error"' in r.text
    assert "Give a reason" in r.text
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "approved", "reason": "Clear, precise answers", "version": "1"},
        headers=hx,
    )
    assert 'data-testid="decision-done"' in r.text and ">approved<" in r.text
    assert "Clear, precise answers" in r.text
    # A second tab's stale form: told, not overwritten.
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "paused", "reason": "Other tab", "version": "1"},
        headers=hx,
    )
    assert "meanwhile" in r.text
    # Without htmx: a redirect back after success, the page with the error (409) otherwise.
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "paused", "reason": "Busy season", "version": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/candidates/{c.id}"
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "paused", "reason": "Again", "version": "3"},
    )
    assert r.status_code == 409 and "cannot move to paused" in r.text
    db.expire_all()
    assert db.get(Candidate, c.id).state == S.paused  # type: ignore[union-attr]


def test_work_sample_form_staffs(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview)
    op = login_as(world.operator)
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "work_sample", "reason": "Try it", "version": "1"},
        headers={"HX-Request": "true"},
    )
    assert "Choose the vetting project" in r.text
    r = op.post(
        f"/candidates/{c.id}/decision",
        data={"to": "work_sample", "reason": "Try it", "version": "1",
              "project_id": str(world.project_a.id)},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert 'data-testid="decision-done"' in r.text and str(escape(world.project_a.name)) in r.text
    assert projects_uc.is_staffed(db, world.project_a.id, c.user_id)  # type: ignore[arg-type]


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh SQLite database the commands use, with an operator and two candidates."""
    from expertloop.settings import get_settings

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(make_settings(url, tmp_path))
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        make_user(session, Role.operator)
        ada = make_candidate(session, S.interview, name="Ada [bold]Lovelace[/]")
        grace = make_candidate(session, S.applied, name="Grace Hopper")
        session.commit()
        ids = {"ada": ada.id, "grace": grace.id}
    yield factory, ids
    engine.dispose()
    get_settings.cache_clear()


def test_cli_list_and_decide(cli_db: Any) -> None:
    from expertloop.cli.main import app

    factory, ids = cli_db
    runner = CliRunner()
    listed = runner.invoke(app, ["experts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    assert body["total"] == 2 and {c["id"] for c in body["items"]} == set(ids.values())
    only = runner.invoke(app, ["experts", "list", "--state", "interview", "--json"])
    assert [c["id"] for c in json.loads(only.output)["items"]] == [ids["ada"]]
    table = runner.invoke(app, ["experts", "list"])
    assert table.exit_code == 0 and "[bold]" in table.output  # the name's markup is shown as text

    no_reason = runner.invoke(app, ["experts", "decide", str(ids["ada"]), "approve"])
    assert no_reason.exit_code != 0 and "--reason" in no_reason.output
    blank = runner.invoke(app, ["experts", "decide", str(ids["ada"]), "approve", "--reason", " "])
    assert blank.exit_code == 1 and "Give a reason" in blank.output
    ok = runner.invoke(
        app, ["experts", "decide", str(ids["ada"]), "approve", "--reason", "Strong interview"]
    )
    assert ok.exit_code == 0, ok.output
    assert "to approved" in ok.output
    again = runner.invoke(
        app, ["experts", "decide", str(ids["ada"]), "interview", "--reason", "Again"]
    )
    assert again.exit_code == 1 and "cannot move to interview" in again.output
    assert "Traceback" not in again.output
    stale = runner.invoke(
        app,
        ["experts", "decide", str(ids["grace"]), "reject", "--reason", "No", "--version", "5"],
    )
    assert stale.exit_code == 1 and "meanwhile" in stale.output
    unknown = runner.invoke(
        app, ["experts", "decide", str(ids["grace"]), "promote", "--reason", "x"]
    )
    assert unknown.exit_code == 1 and "Unknown decision" in unknown.output
    sample = runner.invoke(
        app, ["experts", "decide", str(ids["grace"]), "work_sample", "--reason", "x"]
    )
    assert sample.exit_code == 1 and "--project" in sample.output
    rejected = runner.invoke(
        app, ["experts", "decide", str(ids["grace"]), "reject", "--reason", "Not a fit"]
    )
    assert rejected.exit_code == 0, rejected.output
    with factory() as session:
        states = {c.id: c.state for c in session.query(Candidate)}
    assert states == {ids["ada"]: S.approved, ids["grace"]: S.rejected}


def test_cli_staff_refuses_an_unvetted_candidate(cli_db: Any) -> None:
    from expertloop.accounts.models import OrganisationKind
    from expertloop.cli.main import app
    from tests.factories import make_org, make_project

    factory, ids = cli_db
    with factory() as session:
        project = make_project(session, make_org(session, OrganisationKind.client))
        session.commit()
        ada = session.get(Candidate, ids["ada"])
        assert ada is not None
        email = ada.email
        pid = project.id
    runner = CliRunner()
    args = ["projects", "staff", "--project", str(pid), "--email", email]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "not vetted yet" in refused.output
    runner.invoke(app, ["experts", "decide", str(ids["ada"]), "approve", "--reason", "Good"])
    staffed = runner.invoke(app, args)
    assert staffed.exit_code == 0, staffed.output


def test_candidate_withdraws(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.assessment)
    me = login_as(_me(db, c))
    status = me.get("/api/v1/me/vetting").json()
    assert status["can_withdraw"] is True and status["version"] == 1
    stale = me.post("/api/v1/me/vetting/withdraw", json={"version": 2})
    assert stale.status_code == 409 and "meanwhile" in stale.text
    r = me.post("/api/v1/me/vetting/withdraw", json={"version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn" and r.json()["can_withdraw"] is False
    again = me.post("/api/v1/me/vetting/withdraw", json={"version": 2})
    assert again.status_code == 409
    assert "cannot move to withdrawn" in again.json()["error"]["message"]
    op = login_as(world.operator)
    history = op.get(f"/api/v1/candidates/{c.id}").json()["history"]
    assert history[-1]["actor_id"] == c.user_id and history[-1]["to_state"] == "withdrawn"
    assert op.get(f"/api/v1/candidates/{c.id}").json()["allowed"] == []
    # Someone who is not a candidate has nothing to withdraw.
    plain = login_as(world.expert_a)
    assert plain.post("/api/v1/me/vetting/withdraw", json={"version": 1}).status_code == 404
    assert plain.post("/vetting/withdraw", data={"version": "1"}).status_code == 404


def test_candidate_withdraws_on_the_page(db: Session, world: World, login_as: Any) -> None:
    c = _cand(db, S.interview)
    me = login_as(_me(db, c))
    page = me.get("/vetting").text
    assert 'data-testid="withdraw-form"' in page
    stale = me.post("/vetting/withdraw", data={"version": "9", "reason": "New job"})
    assert stale.status_code == 409 and 'data-testid="withdraw-error"' in stale.text
    r = me.post(
        "/vetting/withdraw",
        data={"version": "1", "reason": "I took a full-time role."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/vetting"
    page = me.get("/vetting").text
    assert ">withdrawn<" in page and 'data-testid="withdraw-form"' not in page
    op = login_as(world.operator)
    assert "I took a full-time role." in op.get(f"/candidates/{c.id}").text


def test_work_sample_on_a_project_with_an_nda(db: Session, world: World, login_as: Any) -> None:
    """Staffed while the NDA waits; a second work sample there does not staff twice."""
    from expertloop.projects import ndas

    ndas.publish_nda(
        session=db, actor=world.operator, project_id=world.project_a.id, text="Keep it secret."
    )
    c = _cand(db, S.interview)
    op = login_as(world.operator)
    url = f"/api/v1/candidates/{c.id}/decision"
    p = world.project_a.id
    for version, to in [(1, "work_sample"), (2, "interview"), (3, "work_sample")]:
        body = {"to": to, "reason": "Step", "version": version, "project_id": p}
        r = op.post(url, json=body)
        assert r.status_code == 200, r.text
    assert projects_uc.has_staffing(db, p, c.user_id)  # type: ignore[arg-type]
    assert not projects_uc.is_staffed(db, p, c.user_id)  # type: ignore[arg-type]
    # The candidate is sent to the NDA first, not to problem sets they cannot open yet.
    page = login_as(_me(db, c)).get("/vetting").text
    assert f'href="/projects/{p}/nda"' in page and "/problem-sets" not in page
