"""The vetting pipeline in a real browser: the operator's board draws its funnel chart and lists a
state's candidates; on a candidate's page the decision is made with the keyboard and recorded in
place (no reload); the candidate then reads where they stand on their own page and home.

The live server is this module's own (a demo-seeded database plus candidates), as no page adds a
candidate before the outreach pages exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    InvitationKind,
    VettingState,
    VettingTransition,
)
from tests.e2e.conftest import module_server, page_at
from tests.e2e.test_login_roles import first_login, log_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser
S = VettingState
ADA = "ada.vetting@candidates.example"


def _seed(session) -> int:  # type: ignore[no-untyped-def]
    """Ada waits for a decision after her interview; two others applied, one was rejected."""
    ada_id = 0
    for email, name, path in [
        (ADA, "Ada Qureshi", (S.applied, S.assessment, S.interview)),
        ("ben.vetting@candidates.example", "Ben Okafor", (S.applied,)),
        ("chen.vetting@candidates.example", "Chen Wei", (S.applied, S.rejected)),
    ]:
        user = make_user(session, Role.expert, email=email, name=name)
        session.add(
            ExpertProfile(
                user_id=user.id,
                headline="Management accountant",
                years_experience=9,
                resume="Nine years of IFRS reporting.",
                vetting_state=path[-1],
            )
        )
        candidate = Candidate(
            email=email,
            name=name,
            user_id=user.id,
            state=path[-1],
            domain="accounting",
            source=InvitationKind.operator,
        )
        session.add(candidate)
        session.flush()
        before = S.invited
        for state in path:
            session.add(
                VettingTransition(
                    candidate_id=candidate.id, from_state=before, to_state=state, reason="Seeded"
                )
            )
            before = state
        candidate.version = len(path)
        if email == ADA:
            ada_id = candidate.id
    session.flush()
    return ada_id


@pytest.fixture(scope="module")
def vetting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Serve a demo-seeded app with three candidates; yield (base URL, Ada's candidate id)."""
    tmp = tmp_path_factory.mktemp("e2e-vetting")
    served = module_server(tmp, "vetting", lambda session, _settings: _seed(session))
    with served as (base, extra):
        yield base, extra


@pytest.fixture
def vpage(browser, vetting_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, vetting_server[0]) as page:
        yield page


def test_operator_decides_in_place_and_the_candidate_reads_it(
    vpage: Page, vetting_server: tuple[str, int], screenshot_dir: Path
) -> None:
    page = vpage
    _base, ada_id = vetting_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)

    page.get_by_role("link", name="Candidates").first.click()
    page.wait_for_url("**/candidates")
    cards = page.get_by_test_id("state-counts")
    expect(cards.locator('[data-state="interview"] .count')).to_have_text("1")
    expect(cards.locator('[data-state="applied"] .count')).to_have_text("1")
    # The funnel chart is drawn from its data block (Chart.js), next to its table.
    expect(page.locator('[data-testid="chart-funnel"][data-drawn="true"]')).to_have_count(1)
    expect(page.get_by_test_id("funnel")).to_contain_text("Applied")
    page.screenshot(path=str(screenshot_dir / "vetting-board.png"), full_page=True)

    cards.locator('[data-state="interview"]').click()
    page.wait_for_url("**/candidates?state=interview")
    page.get_by_test_id("candidates").get_by_role("link", name="Ada Qureshi").click()
    page.wait_for_url(f"**/candidates/{ada_id}")
    expect(page.get_by_test_id("candidate-state")).to_have_text("interview")
    expect(page.get_by_test_id("history")).to_contain_text("assessment → interview")
    # The sections of the other parts load into the page (or say where to find them).
    expect(page.get_by_test_id("interview-slot")).not_to_be_empty()

    # Keyboard only: choose "approved", write the reason, submit with Enter on the button.
    page.evaluate("window.__noReload = true")
    form = page.get_by_test_id("decision-form")
    form.get_by_role("radio", name="approved").focus()
    page.keyboard.press("Space")
    expect(form.get_by_role("radio", name="approved")).to_be_checked()
    form.get_by_label("Reason").focus()
    page.keyboard.type("Clear, correct answers on revenue recognition.")
    form.get_by_role("button", name="Decide").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("decision-done")).to_be_visible()
    expect(page.get_by_test_id("candidate-state")).to_have_text("approved")
    expect(page.get_by_test_id("history")).to_contain_text("interview → approved")
    assert page.evaluate("window.__noReload === true"), "the decision reloaded the page"
    # Approved: only pausing and withdrawing are left to decide.
    radios = page.get_by_test_id("decision-form").locator('input[name="to"]')
    expect(radios).to_have_count(2)
    page.screenshot(path=str(screenshot_dir / "vetting-candidate.png"), full_page=True)

    # A reason is required: the browser says so before anything is sent.
    page.get_by_test_id("decision-form").get_by_role("radio", name="paused").check()
    page.get_by_test_id("decision-form").get_by_role("button", name="Decide").click()
    expect(page.get_by_test_id("candidate-state")).to_have_text("approved")

    page.context.clear_cookies()
    log_in(page, ADA, PASSWORD)
    expect(page.get_by_test_id("home-vetting")).to_contain_text("approved")
    page.get_by_test_id("home-vetting").get_by_role("link", name="Where you stand").click()
    page.wait_for_url("**/vetting")
    expect(page.get_by_test_id("vetting-state")).to_have_text("approved")
    steps = page.get_by_test_id("vetting-steps").locator("li")
    expect(steps).to_have_count(6)
    expect(steps.last).to_have_attribute("aria-current", "step")
    expect(page.get_by_test_id("next-step")).to_contain_text("You are approved")
    page.screenshot(path=str(screenshot_dir / "vetting-status.png"), full_page=True)
    # The operator's pages do not exist for her.
    response = page.goto(f"/candidates/{ada_id}")
    assert response is not None and response.status == 404
    assert not problems, problems
