// The candidate's domain assessment: a countdown from the server's remaining time (the server
// enforces the deadline; this only shows it), answers saved as they go through the JSON API
// (a choice at once, typing after a pause and on leaving the field), number keys pick a choice,
// and submitting first waits for the saves under way. Without JavaScript each question's Save
// button and the Submit button post the page's forms.
(function () {
  "use strict";

  function init() {
    const root = document.querySelector("[data-assessment]");
    if (!root) return;
    const csrf = root.dataset.csrf;
    const timer = root.querySelector("[data-timer]");
    const announce = root.querySelector("[data-timer-announce]");
    const timeUp = root.querySelector("[data-time-up]");
    const answered = root.querySelector("[data-answered]");
    const submitForm = root.querySelector("[data-submit-form]");
    // Remaining time from the server, counted on the monotonic clock (the device's clock may be off).
    const end = performance.now() + Number(root.dataset.secondsLeft || "0") * 1000;
    const pending = new Set();
    let over = false;

    function left() { return Math.max(0, Math.ceil((end - performance.now()) / 1000)); }

    function show(seconds) {
      const m = Math.floor(seconds / 60);
      const s = seconds % 60;
      timer.textContent = m + ":" + String(s).padStart(2, "0");
      if (seconds === 300 || seconds === 60) {
        announce.textContent = (seconds === 300 ? "Five minutes" : "One minute") + " left.";
      }
      if (seconds <= 60) timer.classList.add("warn");
    }

    function finish() {
      if (over) return;
      over = true;
      show(0);
      root.querySelectorAll("input, textarea, button").forEach((el) => { el.disabled = true; });
      timeUp.hidden = false;
      window.setTimeout(() => window.location.reload(), 1500);
    }

    function tick() {
      const seconds = left();
      show(seconds);
      if (seconds <= 0) finish();
      else window.setTimeout(tick, 250);
    }

    function body(item) {
      const kind = item.dataset.kind;
      if (kind === "choice") {
        const picked = item.querySelector("input[name=choice]:checked");
        return { choice: picked ? Number(picked.value) : null };
      }
      if (kind === "numeric") {
        // The server's rule: one decimal comma (22,86) is read as a dot; a thousands separator
        // (a comma with a dot, two commas, a comma before exactly three digits) is refused.
        let raw = item.querySelector("input[name=number]").value.trim();
        if (raw === "") return { number: null };
        if (raw.includes(",")) {
          const after = raw.slice(raw.lastIndexOf(",") + 1);
          if (raw.includes(".") || raw.indexOf(",") !== raw.lastIndexOf(",") || /^[0-9]{3}$/.test(after)) {
            return { error: "Write the number without thousands separators (e.g. 1000 or 22.9)." };
          }
          raw = raw.replace(",", ".");
        }
        const value = Number(raw);
        if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(raw) || !Number.isFinite(value)) {
          return { error: "Write a number, e.g. 22.9" };
        }
        return { number: value };
      }
      return { text: item.querySelector("textarea").value };
    }

    async function save(item) {
      if (over) return;
      const state = item.querySelector("[data-save-state]");
      const payload = body(item);
      if (payload.error) {
        state.textContent = payload.error;
        state.className = "save-state error";
        return;
      }
      state.textContent = "Saving…";
      state.className = "save-state";
      const request = fetch("/api/v1/me/assessment/answers/" + item.dataset.question, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(payload),
      });
      pending.add(request);
      try {
        const response = await request;
        const data = await response.json().catch(() => ({}));
        if (response.ok) {
          state.textContent = "Saved";
          state.className = "save-state ok";
          if (answered && typeof data.answered === "number") answered.textContent = String(data.answered);
        } else if (response.status === 409 && data.error && data.error.details && data.error.details.status === "expired") {
          finish();
        } else {
          state.textContent = (data.error && data.error.message) || "Not saved; try again.";
          state.className = "save-state error";
        }
      } catch (err) {
        state.textContent = "Not saved (no connection); it is saved again when you change it.";
        state.className = "save-state error";
      } finally {
        pending.delete(request);
      }
    }

    root.querySelectorAll("[data-question]").forEach((item) => {
      const form = item.querySelector("[data-answer-form]");
      let timerId = null;
      form.addEventListener("submit", (event) => { event.preventDefault(); save(item); });
      form.addEventListener("change", () => { window.clearTimeout(timerId); save(item); });
      form.addEventListener("input", (event) => {
        if (event.target.type === "radio") return;
        window.clearTimeout(timerId);
        timerId = window.setTimeout(() => save(item), 800);
      });
      if (item.dataset.kind === "choice") {
        item.addEventListener("keydown", (event) => {
          if (event.altKey || event.ctrlKey || event.metaKey) return;
          const n = Number(event.key);
          const radios = item.querySelectorAll("input[name=choice]");
          if (!Number.isInteger(n) || n < 1 || n > radios.length) return;
          event.preventDefault();
          radios[n - 1].checked = true;
          radios[n - 1].focus();
          save(item);
        });
      }
    });

    submitForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = submitForm.querySelector("button[type=submit]");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      // Save what is typed but not yet sent, then wait for every save under way.
      root.querySelectorAll("[data-question]").forEach((item) => {
        if (item.dataset.kind !== "choice") save(item);
      });
      await Promise.allSettled(Array.from(pending));
      submitForm.submit();
    });

    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
