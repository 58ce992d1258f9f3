// The drafts chat.js keeps for a tab (sessionStorage) are forgotten in every tab of the browser
// once the learner logs out or deletes their account, so what they typed is not left behind
// for whoever uses the browser next: the page those lead to says so (data-forget-everywhere,
// templates/base.html), and every other open page of Maraum hears it. A log-out used to
// forget only its own tab's (the last note). Not on any signed-out page: the log-in page a
// login that ended mid-typing leads to must not lose the draft the learner comes back to
// (the attacker's replay).
var Drafts = (function () {
  "use strict";
  var PREFIX = "maraum-draft ";

  // Why: "log-out" or "account-deleted" (it said "You logged out" of a deleted account: a
  // newcomer's walk).
  function forgetHere(why) {
    try {
      Object.keys(sessionStorage).forEach(function (key) {
        if (key.indexOf(PREFIX) === 0) sessionStorage.removeItem(key);
      });
    } catch (error) { /* storage turned off: nothing was kept */ }
    // The chat page empties its boxes too (static/js/chat.js).
    document.dispatchEvent(new CustomEvent("maraum:drafts-forgotten", {detail: {why: why}}));
  }

  // A tab that showed no Maraum page at the log-out (gone on to another site) heard nothing,
  // and kept its drafts until that account logged in there again (the last note): the
  // browser counts its log-outs, each draft carries the count it was written at, and one
  // from before the last log-out is forgotten as soon as the tab shows any page of Maraum.
  // A count, not a time: a clock set right meanwhile kept a draft, or lost one (the recheck).
  var LOG_OUTS = "maraum-log-outs";
  function logOuts() {
    try { return Number(localStorage.getItem(LOG_OUTS)) || 0; } catch (error) { return 0; }
  }
  function forgetThoseBeforeTheLastLogOut() {
    var count = logOuts();
    if (!count) return;
    try {
      Object.keys(sessionStorage).forEach(function (key) {
        if (key.indexOf(PREFIX) !== 0) return;
        var draft = null;
        try { draft = JSON.parse(sessionStorage.getItem(key)); } catch (error) { /* unreadable */ }
        if (!draft || !(draft.logOuts >= count)) sessionStorage.removeItem(key);
      });
    } catch (error) { /* storage turned off: nothing was kept */ }
  }
  forgetThoseBeforeTheLastLogOut();  // before the chat page's script offers them again

  var everywhere = "BroadcastChannel" in window ? new BroadcastChannel("maraum-drafts") : null;
  var script = document.currentScript;
  if (everywhere) {
    everywhere.onmessage = function (event) {
      if (String(event.data).indexOf("forget ") === 0) forgetHere(event.data.slice(7));
      // Logged in again in another tab: a chat page this login's end closed connects again
      // (it said "You are logged out" until its link was followed: a newcomer's walk).
      if (event.data === "signed-in") document.dispatchEvent(new CustomEvent("maraum:signed-in"));
    };
  }
  if (script.hasAttribute("data-forget-everywhere")) {
    var why = script.getAttribute("data-forget-everywhere") || "log-out";
    try { localStorage.setItem(LOG_OUTS, String(logOuts() + 1)); } catch (error) { /* off */ }
    forgetHere(why);
    if (everywhere) everywhere.postMessage("forget " + why);
  }
  if (script.hasAttribute("data-signed-in") && everywhere) everywhere.postMessage("signed-in");
  return {logOuts: logOuts};  // what the chat page's drafts carry (static/js/chat.js)
})();
