// The expert workbench: autosaved editors that never lose typing (localStorage first, then the
// server with optimistic versions; a 409 shows both sides), streamed runs side by side, span
// annotation with the keyboard, rubric checklists, revisions, the ideal answer, step reordering,
// activity heartbeats with a live timer, and the taxonomy editor.
(function () {
  "use strict";

  const root = document.querySelector("[data-workbench]") || document.querySelector("[data-taxonomy-form]");
  if (!root) return;
  const csrf = root.dataset.csrf || "";
  const DRAFT = "expertloop:draft:";
  const ADOPT_AFTER_MS = 10000; // a live tab saves within ~1.2 s; an older backup is orphaned
  const TAB = sessionStorage.getItem("expertloop:tab") || Math.random().toString(36).slice(2, 10);
  sessionStorage.setItem("expertloop:tab", TAB);

  async function api(method, url, body, extra) {
    const init = Object.assign({
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, extra || {});
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    return { ok: res.ok, status: res.status, data };
  }

  function message(r) {
    if (r.status === 0) return "No connection: nothing was lost; try again in a moment.";
    return (r.data && r.data.error && r.data.error.message) || "Request failed (" + r.status + ").";
  }

  function codePoints(text) { return Array.from(text).length; }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }

  function reloadKeepingScroll() {
    sessionStorage.setItem("expertloop:scroll:" + location.pathname, String(window.scrollY));
    location.reload();
  }
  const savedScroll = sessionStorage.getItem("expertloop:scroll:" + location.pathname);
  if (savedScroll !== null) {
    sessionStorage.removeItem("expertloop:scroll:" + location.pathname);
    window.scrollTo(0, Number(savedScroll));
  }

  // ---- Conflict panels: each editor's own (the one in its card), else the page's -----------
  function conflictPanelFor(form) {
    const card = form.closest("article");
    return (card && card.querySelector("[data-conflict]")) || document.querySelector("[data-conflict]");
  }
  function showConflict(conflict, theirs, yours, keepMine, takeTheirs) {
    if (!conflict) { alert("Changed elsewhere: reload the page to see the current version."); return; }
    conflict.querySelector("[data-theirs]").textContent = theirs;
    conflict.querySelector("[data-yours]").textContent = yours;
    conflict.hidden = false;
    conflict.scrollIntoView({ block: "center" });
    conflict.querySelector("[data-keep-mine]").onclick = () => { conflict.hidden = true; keepMine(); };
    conflict.querySelector("[data-take-theirs]").onclick = () => { conflict.hidden = true; takeTheirs(); };
  }

  // ---- Autosaved editors -------------------------------------------------------------------
  const editors = [];

  function Editor(form) {
    const isIdeal = form.hasAttribute("data-ideal");
    const url = form.dataset.url;
    // One backup per tab, so that a save in one tab never deletes another tab's unsaved typing.
    const base = DRAFT + form.dataset.draftKey;
    const key = base + ":" + TAB;
    const stateEl = form.querySelector("[data-save-state]");
    let version = form.dataset.version === "" ? null : Number(form.dataset.version);
    let dirty = false, inflight = null, timer = null, retry = null;
    let basedOn = null;

    function fields() { return Array.from(form.elements).filter((el) => el.name); }
    function read() {
      const values = {};
      for (const el of fields()) {
        if (el.type === "checkbox") values[el.name] = el.checked;
        else if (el.hasAttribute("data-lines")) values[el.name] = el.value.split("\n").map((l) => l.trim()).filter(Boolean);
        else values[el.name] = el.value;
      }
      return values;
    }
    function write(values) {
      for (const el of fields()) {
        if (!(el.name in values)) continue;
        const v = values[el.name];
        if (el.type === "checkbox") el.checked = Boolean(v);
        else el.value = Array.isArray(v) ? v.join("\n") : (v == null ? "" : String(v));
      }
    }
    function say(text, cls) {
      if (!stateEl) return;
      stateEl.textContent = text;
      stateEl.className = "muted save-state " + (cls || "");
    }
    // The saved version already holds what this save sent (the server trims titles and domains).
    // An ideal answer that is being restarted from a model answer still needs its own save.
    const TRIMMED = ["title", "domain"];
    function sameAsSaved(current, sent) {
      if (!current) return false;
      const norm = (k, v) => {
        if (v == null) v = "";
        if (TRIMMED.includes(k) && typeof v === "string") v = v.trim();
        return JSON.stringify(v);
      };
      if (isIdeal) return basedOn === null && norm("text", current.text) === norm("text", sent.text);
      return Object.keys(sent).every((k) => norm(k, current[k]) === norm(k, sent[k]));
    }
    function keepLocally() {
      localStorage.setItem(key, JSON.stringify({ values: read(), version, basedOn, at: Date.now() }));
    }
    function body() {
      const values = read();
      if (isIdeal) {
        const b = { text: values.text, version };
        if (basedOn !== null) b.based_on_step_run_id = basedOn;
        return b;
      }
      return Object.assign({ version }, values);
    }
    async function save(opts) {
      clearTimeout(timer);
      if (inflight) { await inflight; if (!dirty) return; }
      if (!dirty) return;
      dirty = false;
      say("Saving…");
      const sent = read();
      inflight = api(isIdeal ? "PUT" : "PATCH", url, body(), opts && opts.keepalive ? { keepalive: true } : undefined);
      const r = await inflight;
      inflight = null;
      if (r.ok) {
        version = r.data.version;
        basedOn = null;
        if (!dirty) localStorage.removeItem(key);
        say("Saved " + new Date().toLocaleTimeString() + ".", "ok");
        if (form.dataset.reloadOnSave !== undefined) reloadKeepingScroll();
        return;
      }
      dirty = true;
      if (r.status === 409 && r.data && r.data.error) {
        const d = r.data.error.details || {};
        if (d.current_version === undefined) {
          // A save that raced another one in the database: this browser keeps the typing, and
          // the reloaded page saves it again against the current version (or shows both).
          say("Changed elsewhere at the same moment: reloading (your typing is kept)…", "error");
          setTimeout(reloadKeepingScroll, 800);
          return;
        }
        if (sameAsSaved(d.current, sent)) {
          // The other save holds exactly this text (another tab, or this tab's own save sent
          // while the page was closing): nothing to choose, carry on from its version.
          version = d.current_version;
          if (JSON.stringify(read()) === JSON.stringify(sent)) {
            dirty = false;
            localStorage.removeItem(key);
            say("Saved " + new Date().toLocaleTimeString() + ".", "ok");
          } else {
            save();
          }
          return;
        }
        const current = d.current || {};
        const theirs = isIdeal ? (current.text || "") : JSON.stringify(current, null, 2);
        const yours = isIdeal ? sent.text : JSON.stringify(sent, null, 2);
        say("Changed elsewhere: choose below.", "error");
        showConflict(conflictPanelFor(form), theirs, yours,
          () => { version = d.current_version; save(); },
          () => {
            version = d.current_version;
            basedOn = null;  // their text, their source: no restart from a model answer
            if (isIdeal) write({ text: current.text || "" });
            else write(current);
            dirty = false;
            localStorage.removeItem(key);
            say("Took the saved version.", "ok");
          });
        return;
      }
      if (r.status === 0 || r.status >= 500) {
        say("Not saved yet (connection): kept in this browser, retrying…", "error");
        clearTimeout(retry);
        retry = setTimeout(save, 5000);
        return;
      }
      say(message(r), "error");
    }
    function changed() {
      dirty = true;
      keepLocally();
      say("Unsaved changes…");
      clearTimeout(timer);
      timer = setTimeout(save, 1200);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); save(); });

    // A draft this browser kept (tab closed, connection dropped) comes back and is saved. Another
    // open tab's backup is left alone while it is fresh: that tab saves it itself.
    let kept = null, keptKey = null;
    for (const k of Object.keys(localStorage)) {
      if (k !== base && !k.startsWith(base + ":")) continue;
      try {
        const d = JSON.parse(localStorage.getItem(k) || "null");
        if (!d) continue;
        if (k !== key && Date.now() - (d.at || 0) < ADOPT_AFTER_MS) continue;
        if (!kept || (d.at || 0) > (kept.at || 0)) { kept = d; keptKey = k; }
      } catch (e) { localStorage.removeItem(k); }
    }
    if (kept && JSON.stringify(kept.values) !== JSON.stringify(read())) {
      write(kept.values);
      if (kept.version !== undefined) version = kept.version;
      basedOn = kept.basedOn == null ? null : kept.basedOn;
      dirty = true;
      if (keptKey !== key) localStorage.removeItem(keptKey);
      keepLocally();
      say("Restored unsaved typing from this browser; saving…");
      timer = setTimeout(save, 300);
    } else if (kept) {
      localStorage.removeItem(keptKey);
    }

    return {
      form,
      save,
      flush: () => (dirty ? save() : inflight || Promise.resolve()),
      flushOnExit: () => { if (dirty) save({ keepalive: true }); },
      startFrom(stepRunId, text) {
        basedOn = stepRunId;
        write({ text });
        changed();
      },
      isDirty: () => dirty,
      forget: () => localStorage.removeItem(key),
    };
  }

  for (const form of document.querySelectorAll("form[data-autosave], form[data-ideal]")) {
    editors.push(Editor(form));
  }
  window.addEventListener("pagehide", () => editors.forEach((e) => e.flushOnExit()));
  window.addEventListener("beforeunload", (ev) => {
    if (editors.some((e) => e.isDirty())) { editors.forEach((e) => e.flushOnExit()); ev.preventDefault(); }
  });
  const ideal = editors.find((e) => e.form.hasAttribute("data-ideal"));

  // ---- Streamed runs, side by side --------------------------------------------------------
  async function streamOne(url, endpointId, col) {
    const result = await window.ExpertLoopSSE.post(
      url, csrf, { endpoint_id: Number(endpointId) }, (name, data) => {
        if (name === "open") col.meta.textContent = "streaming…";
        if (name === "delta") col.answer.textContent += data.text;
        if (name === "done") {
          col.meta.textContent = data.status + (data.error_reason ? " · " + data.error_reason : "");
          col.meta.className = "meta status-" + data.status;
        }
      });
    if (!result.ok) {
      col.meta.textContent = result.message;
      col.meta.className = "meta status-failed";
    }
  }

  const runForm = document.querySelector("form[data-run-step]");
  let running = false;
  async function runAll() {
    if (!runForm || running) return;
    const chosen = Array.from(runForm.querySelectorAll("input[name=endpoint_id]:checked"));
    if (!chosen.length) { alert("Choose at least one model."); return; }
    running = true;
    runForm.querySelector("button[type=submit]").setAttribute("aria-busy", "true");
    await Promise.all(editors.map((e) => e.flush()));
    const answers = document.querySelector("[data-answers]");
    const empty = answers.querySelector("[data-no-runs]");
    if (empty) empty.remove();
    const jobs = chosen.map((input) => {
      const article = document.createElement("article");
      article.setAttribute("data-streaming", "");
      const header = document.createElement("header");
      header.textContent = input.dataset.name + " (new run)";
      const answer = document.createElement("div");
      answer.className = "answer";
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = "waiting…";
      article.append(header, answer, meta);
      answers.prepend(article);
      return streamOne(runForm.dataset.url, input.value, { answer, meta });
    });
    await Promise.all(jobs);
    reloadKeepingScroll();
  }
  if (runForm) runForm.addEventListener("submit", (ev) => { ev.preventDefault(); runAll(); });

  // ---- Annotating a selection -------------------------------------------------------------
  const popover = document.querySelector("[data-annotate-popover]");
  let pending = null;

  function selectionIn() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
    const range = sel.getRangeAt(0);
    const box = (n) => (n.nodeType === 1 ? n : n.parentElement).closest("[data-annotatable]");
    const container = box(range.startContainer);
    if (!container || container !== box(range.endContainer)) return null;
    const before = document.createRange();
    before.selectNodeContents(container);
    before.setEnd(range.startContainer, range.startOffset);
    const quote = range.toString();
    if (!quote.trim()) return null;
    const start = codePoints(before.toString());
    return { container, range, quote, start, end: start + codePoints(quote) };
  }

  function openPopover(found) {
    pending = found;
    const side = found.container.dataset.side;
    for (const list of popover.querySelectorAll("[data-categories]")) list.hidden = list.dataset.categories !== side;
    for (const radio of popover.querySelectorAll("input[name=category]")) radio.checked = false;
    popover.querySelector("[data-quote]").textContent = "“" + (found.quote.length > 120 ? found.quote.slice(0, 120) + "…" : found.quote) + "”";
    popover.querySelector("input[name=note]").value = "";
    popover.querySelector("[data-error]").hidden = true;
    const rect = found.range.getBoundingClientRect();
    popover.style.top = (window.scrollY + rect.bottom + 8) + "px";
    popover.style.left = Math.max(8, Math.min(window.scrollX + rect.left, window.scrollX + document.documentElement.clientWidth - 340)) + "px";
    popover.hidden = false;
  }
  function closePopover() { if (popover) popover.hidden = true; pending = null; }

  async function saveAnnotation() {
    if (!pending) return;
    const side = pending.container.dataset.side;
    const list = popover.querySelector("[data-categories='" + side + "']");
    const category = list.querySelector("input[name=category]:checked");
    const error = popover.querySelector("[data-error]");
    if (!category) { error.textContent = "Pick a category (press its number)."; error.hidden = false; return; }
    const body = {
      category: category.value,
      severity: popover.querySelector("input[name=severity]:checked").value,
      note: popover.querySelector("input[name=note]").value,
      start: pending.start,
      end: pending.end,
      quote: pending.quote,
    };
    if (pending.container.dataset.stepRun) body.step_run_id = Number(pending.container.dataset.stepRun);
    const r = await api("POST", "/api/v1/revisions/" + pending.container.dataset.revision + "/annotations", body);
    if (!r.ok) { error.textContent = message(r); error.hidden = false; return; }
    closePopover();
    await Promise.all(editors.map((e) => e.flush()));
    reloadKeepingScroll();
  }

  if (popover) {
    document.addEventListener("mouseup", (ev) => {
      if (popover.contains(ev.target)) return;
      setTimeout(() => {
        const found = selectionIn();
        if (found) openPopover(found);
      }, 0);
    });
    popover.querySelector("[data-save-annotation]").addEventListener("click", saveAnnotation);
    popover.querySelector("[data-cancel-annotation]").addEventListener("click", closePopover);
  }

  // ---- Keyboard ---------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (popover && !popover.hidden) {
      const inNote = ev.target && ev.target.name === "note";
      if (ev.key === "Escape") { ev.preventDefault(); closePopover(); return; }
      if (ev.key === "Enter") { ev.preventDefault(); saveAnnotation(); return; }
      if (!inNote && /^[1-9]$/.test(ev.key)) {
        const side = pending && pending.container.dataset.side;
        const radios = popover.querySelectorAll("[data-categories='" + side + "'] input[name=category]");
        const pick = radios[Number(ev.key) - 1];
        if (pick) { ev.preventDefault(); pick.checked = true; }
        return;
      }
      return;
    }
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && runForm) { ev.preventDefault(); runAll(); return; }
    if (ev.altKey && (ev.key === "ArrowLeft" || ev.key === "ArrowRight")) {
      const link = document.querySelector("[data-key='" + (ev.key === "ArrowLeft" ? "prev" : "next") + "']");
      if (link) { ev.preventDefault(); link.click(); }
    }
  });

  // ---- Rubric, annotations, revisions, ideal answer ---------------------------------------
  for (const box of document.querySelectorAll("[data-rubric] input[data-criterion]")) {
    box.addEventListener("change", async () => {
      const fieldset = box.closest("[data-rubric]");
      const r = await api("PUT", "/api/v1/step-runs/" + fieldset.dataset.stepRun + "/rubric", {
        criterion: Number(box.dataset.criterion), met: box.checked,
      });
      if (!r.ok) { box.checked = !box.checked; alert(message(r)); return; }
      const step = await api("GET", "/api/v1/steps/" + root.dataset.step);
      const badge = document.querySelector(".step-head [data-testid=step-state]");
      if (step.ok && badge && step.data.state) {
        badge.textContent = step.data.state.label;
        badge.className = "badge state-" + step.data.state.label.replace(/ /g, "-");
      }
    });
  }
  for (const button of document.querySelectorAll("[data-delete-annotation]")) {
    button.addEventListener("click", async () => {
      const r = await api("DELETE", "/api/v1/annotations/" + button.dataset.deleteAnnotation);
      if (!r.ok) { alert(message(r)); return; }
      reloadKeepingScroll();
    });
  }
  const deleteStep = document.querySelector("[data-delete-step]");
  if (deleteStep) {
    deleteStep.addEventListener("click", async () => {
      if (!confirm("Delete this step? Its draft and revisions go with it.")) return;
      const r = await api("DELETE", "/api/v1/steps/" + deleteStep.dataset.deleteStep);
      if (!r.ok) { alert(message(r)); return; }
      editors.forEach((e) => e.forget());
      location.href = deleteStep.dataset.back;
    });
  }
  const revise = document.querySelector("form[data-revise]");
  if (revise) {
    revise.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const error = revise.querySelector("[data-error]");
      await Promise.all(editors.map((e) => e.flush()));
      const r = await api("POST", revise.dataset.url, {
        reason: revise.elements.reason.value,
        motivated_by: Array.from(revise.querySelectorAll("input[name=motivated_by]:checked")).map((i) => Number(i.value)),
      });
      if (!r.ok) { error.textContent = message(r); error.hidden = false; return; }
      reloadKeepingScroll();
    });
  }
  for (const button of document.querySelectorAll("[data-ideal-from]")) {
    button.addEventListener("click", () => {
      if (!ideal) return;
      const text = ideal.form.elements.text;
      if (text.value.trim() && !confirm("Replace the ideal answer you wrote with this model answer?")) return;
      const card = button.closest("article");
      ideal.startFrom(Number(button.dataset.idealFrom), card.querySelector("[data-testid=answer]").textContent);
      text.focus();
    });
  }

  // ---- Reordering steps -------------------------------------------------------------------
  for (const button of document.querySelectorAll(".steps [data-move]")) {
    button.addEventListener("click", async () => {
      const item = button.closest("li");
      const siblings = Array.from(item.parentElement.children).filter((li) => li.dataset.parent === item.dataset.parent);
      const i = siblings.indexOf(item);
      const j = button.dataset.move === "up" ? i - 1 : i + 1;
      if (j < 0 || j >= siblings.length) return;
      [siblings[i], siblings[j]] = [siblings[j], siblings[i]];
      const r = await api("PUT", "/api/v1/problem-sets/" + root.dataset.problemSet + "/step-order", {
        step_ids: siblings.map((li) => Number(li.dataset.stepId)),
      });
      if (!r.ok) { alert(message(r)); return; }
      reloadKeepingScroll();
    });
  }

  // ---- Taxonomy editor --------------------------------------------------------------------
  const taxonomyForm = document.querySelector("form[data-taxonomy-form]");
  if (taxonomyForm) {
    taxonomyForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const categories = taxonomyForm.elements.categories.value.split("\n").filter((l) => l.trim()).map((line) => {
        const [key, label, side, ...rest] = line.split("|").map((p) => p.trim());
        return { key: key || "", label: label || "", side: side || "", description: rest.join(" | ") };
      });
      const r = await api("PUT", taxonomyForm.dataset.url, { version: Number(taxonomyForm.dataset.version), categories });
      const error = taxonomyForm.querySelector("[data-error]");
      if (!r.ok) { error.textContent = message(r); error.hidden = false; return; }
      location.reload();
    });
  }

  // ---- Activity heartbeats and the live timer ---------------------------------------------
  if (root.hasAttribute("data-heartbeat")) {
    const ACTIVE_WINDOW = 60000, BEAT = 30000;
    let lastInput = 0, lastBeat = 0;
    const timer = document.querySelector("[data-timer]");
    const timerText = timer && timer.querySelector("[data-timer-text]");
    let base = timer ? Number(timer.dataset.seconds) : 0, baseAt = Date.now();
    const active = () => document.visibilityState === "visible" && document.hasFocus() && Date.now() - lastInput < ACTIVE_WINDOW;
    async function beat(kind) {
      lastBeat = Date.now();
      const body = { project_id: Number(root.dataset.project), kind };
      if (root.dataset.problemSet) body.problem_set_id = Number(root.dataset.problemSet);
      const r = await api("POST", "/api/v1/activity/heartbeats", body);
      if (r.ok) { base = r.data.tracked_seconds; baseAt = Date.now(); }
    }
    const onInput = (kind) => () => {
      const first = Date.now() - lastInput >= ACTIVE_WINDOW;
      lastInput = Date.now();
      if (first && Date.now() - lastBeat > 5000) beat(kind);
    };
    document.addEventListener("keydown", onInput("typing"));
    document.addEventListener("mousedown", onInput("click"));
    document.addEventListener("wheel", onInput("active"), { passive: true });
    setInterval(() => { if (active()) beat("active"); }, BEAT);
    if (timerText) {
      const tick = () => {
        // Between heartbeats the timer runs on while the expert is active (the server decides).
        const extra = active() ? (Date.now() - baseAt) / 1000 : 0;
        timerText.textContent = clock(base + Math.min(extra, BEAT / 1000 + 5));
      };
      tick();
      setInterval(tick, 1000);
    }
  }
})();
