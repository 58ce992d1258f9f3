// A page shown to no one signed in forgets the drafts chat.js keeps for this tab, so what a
// learner typed is not left behind for whoever uses the browser after they log out.
(function () {
  "use strict";
  try {
    Object.keys(sessionStorage).forEach(function (key) {
      if (key.indexOf("maraum-draft ") === 0) sessionStorage.removeItem(key);
    });
  } catch (error) { /* storage turned off: nothing was kept */ }
})();
