"""A candidate takes the domain assessment in a real browser (the server's countdown shown,
choices picked with number keys, answers saved as they go), submits; the operator grades the
written answer in place on the candidate's page; the candidate then sees the score, the key and
the feedback.

The live server is this module's own (a demo-seeded database plus a candidate at the assessment
stage and a small medicine bank), like the interview's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from expertloop.accounts.models import Role
from expertloop.experts.models import AssessmentBank, AssessmentQuestion, Candidate
from tests.e2e.conftest import module_server, page_at
from tests.e2e.test_login_roles import first_login, log_in
from tests.factories import PASSWORD
from tests.isolation_assessments import assessment_candidate, make_bank

pytestmark = pytest.mark.browser

# The key of the test bank (tests.isolation_assessments.QUESTIONS) as the candidate answers it.
KEYS = {"Which organ pumps blood?": "2", "Which vessel carries blood away from the heart?": "1"}


def _seed(session) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A medicine candidate at the assessment gate; the bank is the four test questions only."""
    bank, rows = make_bank(session, domain="medicine", time_limit_seconds=600, pass_percent=70)
    mine = [q.id for q in rows]
    session.execute(
        update(AssessmentQuestion)
        .where(AssessmentQuestion.bank_id == bank.id, AssessmentQuestion.id.not_in(mine))
        .values(active=False)
    )
    user, _candidate = assessment_candidate(session, domain="medicine")
    session.flush()
    candidate_id = session.scalar(select(Candidate.id).where(Candidate.user_id == user.id))
    assert session.get(AssessmentBank, bank.id) is not None
    return user.email, int(candidate_id)


@pytest.fixture(scope="module")
def assess_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """Serve the demo (and its network) with a candidate; yield (base URL, email, candidate id)."""
    tmp = tmp_path_factory.mktemp("e2e-assessment")
    with module_server(
        tmp, "assessment", lambda session, settings: _seed(session), network=True
    ) as (base, (email, candidate_id)):
        yield base, email, candidate_id


@pytest.fixture
def apage(browser, assess_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, assess_server[0]) as page:
        yield page


def test_candidate_takes_the_assessment_and_the_operator_grades_it_in_place(
    apage: Page, assess_server: tuple[str, str, int], screenshot_dir: Path
) -> None:
    page = apage
    _base, email, candidate_id = assess_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    log_in(page, email, PASSWORD)
    page.goto("/vetting")
    page.get_by_test_id("next-link").click()
    expect(page).to_have_url(re.compile(r"/assessments$"))
    page.get_by_test_id("start-assessment").click()

    # The countdown shows the server's remaining time and runs.
    timer = page.get_by_test_id("timer")
    expect(timer).to_be_visible()
    expect(timer).to_contain_text(re.compile(r"Time left: (10:00|9:5\d)"))
    first = timer.inner_text()
    expect(timer).not_to_have_text(first, timeout=5_000)

    questions = page.get_by_test_id("question")
    expect(questions).to_have_count(4)
    for n in range(4):
        item = questions.nth(n)
        kind = item.get_attribute("data-kind")
        if kind == "choice":
            text = item.locator("legend .pre").inner_text().strip()
            item.locator("input[type=radio]").first.focus()
            page.keyboard.press(KEYS[text])  # the number key picks the choice
            expect(item.locator("input[type=radio]:checked")).to_have_count(1)
        elif kind == "numeric":
            item.get_by_test_id("number-input").fill("22.86")
        else:
            item.get_by_test_id("text-input").fill(
                "Sensitivity is how often the test finds the disease in people who have it."
            )
        expect(item.locator("[data-save-state]")).to_have_text("Saved")
    expect(page.get_by_test_id("answered-count")).to_contain_text("4 of 4")
    page.screenshot(path=str(screenshot_dir / "candidate-assessment.png"), full_page=True)
    # A reload keeps the saved answers (the server has them).
    page.reload()
    expect(page.get_by_test_id("number-input")).to_have_value("22.86")
    page.get_by_test_id("submit-assessment").click()
    expect(page.get_by_test_id("waiting")).to_contain_text("An operator is grading")
    assert "The heart pumps blood" not in page.content()  # no explanation before grading
    assert not [p for p in problems if "favicon" not in p], problems

    # The operator grades the written answer in place on the candidate's page.
    operator = first_login(Role.operator)
    page.context.clear_cookies()
    log_in(page, operator.email, operator.password)
    page.goto(f"/candidates/{candidate_id}")
    section = page.get_by_test_id("candidate-assessments")
    expect(section).to_be_visible()
    expect(section.get_by_test_id("free-answer")).to_contain_text("Sensitivity is how often")
    points = section.locator("input[type=number][name^=points_]")
    points.fill("1")
    section.get_by_test_id("feedback-input").fill("Good facts; give an example next time.")
    section.get_by_test_id("save-grades").click()
    expect(page.get_by_test_id("grade-saved")).to_be_visible()
    expect(page.get_by_test_id("candidate-assessments")).to_contain_text("5 of 6")
    expect(page).to_have_url(re.compile(rf"/candidates/{candidate_id}$"))  # in place
    page.screenshot(path=str(screenshot_dir / "operator-assessment-grading.png"), full_page=True)

    # The candidate sees the score, the key and the feedback.
    page.context.clear_cookies()
    log_in(page, email, PASSWORD)
    page.goto("/assessments")
    expect(page.get_by_test_id("score")).to_contain_text("5 of 6 points")
    expect(page.get_by_test_id("feedback")).to_contain_text("give an example next time")
    expect(page.get_by_test_id("result")).to_contain_text("The heart pumps blood")
    expect(page.get_by_test_id("result-item")).to_have_count(4)
    page.screenshot(path=str(screenshot_dir / "candidate-assessment-result.png"), full_page=True)
