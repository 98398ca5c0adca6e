"""The step page, keyboard first: caret-mode span selection, in-place updates, the defects of
issue 10 (line breaks in offsets, false dirty state, offline runs, crash restore, the step badge
and the submit rule, long notes) and the whole loop walked with the keyboard alone, keys counted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, log_in
from tests.e2e.test_workbench import RUN_TIMEOUT, SAVED, _expert, _watch

pytestmark = pytest.mark.browser


def _new_problem_set(page: Page, title: str) -> str:
    """Create a problem set through the list page's form; return its URL."""
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create problem set").click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    return page.url


def _add_step(page: Page, title: str, prompt: str, rubric: str = "") -> str:
    """Add a step through the problem set page's form; return the step page's URL."""
    add = page.locator("details", has_text="Add a step")
    if add.get_attribute("open") is None:
        add.locator("summary").click()
    form = page.get_by_test_id("add-step")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Prompt").fill(prompt)
    if rubric:
        form.get_by_label("Rubric criteria").fill(rubric)
    form.get_by_role("button", name="Add step").click()
    expect(page.get_by_test_id("step-title")).to_have_text(title)
    page.wait_for_load_state("load")
    return page.url


def _step_page(page: Page, title: str, prompt: str, rubric: str = "") -> str:
    expert = _expert()
    log_in(page, expert.email, expert.password)
    _new_problem_set(page, title)
    return _add_step(page, title, prompt, rubric)


def _mark_page(page: Page) -> None:
    """Leave a marker in the page's JS world: a reload or navigation would lose it."""
    page.evaluate("window.__stayed = 'yes'")


def _stayed(page: Page) -> bool:
    return bool(page.evaluate("window.__stayed === 'yes'"))


# ---- Defect 1: offsets after a line break ---------------------------------------------------


def test_a_span_after_a_line_break_of_a_form_added_prompt_is_accepted(page: Page) -> None:
    problems = _watch(page)
    # The form posts the textarea's line breaks as \r\n; server and page count them as \n.
    _step_page(page, "Two lines", "First line of the prompt.\nSecond line is vague somehow.")
    _mark_page(page)
    page.keyboard.press("p")  # the prompt text takes the focus
    expect(page.get_by_test_id("prompt")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.press("Control+Shift+ArrowLeft")  # "somehow."
    page.keyboard.press("Control+Shift+ArrowLeft")  # "vague somehow."
    popover = page.get_by_test_id("annotate-popover")
    page.keyboard.press("1")  # ambiguity: the box opens with the fault chosen and takes focus
    expect(popover).to_be_visible()
    expect(popover).to_be_focused()
    expect(popover.locator("[data-quote]")).to_have_text("“vague somehow.”")
    page.keyboard.press("Enter")
    expect(popover).to_be_hidden()
    notes = page.locator("[data-region=prompt] [data-testid=annotations]")
    expect(notes).to_contain_text("Ambiguity")
    expect(notes).to_contain_text("vague somehow.")
    expect(page.locator("[data-testid=prompt] mark")).to_have_text("vague somehow.")
    expect(page.get_by_test_id("prompt")).to_be_focused()  # focus came back
    assert _stayed(page)  # in place: no reload
    # Deleting it is in place too, and the focus goes back to the text it was on.
    notes.get_by_role("button", name="Delete annotation").click()
    expect(notes).to_have_count(0)
    expect(page.locator("[data-testid=prompt] mark")).to_have_count(0)
    expect(page.get_by_test_id("prompt")).to_be_focused()
    assert _stayed(page)
    assert not problems, problems


# ---- Defect 2: no dirty state when nothing changed ------------------------------------------


def test_tabbing_out_of_a_saved_editor_changes_nothing(page: Page) -> None:
    _step_page(page, "Tab out", "Say hello.")
    draft = page.get_by_test_id("draft-prompt")
    state = page.locator("form[data-autosave] [data-save-state]")
    draft.fill("Say hello politely.")
    expect(state).to_contain_text(SAVED, timeout=10_000)

    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if r.method == "PATCH" else None)
    draft.focus()
    page.keyboard.press("Tab")  # out of the saved editor: a change event with the same text
    page.wait_for_timeout(1800)  # longer than the autosave delay
    expect(state).to_contain_text(SAVED)
    assert saves == []
    assert page.evaluate("document.querySelector('form[data-autosave]') !== null")

    # Typing and undoing it returns to the saved text: no save, no "Unsaved changes".
    draft.focus()
    page.keyboard.press("End")
    page.keyboard.type("x")
    expect(state).to_have_text("Unsaved changes…")
    page.keyboard.press("Backspace")
    expect(state).to_contain_text(SAVED)
    page.wait_for_timeout(1800)
    assert saves == []
    # Nothing to lose: leaving the page asks nothing.
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.close(run_before_unload=True)
    assert dialogs == []


