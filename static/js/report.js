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

  // What comes into the report while the page is open is said: the "being written" status
  // was replaced by a section no screen reader announced, and "Keep all" said nothing (a
  // newcomer's walk). The region is on the page before the words change, as a live region
  // must be to be read.
  var said = null, saying = null;
  function say(text) {
    if (!said) return;
    said.textContent = "";
    clearTimeout(saying);
    saying = setTimeout(function () { said.textContent = text; }, 50);
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("chat") && !document.getElementById("report")) return;
    said = document.createElement("p");
    said.id = "report-said";
    said.className = "visually-hidden";
    said.setAttribute("role", "status");
    document.body.append(said);
  });
  var coming = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    if (!elt || !event.detail.shouldSwap || event.detail.xhr.status !== 200) return;
    if (elt.id === "report" && elt.classList.contains("report-pending")) coming = "report";
    else if (elt.matches && elt.matches("#report > .keep-form")) coming = "all";
  });
  document.addEventListener("htmx:afterSettle", function () {
    var report = document.getElementById("report"), what = coming;
    coming = null;
    if (!what || !report || report.classList.contains("report-pending")) return;
    if (what === "report") {
      say(report.dataset.stopped ? "" : report.matches("section") ? "Your report is ready, below."
        : report.textContent.trim());
    } else {
      var words = report.querySelectorAll(".report-words li").length;
      say("All " + words + " words of the report are in your deck.");
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 404) stopAsking(event.detail.elt, "gone", "This report is no longer available.");
  });
  // Elsewhere htmx follows the redirect to log in; the chat page stays (chat.js).
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var to = event.detail.xhr.getResponseHeader("HX-Redirect");
    if (to && to.indexOf("/login/") === 0) stopAsking(event.detail.elt, "login", "Log in again to see your report.");
  });
})();
