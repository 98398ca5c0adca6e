"""Outreach in a real browser: the operator invites an address from the candidates board; the
link is read from the .eml file the file mailer wrote; the invited person opens it, fills in the
join form with the keyboard only (a first try with a short password comes back with the error
at its field and everything else still typed) and lands on their status page as applied; the
link then refuses a second use; the operator sees the candidate applied, with the link used.

The live server is this module's own (a demo-seeded database), so that the test knows its data
directory, where the mail goes."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.conftest import module_server, page_at
from tests.e2e.test_login_roles import first_login, log_in

pytestmark = pytest.mark.browser
INVITEE = "noor.outreach@candidates.example"


@pytest.fixture(scope="module")
def outreach_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve a demo-seeded app; yield (base URL, data directory)."""
    tmp = tmp_path_factory.mktemp("e2e-outreach")
    with module_server(tmp, "outreach", lambda session, settings: settings.data_dir) as (
        base,
        extra,
    ):
        yield base, extra


@pytest.fixture
def opage(browser, outreach_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, outreach_server[0]) as page:
        yield page


def _link_from_mail(data_dir: Path, address: str) -> str:
    for path in (data_dir / "mail").glob("*.eml"):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if parsed["To"] == address:
            body = parsed.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"https?://\S+/join/[\w-]+", body.get_content())
            assert found, body.get_content()
            return found.group(0)
    raise AssertionError(f"no mail to {address} in {data_dir / 'mail'}")


def _tab_and_type(page: Page, text: str) -> None:
    page.keyboard.press("Tab")
    if text:
        page.keyboard.type(text)


def test_invite_mail_join_with_the_keyboard_and_land_applied(
    opage: Page, outreach_server: tuple[str, Path], screenshot_dir: Path
) -> None:
    page = opage
    _base, data_dir = outreach_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    page.get_by_role("link", name="Candidates").first.click()
    page.wait_for_url("**/candidates")
    page.get_by_test_id("invite-experts").click()
    page.wait_for_url("**/candidates/invite")
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email").fill(INVITEE)
    form.get_by_label("Name").fill("Noor Haddad")
    form.get_by_label("Domain").select_option("medicine")
    form.get_by_role("button", name="Invite").click()
    results = page.get_by_test_id("invite-results")
    expect(results.locator('tr[data-outcome="invited"]')).to_have_count(1)
    expect(results).to_contain_text(INVITEE)
    page.screenshot(path=str(screenshot_dir / "outreach-invite.png"), full_page=True)

    link = _link_from_mail(data_dir, INVITEE)
    assert page.get_by_test_id("invite-link").input_value() == link

    # The invited person, in a browser of their own (no cookies): keyboard only from here.
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_test_id("invitation-summary")).to_contain_text("Medicine")
    expect(page.get_by_label("Your name")).to_be_focused()  # autofocus
    page.keyboard.press("Control+A")
    page.keyboard.type("Noor Haddad")
    _tab_and_type(page, "short")  # password: too short on the first try
    page.keyboard.press("Tab")  # domain and specialty: type-ahead on the closed select
    page.keyboard.type("Medicine: Card")
    expect(page.locator('select[name="expertise"]').first).to_have_value("medicine:cardiology")
    page.keyboard.press("Tab")  # the optional second domain stays "None"
    _tab_and_type(page, "Cardiologist, heart failure clinic")
    _tab_and_type(page, "11")
    _tab_and_type(page, "JO")
    _tab_and_type(page, "Asia/Amman")
    _tab_and_type(page, "8")
    _tab_and_type(page, "ar")
    page.keyboard.press("Tab")  # level: native is first
    _tab_and_type(page, "en")
    page.keyboard.press("Tab")
    page.keyboard.type("C1")
    expect(page.locator('select[name="level"]').nth(1)).to_have_value("C1")
    page.keyboard.press("Tab")  # the third language, empty: Enter there submits the form
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_test_id("error-password")).to_contain_text("at least 10")
    expect(page.get_by_test_id("join-error")).to_be_visible()
    # What was typed is still there; only the password needs typing again.
    expect(page.get_by_label("Headline")).to_have_value("Cardiologist, heart failure clinic")
    expect(page.locator('select[name="expertise"]').first).to_have_value("medicine:cardiology")
    expect(page.locator('input[name="language"]').nth(1)).to_have_value("en")
    page.screenshot(path=str(screenshot_dir / "outreach-join-error.png"), full_page=True)

    # The first field in error has the focus: type the password right away.
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("a-long-enough-password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/vetting")
    expect(page.get_by_test_id("vetting-state")).to_have_text("applied")
    expect(page.get_by_test_id("role")).to_have_text("expert")
    page.screenshot(path=str(screenshot_dir / "outreach-applied.png"), full_page=True)

    # Their profile is there to edit; the link does not work a second time.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    page.wait_for_url("**/profile")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Amman")
    page.context.clear_cookies()
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_test_id("join-gone")).to_contain_text("already used")

    # The operator sees the candidate applied, and the link used.
    log_in(page, operator.email, operator.password)
    page.goto("/candidates?state=applied&q=noor")
    page.get_by_test_id("candidates").get_by_role("link", name="Noor Haddad").click()
    expect(page.get_by_test_id("candidate-state")).to_have_text("applied")
    expect(page.get_by_test_id("invitation-links").get_by_test_id("link-status")).to_have_text(
        "used"
    )
    assert not problems, problems


def test_outreach_pages_fit_a_phone(browser, outreach_server, screenshot_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.test_phone_width import HEIGHT, OVERFLOW_JS, SLACK, WIDTH

    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, base_url=outreach_server[0]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        too_wide: dict[str, object] = {}
        for role, paths in (
            (Role.expert, ("/profile", "/refer")),
            (Role.operator, ("/candidates/invite",)),
        ):
            login = first_login(role)
            page.context.clear_cookies()
            log_in(page, login.email, login.password)
            for path in paths:
                response = page.goto(path)
                assert response is not None and response.ok, (path, response and response.status)
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > WIDTH + SLACK:
                    too_wide[path] = (width, page.evaluate(OVERFLOW_JS, WIDTH))
                name = path.strip("/").replace("/", "-")
                page.screenshot(path=str(screenshot_dir / f"phone-outreach-{name}.png"))
        assert not too_wide, too_wide
    finally:
        context.close()
