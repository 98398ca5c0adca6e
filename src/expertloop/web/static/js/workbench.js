// The expert workbench: autosaved editors that never lose typing (localStorage first, then the
// server with optimistic versions; a 409 shows both sides), streamed runs side by side, span
// annotation with the keyboard (a caret mode in answer and prompt text), rubric checklists,
// revisions, the ideal answer, submitting, step reordering, activity heartbeats with a live
// timer, and the taxonomy editor. Every change updates the page in place and keeps the focus.
(function () {
  "use strict";

  const root = document.querySelector("[data-workbench]") || document.querySelector("[data-taxonomy-form]");
  if (!root) return;
  const csrf = root.dataset.csrf || "";
  const canEdit = root.hasAttribute("data-can-edit");
  const DRAFT = "expertloop:draft:";
  const ADOPT_AFTER_MS = 10000; // without Web Locks: a live tab saves within ~1.2 s
  const TAB = sessionStorage.getItem("expertloop:tab") || Math.random().toString(36).slice(2, 10);
  sessionStorage.setItem("expertloop:tab", TAB);
  const LOCK = "expertloop:tab:";
  // This tab holds its lock while it lives, so that another tab can tell an orphaned backup (its
  // tab closed or crashed: the lock is gone) from a live tab's (which that tab saves itself).
  const locks = navigator.locks && typeof navigator.locks.query === "function" ? navigator.locks : null;
  if (locks) locks.request(LOCK + TAB, () => new Promise(() => {})).catch(() => {});

  // ---- Text as the server counts it: code points, \n line ends ------------------------------
  const norm = (text) => text.replace(/\r\n?/g, "\n");
  const codePoints = (text) => Array.from(norm(text)).length;

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

  const FIELD_NAMES = {
    note: "note", reason: "reason", text: "ideal answer", draft_prompt: "prompt", title: "title",
    comment: "comment", quote: "selected text", draft_reference: "reference", draft_rubric: "rubric",
  };
  // Validation refusals in words an expert reads, not the raw validator's.
  function friendly(problem) {
    const loc = (problem.loc || []).slice(1);
    const name = FIELD_NAMES[loc[0]] || loc.join(".") || "request";
    const text = (problem.message || "").replace(/^Value error, /, "");
    let m = /^String should have at most (\d+) characters?/.exec(text);
    if (m) return "The " + name + " is too long: at most " + Number(m[1]).toLocaleString() + " characters.";
    m = /^String should have at least (\d+) characters?/.exec(text);
    if (m) return "The " + name + " is needed.";
    // The server's own text rules already speak words ("Note is too long: …").
    if (/^[A-Z]/.test(text) && !/^(Input|Field|Value|String) /.test(text)) return /[.!?]$/.test(text) ? text : text + ".";
    return "The " + name + " was refused: " + text;
  }
  function message(r) {
    if (r.status === 0) return "No connection: nothing was lost; try again in a moment.";
    const error = r.data && r.data.error;
    if (!error) return "Request failed (" + r.status + ").";
    const problems = error.details && error.details.problems;
    if (error.code === "invalid_request" && Array.isArray(problems) && problems.length) {
      return problems.map(friendly).join(" ");
    }
    return error.message || "Request failed (" + r.status + ").";
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }

  // A polite announcement for screen readers and eyes alike ("Revision 2 saved.").
  let announcer = null;
  function announce(text) {
    if (!announcer) {
      announcer = document.createElement("p");
      announcer.className = "announce";
      announcer.setAttribute("role", "status");
      announcer.setAttribute("data-testid", "announce");
      document.body.append(announcer);
    }
    announcer.textContent = text;
    clearTimeout(announce.timer);
    announce.timer = setTimeout(() => { announcer.textContent = ""; }, 4000);
  }

  // ---- In-place updates: fetch the page, swap its regions, keep the focus and typing --------
  let pendingWrites = 0;
  let refreshChain = Promise.resolve(true);
  const ALL = ["head", "prompt", "run", "answers", "revise", "ideal-diff", "delete", "submit", "history"];

  function regionsOf(doc, names) {
    const found = [];
    for (const name of names) {
      const el = name === "history" ? doc.getElementById("history") : doc.querySelector("[data-region='" + name + "']");
      found.push([name, el]);
    }
    return found;
  }
  function focusKeyOf(el) {
    if (!el || el === document.body) return null;
    const keyed = el.closest("[data-focus-key]");
    if (keyed) return { key: keyed.dataset.focusKey };
    if (el.id) return { id: el.id };
    return null;
  }
  function findFocus(desc) {
    if (!desc) return null;
    if (desc.key) return document.querySelector("[data-focus-key='" + CSS.escape(desc.key) + "']");
    if (desc.id) return document.getElementById(desc.id);
    return null;
  }
  // Typing in a swapped region (a revision's reason) and unticked models stay as they were.
  function carryValues(from, to) {
    for (const el of from.querySelectorAll("input[name], textarea[name]")) {
      if (el.type === "hidden" || el.hasAttribute("data-criterion")) continue;
      const sel = el.tagName.toLowerCase() + "[name='" + CSS.escape(el.name) + "']" +
        (el.type === "checkbox" || el.type === "radio" ? "[value='" + CSS.escape(el.value) + "']" : "");
      const twin = to.querySelector(sel);
      if (!twin) continue;
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) twin.checked = el.checked;
      } else if (el.value !== el.defaultValue) {
        twin.value = el.value;
      }
    }
  }
  async function swap(names, opts) {
    let res;
    try {
      res = await fetch(location.pathname + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (e) {
      return false;
    }
    if (!res.ok || res.redirected) return false;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const active = document.activeElement;
    const desc = (opts && opts.focus) || focusKeyOf(active);
    let focusLost = false;
    const fresh = regionsOf(doc, names);
    for (const [name, old] of regionsOf(document, names)) {
      // A rubric tick still on its way would be undone by an answers region rendered before it.
      if (name === "answers" && pendingWrites > 0) continue;
      const next = fresh.find(([n]) => n === name)[1];
      if (!old || !next) continue;
      if (old.contains(active)) focusLost = true;
      const adopted = document.importNode(next, true);
      carryValues(old, adopted);
      old.replaceWith(adopted);
      if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(adopted);
    }
    if (focusLost || (opts && opts.focus)) {
      const target = findFocus(desc);
      if (target) target.focus({ preventScroll: !(opts && opts.focus) });
    }
    document.dispatchEvent(new CustomEvent("expertloop:refreshed", { detail: { regions: names } }));
    return true;
  }
  function refresh(names, opts) {
    refreshChain = refreshChain.then(() => swap(names || ALL, opts), () => swap(names || ALL, opts));
    return refreshChain;
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
  const timeOf = (ms) => new Date(ms).toLocaleTimeString();

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
    let savedNote = stateEl ? stateEl.textContent : "";

    function fields() { return Array.from(form.elements).filter((el) => el.name); }
    function read() {
      const values = {};
      for (const el of fields()) {
        if (el.type === "checkbox") values[el.name] = el.checked;
        else if (el.hasAttribute("data-lines")) values[el.name] = el.value.split("\n").map((l) => l.trim()).filter(Boolean);
        else values[el.name] = norm(el.value);
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
    // What the server holds, as read() gives it: typing that returns to it is no change.
    const serverValues = read();
    let saved = JSON.stringify(serverValues);
    const serverAt = Date.parse(form.dataset.savedAt || "") || 0;

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
      const n = (k, v) => {
        if (v == null) v = "";
        if (typeof v === "string") v = norm(v);
        if (TRIMMED.includes(k) && typeof v === "string") v = v.trim();
        return JSON.stringify(v);
      };
      if (isIdeal) return basedOn === null && n("text", current.text) === n("text", sent.text);
      return Object.keys(sent).every((k) => n(k, current[k]) === n(k, sent[k]));
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
    function markSaved(sent) {
      saved = JSON.stringify(sent);
      savedNote = "Saved " + new Date().toLocaleTimeString() + ".";
      say(savedNote, "ok");
    }
    async function save(opts) {
      clearTimeout(timer);
      if (inflight) { await inflight; if (!dirty) return; }
      if (!dirty) return;
      dirty = false;
      say("Saving…");
      const sent = read();
      pendingWrites += 1;
      inflight = api(isIdeal ? "PUT" : "PATCH", url, body(), opts && opts.keepalive ? { keepalive: true } : undefined);
      const r = await inflight;
      pendingWrites -= 1;
      inflight = null;
      if (r.ok) {
        version = r.data.version;
        basedOn = null;
        if (!dirty) localStorage.removeItem(key);
        markSaved(sent);
        // The badge (an ideal answer may finish the step), the submit panel, the draft note.
        if (document.querySelector("[data-region]") && !running) refresh(isIdeal ? ["head", "ideal-diff", "submit"] : ["run", "submit"]);
        return;
      }
      dirty = true;
      if (r.status === 409 && r.data && r.data.error) {
        const d = r.data.error.details || {};
        if (d.current_version === undefined) {
          // A save that raced another one in the database: the same save again meets the
          // winner's version and gets a 409 with both sides (or carries on if they agree).
          say("Changed elsewhere at the same moment: checking…", "error");
          clearTimeout(retry);
          retry = setTimeout(save, 800);
          return;
        }
        if (sameAsSaved(d.current, sent)) {
          // The other save holds exactly this text (another tab, or this tab's own save sent
          // while the page was closing): nothing to choose, carry on from its version.
          version = d.current_version;
          if (JSON.stringify(read()) === JSON.stringify(sent)) {
            dirty = false;
            localStorage.removeItem(key);
            markSaved(sent);
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
            saved = JSON.stringify(read());
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
      clearTimeout(timer);
      if (basedOn === null && JSON.stringify(read()) === saved) {
        // Back to exactly what is saved (or a blur that changed nothing): no save, no warning.
        dirty = false;
        localStorage.removeItem(key);
        say(savedNote, savedNote.startsWith("Saved") || savedNote.startsWith("Draft") ? "ok" : "");
        return;
      }
      dirty = true;
      keepLocally();
      say("Unsaved changes…");
      timer = setTimeout(save, 1200);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); save(); });

    // ---- Restore after a crash: the newest of (server copy, this browser's backup) ----------
    function note(text, buttonText, action) {
      let el = form.querySelector("[data-restore-note]");
      if (!el) {
        el = document.createElement("p");
        el.className = "restore-note";
        el.setAttribute("data-restore-note", "");
        el.setAttribute("role", "status");
        el.setAttribute("data-testid", "restore-note");
        (stateEl || form.lastElementChild).after(el);
      }
      el.textContent = text + " ";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "outline small";
      button.textContent = buttonText;
      button.addEventListener("click", () => { action(); el.remove(); });
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "secondary outline small";
      dismiss.textContent = "Dismiss";
      dismiss.addEventListener("click", () => el.remove());
      el.append(button, " ", dismiss);
    }
    async function restore() {
      let live = null;
      if (locks) {
        try { live = new Set(((await locks.query()).held || []).map((l) => l.name)); } catch (e) { live = null; }
      }
      let kept = null, keptKey = null;
      for (const k of Object.keys(localStorage)) {
        if (k !== base && !k.startsWith(base + ":")) continue;
        try {
          const d = JSON.parse(localStorage.getItem(k) || "null");
          if (!d || !d.values) { localStorage.removeItem(k); continue; }
          const tab = k.slice(base.length + 1);
          // Another open tab's backup is that tab's to save; only an orphan's is adopted.
          if (k !== key) {
            const alive = live ? live.has(LOCK + tab) : Date.now() - (d.at || 0) < ADOPT_AFTER_MS;
            if (alive) continue;
          }
          if (!kept || (d.at || 0) > (kept.at || 0)) { kept = d; keptKey = k; }
        } catch (e) { localStorage.removeItem(k); }
      }
      if (!kept) return;
      if (JSON.stringify(kept.values) === saved) { localStorage.removeItem(keptKey); return; }
      if (keptKey !== key) { localStorage.removeItem(keptKey); localStorage.setItem(key, JSON.stringify(kept)); }
      const backupAt = kept.at || 0;
      if (backupAt >= serverAt) {
        // The backup is newer: show it at once and save it over the older saved copy.
        write(kept.values);
        basedOn = kept.basedOn == null ? null : kept.basedOn;
        dirty = true;
        keepLocally();
        say("Restored unsaved typing from this browser; saving…");
        timer = setTimeout(save, 300);
        note("Showing your unsaved typing from this browser (" + timeOf(backupAt) + "), newer than the saved copy" +
          (serverAt ? " (" + timeOf(serverAt) + ")" : "") + ".", "Show the saved copy instead", () => {
          write(serverValues);
          basedOn = null;
          changed();
          if (!dirty) { dirty = true; save(); } // the restored typing may already be saved
        });
      } else {
        note("Showing the saved copy (" + timeOf(serverAt) + "). This browser also kept older unsaved typing from " +
          timeOf(backupAt) + ".", "Restore that typing", () => {
          write(kept.values);
          basedOn = kept.basedOn == null ? null : kept.basedOn;
          changed();
        });
      }
    }
    const restored = restore();

    return {
      form,
      save,
      restored,
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
  const flushAll = () => Promise.all(editors.map((e) => e.flush()));

  // ---- Streamed runs, side by side; a failure stays on the page with its reason -------------
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
    return result;
  }

  let running = false;
  async function runAll() {
    const runForm = document.querySelector("form[data-run-step]");
    if (!runForm || running) return;
    const error = runForm.querySelector("[data-run-error]");
    const chosen = Array.from(runForm.querySelectorAll("input[name=endpoint_id]:checked"));
    if (!chosen.length) { error.textContent = "Choose at least one model."; error.hidden = false; return; }
    error.hidden = true;
    running = true;
    const button = runForm.querySelector("button[type=submit]");
    button.setAttribute("aria-busy", "true");
    await flushAll();
    const answers = document.querySelector("[data-answers]");
    const empty = answers.querySelector("[data-no-runs]");
    if (empty) empty.remove();
    const jobs = chosen.map((input) => {
      const article = document.createElement("article");
      article.setAttribute("data-streaming", "");
      article.setAttribute("data-testid", "streaming-card");
      const header = document.createElement("header");
      header.textContent = input.dataset.name + " (new run)";
      const answer = document.createElement("div");
      answer.className = "answer";
      answer.dir = "auto";
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = "waiting…";
      article.append(header, answer, meta);
      answers.prepend(article);
      return streamOne(runForm.dataset.url, input.value, { answer, meta });
    });
    const results = await Promise.all(jobs);
    running = false;
    button.removeAttribute("aria-busy");
    const failed = results.filter((r) => !r.ok);
    if (failed.length === results.length) {
      error.textContent = "The run did not start: " + failed[0].message;
      error.hidden = false;
      return;
    }
    // The stored runs (rubric, annotations, buttons) replace the streamed cards in place.
    if (await refresh(ALL)) announce("Run finished: press A for the answer.");
    else {
      const again = document.querySelector("[data-run-error]");
      if (again) { again.textContent = "The runs finished but the page could not update (connection); they are stored."; again.hidden = false; }
    }
  }

  // ---- Selections in answer and prompt text, in code points of the \n-normalised text ---------
  function annotatableOf(node) {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    return el ? el.closest("[data-annotatable]") : null;
  }
  function charsOf(el) { return Array.from(norm(el.textContent)); }
  // The DOM position of a code-point offset (a stored \r\n counts once, as the server's \n).
  function locate(el, cp) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let count = 0, node, last = null;
    while ((node = walker.nextNode())) {
      last = node;
      const data = node.data;
      let i = 0;
      while (i < data.length) {
        if (count === cp) return { node, offset: i };
        if (data[i] === "\r" && data[i + 1] === "\n") { i += 1; continue; }
        i += data.codePointAt(i) > 0xffff ? 2 : 1;
        count += 1;
      }
    }
    return last ? { node: last, offset: last.data.length } : { node: el, offset: 0 };
  }
  function offsetOf(el, node, offset) {
    const before = document.createRange();
    before.selectNodeContents(el);
    before.setEnd(node, offset);
    return codePoints(before.toString());
  }

  function selectionIn() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
    const range = sel.getRangeAt(0);
    const container = annotatableOf(range.startContainer);
    if (!container || container !== annotatableOf(range.endContainer)) return null;
    const quote = norm(range.toString());
    if (!quote.trim()) return null;
    const start = offsetOf(container, range.startContainer, range.startOffset);
    return { container, rect: range.getBoundingClientRect(), quote, start, end: start + codePoints(quote) };
  }

  // ---- Caret mode: arrows move, Shift+arrows select, in any focused answer or prompt ----------
  const carets = new Map(); // focus key -> {anchor, focus}: kept across in-place updates
  let caretMark = null;
  const WORD = /[\p{L}\p{N}_]/u;
  const ENDS = ".!?\n";

  function caretOf(el) {
    const k = el.dataset.focusKey || "";
    if (!carets.has(k)) carets.set(k, { anchor: 0, focus: 0 });
    return carets.get(k);
  }
  function showCaret(el, c) {
    const a = locate(el, c.anchor), f = locate(el, c.focus);
    const sel = window.getSelection();
    sel.setBaseAndExtent(a.node, a.offset, f.node, f.offset);
    if (!caretMark) {
      caretMark = document.createElement("span");
      caretMark.className = "kbd-caret";
      caretMark.setAttribute("aria-hidden", "true");
      document.body.append(caretMark);
    }
    const r = document.createRange();
    r.setStart(f.node, f.offset);
    r.collapse(true);
    let rect = r.getBoundingClientRect();
    if (!rect.height) { const rs = r.getClientRects(); if (rs.length) rect = rs[0]; }
    if (!rect.height) rect = el.getBoundingClientRect();
    caretMark.style.top = (window.scrollY + rect.top) + "px";
    caretMark.style.left = (window.scrollX + rect.left) + "px";
    caretMark.style.height = Math.max(rect.height, 14) + "px";
    caretMark.hidden = false;
    const status = el.getAttribute("data-caret-status");
    if (c.anchor !== c.focus) el.setAttribute("data-caret-status", "selected");
    else if (status) el.removeAttribute("data-caret-status");
  }
  function hideCaret() { if (caretMark) caretMark.hidden = true; }

  function moveBy(chars, pos, key, ctrl, alt) {
    const n = chars.length;
    const isWord = (i) => i >= 0 && i < n && WORD.test(chars[i]);
    if (key === "ArrowRight") {
      if (alt) { // to the end of this sentence
        let i = pos;
        while (i < n && /\s/.test(chars[i])) i++;
        while (i < n && !ENDS.includes(chars[i])) i++;
        return Math.min(n, i + (i < n && chars[i] !== "\n" ? 1 : 0));
      }
      if (!ctrl) return Math.min(n, pos + 1);
      let i = pos;
      while (i < n && !isWord(i)) i++;
      while (i < n && isWord(i)) i++;
      return i;
    }
    if (key === "ArrowLeft") {
      if (alt) { // to the start of this (or the previous) sentence
        let i = pos;
        while (i > 0 && /\s/.test(chars[i - 1])) i--;
        if (i > 0 && ENDS.includes(chars[i - 1])) i--;
        while (i > 0 && !ENDS.includes(chars[i - 1])) i--;
        while (i < pos && /\s/.test(chars[i])) i++;
        return i;
      }
      if (!ctrl) return Math.max(0, pos - 1);
      let i = pos;
      while (i > 0 && !isWord(i - 1)) i--;
      while (i > 0 && isWord(i - 1)) i--;
      return i;
    }
    const lineStart = (p) => { let i = p; while (i > 0 && chars[i - 1] !== "\n") i--; return i; };
    const lineEnd = (p) => { let i = p; while (i < n && chars[i] !== "\n") i++; return i; };
    if (key === "Home") return ctrl ? 0 : lineStart(pos);
    if (key === "End") return ctrl ? n : lineEnd(pos);
    if (key === "ArrowDown" || key === "ArrowUp") {
      const col = pos - lineStart(pos);
      if (key === "ArrowDown") {
        const end = lineEnd(pos);
        if (end >= n) return n;
        return Math.min(end + 1 + col, lineEnd(end + 1));
      }
      const start = lineStart(pos);
      if (start === 0) return 0;
      const prev = lineStart(start - 1);
      return Math.min(prev + col, start - 1);
    }
    return pos;
  }

  function caretSelection(el) {
    const c = caretOf(el);
    if (c.anchor === c.focus) return null;
    const chars = charsOf(el);
    const start = Math.min(c.anchor, c.focus), end = Math.max(c.anchor, c.focus);
    const quote = chars.slice(start, end).join("");
    if (!quote.trim()) return null;
    const sel = window.getSelection();
    const rect = sel.rangeCount ? sel.getRangeAt(0).getBoundingClientRect() : el.getBoundingClientRect();
    return { container: el, rect, quote, start, end };
  }

  function onCaretKey(ev, el) {
    const k = ev.key;
    if (["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "Home", "End"].includes(k)) {
      const c = caretOf(el);
      const chars = charsOf(el);
      c.anchor = Math.min(c.anchor, chars.length);
      c.focus = Math.min(c.focus, chars.length);
      // Up and Down without Shift keep scrolling the page, as they do everywhere else.
      if (!ev.shiftKey && (k === "ArrowUp" || k === "ArrowDown") && c.anchor === c.focus && !ev.altKey) return false;
      let pos = c.focus;
      if (!ev.shiftKey && c.anchor !== c.focus && (k === "ArrowLeft" || k === "ArrowRight") && !ev.ctrlKey && !ev.altKey) {
        pos = k === "ArrowLeft" ? Math.min(c.anchor, c.focus) : Math.max(c.anchor, c.focus);
      } else {
        pos = moveBy(chars, c.focus, k, ev.ctrlKey || ev.metaKey, ev.altKey);
      }
      c.focus = pos;
      if (!ev.shiftKey) c.anchor = pos;
      ev.preventDefault();
      showCaret(el, c);
      return true;
    }
    if (k === "Escape") {
      const c = caretOf(el);
      if (c.anchor !== c.focus) { c.anchor = c.focus; showCaret(el, c); ev.preventDefault(); return true; }
      return false;
    }
    if (!canEdit || !popover || ev.ctrlKey || ev.metaKey || ev.altKey) return false;
    if (/^[1-9]$/.test(k) || k === "Enter") {
      const found = caretSelection(el) || selectionIn();
      if (!found) return false;
      ev.preventDefault();
      openPopover(found, k === "Enter" ? null : Number(k));
      return true;
    }
    return false;
  }

  document.addEventListener("focusin", (ev) => {
    const el = ev.target.closest && ev.target.closest("[data-annotatable]");
    // Keyboard focus only: a click starts the browser's own (mouse) selection undisturbed.
    if (el && ev.target === el && el.matches(":focus-visible")) {
      const c = caretOf(el);
      const n = charsOf(el).length;
      c.anchor = Math.min(c.anchor, n);
      c.focus = Math.min(c.focus, n);
      showCaret(el, c);
    } else if (!(popover && popover.contains(ev.target))) {
      hideCaret();
    }
  });
  // A click in a text puts the keyboard caret there, so that Shift+arrows go on from it.
  document.addEventListener("mouseup", () => {
    setTimeout(() => {
      const sel = window.getSelection();
      if (!sel || !sel.rangeCount || !sel.isCollapsed) return;
      const el = annotatableOf(sel.anchorNode);
      if (!el) return;
      const c = caretOf(el);
      c.anchor = c.focus = offsetOf(el, sel.anchorNode, sel.anchorOffset);
    }, 0);
  });
  document.addEventListener("focusout", (ev) => {
    if (ev.target.matches && ev.target.matches("[data-annotatable]")) hideCaret();
  });

  // ---- The annotation box: digit (fault), digit (severity), Enter -------------------------------
  const popover = document.querySelector("[data-annotate-popover]");
  let pending = null, returnTo = null;

  function categoryList() {
    return popover.querySelector("[data-categories='" + pending.container.dataset.side + "']");
  }
  function hint() {
    if (!pending) return; // a change event after the box closed (the note losing focus)
    const chosen = categoryList().querySelector("input[name=category]:checked");
    popover.querySelector("[data-annotate-hint]").textContent = chosen
      ? "Severity: 1 minor, 2 major (chosen unless you press another), 3 critical; Enter saves; Backspace: another fault."
      : "Fault: press its number.";
  }
  function noteCount() {
    const noteEl = popover.querySelector("textarea[name=note]");
    const counter = popover.querySelector("[data-note-count]");
    if (counter) counter.textContent = Array.from(noteEl.value).length.toLocaleString() + " / " + Number(noteEl.maxLength).toLocaleString();
  }
  function openPopover(found, digit) {
    pending = found;
    returnTo = focusKeyOf(document.activeElement) || { key: found.container.dataset.focusKey };
    const side = found.container.dataset.side;
    for (const list of popover.querySelectorAll("[data-categories]")) list.hidden = list.dataset.categories !== side;
    for (const radio of popover.querySelectorAll("input[name=category]")) radio.checked = false;
    popover.querySelector("input[name=severity][value=major]").checked = true;
    popover.querySelector("[data-quote]").textContent = "“" + (found.quote.length > 120 ? found.quote.slice(0, 120) + "…" : found.quote) + "”";
    popover.querySelector("textarea[name=note]").value = "";
    noteCount();
    popover.querySelector("[data-error]").hidden = true;
    const rect = found.rect;
    popover.style.top = (window.scrollY + rect.bottom + 8) + "px";
    popover.style.left = Math.max(8, Math.min(window.scrollX + rect.left, window.scrollX + document.documentElement.clientWidth - 340)) + "px";
    popover.hidden = false;
    if (digit) pickCategory(digit);
    hint();
    popover.focus({ preventScroll: true });
    if (popover.getBoundingClientRect().bottom > window.innerHeight) popover.scrollIntoView({ block: "nearest" });
  }
  function pickCategory(digit) {
    const pick = categoryList().querySelectorAll("input[name=category]")[digit - 1];
    if (pick) pick.checked = true;
    return Boolean(pick);
  }
  function closePopover(restoreFocus) {
    if (!popover || popover.hidden) return;
    popover.hidden = true;
    pending = null;
    if (restoreFocus) {
      const back = findFocus(returnTo);
      if (back) back.focus({ preventScroll: true });
    }
  }

  async function saveAnnotation() {
    if (!pending) return;
    const category = categoryList().querySelector("input[name=category]:checked");
    const error = popover.querySelector("[data-error]");
    if (!category) { error.textContent = "Pick a fault (press its number)."; error.hidden = false; return; }
    const body = {
      category: category.value,
      severity: popover.querySelector("input[name=severity]:checked").value,
      note: norm(popover.querySelector("textarea[name=note]").value),
      start: pending.start,
      end: pending.end,
      quote: pending.quote,
    };
    if (pending.container.dataset.stepRun) body.step_run_id = Number(pending.container.dataset.stepRun);
    const focusKey = pending.container.dataset.focusKey;
    const c = caretOf(pending.container);
    c.anchor = c.focus = pending.end;
    const r = await api("POST", "/api/v1/revisions/" + pending.container.dataset.revision + "/annotations", body);
    if (!r.ok) { error.textContent = message(r); error.hidden = false; return; }
    closePopover(true);
    announce("Annotation saved.");
    await refresh(["head", "prompt", "answers", "revise", "submit", "history"], { focus: { key: focusKey } });
  }

  if (popover) {
    document.addEventListener("mouseup", (ev) => {
      if (popover.contains(ev.target)) return;
      setTimeout(() => {
        const found = selectionIn();
        if (!found) return;
        const c = caretOf(found.container);
        c.anchor = found.start;
        c.focus = found.end;
        openPopover(found, null);
      }, 0);
    });
    popover.querySelector("[data-save-annotation]").addEventListener("click", saveAnnotation);
    popover.querySelector("[data-cancel-annotation]").addEventListener("click", () => closePopover(true));
    popover.querySelector("textarea[name=note]").addEventListener("input", noteCount);
    popover.addEventListener("change", hint);
  }

  function popoverKey(ev) {
    const inNote = ev.target && ev.target.name === "note";
    if (ev.key === "Escape") { ev.preventDefault(); closePopover(true); return; }
    if (inNote) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); saveAnnotation(); }
      return;
    }
    if (ev.key === "Enter") {
      if (ev.target.tagName === "BUTTON") return; // the focused button does what it says
      ev.preventDefault(); saveAnnotation(); return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !pending) return;
    const chosen = categoryList().querySelector("input[name=category]:checked");
    if (/^[1-9]$/.test(ev.key)) {
      ev.preventDefault();
      if (!chosen) pickCategory(Number(ev.key));
      else {
        const sev = popover.querySelectorAll("input[name=severity]")[Number(ev.key) - 1];
        if (sev) sev.checked = true;
      }
      hint();
      return;
    }
    if (ev.key === "Backspace" && chosen) { ev.preventDefault(); chosen.checked = false; hint(); return; }
    if (ev.key === "n" || ev.key === "N") { ev.preventDefault(); popover.querySelector("textarea[name=note]").focus(); }
  }

  // ---- Jumps ----------------------------------------------------------------------------------
  function focusField(el) {
    if (!el) return false;
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
    if ((el.tagName === "TEXTAREA" || el.tagName === "INPUT") && typeof el.setSelectionRange === "function" && el.type !== "checkbox") {
      try { el.setSelectionRange(el.value.length, el.value.length); } catch (e) { /* not a text input */ }
    }
    return true;
  }
  function cardOfFocus() {
    const a = document.activeElement;
    return (a && a.closest && a.closest("[data-step-run]") && a.closest("article")) || document.querySelector("[data-answers] article[data-step-run]");
  }
  function nextOf(list, current) {
    if (!list.length) return null;
    const i = list.indexOf(current);
    return list[(i + 1) % list.length];
  }
  const jumps = {
    a: () => {
      const list = Array.from(document.querySelectorAll("[data-answers] [data-annotatable]"));
      const current = document.activeElement && document.activeElement.closest ? document.activeElement.closest("[data-annotatable]") : null;
      return focusField(nextOf(list, current));
    },
    p: () => focusField(document.querySelector("[data-region=prompt] [data-annotatable]")),
    r: () => {
      const card = cardOfFocus();
      const rubric = card && card.querySelector("[data-rubric]");
      if (!rubric) return false;
      const boxes = Array.from(rubric.querySelectorAll("input[data-criterion]:not([disabled])"));
      if (!boxes.length) { rubric.tabIndex = -1; return focusField(rubric); }
      return focusField(boxes.find((b) => !b.checked) || boxes[0]);
    },
    d: () => {
      const list = Array.from(document.querySelectorAll("details[data-testid=prompt-diff], details[data-testid=answer-diff]"));
      const current = document.activeElement && document.activeElement.closest ? document.activeElement.closest("details") : null;
      const next = nextOf(list, current);
      if (!next) { announce("No diff yet: revise the prompt and run it again."); return false; }
      for (let d = next; d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
      return focusField(next.querySelector("summary"));
    },
  };
  const editJumps = {
    e: () => focusField(document.querySelector("[data-testid=draft-prompt]")),
    v: () => focusField(document.querySelector("form[data-revise] input[name=reason]")),
    i: () => focusField(document.querySelector("form[data-ideal] textarea[name=text]")),
    w: () => {
      const card = cardOfFocus();
      const button = card && card.querySelector("[data-ideal-from]");
      if (!button) return false;
      button.click();
      return true;
    },
    s: () => focusField(document.querySelector("form[data-submit] button[type=submit]") || document.getElementById("submit-heading")),
  };
  function leaveField(el) {
    const editor = editors.find((e) => e.form.contains(el));
    if (editor) editor.flush();
    const card = el.closest("article") || el.closest("section") || el.closest("form");
    const heading = card && card.querySelector("h2[tabindex], h3[tabindex]");
    if (heading) heading.focus({ preventScroll: true });
    else el.blur();
  }

  // ---- Keyboard ---------------------------------------------------------------------------
  const TEXT_FIELD = "input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit]), textarea, select, [contenteditable]";
  document.addEventListener("keydown", (ev) => {
    if (popover && !popover.hidden) { popoverKey(ev); return; }
    const t = ev.target instanceof Element ? ev.target : document.body;
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && document.querySelector("form[data-run-step]")) { ev.preventDefault(); runAll(); return; }
    if (ev.altKey && !ev.shiftKey && (ev.key === "ArrowLeft" || ev.key === "ArrowRight") && !t.matches("[data-annotatable]")) {
      let link = document.querySelector("[data-key='" + (ev.key === "ArrowLeft" ? "prev" : "next") + "']");
      // On the problem set page, Alt+→ opens its first step.
      if (!link && ev.key === "ArrowRight" && !root.dataset.step) link = document.querySelector("[data-testid=steps] a[href^='/steps/']");
      if (link) { ev.preventDefault(); link.click(); }
      return;
    }
    if (t.closest("dialog[open]")) return;
    if (t.matches(TEXT_FIELD)) {
      if (ev.key === "Escape" && root.dataset.step) { ev.preventDefault(); leaveField(t); }
      return;
    }
    if (t.matches("[data-annotatable]") && onCaretKey(ev, t)) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !root.dataset.step) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (ev.key === "?") {
      const overlay = document.querySelector("[data-keys-overlay]");
      if (overlay && typeof overlay.showModal === "function") { ev.preventDefault(); overlay.showModal(); }
      return;
    }
    const jump = jumps[key] || (canEdit ? editJumps[key] : null);
    if (jump && !ev.shiftKey) { ev.preventDefault(); jump(); }
  });

  // ---- Rubric, annotations, revisions, ideal answer, submit (delegated: regions get swapped) --
  document.addEventListener("change", async (ev) => {
    const box = ev.target;
    if (!(box instanceof HTMLInputElement) || !box.matches("[data-rubric] input[data-criterion]")) return;
    const fieldset = box.closest("[data-rubric]");
    pendingWrites += 1;
    const r = await api("PUT", "/api/v1/step-runs/" + fieldset.dataset.stepRun + "/rubric", {
      criterion: Number(box.dataset.criterion), met: box.checked,
    });
    pendingWrites -= 1;
    if (!r.ok) { box.checked = !box.checked; announce(message(r)); return; }
    await refresh(["head", "answers", "submit", "history"]);
  });
  document.addEventListener("click", async (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const del = target.closest("[data-delete-annotation]");
    if (del) {
      const r = await api("DELETE", "/api/v1/annotations/" + del.dataset.deleteAnnotation);
      if (!r.ok) { announce(message(r)); return; }
      const box = del.closest("[data-step-run], [data-region]");
      const text = box && box.querySelector("[data-annotatable]");
      announce("Annotation deleted.");
      await refresh(["head", "prompt", "answers", "revise", "submit", "history"], text ? { focus: { key: text.dataset.focusKey } } : undefined);
      return;
    }
    const from = target.closest("[data-ideal-from]");
    if (from && ideal) {
      const text = ideal.form.elements.text;
      if (text.value.trim() && !confirm("Replace the ideal answer you wrote with this model answer?")) return;
      const card = from.closest("article");
      ideal.startFrom(Number(from.dataset.idealFrom), norm(card.querySelector("[data-testid=answer]").textContent));
      focusField(text);
      return;
    }
    const deleteStep = target.closest("[data-delete-step]");
    if (deleteStep) {
      if (!confirm("Delete this step? Its draft and revisions go with it.")) return;
      const r = await api("DELETE", "/api/v1/steps/" + deleteStep.dataset.deleteStep);
      if (!r.ok) { announce(message(r)); return; }
      editors.forEach((e) => e.forget());
      location.href = deleteStep.dataset.back;
    }
  });
  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("form[data-run-step]")) { ev.preventDefault(); runAll(); return; }
    if (form.matches("form[data-revise]")) {
      ev.preventDefault();
      const error = form.querySelector("[data-error]");
      await flushAll();
      const r = await api("POST", form.dataset.url, {
        reason: norm(form.elements.reason.value),
        motivated_by: Array.from(form.querySelectorAll("input[name=motivated_by]:checked")).map((i) => Number(i.value)),
      });
      if (!r.ok) { error.textContent = message(r); error.hidden = false; return; }
      form.elements.reason.value = "";
      announce("Revision " + r.data.number + " saved: Enter runs it.");
      // Running the new revision is what comes next: its button takes the focus.
      await refresh(ALL, { focus: { key: "run" } });
      return;
    }
    if (form.matches("form[data-submit]")) {
      ev.preventDefault();
      const error = form.querySelector("[data-error]");
      await flushAll();
      const r = await api("POST", form.dataset.url, { version: Number(form.dataset.version) });
      if (r.ok) { location.href = form.dataset.back; return; }
      error.textContent = message(r);
      error.hidden = false;
      const button = form.querySelector("button[type=submit]");
      await refresh(["head", "submit"], { focus: { key: "submit" } });
      const again = document.querySelector("form[data-submit] [data-error]");
      if (again) { again.textContent = message(r); again.hidden = false; }
      else if (button) announce(message(r));
    }
  });

  // ---- Reordering steps (problem set page): the list is swapped in place ---------------------
  document.addEventListener("click", async (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest(".steps [data-move]") : null;
    if (!button) return;
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
    const move = button.dataset.move, stepId = item.dataset.stepId;
    let res = null;
    try { res = await fetch(location.pathname, { credentials: "same-origin" }); } catch (e) { res = null; }
    if (!res || !res.ok) { announce("Moved; the list updates when the connection returns."); return; }
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.querySelector("ol.steps"), old = document.querySelector("ol.steps");
    if (fresh && old) {
      old.replaceWith(document.importNode(fresh, true));
      const again = document.querySelector(".steps li[data-step-id='" + stepId + "'] [data-move='" + move + "']");
      if (again) again.focus();
    }
  });

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
    let base = Number((document.querySelector("[data-timer]") || { dataset: { seconds: 0 } }).dataset.seconds), baseAt = Date.now();
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
    // The timer sits in the head, which in-place updates replace: find it on every tick.
    const tick = () => {
      const timerText = document.querySelector("[data-timer] [data-timer-text]");
      if (!timerText) return;
      // Between heartbeats the timer runs on while the expert is active (the server decides).
      const extra = active() ? (Date.now() - baseAt) / 1000 : 0;
      timerText.textContent = clock(base + Math.min(extra, BEAT / 1000 + 5));
    };
    tick();
    setInterval(tick, 1000);
  }
})();
