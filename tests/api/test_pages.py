"""Server-rendered pages over HTTP: login form CSRF, role-aware home, forms that keep input."""

from __future__ import annotations

import html as html_lib
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from tests.factories import PASSWORD, World, make_user


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the form"
    return match.group(1)


def _page_login(client: TestClient, email: str, password: str = PASSWORD, next_url: str = "/"):  # type: ignore[no-untyped-def]
    token = _form_token(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )


def test_login_form_round_trip(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    response = _page_login(client, user.email, next_url="/projects")
    assert response.status_code == 303
    assert response.headers["location"] == "/projects"
    home = client.get("/")
    assert home.status_code == 200
    assert 'data-testid="role">client<' in home.text


def test_login_form_without_csrf_cookie_is_refused(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    r = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": "made-up"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_form_refuses_open_redirects(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil"):
        client.cookies.clear()
        r = _page_login(client, user.email, next_url=target)
        assert r.headers["location"] == "/"


def test_wrong_password_keeps_email_and_says_why(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.expert)
    db.commit()
    r = _page_login(client, user.email, password="wrong-password")
    assert r.status_code == 401
    assert "Email or password is incorrect." in r.text
    assert f'value="{user.email}"' in r.text


def test_each_role_sees_its_home_and_navigation(client: TestClient, world: World) -> None:
    expectations = {
        world.operator: ("Operations", True),
        world.client_a: ("Tenant A", False),
        world.expert_a: ("Welcome,", False),
        world.reviewer_a: ("Review desk", False),
    }
    for user, (title, sees_admin) in expectations.items():
        client.cookies.clear()
        _page_login(client, user.email)
        html = client.get("/").text
        assert title in html
        assert ('href="/audit"' in html) is sees_admin
        assert world.project_b.name not in html or user is world.operator


def test_page_post_needs_csrf(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    _page_login(client, user.email)
    r = client.post("/projects/new", data={"name": "No token"}, follow_redirects=False)
    assert r.status_code == 403
    token = _form_token(client.get("/projects/new").text)
    r = client.post(
        "/projects/new", data={"name": "With token", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    detail = client.get(r.headers["location"])
    assert "With token" in detail.text


def test_new_project_form_keeps_input_on_error(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    _page_login(client, user.email)
    token = _form_token(client.get("/projects/new").text)
    r = client.post(
        "/projects/new", data={"name": "   ", "guidelines": "My long draft", "csrf_token": token}
    )
    assert r.status_code == 422
    assert "My long draft" in r.text
    assert "must not be empty" in r.text


def test_guidelines_are_rendered_safely(client: TestClient, world: World, db: Session) -> None:
    world.project_a.guidelines = (
        "# Rules\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2))\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    db.commit()
    _page_login(client, world.expert_a.email)
    html = client.get(f"/projects/{world.project_a.id}").text
    assert "<h1>Rules</h1>" in html
    assert "<table>" in html
    assert "<script>alert" not in html
    assert 'href="javascript:' not in html


def test_account_page_creates_token_once_and_changes_password(
    client: TestClient, db: Session
) -> None:
    user = make_user(db, Role.expert)
    db.commit()
    _page_login(client, user.email)
    token = _form_token(client.get("/account").text)
    created = client.post("/account/tokens", data={"name": "cli", "csrf_token": token})
    secret = re.search(r'data-testid="new-token">([^<]+)<', created.text)
    assert secret and secret.group(1).startswith("elk_")
    assert secret.group(1) not in client.get("/account").text
    r = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another-pass-1",
            "confirm_password": "another-pass-2",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422 and "do not match" in r.text
    r = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another-pass-1",
            "confirm_password": "another-pass-1",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_operator_pages_are_refused_to_others(client: TestClient, world: World) -> None:
    # Role-restricted features (not tenant data) answer 403, the same as their API.
    _page_login(client, world.client_a.email)
    assert client.get("/users").status_code == 403
    assert client.get("/audit").status_code == 403
    client.cookies.clear()
    _page_login(client, world.operator.email)
    users_page = client.get("/users?role=expert")
    assert users_page.status_code == 200 and world.expert_a.email in users_page.text
    assert "auth.login_succeeded" in client.get("/audit").text


def test_logout_page(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.reviewer)
    db.commit()
    _page_login(client, user.email)
    token = _form_token(client.get("/").text)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_staff_names_are_for_operators_only(client: TestClient, world: World) -> None:
    _page_login(client, world.client_a.email)
    html = client.get(f"/projects/{world.project_a.id}").text
    assert "1 expert, 1 reviewer staffed." in html
    assert world.expert_a.email not in html and world.expert_a.name not in html
    client.cookies.clear()
    _page_login(client, world.operator.email)
    html = client.get(f"/projects/{world.project_a.id}").text
    assert world.expert_a.email in html and world.reviewer_a.name in html


def test_project_page_title_is_just_the_name(client: TestClient, world: World) -> None:
    _page_login(client, world.expert_a.email)
    html = client.get(f"/projects/{world.project_a.id}").text
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert (
        title
        and html_lib.unescape(title.group(1)).strip() == f"{world.project_a.name} · ExpertLoop"
    )
    assert html.count('id="models"') == 1


def test_experts_do_not_get_the_new_project_form(client: TestClient, world: World) -> None:
    _page_login(client, world.expert_a.email)
    assert client.get("/projects/new").status_code == 403
