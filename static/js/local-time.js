// Shows <time data-local-time datetime="..."> in the learner's own time zone, in English like
// the sentence around it (a German browser must not put "Montag, 23. November" in it). The
// server's UTC text stays as the fallback when scripts do not run.
(function () {
  "use strict";
  var formatter = new Intl.DateTimeFormat("en-GB", {
    weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short",
  });
  // The zone by the name its people know, where English has one: each English names only its
  // own country's zones (British English Europe's, "CET"; it said "GMT-5" in New York, and
  // American English "GMT+5:30" in India), so the learner's own English is asked first, then
  // each of the others, before falling back on the offset.
  var ENGLISHES = ["en-GB", "en-US", "en-IN", "en-AU", "en-CA", "en-NZ", "en-ZA", "en-IE",
    "en-SG", "en-HK"];
  var namers = navigator.languages.filter(function (language) {
    return /^en\b/i.test(language);
  }).concat(ENGLISHES).map(function (language) {
    try {
      return new Intl.DateTimeFormat(language, { timeZoneName: "short" });
    } catch (error) {  // a language tag this browser does not know
      return null;
    }
  }).filter(Boolean);

  function zoneName(moment) {
    for (var index = 0; index < namers.length; index++) {
      var part = namers[index].formatToParts(moment).find(function (part) {
        return part.type === "timeZoneName";
      });
      if (part && !/^(GMT|UTC)[+\-\u2212]/.test(part.value)) {
        return part.value;
      }
    }
    return null;
  }

  function format(moment) {
    var name = zoneName(moment);
    return formatter.formatToParts(moment).map(function (part) {
      return part.type === "timeZoneName" && name ? name : part.value;
    }).join("");
  }

  function localise(root) {
    root.querySelectorAll("time[data-local-time]:not([title])").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        element.title = element.textContent.trim();
        element.textContent = format(moment);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
  // A chat's frames are swapped in by the websocket extension, which settles no event.
  document.addEventListener("htmx:wsAfterMessage", function () { localise(document); });
})();
