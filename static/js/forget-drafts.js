// The page a log-out (or an account's deletion) leads to forgets the drafts chat.js keeps for
// this tab, so what a learner typed is not left behind for whoever uses the browser next. Not
// any signed-out page: the log-in page a login that ended mid-typing leads to must not lose
// the draft the learner comes back to (the attacker's replay).
(function () {
  "use strict";
  try {
    Object.keys(sessionStorage).forEach(function (key) {
      if (key.indexOf("maraum-draft ") === 0) sessionStorage.removeItem(key);
    });
  } catch (error) { /* storage turned off: nothing was kept */ }
})();
