// "Try a prompt" panel: streams each chosen model's answer side by side (Server-Sent Events over
// fetch, since EventSource cannot POST), keeps the prompt draft in localStorage, Ctrl+Enter runs.
(function () {
  "use strict";

  function parseEvent(raw) {
    let name = "message";
    const data = [];
    for (const line of raw.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    return { name, data: data.length ? JSON.parse(data.join("\n")) : null };
  }

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
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ endpoint_id: Number(endpointId), messages: [{ role: "user", content: prompt }] }),
      });
    } catch (err) {
      col.meta.textContent = "Network error: the run may still be recorded; reload to see it.";
      return;
    }
    if (!response.ok) {
      let message = "Request failed (" + response.status + ")";
      try { message = (await response.json()).error.message; } catch (e) { /* keep the default */ }
      col.meta.textContent = message;
      col.meta.className = "meta status-failed";
      return;
    }
    col.meta.textContent = "streaming…";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event.name === "delta") col.answer.textContent += event.data.text;
        if (event.name === "done") {
          const run = event.data;
          const parts = [run.status];
          if (run.latency_ms != null) parts.push(Math.round(run.latency_ms) + " ms");
          if (run.ttft_ms != null) parts.push("first token " + Math.round(run.ttft_ms) + " ms");
          if (run.completion_tokens != null) parts.push(run.completion_tokens + " tokens");
          if (run.error_reason) parts.push(run.error_reason);
          col.meta.textContent = parts.join(" · ") + " · run #" + run.id;
          col.meta.className = "meta status-" + run.status;
          col.meta.setAttribute("data-status", run.status);
        }
      }
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
