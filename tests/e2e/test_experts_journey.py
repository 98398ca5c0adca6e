"""From the first invitation to the first problem set, in a real browser (issue 11's journey):

the operator invites an address; the invited person applies through the link in the mail file;
the operator sends them to the finance assessment, which they take against the server's clock;
the operator grades it and moves them to the interview, which the bundled local model leads;
the operator reads it and approves them; finds them on "Find experts" and invites them to the
demo project; they accept the project's NDA, the project opens, and they start their first
problem set.

The live server is this module's own (the demo with its expert network), so that the test knows
its data directory, where the mail goes; the interview guide asks two questions (the local model
is slow on 2 cores).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.cli.demo_work import PROJECT_NAME
from expertloop.experts import interview_guides
from expertloop.settings import Settings
from tests.e2e.conftest import module_server, page_at
from tests.e2e.test_experts_outreach import _link_from_mail
from tests.e2e.test_login_roles import first_login, log_in

pytestmark = pytest.mark.browser
INVITEE = "sam.journey@candidates.example"
NAME = "Sam Okoro"
PASSWORD = "a-journey-password"
BANK = Path(__file__).parents[2] / "src/expertloop/experts/banks/finance.json"


def _journey_seed(session: Session, settings: Settings) -> Path:
    """The interview guide asks two questions; return the data directory (where mail goes)."""
    guide = interview_guides.ensure_default(session)
    assert guide.endpoint_id is not None  # the demo's local model interviews
    guide.question_count = 2
    return settings.data_dir


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve the demo with its expert network; yield (base URL, data directory)."""
    tmp = tmp_path_factory.mktemp("e2e-journey")
    with module_server(tmp, "journey", _journey_seed, network=True) as (base, extra):
        yield base, extra


@pytest.fixture
def jpage(browser, journey_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, journey_server[0]) as page:
        yield page


def _decide(page: Page, to: str, reason: str) -> None:
    """Make the operator's decision on the open candidate page (in place, keyboard)."""
    form = page.get_by_test_id("decision-form")
    form.get_by_role("radio", name=to, exact=True).focus()
    page.keyboard.press("Space")
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Decide").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("decision-done")).to_be_visible()
    expect(page.get_by_test_id("candidate-state")).to_have_text(to.replace("_", " "))


def _as(page: Page, address: str, password: str) -> None:
    page.context.clear_cookies()
    log_in(page, address, password)


