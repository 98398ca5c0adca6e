"""The client imports seeds in a real browser: a CSV with one bad line shows the line-numbered
error and imports nothing; the corrected file imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser

HEADER = "title,statement,prompts\n"
GOOD = 'Browser seed {n},"Plan the quarter.","[""List the costs."", ""Forecast them.""]"\n'


def test_client_sees_line_numbered_errors_then_imports(page: Page, screenshot_dir: Path) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    client = first_login(Role.client)
    log_in(page, client.email, client.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    page.get_by_test_id("imports-link").click()
    page.wait_for_url(re.compile(r"/projects/\d+/imports$"))
    expect(page.get_by_role("heading", name=re.compile("^Seed imports"))).to_be_visible()

    # Line 4 (header is line 1) has a prompts cell that is not a JSON list.
    bad = HEADER + GOOD.format(n=1) + GOOD.format(n=2) + "Broken seed,x,not a list\n"
    form = page.get_by_test_id("upload-form")
    form.get_by_label("Seed file", exact=True).set_input_files(
        {"name": "seeds.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    with page.expect_navigation():
        form.get_by_role("button", name="Upload and import").click()
    failed = page.get_by_test_id("import").first
    expect(failed).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(failed.get_by_test_id("import-result")).to_contain_text("nothing was imported")
    error_row = failed.get_by_test_id("import-errors").locator("tbody tr")
    expect(error_row).to_have_count(1)
    expect(error_row.locator("td").nth(0)).to_have_text("4")
    expect(error_row.locator("td").nth(1)).to_have_text("prompts")
    expect(error_row.locator("td").nth(2)).to_contain_text("JSON list")
    page.screenshot(path=str(screenshot_dir / "imports-failed.png"), full_page=True)

    fixed = HEADER + GOOD.format(n=1) + GOOD.format(n=2) + GOOD.format(n=3)
    form.get_by_label("Seed file", exact=True).set_input_files(
        {"name": "seeds-fixed.csv", "mimeType": "text/csv", "buffer": fixed.encode()}
    )
    with page.expect_navigation():
        form.get_by_role("button", name="Upload and import").click()
    newest = page.get_by_test_id("import").first
    expect(newest).to_have_attribute("data-status", "imported", timeout=30_000)
    expect(newest.get_by_test_id("import-result")).to_contain_text("3 seeds imported")
    expect(page.get_by_test_id("import")).to_have_count(2)
    page.screenshot(path=str(screenshot_dir / "imports-imported.png"), full_page=True)
    assert problems == []
