"""The client builds a dataset snapshot of the demo project in a real browser and downloads it."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser


def test_client_creates_a_snapshot_sees_it_ready_and_downloads_the_zip(
    page: Page, screenshot_dir: Path, tmp_path: Path
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    client = first_login(Role.client)
    log_in(page, client.email, client.password)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    page.get_by_test_id("datasets-link").click()
    page.wait_for_url(re.compile(r"/projects/\d+/datasets$"))
    expect(page.get_by_role("heading", name=re.compile("^Datasets"))).to_be_visible()
    rows = page.get_by_test_id("snapshot-row")
    before = rows.count()

    form = page.get_by_test_id("snapshot-form")
    form.get_by_label("Test split (%)").fill("20")
    with page.expect_navigation():
        form.get_by_role("button", name="Create snapshot").click()
    expect(rows).to_have_count(before + 1)
    newest = rows.first
    number = newest.get_attribute("data-number")
    assert number is not None
    # Jobs may run in a worker: the row polls itself until the snapshot is ready.
    expect(newest).to_have_attribute("data-status", "ready", timeout=30_000)
    expect(newest.get_by_test_id("snapshot-status")).to_have_text("ready")
    page.screenshot(path=str(screenshot_dir / "datasets-tab.png"), full_page=True)

    with page.expect_download() as info:
        newest.get_by_test_id("download-zip").click()
    download = info.value
    assert re.fullmatch(rf"[a-z0-9-]+-snapshot-{number}\.zip", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        stem = download.suggested_filename.removesuffix(".zip")
        assert f"{stem}/manifest.json" in names and f"{stem}/README.md" in names
        manifest = json.loads(archive.read(f"{stem}/manifest.json"))
        assert manifest
        assert any(n.endswith(".parquet") for n in names)
        assert any(n.endswith(".jsonl") for n in names)

    # The snapshot's page: its card rendered, its files, the chart of errors per model.
    newest.get_by_role("link", name=f"Snapshot {number}").click()
    page.wait_for_url(re.compile(rf"/projects/\d+/datasets/{number}$"))
    expect(page.get_by_test_id("snapshot-title")).to_have_text(f"Snapshot {number}")
    expect(page.get_by_test_id("dataset-card")).to_be_visible()
    expect(page.get_by_test_id("snapshot-files").locator("tbody tr")).not_to_have_count(0)
    chart = page.get_by_test_id("chart-errors")
    if chart.count():
        expect(chart).to_have_attribute("data-drawn", "true")
    page.screenshot(path=str(screenshot_dir / "datasets-snapshot.png"), full_page=True)
    assert not problems, problems