# ---- Defect 3: a run that fails offline stays on the page -----------------------------------


def test_a_run_while_offline_stays_on_the_page_with_its_reason(page: Page) -> None:
    url = _step_page(page, "Offline run", "What is 2 + 2?")
    _mark_page(page)
    page.context.set_offline(True)
    try:
        page.keyboard.press("Control+Enter")
        card = page.get_by_test_id("streaming-card")
        expect(card.locator(".meta")).to_contain_text("Network error")
        expect(page.locator("[data-run-error]")).to_contain_text("The run did not start")
        page.wait_for_timeout(1500)
        assert page.url == url and _stayed(page)
        expect(page.get_by_test_id("run")).to_be_visible()
    finally:
        page.context.set_offline(False)


# ---- Defect 4: the restore after a crash is deterministic -----------------------------------


def test_after_a_crash_the_newest_copy_is_shown_at_once_with_a_note(page: Page) -> None:
    url = _step_page(page, "Crash", "Original prompt.")
    context = page.context
    # Typing that never reached the server (offline), then the tab dies.
    context.set_offline(True)
    page.get_by_test_id("draft-prompt").fill("Typed just before the crash.")
    expect(page.locator("form[data-autosave] [data-save-state]")).to_contain_text(
        "Not saved yet", timeout=10_000
    )
    page.close()
    context.set_offline(False)

    # Reopened at once (a new tab, well within 10 s): the local typing is newer and is shown.
    again = context.new_page()
    again.goto(url)
    draft = again.get_by_test_id("draft-prompt")
    expect(draft).to_have_value("Typed just before the crash.", timeout=2_000)
    note = again.get_by_test_id("restore-note")
    expect(note).to_contain_text("Showing your unsaved typing from this browser")
    expect(again.locator("form[data-autosave] [data-save-state]")).to_contain_text(
        SAVED, timeout=10_000
    )
    # The other copy is one click away.
    note.get_by_role("button", name="Show the saved copy instead").click()
    expect(draft).to_have_value("Original prompt.")
    expect(again.locator("form[data-autosave] [data-save-state]")).to_contain_text(
        SAVED, timeout=10_000
    )

    # An older backup (a dead tab's, an hour old) against a newer saved copy: the saved copy.
    step_id = url.rsplit("/", 1)[1]
    again.evaluate(
        """(stepId) => localStorage.setItem("expertloop:draft:step-" + stepId + ":deadtab",
             JSON.stringify({values: {title: "Crash", draft_prompt: "An hour-old draft.",
               draft_rubric: [], draft_reference: "", chain: false},
               version: 1, basedOn: null, at: Date.now() - 3600 * 1000}))""",
        step_id,
    )
    again.reload()
    expect(draft).to_have_value("Original prompt.")
    note = again.get_by_test_id("restore-note")
    expect(note).to_contain_text("Showing the saved copy")
    note.get_by_role("button", name="Restore that typing").click()
    expect(draft).to_have_value("An hour-old draft.")


# ---- Defect 6: the badge updates in place; the submit rule is shown and enforced ------------


