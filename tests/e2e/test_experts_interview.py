"""A candidate takes the model-led interview with the bundled local model in a real browser:
questions stream in, answers go with Ctrl+Enter, a reload resumes; then the operator reads the
transcript and the suggested score (or why there is none) on the candidate's interview partial.

The live server here is this module's own (a demo-seeded database plus a candidate at the
interview stage), since the shared one offers no way to add a candidate before the outreach pages
exist."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from expertloop.accounts.models import Role
from expertloop.experts import interview_guides
from expertloop.experts.models import Candidate, ExpertProfile, InvitationKind, VettingState
from tests.e2e.conftest import module_server, page_at
from tests.e2e.test_login_roles import first_login, log_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def _seed_candidate(session) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A finance candidate at the interview stage; the guide asks two questions."""
    user = make_user(session, Role.expert, email="candidate@interview.example", name="Nadia Haddad")
    session.add(
        Candidate(
            email=user.email,
            name=user.name,
            user_id=user.id,
            state=VettingState.interview,
            domain="finance",
            source=InvitationKind.operator,
        )
    )
    session.add(
        ExpertProfile(
            user_id=user.id,
            headline="Treasury analyst",
            years_experience=8,
            resume="Eight years in corporate treasury: cash forecasting and FX hedging.",
            vetting_state=VettingState.interview,
        )
    )
    session.flush()
    guide = interview_guides.ensure_default(session)  # the demo's local model interviews
    assert guide.endpoint_id is not None
    guide.question_count = 2
    candidate_id = session.scalar(select(Candidate.id).where(Candidate.user_id == user.id))
    return user.email, int(candidate_id)


@pytest.fixture(scope="module")
def interview_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """Serve a demo-seeded app with one candidate; yield (base URL, email, candidate id)."""
    tmp = tmp_path_factory.mktemp("e2e-interview")
    with module_server(tmp, "interview", lambda session, settings: _seed_candidate(session)) as (
        base,
        (email, candidate_id),
    ):
        yield base, email, candidate_id


@pytest.fixture
def ipage(browser, interview_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, interview_server[0]) as page:
        yield page


def test_candidate_is_interviewed_by_the_local_model_and_the_operator_reads_it(
    ipage: Page, interview_server: tuple[str, str, int], screenshot_dir: Path
) -> None:
    page = ipage
    _base, email, candidate_id = interview_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    log_in(page, email, PASSWORD)
    page.goto("/interviews")
    page.get_by_test_id("start-interview").click()

    transcript = page.get_by_test_id("transcript")
    answer = page.get_by_label("Your answer")
    # The first question streams in from the local model; then the answer box takes the focus.
    expect(answer).to_be_visible(timeout=90_000)
    expect(answer).to_be_focused()
    expect(transcript.locator(".turn-interviewer")).to_have_count(1)
    first_question = transcript.locator(".turn-interviewer .pre").first.inner_text()
    assert first_question.strip(), "the local model asked nothing"

    # A draft survives a reload, and the reload resumes on the same question (no new one).
    answer.fill("I forecast cash weekly and hedge the euro exposure with forwards.")
    page.reload()
    expect(page.get_by_label("Your answer")).to_have_value(
        "I forecast cash weekly and hedge the euro exposure with forwards.", timeout=10_000
    )
    expect(transcript.locator(".turn-interviewer")).to_have_count(1)
    page.get_by_label("Your answer").press("Control+Enter")

    expect(transcript.locator(".turn-candidate")).to_have_count(1)
    expect(transcript.locator(".turn-interviewer")).to_have_count(2, timeout=90_000)
    expect(page.get_by_label("Your answer")).to_be_focused(timeout=90_000)
    page.get_by_label("Your answer").fill("مرحبا: I would net the exposures first.")
    page.get_by_label("Your answer").press("Control+Enter")
    expect(page.get_by_test_id("interview-complete")).to_be_visible()
    expect(page.get_by_test_id("progress")).to_contain_text("2 of 2")
    page.screenshot(path=str(screenshot_dir / "candidate-interview.png"), full_page=True)
    # The candidate's own answer keeps its direction (dir=auto) and its words.
    last = transcript.locator(".turn-candidate .pre").last
    expect(last).to_have_attribute("dir", "auto")
    expect(last).to_have_text("مرحبا: I would net the exposures first.")
    assert not [p for p in problems if "favicon" not in p], problems

    # The operator reads the whole transcript and the suggestion (once the model has scored).
    operator = first_login(Role.operator)
    page.context.clear_cookies()
    log_in(page, operator.email, operator.password)
    suggestion = page.get_by_test_id("suggestion")
    deadline = time.monotonic() + 120
    while True:
        page.goto(f"/candidates/{candidate_id}/interview")
        text = suggestion.inner_text()
        if "scoring the transcript" not in text and "No suggested score yet" not in text:
            break
        assert time.monotonic() < deadline, "the model never finished scoring"
        time.sleep(2)
    expect(page.get_by_test_id("operator-transcript").locator(".turn")).to_have_count(4)
    expect(page.get_by_test_id("operator-transcript")).to_contain_text("hedge the euro exposure")
    # A tiny local model may or may not write readable JSON: either way the page says so.
    if page.get_by_test_id("suggested-score").count():
        expect(page.get_by_test_id("suggested-by")).to_contain_text("SmolLM2")
        expect(page.get_by_test_id("suggested-by")).to_contain_text("you decide")
    else:
        expect(page.get_by_test_id("scoring-error")).to_contain_text("No suggested score")
    page.screenshot(path=str(screenshot_dir / "operator-interview.png"), full_page=True)

    # The operator edits the guide: a new version, which later interviews use.
    page.goto("/interview-guides")
    expect(page.get_by_role("heading", name="Version 1 (newest)")).to_be_visible()
    page.get_by_label("Questions per interview").fill("3")
    page.get_by_label("Interviewer prompt").fill("Interview like a treasury committee.")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_test_id("saved")).to_contain_text("Saved version 2")
    expect(page.get_by_test_id("guide-versions").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_label("Interviewer prompt")).to_have_value(
        "Interview like a treasury committee."
    )
    page.screenshot(path=str(screenshot_dir / "operator-interview-guides.png"), full_page=True)
