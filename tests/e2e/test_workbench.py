"""The whole expert loop in a real browser, on the bundled local model.

Create a problem set, add two steps, run them, select a span and annotate it, revise the prompt,
run again, see the diff, score the rubric, write an ideal answer, submit; then a reviewer
returns it with a comment, the expert sees the comment. Screenshots go to test-output/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from expertloop.cli.demo_seed import DEMO_LOGINS
from tests.e2e.test_login_roles import STAFFED_PROJECT, log_in

pytestmark = pytest.mark.browser

RUN_TIMEOUT = 120_000
SAVED = re.compile(r"Saved \d")  # the editor's own "Saved <time>." (a page starts with "Saved.")


def _expert(role: Role = Role.expert):  # type: ignore[no-untyped-def]
    # The last demo login of the role: for experts the second one, so the seeded half-done
    # problem set stays out of the way.
    return [x for x in DEMO_LOGINS if x.role == role][-1]


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return problems


def _run_and_wait(page: Page) -> None:
    page.get_by_test_id("run").click()
    # The page streams the answers, then reloads to show the stored runs.
    expect(page.locator("[data-testid=run-card] .meta").first).to_contain_text(
        "ok", timeout=RUN_TIMEOUT
    )


def _select_in_answer(page: Page, chars: int) -> str:
    """Select the first ``chars`` characters of the first answer, as a user dragging would."""
    return page.evaluate(
        """(chars) => {
          const el = document.querySelector("[data-testid=answer]");
          const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
          const node = walker.nextNode();
          const range = document.createRange();
          range.setStart(node, 0);
          range.setEnd(node, Math.min(chars, node.length));
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          document.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
          return range.toString();
        }""",
        chars,
    )


def test_expert_works_a_problem_set_from_problem_to_submission(
    page: Page, screenshot_dir: Path
) -> None:
    problems = _watch(page)
    expert = _expert()
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()

    # 1. The problem.
    page.get_by_label("Title").fill("Plan a bakery's cash for the winter")
    page.get_by_label("Problem statement").fill(
        "I run a small bakery. Sales drop 30% in January and February; rent is 2,400 a month."
    )
    page.get_by_role("button", name="Create problem set").click()
    expect(page.get_by_test_id("ps-title")).to_have_text("Plan a bakery's cash for the winter")
    expect(page.get_by_test_id("ps-status")).to_have_text("Draft")

    # The context autosaves (and survives a reload).
    page.get_by_label("Context").fill(
        "Monthly sales last winter: Dec 18,000; Jan 12,600; Feb 12,600."
    )
    expect(page.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)
    page.reload()
    expect(page.get_by_label("Context")).to_have_value(
        "Monthly sales last winter: Dec 18,000; Jan 12,600; Feb 12,600."
    )

    # 2. Decompose: two steps.
    for title, prompt, rubric in (
        (
            "Winter shortfall",
            "Sales were 18,000 in December. In a 30% drop month, how much are sales? "
            "Answer briefly.",
            "States 12,600\nShows the calculation",
        ),
        (
            "Advice",
            "Give one way a bakery can cover a cash shortfall in winter. One sentence.",
            "Names one concrete way",
        ),
    ):
        add = page.locator("details", has_text="Add a step")
        if add.get_attribute("open") is None:
            add.locator("summary").click()
        form = page.get_by_test_id("add-step")
        form.get_by_label("Title").fill(title)
        form.get_by_label("Prompt").fill(prompt)
        form.get_by_label("Rubric criteria").fill(rubric)
        form.get_by_role("button", name="Add step").click()
        expect(page.get_by_test_id("step-title")).to_have_text(title)
        page.get_by_role("link", name="Plan a bakery's cash for the winter").click()
    expect(page.get_by_test_id("steps").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("ps-status")).to_have_text("In progress")

    # 3. Run step 1 on the target model.
    page.get_by_test_id("steps").get_by_role("link", name="Winter shortfall").click()
    _run_and_wait(page)
    expect(page.get_by_test_id("answer").first).not_to_be_empty()

    # 4. Locate: select a span, pick the category with its number key, Enter saves.
    quote = _select_in_answer(page, 12)
    assert quote
    popover = page.locator("[data-annotate-popover]")
    expect(popover).to_be_visible()
    page.keyboard.press("2")  # calculation error
    expect(popover.locator("input[value=calculation_error]")).to_be_checked()
    popover.get_by_label("Note").fill("Check the arithmetic.")
    page.keyboard.press("Control+Enter")  # the note is multi-line: Enter is a line break there
    expect(page.get_by_test_id("annotations").first).to_contain_text("Calculation error")
    mark = page.locator("[data-testid=answer] mark").first
    expect(mark).to_have_text(quote)
    page.screenshot(path=str(screenshot_dir / "workbench-annotated.png"), full_page=True)

    # 5. Fix: revise the prompt (the draft autosaves), citing the annotation.
    draft = page.get_by_test_id("draft-prompt")
    draft.fill(
        "Sales were 18,000 in December. January sales are 30% lower. "
        "Compute January sales: show 18,000 * 0.7 and the result."
    )
    expect(page.locator("form[data-autosave] [data-save-state]")).to_contain_text(
        "saved", ignore_case=True, timeout=10_000
    )
    page.get_by_test_id("revise-reason").fill("Say exactly which month and how to compute it")
    page.get_by_test_id("save-revision").click()
    # The page reloads on revision 2 (wait for it: "Save as revision 2" said it already).
    expect(page.get_by_test_id("run")).to_have_text("Run revision 2")

    # 6. Re-test and compare.
    _run_and_wait(page)
    timeline = page.get_by_test_id("timeline")
    timeline.get_by_test_id("prompt-diff").first.locator("summary").click()
    expect(timeline.locator(".diff ins").first).to_be_visible()
    expect(timeline.get_by_test_id("answer-diff").first).to_be_visible()

    # Score the new answer against the rubric: every criterion met → the step passes.
    for box in page.locator("[data-rubric] input[type=checkbox]").all():
        box.check()
    expect(page.locator(".step-head [data-testid=step-state]")).to_have_text(
        "passing", timeout=10_000
    )
    page.screenshot(path=str(screenshot_dir / "workbench-step-passing.png"), full_page=True)

    # 7. Step 2: run, then write the ideal answer starting from the model's answer.
    page.get_by_role("link", name="Step 2 →").click()
    _run_and_wait(page)
    page.get_by_role("button", name="Write the ideal answer from this").first.click()
    ideal = page.get_by_test_id("ideal-text")
    ideal.fill("Arrange a seasonal overdraft with the bank before December.")
    expect(page.locator("form[data-ideal] [data-save-state]")).to_contain_text(
        SAVED, timeout=10_000
    )
    page.reload()
    expect(page.get_by_test_id("ideal-text")).to_have_value(
        "Arrange a seasonal overdraft with the bank before December."
    )
    expect(page.locator(".step-head [data-testid=step-state]")).to_have_text("ideal answer")
    page.get_by_text("Changes from the model answer").click()
    expect(page.locator(".diff ins").first).to_be_visible()

    # 8. Submit.
    page.get_by_role("link", name="Plan a bakery's cash for the winter").click()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("ps-status")).to_have_text("Submitted")
    expect(page.get_by_label("Context")).to_have_count(0)  # no longer editable by its author
    page.screenshot(path=str(screenshot_dir / "workbench-submitted.png"), full_page=True)
    ps_url = page.url

    # 9. The reviewer finds it in the queue and returns it with a comment.
    page.get_by_role("button", name="Log out").click()
    reviewer = _expert(Role.reviewer)
    log_in(page, reviewer.email, reviewer.password)
    queue = page.get_by_test_id("review-queue")
    queue.get_by_role("link", name="Plan a bakery's cash for the winter").click()
    page.get_by_role("button", name="Start review").click()
    expect(page.get_by_test_id("ps-status")).to_have_text("In review")
    page.get_by_label("Comment").last.fill(
        "Step 1's answer still says 5,000; fix the ideal answer."
    )
    page.get_by_role("button", name="Return to author").click()
    expect(page.get_by_test_id("ps-status")).to_have_text("Returned")

    # 10. The client sees it read-only; the author sees the comment and can work on.
    page.get_by_role("button", name="Log out").click()
    client = _expert(Role.client)
    log_in(page, client.email, client.password)
    page.goto(ps_url)
    expect(page.get_by_test_id("ps-title")).to_have_text("Plan a bakery's cash for the winter")
    expect(page.get_by_label("Context")).to_have_count(0)
    expect(page.get_by_test_id("actions")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    log_in(page, expert.email, expert.password)
    page.goto(ps_url)
    expect(page.get_by_test_id("review-comment")).to_contain_text("still says 5,000")
    expect(page.get_by_label("Context")).to_be_visible()  # editable again
    page.screenshot(path=str(screenshot_dir / "workbench-returned.png"), full_page=True)
    assert not [p for p in problems if "favicon" not in p], problems


def test_stale_save_shows_both_versions(page: Page, browser) -> None:  # type: ignore[no-untyped-def]
    expert = _expert()
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()
    page.get_by_label("Title").fill("Two tabs")
    page.get_by_role("button", name="Create problem set").click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    url = page.url

    other = page.context.new_page()  # a second tab of the same person
    other.goto(url)
    other.get_by_label("Problem statement").fill("Written in the other tab.")
    expect(other.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)

    page.get_by_label("Problem statement").fill("Written in this tab.")
    conflict = page.locator("[data-conflict]")
    expect(conflict).to_be_visible(timeout=10_000)
    expect(conflict.locator("[data-theirs]")).to_contain_text("Written in the other tab.")
    expect(conflict.locator("[data-yours]")).to_contain_text("Written in this tab.")
    conflict.get_by_role("button", name="Keep mine").click()
    expect(page.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)
    other.reload()
    expect(other.get_by_label("Problem statement")).to_have_value("Written in this tab.")

    # The same words saved from both tabs are no conflict: the stale tab carries on quietly from
    # the saved version (as a tab's own save sent while it was closing does on reload).
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
        page.get_by_label("Problem statement").fill("The same words in both tabs.")
    with other.expect_response(lambda r: r.request.method == "PATCH" and r.status == 409):
        other.get_by_label("Problem statement").fill("The same words in both tabs.")
    expect(other.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)
    expect(other.locator("[data-conflict]")).to_be_hidden()
    with other.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
        other.get_by_label("Problem statement").fill("Carried on in the other tab.")
    expect(other.locator("[data-conflict]")).to_be_hidden()


def test_a_dropped_connection_loses_no_typing(page: Page) -> None:
    expert = _expert()
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()
    page.get_by_label("Title").fill("Offline typing")
    page.get_by_role("button", name="Create problem set").click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    page.wait_for_load_state("load")
    url = page.url
    # The editor's script is live (a save online works) before the network goes: going offline
    # while the page is still loading would block the script itself, not the editor's saves.
    page.get_by_label("Problem statement").fill("Typed online.")
    expect(page.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)

    # The connection drops: saves fail, the typing stays in this browser.
    page.context.set_offline(True)
    page.get_by_label("Problem statement").fill("Typed while the network was down.")
    expect(page.locator("[data-save-state]")).to_contain_text("Not saved yet", timeout=10_000)

    # The connection comes back: the editor's retry (every 5 s) saves what was typed.
    page.context.set_offline(False)
    expect(page.locator("[data-save-state]")).to_contain_text(SAVED, timeout=15_000)
    expect(page.get_by_label("Problem statement")).to_have_value(
        "Typed while the network was down."
    )
    # And it reached the server.
    api_url = "/api/v1" + url[url.index("/problem-sets/") :]
    statement = ""
    for _ in range(20):
        statement = page.request.get(api_url).json()["statement"]
        if statement == "Typed while the network was down.":
            break
        page.wait_for_timeout(500)
    assert statement == "Typed while the network was down."


def test_each_editor_on_the_step_page_has_its_own_conflict_panel(page: Page) -> None:
    expert = _expert()
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()
    page.get_by_label("Title").fill("Two editors, two conflicts")
    page.get_by_role("button", name="Create problem set").click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    add = page.locator("details", has_text="Add a step")
    if add.get_attribute("open") is None:
        add.locator("summary").click()
    form = page.get_by_test_id("add-step")
    form.get_by_label("Title").fill("Only step")
    form.get_by_label("Prompt").fill("First prompt.")
    form.get_by_role("button", name="Add step").click()
    expect(page.get_by_test_id("step-title")).to_have_text("Only step")
    page.wait_for_load_state("load")

    # Another tab saves both the prompt draft and the ideal answer first.
    other = page.context.new_page()
    other.goto(page.url)
    with other.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
        other.get_by_test_id("draft-prompt").fill("Prompt from the other tab.")
    with other.expect_response(lambda r: r.request.method == "PUT" and r.ok):
        other.get_by_test_id("ideal-text").fill("Ideal from the other tab.")

    # This tab's two stale saves: each editor shows its own two versions.
    page.get_by_test_id("draft-prompt").fill("Prompt from this tab.")
    page.get_by_test_id("ideal-text").fill("Ideal from this tab.")
    prompt_card = page.locator("article", has=page.get_by_test_id("draft-prompt"))
    ideal_card = page.locator("article", has=page.get_by_test_id("ideal-text"))
    prompt_conflict = prompt_card.locator("[data-conflict]")
    ideal_conflict = ideal_card.locator("[data-conflict]")
    expect(prompt_conflict).to_be_visible(timeout=10_000)
    expect(ideal_conflict).to_be_visible(timeout=10_000)
    expect(prompt_conflict.locator("[data-theirs]")).to_contain_text("Prompt from the other tab.")
    expect(prompt_conflict.locator("[data-yours]")).to_contain_text("Prompt from this tab.")
    expect(ideal_conflict.locator("[data-theirs]")).to_have_text("Ideal from the other tab.")
    expect(ideal_conflict.locator("[data-yours]")).to_have_text("Ideal from this tab.")

    # Each is resolved on its own: theirs for the prompt, mine for the ideal answer.
    prompt_conflict.get_by_role("button", name="Take theirs").click()
    expect(page.get_by_test_id("draft-prompt")).to_have_value("Prompt from the other tab.")
    expect(ideal_conflict).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "PUT" and r.ok):
        ideal_conflict.get_by_role("button", name="Keep mine").click()
    expect(ideal_card.locator("[data-save-state]")).to_contain_text(SAVED, timeout=10_000)
    other.reload()
    expect(other.get_by_test_id("draft-prompt")).to_have_value("Prompt from the other tab.")
    expect(other.get_by_test_id("ideal-text")).to_have_value("Ideal from this tab.")