def test_from_invitation_to_the_first_problem_set(
    jpage: Page, journey_server: tuple[str, Path], screenshot_dir: Path
) -> None:
    page = jpage
    _base, data_dir = journey_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    operator = first_login(Role.operator)

    # 1. The operator invites Sam from the candidates board.
    log_in(page, operator.email, operator.password)
    page.get_by_role("link", name="Candidates").first.click()
    page.get_by_test_id("invite-experts").click()
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email").fill(INVITEE)
    form.get_by_label("Name").fill(NAME)
    form.get_by_label("Domain").select_option("finance")
    form.get_by_role("button", name="Invite").click()
    expect(
        page.get_by_test_id("invite-results").locator('tr[data-outcome="invited"]')
    ).to_have_count(1)

    # 2. Sam applies through the link in the mail.
    link = _link_from_mail(data_dir, INVITEE)
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_test_id("invitation-summary")).to_contain_text("Finance")
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator('select[name="expertise"]').first.select_option("finance:financial_planning")
    page.get_by_label("Headline").fill("Treasury analyst for geothermal utilities")
    page.get_by_label("Years of experience").fill("9")
    page.get_by_label("Country").fill("KE")
    page.get_by_label("Time zone").fill("Africa/Nairobi")
    page.locator('input[name="language"]').first.fill("en")
    page.locator('select[name="level"]').first.select_option("C2")
    page.get_by_label("Hours a week you can give").fill("15")
    page.get_by_label("Résumé").fill(
        "Nine years forecasting cash and budgets for a geothermal power utility in Nairobi."
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/vetting")
    expect(page.get_by_test_id("vetting-state")).to_have_text("applied")

    # 3. The operator sends Sam to the domain assessment.
    _as(page, operator.email, operator.password)
    page.goto("/candidates?state=applied&q=sam")
    page.get_by_test_id("candidates").get_by_role("link", name=NAME).click()
    page.wait_for_url(re.compile(r"/candidates/\d+$"))
    candidate_url = page.url
    _decide(page, "assessment", "Nine years of treasury work: take the finance bank.")

    # 4. Sam takes the assessment against the server's clock (answers from the shipped bank).
    key = {q["text"]: q for q in json.loads(BANK.read_text(encoding="utf-8"))["questions"]}
    _as(page, INVITEE, PASSWORD)
    page.goto("/vetting")
    page.get_by_test_id("next-link").click()
    page.wait_for_url("**/assessments")
    page.get_by_test_id("start-assessment").click()
    expect(page.get_by_test_id("timer")).to_contain_text("Time left")
    questions = page.get_by_test_id("question")
    expect(questions.first).to_be_visible()
    wrote = False
    for n in range(questions.count()):
        item = questions.nth(n)
        kind = item.get_attribute("data-kind")
        text = item.locator(".pre").first.inner_text().strip()
        if kind == "choice":
            item.locator("input[type=radio]").first.focus()
            page.keyboard.press(str(int(key[text]["answer"]) + 1))  # number keys pick
            expect(item.locator("input[type=radio]:checked")).to_have_count(1)
        elif kind == "numeric":
            item.get_by_test_id("number-input").fill(str(key[text]["answer"]))
        else:
            wrote = True
            item.get_by_test_id("text-input").fill(
                "I would compare the forecast with actuals each month and explain every gap."
            )
        expect(item.locator("[data-save-state]")).to_have_text("Saved")
    page.get_by_test_id("submit-assessment").click()
    if wrote:
        expect(page.get_by_test_id("waiting")).to_contain_text("An operator is grading")

    # 5. The operator grades the written answers in place and moves Sam to the interview.
    _as(page, operator.email, operator.password)
    page.goto(candidate_url)
    section = page.get_by_test_id("candidate-assessments")
    expect(section).to_be_visible()
    if wrote:
        for box in section.locator("input[type=number][name^=points_]").all():
            box.fill(box.get_attribute("max") or "1")
        section.get_by_test_id("feedback-input").fill("Sound reasoning on variances.")
        section.get_by_test_id("save-grades").click()
        expect(page.get_by_test_id("grade-saved")).to_be_visible()
    score = page.get_by_test_id("candidate-assessments").get_by_test_id("attempt-score").first
    expect(score).to_contain_text(re.compile(r"— passed"))
    _decide(page, "interview", "Passed the finance assessment.")

    # 6. The local model interviews Sam: two questions streamed, answers with Ctrl+Enter.
    _as(page, INVITEE, PASSWORD)
    page.goto("/interviews")
    page.get_by_test_id("start-interview").click()
    transcript = page.get_by_test_id("transcript")
    for n, reply in enumerate(
        (
            "I rebuild the thirteen-week cash forecast every Monday from the bank data.",
            "I would show the board the drivers first, then the sensitivity to tariffs.",
        ),
        start=1,
    ):
        answer = page.get_by_label("Your answer")
        expect(answer).to_be_focused(timeout=120_000)
        expect(transcript.locator(".turn-interviewer")).to_have_count(n)
        answer.fill(reply)
        answer.press("Control+Enter")
        expect(transcript.locator(".turn-candidate")).to_have_count(n)
    expect(page.get_by_test_id("interview-complete")).to_be_visible(timeout=30_000)

    # 7. The operator reads the transcript and approves Sam.
    _as(page, operator.email, operator.password)
    page.goto(candidate_url)
    expect(page.get_by_test_id("interview-slot")).to_contain_text("thirteen-week cash forecast")
    _decide(page, "approved", "Clear answers on cash forecasting; approved for finance work.")

    # 8. Found among the approved experts and invited to the demo project.
    page.get_by_role("link", name="Find experts").click()
    page.wait_for_url("**/experts/search")
    page.keyboard.type("geothermal")
    page.locator('select[name="domain"]').select_option("finance")
    page.locator("#m-q").press("Enter")
    page.wait_for_url("**/experts/search?*")
    expect(page.get_by_test_id("matches").locator("tbody tr")).to_have_count(1)
    page.get_by_label(f"Choose {NAME}").focus()
    page.keyboard.press("Space")
    page.get_by_label("Project to invite them to").select_option(label=PROJECT_NAME)
    page.get_by_role("button", name="Invite to project").click()
    expect(page.get_by_test_id("invite-result")).to_contain_text("1 staffed")

    # 9. Sam sees only the public summary until accepting the NDA; then the project opens and
    #    Sam starts a first problem set on it.
    _as(page, INVITEE, PASSWORD)
    page.goto("/invitations/projects")
    page.locator('[data-testid^="read-nda-"]').first.click()
    expect(page.get_by_test_id("nda-text")).to_contain_text("Mutual confidentiality agreement")
    page.get_by_label("I have read this agreement and accept it.").check()
    page.get_by_label("I have read this agreement and accept it.").press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("project-name")).to_contain_text(PROJECT_NAME)
    page.get_by_test_id("problem-sets-link").click()
    page.get_by_label("Title").fill("Geothermal utility: next year's cash budget")
    page.get_by_role("button", name="Create problem set").click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    expect(page.get_by_label("Problem statement")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "journey-first-problem-set.png"), full_page=True)
    assert not [p for p in problems if "favicon" not in p], problems
