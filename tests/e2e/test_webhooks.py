"""The client registers a webhook in a real browser, builds a snapshot, and finds the signed
delivery in the webhook's log (and at a real receiver on loopback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in
from tests.webhook_receiver import running_receiver

pytestmark = pytest.mark.browser


def test_client_registers_a_webhook_and_sees_the_snapshot_ready_delivery(
    page: Page, screenshot_dir: Path
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    client = first_login(Role.client)
    log_in(page, client.email, client.password)
    with running_receiver() as receiver:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        page.wait_for_url(re.compile(r"/webhooks$"))
        page.get_by_label("URL").fill(receiver.url)
        page.locator('input[name="events"][value="snapshot.ready"]').check()
        page.get_by_label("Description").fill("Our trainer's inbox")
        with page.expect_navigation():
            page.get_by_role("button", name="Register webhook").click()
        secret = page.get_by_test_id("secret").input_value()
        assert secret.startswith("whsec_")
        webhook_url = page.get_by_role("link", name="Open its delivery log").get_attribute("href")
        assert webhook_url
        page.screenshot(path=str(screenshot_dir / "webhooks-registered.png"), full_page=True)
        # Shown once: a reload of the list no longer holds it.
        page.goto(page.url)
        assert secret not in page.content()

        # A snapshot of the demo project becomes ready: the webhook hears of it.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
        page.get_by_role("link", name=STAFFED_PROJECT).first.click()
        page.get_by_test_id("datasets-link").click()
        with page.expect_navigation():
            page.get_by_test_id("snapshot-form").get_by_role(
                "button", name="Create snapshot"
            ).click()
        expect(page.get_by_test_id("snapshot-row").first).to_have_attribute(
            "data-status", "ready", timeout=30_000
        )

        page.goto(page.url.split("/projects")[0] + webhook_url)
        deliveries = page.get_by_test_id("deliveries")
        expect(deliveries).to_contain_text("snapshot.ready", timeout=30_000)
        expect(deliveries).to_contain_text("delivered", timeout=30_000)
        page.screenshot(path=str(screenshot_dir / "webhooks-log.png"), full_page=True)
        assert secret not in page.content()

    assert receiver.received, "the receiver got nothing"
    hit = receiver.received[-1]
    payload = Webhook(secret).verify(hit.body, hit.headers)  # raises when the signature is bad
    assert payload["type"] == "snapshot.ready"
    assert json.loads(hit.body)["data"]["snapshot_id"] == payload["data"]["snapshot_id"]
    assert not problems, problems
