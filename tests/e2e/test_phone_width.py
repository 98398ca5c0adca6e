"""At phone width (390 x 844) no main page is wider than the screen: the navigation wraps,
tables scroll inside their own box, forms and the workbench editors stack."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from expertloop.accounts.models import Role
from tests.e2e.test_home_pages import open_demo_problem_set
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844
SLACK = 2  # a px or two of rounding

# What sticks out past the right edge (the first few), to say why a page is too wide.
OVERFLOW_JS = """(width) => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 2 && r.width > 0) {
      let scroller = el.parentElement, clipped = false;
      while (scroller && scroller !== document.body) {
        const s = getComputedStyle(scroller);
        if (["auto", "scroll", "hidden"].includes(s.overflowX)) { clipped = true; break; }
        scroller = scroller.parentElement;
      }
      const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
        + (el.dataset.testid ? "[" + el.dataset.testid + "]" : "");
      if (!clipped) out.push(name + " right=" + Math.round(r.right));
    }
    if (out.length >= 6) break;
  }
  return out;
}"""


@pytest.fixture
def phone(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A fresh browser context the size of a phone."""
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT},
        base_url=live_server,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _path(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def _demo_paths(page: Page) -> dict[str, str]:
    """Find the demo project's pages, its half-done problem set and that set's first step."""
    page.goto("/projects")
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    project = _path(page)
    page.get_by_test_id("problem-sets-link").click()
    page.wait_for_url(re.compile(r"/problem-sets$"))
    problem_sets = _path(page)
    open_demo_problem_set(page)
    problem_set = _path(page)
    step = page.get_by_test_id("steps").get_by_role("link").first.get_attribute("href")
    assert step
    return {
        "project": project,
        "problem_sets": problem_sets,
        "problem_set": problem_set,
        "step": step,
        "datasets": f"{project}/datasets",
    }


# Per role: the pages beyond the demo project's own (home first).
ROLE_PAGES: dict[Role, tuple[str, ...]] = {
    Role.expert: ("/", "/time", "/earnings", "/projects"),
    Role.reviewer: ("/", "/team-time", "/time", "/earnings"),
    Role.operator: ("/", "/activity", "/payroll", "/users", "/audit", "/jobs", "/models"),
    Role.client: ("/", "/spend", "/projects"),
}
PROJECT_PAGES: dict[Role, tuple[str, ...]] = {
    Role.expert: ("project", "problem_sets", "problem_set", "step"),
    Role.reviewer: ("project", "problem_sets", "problem_set", "step"),
    Role.operator: ("project", "problem_sets", "problem_set", "step", "datasets"),
    Role.client: ("project", "problem_sets", "problem_set", "step", "datasets"),
}


@pytest.mark.parametrize("role", list(ROLE_PAGES), ids=lambda r: r.value)
def test_main_pages_fit_a_phone(phone: Page, screenshot_dir: Path, role: Role) -> None:
    login = first_login(role)
    log_in(phone, login.email, login.password)
    demo = _demo_paths(phone)
    paths = [*ROLE_PAGES[role], *(demo[name] for name in PROJECT_PAGES[role])]
    too_wide: dict[str, object] = {}
    for path in paths:
        response = phone.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        phone.wait_for_load_state("networkidle")
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH + SLACK:
            too_wide[path] = (width, phone.evaluate(OVERFLOW_JS, WIDTH))
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
        phone.screenshot(path=str(screenshot_dir / f"phone-{role.value}-{name}.png"))
    assert not too_wide, f"pages wider than {WIDTH}px at phone width: {too_wide}"


def test_navigation_wraps_and_tables_scroll_in_their_own_box(phone: Page) -> None:
    operator = first_login(Role.operator)  # the longest navigation
    log_in(phone, operator.email, operator.password)
    nav = phone.get_by_role("navigation", name="Main")
    box = nav.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + SLACK
    for label in ("Home", "Audit log", "Log out"):  # first, last, and the account's own part
        item = nav.get_by_role("link", name=label, exact=True).or_(
            nav.get_by_role("button", name=label, exact=True)
        )
        item_box = item.bounding_box()
        assert item_box is not None and item_box["x"] + item_box["width"] <= WIDTH + SLACK, label
        assert item.is_visible(), label
    # A wide table keeps its columns and scrolls sideways inside its wrapper.
    phone.goto("/audit")
    table = phone.locator("main table").first
    scroll = table.evaluate(
        "t => { const own = getComputedStyle(t).overflowX === 'auto';"
        " const s = own ? t : t.closest('.table-scroll');"
        " return s ? [s.scrollWidth, s.clientWidth, getComputedStyle(s).overflowX] : null; }"
    )
    assert scroll is not None
    scroll_width, client_width, overflow = scroll
    assert overflow == "auto"
    assert client_width <= WIDTH
    assert phone.evaluate("document.documentElement.scrollWidth") <= WIDTH + SLACK
    assert scroll_width >= client_width


# For each grid (Pico's .grid rows of fields, the workbench editors) on the page: the distinct
# left edges of its visible children. One edge each: the grid stacks.
GRID_COLUMNS_JS = """() => [...document.querySelectorAll("main .grid")].map((g) => {
  const lefts = new Set();
  for (const child of g.children) {
    const r = child.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) lefts.add(Math.round(r.left));
  }
  return (g.className || "grid") + ":" + lefts.size;
})"""


def test_forms_and_workbench_editors_stack(phone: Page) -> None:
    expert = first_login(Role.expert)  # the author: her problem set and step pages are editors
    log_in(phone, expert.email, expert.password)
    demo = _demo_paths(phone)
    seen = 0
    for path in (demo["problem_set"], demo["step"]):
        phone.goto(path)
        phone.wait_for_load_state("networkidle")
        grids = phone.evaluate(GRID_COLUMNS_JS)
        seen += len(grids)
        assert all(g.endswith(":1") or g.endswith(":0") for g in grids), (path, grids)
    assert seen >= 1, "no form grid or editor grid found on the author's pages"
