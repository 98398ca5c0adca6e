"""Log in through the real login form as each role and check what the home page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Response, expect

from expertloop.accounts.models import Role
from expertloop.cli.demo_seed import DEMO_LOGINS, DemoLogin

pytestmark = pytest.mark.browser

CLIENT_ORG = "Northwind Analytics"
STAFFED_PROJECT = "Finance agent evaluation"
OPERATOR_ONLY_LINKS = ("Users", "Audit log")


def first_login(role: Role) -> DemoLogin:
    return next(login for login in DEMO_LOGINS if login.role == role)


def expected_title(login: DemoLogin) -> str:
    return {
        Role.operator: "Operations",
        Role.client: CLIENT_ORG,
        Role.expert: f"Welcome, {login.name}",
        Role.reviewer: "Review desk",
    }[login.role]


def log_in(page: Page, email: str, password: str) -> None:
    """Fill and submit the login form (the page is left wherever the server sends it)."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url).split("?")[0] or "/"


@pytest.mark.parametrize(
    "role", [Role.operator, Role.client, Role.expert, Role.reviewer], ids=lambda r: r.value
)
def test_each_role_logs_in_and_sees_its_home(page: Page, screenshot_dir: Path, role: Role) -> None:
    login = first_login(role)
    log_in(page, login.email, login.password)

    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_test_id("role")).to_have_text(role.value)
    title = page.get_by_test_id("home-title")
    expect(title).to_be_visible()
    expect(title).to_have_text(expected_title(login))

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible()
    for label in OPERATOR_ONLY_LINKS:
        link = nav.get_by_role("link", name=label, exact=True)
        if role == Role.operator:
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)

    page.screenshot(path=str(screenshot_dir / f"{role.value}-home.png"), full_page=True)

    if role == Role.expert:
        project_link = page.get_by_role("link", name=STAFFED_PROJECT)
        expect(project_link).to_be_visible()
        project_link.click()
        page.wait_for_url(re.compile(r"/projects/\d+$"))
        expect(page.get_by_test_id("project-name")).to_have_text(STAFFED_PROJECT)
        guidelines = page.get_by_test_id("guidelines")
        expect(guidelines).to_be_visible()
        # The Markdown was rendered: a real table and heading, not the raw pipes and hashes.
        expect(guidelines.locator("table")).to_have_count(1)
        expect(guidelines.locator("table th").first).to_have_text("category")
        expect(guidelines.locator("h1")).to_contain_text("guidelines")
        expect(guidelines).not_to_contain_text("|---|")
        page.screenshot(path=str(screenshot_dir / "expert-project.png"), full_page=True)


def test_wrong_password_shows_the_error_and_stays_on_login(
    page: Page, screenshot_dir: Path
) -> None:
    login = first_login(Role.client)
    log_in(page, login.email, "not-the-password")

    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    assert path_of(page) == "/login"
    expect(page.get_by_test_id("role")).to_have_count(0)
    # The email is kept so a typo in the password costs one field, not two.
    expect(page.get_by_label("Email")).to_have_value(login.email)
    page.screenshot(path=str(screenshot_dir / "login-error.png"), full_page=True)


def test_logout_returns_to_login_and_ends_the_session(page: Page) -> None:
    login = first_login(Role.reviewer)
    log_in(page, login.email, login.password)
    expect(page.get_by_test_id("role")).to_have_text(Role.reviewer.value)

    with page.expect_navigation(url=re.compile(r"/login$")):
        page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.goto("/")
    page.wait_for_url(re.compile(r"/login$"))
    assert path_of(page) == "/login"
    expect(page.get_by_test_id("role")).to_have_count(0)


def test_scripts_and_styles_load_under_the_strict_csp(page: Page) -> None:
    console_errors: list[str] = []
    csp_messages: list[str] = []
    page_errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text:
            csp_messages.append(msg.text)
        # Chromium may ask for /favicon.ico on its own, after the page loaded; that guess is
        # not one of the page's assets (the pages declare their icon with <link rel="icon">).
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            console_errors.append(f"{msg.text} ({msg.location.get('url')})")

    def on_pageerror(err: Error) -> None:
        page_errors.append(str(err))

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)

    failed_assets: list[str] = []

    def on_response(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            failed_assets.append(f"{response.status} {response.url}")

    page.on("response", on_response)

    login = first_login(Role.client)
    log_in(page, login.email, login.password)
    expect(page.get_by_test_id("home-title")).to_have_text(CLIENT_ORG)
    page.wait_for_load_state("networkidle")

    # The vendored scripts and styles really ran / applied (not merely requested).
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    font_family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Times" not in font_family, f"Pico's styles did not apply (font: {font_family})"

    assert not failed_assets, failed_assets
    assert not csp_messages, csp_messages
    assert not page_errors, page_errors
    assert not console_errors, console_errors
