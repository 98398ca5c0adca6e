// Review comments on the step page: Ctrl+Enter adds, a selection in a prompt or answer becomes
// the comment's span, refusals are shown in place, and focus stays in the comment box.
(function () {
  "use strict";
  if (window.expertloopReview) return; // the panel is swapped in again after each comment
  window.expertloopReview = true;

  function codePoints(text) { return Array.from(text).length; }
  function panel() { return document.querySelector("[data-review-comments]"); }

  // What a selection is on: the history's texts name it; the workbench's annotatable texts
  // carry their revision or run.
  function targetOf(el) {
    const named = el.closest("[data-comment-on]");
    if (named) return { box: named, value: named.dataset.commentOn };
    const box = el.closest("[data-annotatable]");
    if (!box) return null;
    if (box.dataset.side === "response" && box.dataset.stepRun) return { box, value: "run:" + box.dataset.stepRun };
    if (box.dataset.side === "prompt" && box.dataset.revision) return { box, value: "prompt:" + box.dataset.revision };
    return null;
  }

  function selected() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || sel.rangeCount === 0) return null;
    const range = sel.getRangeAt(0);
    const node = (n) => (n.nodeType === 1 ? n : n.parentElement);
    const a = targetOf(node(range.startContainer));
    const b = targetOf(node(range.endContainer));
    if (!a || !b || a.box !== b.box) return null;
    const quote = range.toString();
    if (!quote.trim()) return null;
    const before = document.createRange();
    before.selectNodeContents(a.box);
    before.setEnd(range.startContainer, range.startOffset);
    const start = codePoints(before.toString());
    return { value: a.value, quote, start, end: start + codePoints(quote) };
  }

  let pending = null;
  document.addEventListener("selectionchange", () => {
    const form = document.querySelector("[data-comment-form]");
    if (!form) return;
    const found = selected();
    if (found) pending = found;
    const button = form.querySelector("[data-comment-selection]");
    const select = form.querySelector("[data-comment-target]");
    const known = found && Array.from(select.options).some((o) => o.value === found.value);
    // Keep the button while focus moves to it (that collapses nothing, but be lenient).
    if (found) button.hidden = !known;
  });

  function useSelection(form) {
    if (!pending) return;
    const select = form.querySelector("[data-comment-target]");
    if (!Array.from(select.options).some((o) => o.value === pending.value)) return;
    select.value = pending.value;
    form.querySelector("[data-comment-quote]").value = pending.quote;
    form.querySelector("[data-comment-start]").value = String(pending.start);
    form.querySelector("[data-comment-end]").value = String(pending.end);
    form.querySelector("[data-comment-status]").textContent = "The comment will be on the selected text.";
    form.querySelector("[data-comment-body]").focus();
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-comment-selection]");
    if (button) useSelection(button.closest("form"));
  });

  document.addEventListener("input", (ev) => {
    // A quote typed by hand is found by the server: offsets of an earlier selection no longer hold.
    const form = ev.target.closest("[data-comment-form]");
    if (!form) return;
    if (ev.target.matches("[data-comment-quote], [data-comment-target]")) {
      form.querySelector("[data-comment-start]").value = "";
      form.querySelector("[data-comment-end]").value = "";
    }
  });
  document.addEventListener("change", (ev) => {
    const form = ev.target.closest("[data-comment-form]");
    if (form && ev.target.matches("[data-comment-target]")) {
      form.querySelector("[data-comment-start]").value = "";
      form.querySelector("[data-comment-end]").value = "";
    }
  });

  document.addEventListener("keydown", (ev) => {
    const form = ev.target.closest && ev.target.closest("[data-comment-form]");
    if (form && ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      ev.stopPropagation();
      form.requestSubmit();
    }
  }, true);

  let refocus = null;
  document.body.addEventListener("htmx:beforeSwap", (ev) => {
    const target = ev.detail.target;
    if (!target || target.id !== "review-comments") return;
    // A refusal comes back as the panel with the reason and the typed text: show it in place.
    if ([403, 409, 422].includes(ev.detail.xhr.status)) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
    const active = document.activeElement;
    refocus = active && active.closest("[data-comment-form]") ? "body" : null;
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    const root = panel();
    if (!root || !refocus) return;
    refocus = null;
    const error = root.querySelector("[data-testid=comment-error]");
    const body = root.querySelector("[data-comment-body]");
    if (body) body.focus();
    if (error && body) body.setAttribute("aria-describedby", "comment-error-text");
    if (error) error.id = "comment-error-text";
  });
})();
