// Server-Sent Events over fetch (EventSource cannot POST), shared by "Try a prompt" and the
// workbench: POST a JSON body, then call onEvent(name, data) for every event as it arrives.
window.ExpertLoopSSE = (function () {
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

  // Resolves with {ok, message}: ok once the stream ended; otherwise a message for the user.
  async function post(url, csrf, body, onEvent) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return { ok: false, message: "Network error: the run may still be recorded; reload to see it." };
    }
    if (!response.ok) {
      let message = "Request failed (" + response.status + ")";
      try { message = (await response.json()).error.message; } catch (e) { /* keep the default */ }
      return { ok: false, message };
    }
    onEvent("open", null);
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
        onEvent(event.name, event.data);
      }
    }
    return { ok: true, message: "" };
  }

  return { parseEvent, post };
})();
