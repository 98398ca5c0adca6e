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
