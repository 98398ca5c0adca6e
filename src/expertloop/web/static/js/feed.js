// The activity feed's "More activity": htmx swaps the link for the next items; focus moves to
// the first of them so that a keyboard user goes on reading where the list grew.
(function () {
  "use strict";
  let pending = null;
  document.addEventListener("htmx:beforeRequest", (ev) => {
    const more = ev.target.closest ? ev.target.closest("[data-feed-more]") : null;
    if (!more) return;
    const list = more.closest("ol.feed");
    pending = { list, count: list.querySelectorAll("[data-testid=feed-item]").length };
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!pending) return;
    const { list, count } = pending;
    pending = null;
    const first = list.querySelectorAll("[data-testid=feed-item]")[count];
    if (!first) return;
    first.tabIndex = -1;
    first.focus();
  });
})();
