// Shows <time data-local-time datetime="..."> in the learner's own time zone, in English like
// the sentence around it (a German browser must not put "Montag, 23. November" in it). The
// server's UTC text stays as the fallback when scripts do not run.
(function () {
  "use strict";
  function localise(root) {
    var formatter = new Intl.DateTimeFormat("en-GB", {
      weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short",
    });
    root.querySelectorAll("time[data-local-time]:not([title])").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        element.title = element.textContent.trim();
        element.textContent = formatter.format(moment);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
  // A chat's frames are swapped in by the websocket extension, which settles no event.
  document.addEventListener("htmx:wsAfterMessage", function () { localise(document); });
})();
