"""An NDA-gated project in a real browser.

The demo client creates a project of its own (no other browser test touches it), sets its public
summary and an NDA; the operator staffs a demo expert on it. The expert finds it under "Project
invitations" with the public summary only, cannot open the project, reads and accepts the NDA
(keyboard only), and the project opens.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from expertloop.cli.demo_seed import DEMO_LOGINS
from tests.e2e.test_login_roles import first_login, log_in

pytestmark = pytest.mark.browser


def _api_login(page: Page, email: str, password: str) -> str:
    """Log the page's browser context in through the API; return the CSRF token."""
    response = page.request.post("/api/v1/auth/login", data={"email": email, "password": password})
    assert response.ok, response.text()
    token: str = response.json()["csrf_token"]
    return token


def _log_out(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login"))


def test_an_invited_expert_accepts_the_nda_and_the_project_opens(
    page: Page, screenshot_dir: Path
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    client = first_login(Role.client)
    operator = first_login(Role.operator)
    expert = [x for x in DEMO_LOGINS if x.role == Role.expert][-1]
    name = f"NDA project {uuid.uuid4().hex[:6]}"

    # 1. The client creates the project, gives it a public summary and an NDA.
    log_in(page, client.email, client.password)
    page.goto("/projects/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Domain").fill("finance")
    page.get_by_label("Description").fill("Confidential: the client's merger model")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    project_id = int(page.url.rstrip("/").split("/")[-1])
    csrf = _api_login(page, client.email, client.password)
    version = page.request.get(f"/api/v1/projects/{project_id}").json()["version"]
    patched = page.request.patch(
        f"/api/v1/projects/{project_id}",
        headers={"X-CSRF-Token": csrf},
        data={
            "version": version,
            "public_summary": "Review valuation answers for a bank.",
            "expected_hours_per_week": 6,
            "hourly_rate_cents": 9000,
            "rate_currency": "USD",
        },
    )
    assert patched.ok, patched.text()
    page.goto(f"/projects/{project_id}")
    page.get_by_test_id("nda-link").click()
    page.get_by_test_id("nda-input").fill("You keep **everything** about this project secret.")
    page.get_by_test_id("publish-nda").click()
    expect(page.get_by_text("Version 1, published")).to_be_visible()
    expect(page.get_by_test_id("nda-text")).to_contain_text("everything")
    _log_out(page)

    # 2. The operator staffs the expert on it.
    csrf = _api_login(page, operator.email, operator.password)
    users = page.request.get("/api/v1/users?limit=200").json()["items"]
    expert_id = next(u["id"] for u in users if u["email"] == expert.email)
    staffed = page.request.post(
        f"/api/v1/projects/{project_id}/staff",
        headers={"X-CSRF-Token": csrf},
        data={"user_id": expert_id, "role": "expert"},
    )
    assert staffed.status == 201, staffed.text()
    _log_out(page)

    # 3. The expert sees the invitation with the public summary only; the project stays closed.
    log_in(page, expert.email, expert.password)
    page.goto("/projects")
    expect(page.get_by_text(name)).to_have_count(0)
    page.get_by_test_id("project-invitations-link").click()
    card = page.get_by_test_id(f"invitation-{project_id}")
    expect(card).to_contain_text(name)
    expect(card).to_contain_text("Review valuation answers for a bank.")
    expect(card).to_contain_text("6 hours a week")
    expect(card).to_contain_text("90.00 USD an hour")
    expect(card).not_to_contain_text("merger model")
    page.screenshot(path=str(screenshot_dir / "nda-invitations.png"), full_page=True)
    assert page.request.get(f"/projects/{project_id}").status == 404

    # 4. Read and accept with the keyboard; the project opens.
    page.get_by_test_id(f"read-nda-{project_id}").click()
    expect(page.get_by_test_id("nda-text")).to_contain_text("everything about this project")
    page.get_by_label("I have read this agreement and accept it.").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/projects/{project_id}$"))
    expect(page.get_by_test_id("project-name")).to_contain_text(name)
    page.goto("/invitations/projects")
    expect(page.get_by_test_id("no-invitations")).to_be_visible()
    assert problems == []
