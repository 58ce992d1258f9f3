// A page that opens with a message (after a redirect: "That conversation has been ended and
// deleted.") gives it the focus, unless the page put the focus somewhere itself: a message
// already on the page when it loads is not read out by a screen reader (a newcomer's walk).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector(".flash-list");
    if (list && (document.activeElement === document.body || !document.activeElement)) {
      list.focus();
    }
  });
})();
