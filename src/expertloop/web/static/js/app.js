// Page-wide behaviour: drafts kept in this browser are confidential project data, so logging
// out removes them.
(function () {
  "use strict";
  document.addEventListener("submit", (ev) => {
    if (!ev.target.matches("form[action='/logout']")) return;
    for (const key of Object.keys(window.localStorage)) {
      if (key.startsWith("expertloop:draft:")) window.localStorage.removeItem(key);
    }
  });
})();

// Lists with row keys (table[data-row-keys]): J / K move the focus to the next / previous row's
// link, Enter opens it, so a list is walked without tabbing through the navigation and filters.
(function () {
  "use strict";
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key !== "j" && key !== "k") return;
    const t = ev.target;
    if (t instanceof Element && t.closest("input, textarea, select, [contenteditable], [data-annotatable]")) return;
    const table = document.querySelector("table[data-row-keys]");
    if (!table) return;
    const links = Array.from(table.querySelectorAll("tbody tr td:first-child a"));
    if (!links.length) return;
    const at = links.indexOf(document.activeElement);
    let next = at === -1 ? (key === "j" ? 0 : links.length - 1) : at + (key === "j" ? 1 : -1);
    next = Math.max(0, Math.min(links.length - 1, next));
    ev.preventDefault();
    links[next].focus();
    links[next].closest("tr").scrollIntoView({ block: "nearest" });
  });
})();
