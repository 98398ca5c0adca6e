"""Run the bundled local model from the project page and watch the answer stream in."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser


def test_expert_streams_an_answer_from_the_local_model(page: Page, screenshot_dir: Path) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    expert = first_login(Role.expert)
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    expect(page.get_by_test_id("targets")).to_contain_text("SmolLM2 135M (local)")

    prompt = page.get_by_label("Prompt")
    prompt.fill("List two ways to cut travel costs.")
    # The draft survives a reload (kept in the browser until it is sent).
    page.reload()
    expect(page.get_by_label("Prompt")).to_have_value("List two ways to cut travel costs.")
    page.get_by_label("Prompt").press("Control+Enter")

    meta = page.locator("[data-run-output] .meta[data-status]")
    expect(meta).to_have_attribute("data-status", "ok", timeout=90_000)
    answer = page.get_by_test_id("answer")
    assert answer.inner_text().strip(), "the local model produced no text"
    page.screenshot(path=str(screenshot_dir / "expert-try-prompt.png"), full_page=True)
    # The run is recorded and listed after a reload.
    page.reload()
    expect(page.get_by_test_id("runs")).to_contain_text("ok")
    assert not [p for p in problems if "favicon" not in p], problems


def test_operator_tests_an_endpoint_on_the_models_page(page: Page, screenshot_dir: Path) -> None:
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    page.goto("/models")
    expect(page.get_by_test_id("endpoints")).to_contain_text("SmolLM2 135M (local)")
    page.get_by_role("button", name="Test").first.click()
    expect(page.get_by_test_id("test-result")).to_contain_text("OK in", timeout=90_000)
    page.screenshot(path=str(screenshot_dir / "operator-models.png"), full_page=True)


def test_unsafe_endpoint_is_refused_on_the_models_page(page: Page) -> None:
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    page.goto("/models")
    page.get_by_label("Name").fill("Metadata grabber")
    page.get_by_label("Base URL").fill("http://169.254.169.254/v1")
    page.get_by_label("Model id").fill("x")
    page.get_by_label("API key").fill("sk-should-not-echo")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("not allowed")
    assert "sk-should-not-echo" not in page.content()
