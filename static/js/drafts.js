// The drafts chat.js keeps for a tab (sessionStorage) are forgotten in every tab of the browser
// once the learner logs out or deletes their account, so what they typed is not left behind
// for whoever uses the browser next: the page those lead to says so (data-forget-everywhere,
// templates/base.html), and every other open page of Maraum hears it. A log-out used to
// forget only its own tab's (the last note). Not on any signed-out page: the log-in page a
// login that ended mid-typing leads to must not lose the draft the learner comes back to
// (the attacker's replay).
(function () {
  "use strict";
  var PREFIX = "maraum-draft ";

  function forgetHere() {
    try {
      Object.keys(sessionStorage).forEach(function (key) {
        if (key.indexOf(PREFIX) === 0) sessionStorage.removeItem(key);
      });
    } catch (error) { /* storage turned off: nothing was kept */ }
    // The chat page empties its boxes too (static/js/chat.js).
    document.dispatchEvent(new CustomEvent("maraum:drafts-forgotten"));
  }

  var everywhere = "BroadcastChannel" in window ? new BroadcastChannel("maraum-drafts") : null;
  var script = document.currentScript;
  if (everywhere) {
    everywhere.onmessage = function (event) {
      if (event.data === "forget") forgetHere();
      // Logged in again in another tab: a chat page this login's end closed connects again
      // (it said "You are logged out" until its link was followed: a newcomer's walk).
      if (event.data === "signed-in") document.dispatchEvent(new CustomEvent("maraum:signed-in"));
    };
  }
  if (script.hasAttribute("data-forget-everywhere")) {
    forgetHere();
    if (everywhere) everywhere.postMessage("forget");
  }
  if (script.hasAttribute("data-signed-in") && everywhere) everywhere.postMessage("signed-in");
})();
