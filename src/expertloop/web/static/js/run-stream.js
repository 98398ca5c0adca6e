// "Try a prompt" panel: streams each chosen model's answer side by side (Server-Sent Events over
// fetch, since EventSource cannot POST), keeps the prompt draft in localStorage, Ctrl+Enter runs.
(function () {
  "use strict";

  function column(container, title) {
    const article = document.createElement("article");
    const header = document.createElement("header");
    header.textContent = title;
    const answer = document.createElement("div");
    answer.className = "answer";
    answer.setAttribute("data-testid", "answer");
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = "waiting…";
    article.append(header, answer, meta);
    container.append(article);
    return { answer, meta };
  }

  async function streamOne(url, csrf, endpointId, prompt, col) {
    const body = { endpoint_id: Number(endpointId), messages: [{ role: "user", content: prompt }] };
    const result = await window.ExpertLoopSSE.post(url, csrf, body, (name, data) => {
      if (name === "open") col.meta.textContent = "streaming…";
      if (name === "delta") col.answer.textContent += data.text;
      if (name === "done") {
        const run = data;
        const parts = [run.status];
        if (run.latency_ms != null) parts.push(Math.round(run.latency_ms) + " ms");
        if (run.ttft_ms != null) parts.push("first token " + Math.round(run.ttft_ms) + " ms");
        if (run.completion_tokens != null) parts.push(run.completion_tokens + " tokens");
        if (run.error_reason) parts.push(run.error_reason);
        col.meta.textContent = parts.join(" · ") + " · run #" + run.id;
        col.meta.className = "meta status-" + run.status;
        col.meta.setAttribute("data-status", run.status);
      }
    });
    if (!result.ok) {
      col.meta.textContent = result.message;
      col.meta.className = "meta status-failed";
    }
  }

  function init() {
    const form = document.querySelector("[data-run-form]");
    if (!form) return;
    const prompt = form.querySelector("textarea[name=prompt]");
    const output = document.querySelector("[data-run-output]");
    const draftKey = "expertloop:draft:" + form.dataset.draftKey;
    const saved = window.localStorage.getItem(draftKey);
    if (saved && !prompt.value) prompt.value = saved;
    prompt.addEventListener("input", () => window.localStorage.setItem(draftKey, prompt.value));
    prompt.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const chosen = Array.from(form.querySelectorAll("input[name=endpoint_id]:checked"));
      if (!chosen.length || !prompt.value.trim()) return;
      const button = form.querySelector("button[type=submit]");
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      output.replaceChildren();
      await Promise.all(chosen.map((box) =>
        streamOne(form.dataset.url, form.dataset.csrf, box.value, prompt.value,
                  column(output, box.dataset.name))));
      button.removeAttribute("aria-busy");
      button.disabled = false;
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
