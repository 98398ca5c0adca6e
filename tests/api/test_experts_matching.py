"""Matching API: operators search with filters and free text, page by cursor, and invite chosen
experts to a project in one action; everyone else gets 404."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape
from sqlalchemy.orm import Session

from expertloop.experts.models import LanguageLevel, VettingState
from expertloop.projects import ndas
from expertloop.projects import projects as projects_uc
from tests.factories import World
from tests.unit.experts.test_matching import make_expert


def test_search_filters_text_and_why(db: Session, world: World, login_as: Any) -> None:
    cardio = make_expert(
        db,
        headline="Interventional cardiologist",
        resume="Heart failure clinics and catheter labs.",
        domains=(("medicine", "cardiology"),),
        languages=(("fr", LanguageLevel.native), ("en", LanguageLevel.c1)),
        country="FR",
    )
    make_expert(db, headline="Cardiology nurse", domains=(("medicine", "cardiology"),),
                country="BE")  # fmt: skip
    make_expert(db, headline="Backend engineer")
    db.commit()
    op = login_as(world.operator)
    r = op.get("/api/v1/experts/search", params={"q": "heart failure", "domain": "medicine"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["user_id"] for i in body["items"]] == [cardio.id]
    item = body["items"][0]
    assert item["why"][0] == "The search text is in the résumé"
    assert "Works in Medicine: Cardiology" in item["why"]
    assert {"text": "Heart", "match": True} in item["snippet"]
    assert "email" not in item and "phone" not in item and "resume" not in item
    assert cardio.email not in r.text
    r = op.get(
        "/api/v1/experts/search",
        params={"domain": "medicine", "specialty": "cardiology", "country": "fr",
                "language": "fr", "min_level": "C1"},
    )  # fmt: skip
    assert [i["user_id"] for i in r.json()["items"]] == [cardio.id]


def test_search_pages_by_cursor(db: Session, world: World, login_as: Any) -> None:
    made = {make_expert(db, headline=f"Actuary {i}").id for i in range(7)}
    db.commit()
    op = login_as(world.operator)
    seen: list[int] = []
    params: dict[str, Any] = {"q": "actuary", "limit": 3}
    for _ in range(5):
        body = op.get("/api/v1/experts/search", params=params).json()
        seen += [i["user_id"] for i in body["items"]]
        if body["next_cursor"] is None:
            break
        params["after"] = body["next_cursor"]
    assert sorted(seen) == sorted(made) and len(seen) == 7
    r = op.get("/api/v1/experts/search", params={"q": "other", "after": params["after"]})
    assert r.status_code == 422
    assert "start the search again" in r.json()["error"]["message"]


def test_search_refuses_bad_input_with_reasons(world: World, login_as: Any) -> None:
    op = login_as(world.operator)
    for params, status, words in [
        ({"domain": "alchemy"}, 422, "Unknown domain"),
        ({"domain": "medicine", "specialty": "tax_law"}, 422, "Unknown specialty"),
        ({"rate_min": 100}, 422, "currency"),
        ({"country": "France"}, 422, ""),
        ({"state": "sleeping"}, 422, ""),
    ]:
        r = op.get("/api/v1/experts/search", params=params)
        assert r.status_code == status, (params, r.text)
        assert words in r.text
        assert "Traceback" not in r.text


def test_non_operators_get_404(db: Session, world: World, login_as: Any) -> None:
    expert = make_expert(db, headline="Hidden")
    db.commit()
    for who in (world.client_a, world.expert_a, world.reviewer_a):
        c = login_as(who)
        assert c.get("/api/v1/experts/search", params={"q": "hidden"}).status_code == 404
        r = c.post(
            "/api/v1/experts/invite-to-project",
            json={"project_id": world.project_a.id, "user_ids": [expert.id]},
        )
        assert r.status_code == 404
    assert not projects_uc.is_staffed(db, world.project_a.id, expert.id)


def test_invite_staffs_approved_and_refuses_unvetted(
    db: Session, world: World, login_as: Any
) -> None:
    approved = make_expert(db, headline="Approved", state=VettingState.approved)
    operator_made = make_expert(db, headline="Made by an operator")  # no candidate: approved
    unvetted = make_expert(db, headline="Interviewing", state=VettingState.interview)
    db.commit()
    op = login_as(world.operator)
    chosen = [approved.id, operator_made.id, unvetted.id, world.expert_a.id, world.client_b.id]
    r = op.post(
        "/api/v1/experts/invite-to-project",
        json={"project_id": world.project_a.id, "user_ids": chosen},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["user_id"] for s in body["staffed"]] == [approved.id, operator_made.id]
    assert body["skipped"] == [
        {"user_id": world.expert_a.id, "name": world.expert_a.name,
         "reason": "Already staffed on this project."}
    ]  # fmt: skip
    refused = {x["user_id"]: x["reason"] for x in body["refused"]}
    assert "not vetted yet (they are interview)" in refused[unvetted.id]
    assert "cannot be staffed as expert" in refused[world.client_b.id]
    db.expire_all()
    assert projects_uc.is_staffed(db, world.project_a.id, approved.id)
    assert projects_uc.is_staffed(db, world.project_a.id, operator_made.id)
    assert not projects_uc.is_staffed(db, world.project_a.id, unvetted.id)
    # Once more: everyone already staffed is skipped, nothing staffed twice.
    again = op.post(
        "/api/v1/experts/invite-to-project",
        json={"project_id": world.project_a.id, "user_ids": [approved.id]},
    ).json()
    assert again["staffed"] == [] and again["skipped"][0]["user_id"] == approved.id


def test_invite_to_unknown_project_is_404(db: Session, world: World, login_as: Any) -> None:
    expert = make_expert(db, headline="Someone")
    db.commit()
    op = login_as(world.operator)
    r = op.post(
        "/api/v1/experts/invite-to-project", json={"project_id": 999_999, "user_ids": [expert.id]}
    )
    assert r.status_code == 404
    r = op.post("/api/v1/experts/invite-to-project", json={"project_id": 1, "user_ids": []})
    assert r.status_code == 422


# --- the page ------------------------------------------------------------------------------


def test_page_shows_matches_with_why_and_highlight(
    db: Session, world: World, login_as: Any
) -> None:
    expert = make_expert(
        db,
        name="Ada <b>Bold</b>",
        headline="Glaciologist",
        resume="Ice cores from Greenland.",
        domains=(("physics", "theoretical"),),
    )
    make_expert(db, headline="Volcanologist")
    db.commit()
    op = login_as(world.operator)
    r = op.get("/experts/search", params={"q": "greenland", "domain": "physics"})
    assert r.status_code == 200, r.text
    html = r.text
    assert f'data-user-id="{expert.id}"' in html and "Volcanologist" not in html
    assert "<mark>Greenland</mark>" in html
    assert "Works in Physics: Theoretical physics" in html
    assert "Ada &lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold</b>" not in html
    assert expert.email not in html
    assert 'name="user_id"' in html and "Invite to project" in html
    assert str(escape(world.project_a.name)) in html  # the projects to invite to


def test_page_empty_state_and_refusals(db: Session, world: World, login_as: Any) -> None:
    op = login_as(world.operator)
    first = op.get("/experts/search")
    assert first.status_code == 200 and "Choose filters or type words" in first.text
    none = op.get("/experts/search", params={"q": "zzzunknownword"})
    assert none.status_code == 200 and 'data-testid="no-matches"' in none.text
    bad = op.get("/experts/search", params={"rate_min": "abc", "q": "x"})
    assert bad.status_code == 422
    assert "Lowest rate: give a number." in bad.text and 'value="abc"' in bad.text
    bad = op.get("/experts/search", params={"tz_from": "3", "tz_to": "-2"})
    assert bad.status_code == 422 and "time-zone range starts after it ends" in bad.text


def test_page_pages_forward(db: Session, world: World, login_as: Any) -> None:
    for i in range(30):
        make_expert(db, headline=f"Hydrologist {i}")
    db.commit()
    op = login_as(world.operator)
    r = op.get("/experts/search", params={"q": "hydrologist"})
    assert r.text.count('name="user_id"') == 25
    nxt = re.search(r'href="([^"]+)" rel="next"', r.text)
    assert nxt
    r2 = op.get(nxt.group(1).replace("&amp;", "&"))
    assert r2.text.count('name="user_id"') == 5 and "No more matches." in r2.text
    assert "First page" in r2.text


def test_page_is_404_for_non_operators(db: Session, world: World, login_as: Any) -> None:
    for who in (world.client_a, world.expert_a, world.reviewer_a):
        c = login_as(who)
        assert c.get("/experts/search").status_code == 404
        r = c.post("/experts/search/invite", data={"project_id": world.project_a.id})
        assert r.status_code == 404


def test_page_invites_in_place(db: Session, world: World, login_as: Any) -> None:
    ok = make_expert(db, name="Olu Approved", headline="Geologist")
    waiting = make_expert(
        db, name="Wen Waiting", headline="Geologist", state=VettingState.assessment
    )
    db.commit()
    op = login_as(world.operator)
    data = {"project_id": str(world.project_a.id), "user_id": [str(ok.id), str(waiting.id)]}
    r = op.post("/experts/search/invite", data=data, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "1 staffed, 0 already there, 1 refused." in r.text
    assert "Wen Waiting</bdi>: This expert is not vetted yet (they are assessment)" in r.text
    assert "<html" not in r.text  # a fragment for the page
    db.expire_all()
    assert projects_uc.is_staffed(db, world.project_a.id, ok.id)
    # Without htmx: a page of its own, with the way back to the search.
    r = op.post("/experts/search/invite", data={**data, "back": "/experts/search?q=geologist"})
    assert r.status_code == 200 and "0 staffed, 1 already there, 1 refused." in r.text
    assert 'href="/experts/search?q=geologist"' in r.text
    r = op.post("/experts/search/invite", data={"project_id": "", "back": "https://evil.example"})
    assert r.status_code == 422 and "Choose the project" in r.text
    assert "evil.example" not in r.text


def test_invite_to_a_project_with_an_nda_waits_for_it(
    db: Session, world: World, login_as: Any
) -> None:
    ndas.publish_nda(
        session=db, actor=world.operator, project_id=world.project_b.id, text="Keep it secret."
    )
    expert = make_expert(db, headline="Approved")
    db.commit()
    op = login_as(world.operator)
    body = {"project_id": world.project_b.id, "user_ids": [expert.id]}
    first = op.post("/api/v1/experts/invite-to-project", json=body).json()
    assert [s["user_id"] for s in first["staffed"]] == [expert.id]
    db.expire_all()
    # Staffed, but pending until the expert accepts the NDA: a second invite says so.
    assert projects_uc.has_staffing(db, world.project_b.id, expert.id)
    assert not projects_uc.is_staffed(db, world.project_b.id, expert.id)
    again = op.post("/api/v1/experts/invite-to-project", json=body).json()
    assert again["staffed"] == [] and again["refused"] == []
    assert again["skipped"][0]["reason"] == (
        "Already invited; waiting for them to accept the project's NDA."
    )
