// The candidate's interview: each question is streamed from the model as it is written
// (Server-Sent Events over fetch), the candidate answers (Ctrl+Enter sends; the draft is kept in
// the browser until sent), and so on until the last answer. A model failure shows its reason and
// "Try again" (the server never stores a question twice). A reload resumes where it stood.
(function () {
  "use strict";

  function init() {
    const root = document.querySelector("[data-interview]");
    if (!root) return;
    const id = root.dataset.id;
    const csrf = root.dataset.csrf;
    const base = "/api/v1/interviews/" + id;
    const list = root.querySelector("[data-transcript]");
    const status = root.querySelector("[data-status]");
    const failure = root.querySelector("[data-failure]");
    const reason = root.querySelector("[data-reason]");
    const retry = root.querySelector("[data-retry]");
    const form = root.querySelector("[data-answer-form]");
    const textarea = form.querySelector("textarea");
    const answerError = form.querySelector("[data-answer-error]");
    const button = form.querySelector("button[type=submit]");
    const complete = root.querySelector("[data-complete]");
    const answered = root.querySelector("[data-answered]");
    let pending = root.dataset.pending ? Number(root.dataset.pending) : null;

    function draftKey() { return "expertloop:interview:" + id + ":" + pending; }

    function addTurn(role, seq, text) {
      const li = document.createElement("li");
      li.className = "turn turn-" + role;
      li.dataset.seq = String(seq);
      const who = document.createElement("strong");
      who.textContent = role === "interviewer" ? "Interviewer" : "You";
      const body = document.createElement("div");
      body.className = "pre";
      body.setAttribute("dir", "auto");
      body.textContent = text;
      li.append(who, body);
      list.append(li);
      return body;
    }

    function showAnswer(seq) {
      pending = seq;
      form.hidden = false;
      answerError.hidden = true;
      textarea.value = window.localStorage.getItem(draftKey()) || "";
      textarea.focus();
    }

    function fail(message) {
      status.textContent = "";
      reason.textContent = message || "The interviewer could not write the question.";
      failure.hidden = false;
      retry.focus();
    }

    async function ask() {
      failure.hidden = true;
      form.hidden = true;
      status.textContent = "The interviewer is writing the next question…";
      let box = null;
      const drop = () => { if (box) { box.parentElement.remove(); box = null; } };
      const result = await window.ExpertLoopSSE.post(base + "/questions/stream", csrf, {}, (name, data) => {
        if (name === "question") {
          box = addTurn("interviewer", data.seq, "");
          box.parentElement.setAttribute("aria-busy", "true");
        } else if (name === "delta" && box) {
          box.textContent += data.text;
        } else if (name === "done") {
          if (data.turn) {
            if (!box) box = addTurn("interviewer", data.turn.seq, "");
            box.textContent = data.turn.text;
            box.parentElement.removeAttribute("aria-busy");
            box.parentElement.dataset.seq = String(data.turn.seq);
            box = null;
            status.textContent = "";
            showAnswer(data.turn.seq);
          } else {
            drop();
            fail(data.error);
          }
        }
      });
      if (!result.ok) { drop(); fail(result.message); }
    }

    function finish() {
      form.hidden = true;
      status.textContent = "";
      complete.hidden = false;
      // Ask the model for the suggested score the operator reads (the candidate never sees it).
      fetch(base + "/scoring", {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}",
      }).catch(() => { /* an operator can ask again from the candidate's page */ });
    }

    async function send() {
      const text = textarea.value.trim();
      if (!text || pending == null) return;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      answerError.hidden = true;
      let response = null;
      try {
        response = await fetch(base + "/answers", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ question_seq: pending, text }),
        });
      } catch (err) { response = null; }
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (!response || !response.ok) {
        let message = "Your answer could not be sent; it is still here. Try again.";
        try { message = (await response.json()).error.message; } catch (e) { /* keep the default */ }
        answerError.textContent = message;
        answerError.hidden = false;
        return;
      }
      const data = await response.json();
      window.localStorage.removeItem(draftKey());
      addTurn("candidate", pending + 1, text);
      textarea.value = "";
      pending = null;
      answered.textContent = String(data.answered);
      if (data.next_action === "question") ask();
      else if (data.next_action === "done") finish();
    }

    textarea.addEventListener("input", () => {
      if (pending != null) window.localStorage.setItem(draftKey(), textarea.value);
    });
    textarea.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
    retry.addEventListener("click", ask);

    const next = root.dataset.next;
    if (next === "question") ask();
    else if (next === "answer" && pending != null) showAnswer(pending);
    else if (next === "done" && root.dataset.score === "ask") finish();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