def test_the_badge_follows_the_ideal_answer_and_submit_needs_a_run(page: Page) -> None:
    problems = _watch(page)
    _step_page(page, "Badge", "Name one prime number.", "Names a prime")
    badge = page.locator(".step-head [data-testid=step-state]")
    expect(badge).to_have_text("not passing")
    panel = page.get_by_test_id("submit-panel")
    expect(panel.get_by_test_id("done-rule")).to_contain_text("run at least once")
    _mark_page(page)

    page.keyboard.press("i")
    expect(page.get_by_test_id("ideal-text")).to_be_focused()
    page.keyboard.type("7")
    expect(page.locator("form[data-ideal] [data-save-state]")).to_contain_text(
        SAVED, timeout=10_000
    )
    expect(badge).to_have_text("ideal answer, not run")  # in place, no reload
    expect(panel.get_by_test_id("not-done")).to_contain_text("step 1 (revision 1 has not been run)")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.get_by_test_id("submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel.locator("[data-error]")).to_contain_text("revision 1 has not been run")
    assert _stayed(page)

    page.keyboard.press("Control+Enter")
    expect(page.locator("[data-testid=run-card] .meta").first).to_contain_text(
        "ok", timeout=RUN_TIMEOUT
    )
    expect(badge).to_have_text("ideal answer")
    expect(panel.get_by_test_id("all-done")).to_be_visible()
    page.keyboard.press("s")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ps-status")).to_have_text("Submitted")
    # The refused submit's 422 is the browser's own console line; nothing else went wrong.
    assert not [p for p in problems if "favicon" not in p and "422" not in p], problems


# ---- Defect 7: a multi-line note with a limit and friendly refusals -------------------------


def test_the_note_is_multi_line_counted_and_refused_in_words(page: Page) -> None:
    _step_page(page, "Notes", "Summarise the contract in one line.")
    page.keyboard.press("p")
    page.keyboard.press("Shift+End")
    page.keyboard.press("1")
    popover = page.get_by_test_id("annotate-popover")
    note = popover.locator("textarea[name=note]")
    limit = int(note.get_attribute("maxlength") or 0)
    assert limit == 10_000
    page.keyboard.press("n")
    expect(note).to_be_focused()
    page.keyboard.type("First line.")
    page.keyboard.press("Enter")  # a line break, not a save
    page.keyboard.type("Second line.")
    expect(popover).to_be_visible()
    expect(popover.locator("[data-note-count]")).to_have_text("24 / 10,000")
    # A note longer than the field allows (pasted around the limit) is refused in words.
    note.evaluate(
        "(el, n) => { el.removeAttribute('maxlength'); el.value = 'x'.repeat(n); }", 10_001
    )
    page.keyboard.press("Control+Enter")
    error = popover.locator("[data-error]")
    expect(error).to_have_text(re.compile(r"^(The n|N)ote is too long.*at most 10,000"))
    expect(error).not_to_contain_text("String should")
    note.fill("First line.\nSecond line.")
    page.keyboard.press("Control+Enter")
    expect(popover).to_be_hidden()
    shown = page.locator("[data-region=prompt] [data-testid=annotations] small")
    expect(shown).to_contain_text("Second line.")
    assert shown.evaluate("el => el.textContent") == "First line.\nSecond line."


# ---- Read-only viewers see no editing keys --------------------------------------------------


def test_read_only_viewers_see_no_editing_shortcuts(page: Page) -> None:
    url = _step_page(page, "Read only", "Explain the variance.")
    editing = page.get_by_test_id("key-help")
    expect(editing).to_contain_text("Ctrl")
    expect(editing).to_contain_text("submit")
    page.get_by_role("button", name="Log out").click()
    client = _expert(Role.client)
    log_in(page, client.email, client.password)
    page.goto(url)
    help_ = page.get_by_test_id("key-help")
    expect(help_).to_contain_text("Alt")
    for word in ("Ctrl", "run", "fault", "revise", "ideal", "submit", "edit"):
        expect(help_).not_to_contain_text(word)
    page.keyboard.press("?")
    overlay = page.get_by_test_id("keys-overlay")
    expect(overlay).to_be_visible()
    for word in ("Run the newest", "Submit", "ideal answer", "Edit the prompt"):
        expect(overlay).not_to_contain_text(word)
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()
    page.keyboard.press("e")  # no editing jump for a viewer
    expect(page.get_by_test_id("draft-prompt")).to_have_count(0)


# ---- The whole loop, keyboard only, keys counted --------------------------------------------


class Keys:
    """Press keys through one door and count them per phase (a chord counts as one press)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.phases: dict[str, dict[str, int]] = {}
        self.phase = ""

    def start(self, phase: str) -> None:
        self.phase = phase
        self.phases.setdefault(phase, {"keys": 0, "typed": 0})

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)
            self.phases[self.phase]["keys"] += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.phases[self.phase]["typed"] += len(text)

    def tab_to(self, selector: str, limit: int = 80) -> None:
        """Press Tab until the element matching ``selector`` has the focus."""
        for _ in range(limit):
            if self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
            self.press("Tab")
        raise AssertionError(f"{selector} not reached with {limit} Tab presses")

    def press_until(self, key: str, selector: str, limit: int = 50) -> None:
        """Press ``key`` until the element matching ``selector`` has the focus."""
        for _ in range(limit):
            if self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
            self.press(key)
        raise AssertionError(f"{selector} not reached with {limit} presses of {key}")

    def total(self, *, until: str | None = None) -> int:
        count = 0
        for name, c in self.phases.items():
            count += c["keys"] + c["typed"]
            if name == until:
                break
        return count


def test_the_whole_loop_with_the_keyboard_alone(page: Page, tmp_path: Path) -> None:
    problems = _watch(page)
    # Set-up, not counted: a problem set with one step, as the expert wrote it earlier.
    expert = _expert()
    log_in(page, expert.email, expert.password)
    ps_url = _new_problem_set(page, "Keyboard loop")
    _add_step(
        page,
        "January sales",
        "Sales were 18,000 in December. January is 30% lower. What are January's sales?",
        "States 12,600\nShows the calculation",
    )
    list_url = ps_url.rsplit("/problem-sets/", 1)[0]
    project_id = page.evaluate("document.querySelector('[data-workbench]').dataset.project")
    page.goto(f"{list_url}/projects/{project_id}/problem-sets")
    page.wait_for_load_state("load")
    keys = Keys(page)

    keys.start("open problem set")
    link = "a[href='" + ps_url.replace(list_url, "") + "']"
    keys.press_until("j", link)  # row keys: J moves down the list (the newest set is first)
    keys.press("Enter")
    expect(page.get_by_test_id("ps-title")).to_have_text("Keyboard loop")
    page.wait_for_load_state("load")

    keys.start("open step")
    keys.press("Alt+ArrowRight")
    expect(page.get_by_test_id("step-title")).to_have_text("January sales")
    page.wait_for_load_state("load")
    step_url = page.url

    keys.start("run")
    keys.press("Control+Enter")
    card = page.get_by_test_id("run-card").first
    expect(card.locator(".meta")).to_contain_text("ok", timeout=RUN_TIMEOUT)

    keys.start("select span")
    keys.press("a")
    answer = page.get_by_test_id("answer").first
    expect(answer).to_be_focused()
    keys.press("Control+Shift+ArrowRight", times=2)  # the first two words
    selected = page.evaluate("window.getSelection().toString()")
    assert selected.strip(), "nothing selected"

    keys.start("annotate")
    keys.press("2")  # calculation error
    keys.press("3")  # critical
    keys.press("Enter")
    expect(card.get_by_test_id("annotations")).to_contain_text("Calculation error")
    expect(card.get_by_test_id("annotations")).to_contain_text("critical")
    expect(page.get_by_test_id("answer").first).to_be_focused()
    assert keys.phases["annotate"]["keys"] <= 3

    keys.start("rubric")
    keys.press("r")
    keys.press("Space")
    keys.press("Tab")
    keys.press("Space")
    boxes = page.locator("[data-testid=run-card]").first.locator("input[data-criterion]")
    expect(boxes.nth(0)).to_be_checked()
    expect(boxes.nth(1)).to_be_checked()
    expect(page.locator(".step-head [data-testid=step-state]")).to_have_text("not passing")

    keys.start("revise")
    keys.press("e")
    expect(page.get_by_test_id("draft-prompt")).to_be_focused()
    keys.type(" Show 18,000 * 0.7.")
    keys.press("Escape")
    keys.press("v")
    keys.press("Enter")
    expect(page.get_by_test_id("run")).to_have_text("Run revision 2")
    expect(page.get_by_test_id("run")).to_be_focused()

    keys.start("re-run")
    keys.press("Enter")
    expect(page.locator("[data-testid=run-card] .meta").first).to_contain_text(
        "ok", timeout=RUN_TIMEOUT
    )

    keys.start("diff")
    keys.press("d")
    diff = page.locator("details[data-testid=prompt-diff]").first
    expect(diff).to_have_attribute("open", "")
    expect(diff.locator(".diff ins").first).to_be_visible()

    keys.start("ideal answer")
    keys.press("w")
    ideal = page.get_by_test_id("ideal-text")
    expect(ideal).to_be_focused()
    expect(ideal).not_to_have_value("")
    keys.press("Control+a")
    keys.type("12,600 (18,000 * 0.7).")
    keys.press("Escape")
    expect(page.locator("form[data-ideal] [data-save-state]")).to_contain_text(
        SAVED, timeout=10_000
    )
    expect(page.locator(".step-head [data-testid=step-state]")).to_have_text("ideal answer")

    keys.start("submit")
    keys.press("s")
    keys.press("Enter")
    expect(page.get_by_test_id("ps-status")).to_have_text("Submitted")
    assert page.url == ps_url and step_url != ps_url

    counts = {
        "phases": keys.phases,
        "to_reach_diff": keys.total(until="diff"),
        "to_submit": keys.total(),
        "command_keys": sum(c["keys"] for c in keys.phases.values()),
        "typed_characters": sum(c["typed"] for c in keys.phases.values()),
    }
    (tmp_path / "keyboard-loop-keys.json").write_text(json.dumps(counts, indent=2))
    print("\nKeyboard-only loop, key presses per phase (typed characters apart):")  # noqa: T201
    for name, c in keys.phases.items():
        print(f"  {name:<18} {c['keys']:>3} keys  {c['typed']:>3} typed")  # noqa: T201
    print(  # noqa: T201
        f"  to reach the diff: {counts['to_reach_diff']}; whole loop: {counts['to_submit']} "
        f"({counts['command_keys']} keys + {counts['typed_characters']} typed characters); "
        f"written to {tmp_path / 'keyboard-loop-keys.json'}"
    )
    assert counts["command_keys"] < 30
    assert not [p for p in problems if "favicon" not in p], problems
