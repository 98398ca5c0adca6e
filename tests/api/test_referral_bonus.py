"""The referral bonus through the API and pages: a rule of kind ``referral`` made by an operator,
hours worked and approved through the time routes, the bonus posted once by evaluating (as often
as you like) and shown on the referrer's statement (JSON, CSV and page), never to anyone else.

The referred expert is a Candidate row written straight to its table (the referral links are
another part's work).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.experts.models import Candidate, InvitationKind, VettingState
from expertloop.payments import rates
from expertloop.payments.models import Bonus
from expertloop.payments.timesheets import week_of
from expertloop.types import utcnow
from tests.factories import World, make_user, staff

# Weeks are submitted once over: work in the two weeks before this one.
MONDAY = week_of(utcnow().date()) - dt.timedelta(weeks=2)
SUNDAY = MONDAY + dt.timedelta(days=6)
NEXT_MONDAY = MONDAY + dt.timedelta(weeks=1)
NEXT_SUNDAY = NEXT_MONDAY + dt.timedelta(days=6)


def _referred(db: Session, w: World, name: str = "Ada Referred") -> User:
    """Expert A's referral: an expert staffed on project B (org B's), with a base rate."""
    user = make_user(db, Role.expert, name=name)
    staff(db, w.project_b, user)
    rates.set_rate(
        session=db,
        actor=w.operator,
        currency="USD",
        hourly_minor=80_00,
        effective_from=MONDAY - dt.timedelta(weeks=4),
        user_id=user.id,
    )
    db.add(
        Candidate(
            email=f"cand-{user.id}@tests.expertloop.org",
            name=name,
            user_id=user.id,
            state=VettingState.approved,
            source=InvitationKind.referral,
            referrer_user_id=w.expert_a.id,
        )
    )
    db.commit()
    return user


def _approved_hours(login_as, w: World, user: User, monday: dt.date, hours: int) -> None:  # type: ignore[no-untyped-def]
    """The expert asks for the hours, the operator approves them, the week is approved."""
    expert, op = login_as(user), login_as(w.operator)
    r = expert.post(
        "/api/v1/time-adjustments",
        json={
            "project_id": w.project_b.id,
            "work_date": (monday + dt.timedelta(days=1)).isoformat(),
            "minutes": hours * 60,
            "reason": "Worked on the write-up",
        },
    )
    assert r.status_code == 201, r.text
    assert op.post(f"/api/v1/time-adjustments/{r.json()['id']}/approve").status_code == 200
    sheet = expert.post("/api/v1/timesheets", json={"week_start": monday.isoformat()})
    assert sheet.status_code == 201, sheet.text
    ok = op.post(f"/api/v1/timesheets/{sheet.json()['id']}/approve")
    assert ok.status_code == 200, ok.text


def test_a_referral_rule_needs_its_threshold_and_an_operator(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/projects/{world.project_b.id}/bonus-rules"
    body = {"kind": "referral", "currency": "USD", "amount_minor": 250_00}
    op = login_as(world.operator)
    r = op.post(url, json=body)
    assert r.status_code == 422 and "min_hours" in r.text
    assert op.post(url, json={**body, "min_hours": 0}).status_code == 422
    assert login_as(world.expert_a).post(url, json={**body, "min_hours": 5}).status_code in (
        403,
        404,
    )
    r = op.post(url, json={**body, "min_hours": 20})
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["params"]) == ("referral", {"min_hours": 20})
    [listed] = op.get(url).json()
    assert listed["id"] == r.json()["id"]


def test_posted_once_after_the_threshold_and_on_the_referrers_statement(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    w = world
    ada = _referred(db, w)
    op = login_as(w.operator)
    rule = op.post(
        f"/api/v1/projects/{w.project_b.id}/bonus-rules",
        json={"kind": "referral", "currency": "USD", "amount_minor": 250_00, "min_hours": 8},
    )
    assert rule.status_code == 201, rule.text

    def evaluate() -> list[dict[str, object]]:
        r = op.post("/api/v1/bonuses/evaluate", json={"until": utcnow().date().isoformat()})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    _approved_hours(login_as, w, ada, MONDAY, 5)
    assert evaluate() == []  # 5 h < 8 h
    _approved_hours(login_as, w, ada, NEXT_MONDAY, 3)
    [bonus] = evaluate()
    assert (bonus["user_id"], bonus["amount_minor"], bonus["kind"], bonus["earned_on"]) == (
        w.expert_a.id,
        250_00,
        "referral",
        NEXT_SUNDAY.isoformat(),
    )
    assert bonus["reason"] == "Referral bonus: Ada Referred"
    assert evaluate() == [] and evaluate() == []
    assert db.scalar(select(func.count(Bonus.id)).where(Bonus.kind == "referral")) == 1

    period = {"from": MONDAY.isoformat(), "to": NEXT_SUNDAY.isoformat()}
    referrer = login_as(w.expert_a)
    st = referrer.get(f"/api/v1/users/{w.expert_a.id}/statement", params=period)
    assert st.status_code == 200, st.text
    [line] = [x for x in st.json()["lines"] if x["kind"] == "bonus"]
    assert (line["description"], line["amount_minor"], line["currency"]) == (
        "Referral bonus: Ada Referred",
        250_00,
        "USD",
    )
    assert st.json()["earned"] == {"USD": 250_00}
    csv = referrer.get(
        f"/api/v1/users/{w.expert_a.id}/statement", params={**period, "format": "csv"}
    )
    assert "Referral bonus: Ada Referred" in csv.text
    page = referrer.get("/statement", params=period)
    assert page.status_code == 200 and "Referral bonus: Ada Referred" in page.text
    # Nobody else reads the referrer's statement; the referred expert's own has no bonus.
    me = login_as(ada)
    assert me.get(f"/api/v1/users/{w.expert_a.id}/statement", params=period).status_code == 404
    own = me.get(f"/api/v1/users/{ada.id}/statement", params=period).json()
    assert [x["kind"] for x in own["lines"]] == ["time", "time"]
    # Project B's client is billed it without any name.
    inv = login_as(w.client_b).get(f"/api/v1/projects/{w.project_b.id}/invoice", params=period)
    assert inv.status_code == 200, inv.text
    assert "Expert bonus (referral)" in inv.text and "Ada" not in inv.text


def test_submitted_hours_do_not_count(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    w = world
    ada = _referred(db, w)
    op = login_as(w.operator)
    op.post(
        f"/api/v1/projects/{w.project_b.id}/bonus-rules",
        json={"kind": "referral", "currency": "USD", "amount_minor": 100_00, "min_hours": 2},
    )
    expert = login_as(ada)
    r = expert.post(
        "/api/v1/time-adjustments",
        json={
            "project_id": w.project_b.id,
            "work_date": MONDAY.isoformat(),
            "minutes": 600,
            "reason": "Worked offline",
        },
    )
    op.post(f"/api/v1/time-adjustments/{r.json()['id']}/approve")
    sheet = expert.post("/api/v1/timesheets", json={"week_start": MONDAY.isoformat()})
    assert sheet.json()["status"] == "submitted"
    evaluated = op.post("/api/v1/bonuses/evaluate", json={"until": utcnow().date().isoformat()})
    assert evaluated.json() == []


def test_the_pay_page_makes_and_describes_a_referral_rule(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    op = login_as(world.operator)
    url = f"/projects/{world.project_b.id}/pay"
    form = {"kind": "referral", "currency": "USD", "amount": "150", "min_hours": ""}
    r = op.post(f"{url}/bonus-rules", data=form, follow_redirects=False)
    assert r.status_code == 422 and "min_hours" in r.text
    r = op.post(f"{url}/bonus-rules", data={**form, "min_hours": "12"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = op.get(url).text
    assert "Referral (referred expert reaches N approved hours)" in page
    assert "referred expert has 12 approved hours" in page
    assert 'name="min_hours"' in page
