// A scene report still being written asks for itself (templates/chat/partials/report.html),
// also again after a check that failed. One that cannot come (its session gone, the login
// ended) stops and says why: it was asked for every 5 s for as long as the page stayed open
// (the recheck replays). The chat page asks again once its socket is back on a login
// (chat.js); a report that is gone is not asked for again.
(function () {
  "use strict";

  function stopAsking(report, why, text) {
    if (!report || report.id !== "report" || !report.hasAttribute("hx-get")) return;
    var said = document.createElement("div");
    said.id = "report";
    said.className = "report";
    said.dataset.stopped = why;
    said.setAttribute("role", "status");
    said.textContent = text;
    report.replaceWith(said);
  }

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 404) stopAsking(event.detail.elt, "gone", "This report is no longer available.");
  });
  // Elsewhere htmx follows the redirect to log in; the chat page stays (chat.js).
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var to = event.detail.xhr.getResponseHeader("HX-Redirect");
    if (to && to.indexOf("/login/") === 0) stopAsking(event.detail.elt, "login", "Log in again to see your report.");
  });
})();
