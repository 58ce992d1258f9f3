// "Keep" on the chat page and the transcript: from the keyboard, the focus follows what a
// Keep answered ("Kept ✓", or the report drawn again after "Keep all"): it fell back to the
// page, and on the transcript it still did (the last note). A line's "Keep words" lists its
// words, to keep one without selecting it (a keyboard cannot: the last note), and closes the
// list again; the list takes the focus, or says why it could not be fetched.
(function () {
  "use strict";

  // Fetched when asked, by one listener: an htmx element more in each line slowed a long
  // chat's drawing.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-words]");
    if (!button || button.dataset.asking) return;  // a second press before the list came
    var list = button.nextElementSibling;
    if (button.getAttribute("aria-expanded") === "true") {
      button.setAttribute("aria-expanded", "false");
      list.replaceChildren();
      return;
    }
    button.dataset.asking = "yes";
    function answered() { delete button.dataset.asking; }
    // A failure is said beside the line (below): not an uncaught rejection as well.
    htmx.ajax("GET", button.dataset.words, {source: button, target: list, swap: "innerHTML"})
      .then(answered, answered);
  });

  function focusOn(element) {
    if (!element) return;
    if (!element.matches("button, a[href], input, select, textarea")) element.setAttribute("tabindex", "-1");
    element.focus();
  }

  var keptFrom = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    // The event is the target's: "Keep all" targets the report, not its own form.
    var asking = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    var form = asking && asking.closest && asking.closest(".keep-form");
    // (Not one the chat page draws itself: a line kept whole. Left set, the next swap took
    // the focus there.)
    keptFrom = form && event.detail.shouldSwap && form.contains(document.activeElement)
      ? {parent: form.parentNode, after: form.previousElementSibling} : null;
  });
  // Once settled: htmx readies the list's forms then, and an Enter on a word before that sent
  // its form as the browser does (CI's replay).
  document.addEventListener("htmx:afterSettle", function (event) {
    var list = event.detail.target;
    if (!list.classList || !list.classList.contains("line-words")) return;
    list.previousElementSibling.setAttribute("aria-expanded", "true");
    focusOn(list.querySelector(".keep-form button") || list.querySelector(".kept, p"));
    list.scrollIntoView({block: "nearest"});
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!keptFrom) return;
    var parent = keptFrom.parent, after = keptFrom.after;
    keptFrom = null;
    // In a list of words, the one that took the Keep's place, not the first kept there.
    var placed = after && after.parentNode === parent ? after.nextElementSibling : parent.firstElementChild;
    focusOn(!parent.isConnected ? document.getElementById("report-title")
      : placed && placed.matches(".kept") ? placed : parent.querySelector(".kept"));
  });

  // On the transcript, which no socket tells, a word kept in one list is marked in the others
  // open (they offered it still: the last note). The chat page's own script marks its copies,
  // in every tab. The deck holds a word once whatever its case.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (document.getElementById("chat") || event.detail.xhr.status !== 200) return;
    var form = event.detail.elt.closest && event.detail.elt.closest(".keep-form[data-phrase]");
    var field = form && form.querySelector('input[name="german"]');
    if (!field) return;
    document.querySelectorAll(".keep-phrases .keep-form[data-phrase]").forEach(function (copy) {
      var german = copy.querySelector('input[name="german"]');
      if (copy === form || !german || german.value.toLowerCase() !== field.value.toLowerCase()) return;
      var quoted = document.createElement("span"), kept = document.createElement("span");
      quoted.lang = "de";
      quoted.textContent = german.value;
      kept.className = "kept";
      kept.replaceChildren("\u201e", quoted, "\u201c in your deck \u2713");
      copy.replaceWith(kept);
    });
  });

  ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = event.detail.elt;
      var list = elt.matches && elt.matches("button[data-words]") ? elt.nextElementSibling : null;
      if (!list || !list.classList || !list.classList.contains("line-words")) return;
      var gone = name === "htmx:responseError" && event.detail.xhr.status === 404;
      var note = document.createElement("span");  // a new alert is read, the same words too
      note.className = "keep-error";
      note.setAttribute("role", "alert");
      note.textContent = gone ? "This conversation is no longer available."
        : "Its words could not be fetched just now. Try again in a moment.";
      list.querySelectorAll(":scope > .keep-error").forEach(function (old) { old.remove(); });
      list.append(note);
      note.scrollIntoView({block: "nearest"});
    });
  });
})();
