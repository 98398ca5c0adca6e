"""The history stays visible and review comments land where they apply, in a real browser.

An expert's step gets two revisions, each run on the bundled local model and the first one
annotated: the first revision's answer and annotation are still on the step page (collapsed),
and the two revisions come side by side. A reviewer comments on a span of the answer with the
keyboard alone; the expert sees it on the step and on their home page. After a return and a
resubmission the reviewer sees, on the problem set page, what changed since the return.

The work the test is not about (creating, running, annotating, submitting) goes through the
JSON API from inside the logged-in page, so the test does not depend on the editor's layout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, log_in
from tests.e2e.test_workbench import RUN_TIMEOUT, _expert, _watch

pytestmark = pytest.mark.browser


def _api(page: Page, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """Call the JSON API as the logged-in user (session cookie and CSRF token of the page)."""
    result = page.evaluate(
        """async ([method, url, body]) => {
          const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
          const token = headers["X-CSRF-Token"];
          const r = await fetch(url, {
            method,
            headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
            body: body === null ? undefined : JSON.stringify(body),
          });
          return { status: r.status, text: await r.text() };
        }""",
        [method, url, body],
    )
    assert result["status"] < 300, (method, url, result)
    return json.loads(result["text"]) if result["text"] else None


def _run(page: Page, revision_id: int, endpoint_id: int) -> dict[str, Any]:
    page.set_default_timeout(RUN_TIMEOUT)
    try:
        out: dict[str, Any] = _api(
            page, "POST", f"/api/v1/revisions/{revision_id}/runs", {"endpoint_id": endpoint_id}
        )
    finally:
        page.set_default_timeout(10_000)
    assert out["run"]["status"] == "ok", out
    return out


def _switch(page: Page, role: Role) -> None:
    page.context.clear_cookies()
    who = _expert(role)
    log_in(page, who.email, who.password)


def test_history_side_by_side_span_comment_home_and_since_return(
    page: Page, screenshot_dir: Path
) -> None:
    problems = _watch(page)
    expert = _expert()
    log_in(page, expert.email, expert.password)
    href = page.get_by_role("link", name=STAFFED_PROJECT).first.get_attribute("href")
    assert href is not None
    project_id = int(href.rstrip("/").split("/")[-1])

    # Two revisions, each run once; the first answer annotated.
    ps = _api(
        page, "POST", f"/api/v1/projects/{project_id}/problem-sets", {"title": "History kept"}
    )
    step = _api(
        page,
        "POST",
        f"/api/v1/problem-sets/{ps['id']}/steps",
        {"title": "Count", "prompt": "Name three colours.", "rubric": ["Names three"]},
    )
    endpoint_id = _api(page, "GET", f"/api/v1/projects/{project_id}/models")[0]["id"]
    rev1 = _api(page, "GET", f"/api/v1/steps/{step['id']}/revisions")[-1]
    first = _run(page, rev1["id"], endpoint_id)
    first_answer = first["run"]["answer"]
    assert len(first_answer) >= 3
    _api(
        page,
        "POST",
        f"/api/v1/revisions/{rev1['id']}/annotations",
        {
            "step_run_id": first["id"],
            "start": 0,
            "end": 3,
            "category": "incomplete",
            "severity": "major",
            "note": "First-iteration note",
        },
    )
    current = _api(page, "GET", f"/api/v1/steps/{step['id']}")
    _api(
        page,
        "PATCH",
        f"/api/v1/steps/{step['id']}",
        {"version": current["version"], "draft_prompt": "Name three primary colours, one a line."},
    )
    rev2 = _api(page, "POST", f"/api/v1/steps/{step['id']}/revisions", {"reason": "Be precise"})
    second = _run(page, rev2["id"], endpoint_id)
    second_answer = second["run"]["answer"]

    page.goto(f"/steps/{step['id']}")
    history = page.get_by_test_id("history")
    iterations = history.get_by_test_id("iteration")
    expect(iterations).to_have_count(2)
    newest, oldest = iterations.nth(0), iterations.nth(1)
    expect(newest).to_have_attribute("open", "")
    assert oldest.get_attribute("open") is None  # collapsed
    expect(oldest.get_by_test_id("history-answer")).to_be_hidden()
    # Open the first iteration with the keyboard: its answer and annotation are all there.
    oldest.locator("summary").first.focus()
    page.keyboard.press("Enter")
    old_answer = oldest.get_by_test_id("history-answer")
    expect(old_answer).to_be_visible()
    expect(old_answer).to_have_text(first_answer)
    expect(old_answer.locator("mark")).to_have_text(first_answer[:3])
    expect(oldest.get_by_test_id("history-annotations")).to_contain_text("First-iteration note")

    # Side by side, on demand: revision 2 against revision 1 by default, fetched in place.
    page.evaluate("window.__stayed = 'yes'")
    history.get_by_test_id("compare").focus()
    page.keyboard.press("Enter")
    side = page.get_by_test_id("side-by-side")
    expect(side).to_be_visible()
    expect(side.get_by_test_id("compare-left-prompt")).to_have_text("Name three colours.")
    expect(side.get_by_test_id("compare-right-prompt")).to_have_text(
        "Name three primary colours, one a line."
    )
    expect(side.get_by_test_id("compare-left-answer")).to_have_text(first_answer)
    expect(side.get_by_test_id("compare-right-answer")).to_have_text(second_answer)
    assert page.evaluate("window.__stayed") == "yes"  # no reload
    page.screenshot(path=str(screenshot_dir / "history-side-by-side.png"), full_page=True)

    # The expert finishes and submits (an ideal answer, the final revision was run).
    _api(page, "PUT", f"/api/v1/steps/{step['id']}/ideal-answer", {"text": "Red\nYellow\nBlue"})
    _api(page, "POST", f"/api/v1/problem-sets/{ps['id']}/transitions/submit", {})

    # A reviewer comments on a span of the newest answer, keyboard only.
    _switch(page, Role.reviewer)
    page.goto(f"/steps/{step['id']}")
    quote = second_answer.strip().split("\n")[0][:20].strip()
    assert quote
    target = page.get_by_test_id("comment-target")
    target.focus()
    wanted = f"run:{second['id']}"
    for _ in range(12):  # arrow down through the choices to the newest answer
        if target.input_value() == wanted:
            break
        page.keyboard.press("ArrowDown")
    assert target.input_value() == wanted
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("comment-quote-input")).to_be_focused()
    page.keyboard.type(quote)
    page.keyboard.press("Tab")
    body = page.get_by_test_id("comment-body-input")
    expect(body).to_be_focused()
    page.keyboard.type("Which source says so?")
    page.evaluate("window.__stayed = 'yes'")
    page.keyboard.press("Control+Enter")
    comment = page.get_by_test_id("step-comment")
    expect(comment).to_have_count(1)
    expect(comment.get_by_test_id("comment-quote")).to_have_text(quote)
    expect(comment.get_by_test_id("comment-body")).to_have_text("Which source says so?")
    expect(page.get_by_test_id("comment-body-input")).to_be_focused()  # focus kept
    expect(page.get_by_test_id("comment-body-input")).to_have_value("")
    assert page.evaluate("window.__stayed") == "yes"
    # A quote that is not in the answer is refused in place, the typed comment kept.
    page.keyboard.type("Second thought")
    page.get_by_test_id("comment-quote-input").fill("words nobody wrote")
    page.get_by_test_id("comment-body-input").focus()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("comment-error")).to_contain_text("not in that answer")
    expect(page.get_by_test_id("comment-body-input")).to_have_value("Second thought")
    expect(page.get_by_test_id("comment-body-input")).to_be_focused()
    expect(comment).to_have_count(1)
    # The same comment, on a selection instead: select words of the answer, then the button.
    selected = page.evaluate(
        """(runId) => {
          const el = document.querySelector(`[data-comment-on="run:${runId}"]`);
          const node = document.createTreeWalker(el, NodeFilter.SHOW_TEXT).nextNode();
          const range = document.createRange();
          range.setStart(node, 0);
          range.setEnd(node, Math.min(11, node.length));
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          return range.toString();
        }""",
        second["id"],
    )
    use = page.get_by_role("button", name="Comment on the selection")
    expect(use).to_be_visible()
    use.click()
    expect(page.get_by_test_id("comment-quote-input")).to_have_value(selected)
    expect(page.get_by_test_id("comment-body-input")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(comment).to_have_count(2)
    expect(comment.nth(1).get_by_test_id("comment-quote")).to_have_text(selected)
    assert comment.nth(1).get_attribute("data-start") == "0"
    assert comment.nth(1).get_attribute("data-end") == str(len(selected))

    _api(
        page,
        "POST",
        f"/api/v1/problem-sets/{ps['id']}/transitions/return",
        {"comment": "Check the source, then resubmit."},
    )

    # The expert sees the comment on the step and on the home page, which links to the step.
    _switch(page, Role.expert)
    home_list = page.get_by_test_id("home-review-comments")
    expect(home_list).to_contain_text("Which source says so?")
    expect(home_list).to_contain_text("History kept")
    home_list.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/steps/{step['id']}#comment-\d+$"))
    seen = page.get_by_test_id("step-comment")
    expect(seen).to_have_count(2)
    expect(seen.first.get_by_test_id("comment-quote")).to_have_text(quote)
    expect(page.get_by_test_id("comment-body-input")).to_have_count(0)  # the author only reads
    page.screenshot(path=str(screenshot_dir / "review-comment-expert.png"), full_page=True)

    # The expert fixes the ideal answer and resubmits.
    ideal = _api(page, "GET", f"/api/v1/steps/{step['id']}/ideal-answer")
    _api(
        page,
        "PUT",
        f"/api/v1/steps/{step['id']}/ideal-answer",
        {
            "text": "Red\nYellow\nBlue (primary colours, as the source says)",
            "version": ideal["version"],
        },
    )
    _api(page, "POST", f"/api/v1/problem-sets/{ps['id']}/transitions/submit", {})

    # The reviewer sees what changed since the return, step by step.
    _switch(page, Role.reviewer)
    page.goto(f"/problem-sets/{ps['id']}")
    since = page.get_by_test_id("since-return")
    expect(since).to_be_visible()
    changed = since.get_by_test_id("since-step")
    expect(changed).to_have_attribute("data-kind", "changed")
    expect(changed.get_by_test_id("since-ideal-diff").locator("ins")).to_contain_text(
        "(primary colours, as the source says)"
    )
    expect(changed.get_by_test_id("since-prompt-diff")).to_have_count(0)  # prompt unchanged
    page.screenshot(path=str(screenshot_dir / "since-return.png"), full_page=True)
    # The one refused comment is logged by the browser as a failed request; nothing else.
    refused = [p for p in problems if "status of 422" in p]
    assert len(refused) == 1 and len(problems) == 1, problems
