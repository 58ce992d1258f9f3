// The keys 1 to 4 answer a review card (Again, Hard, Good, Easy), as in Anki, once its meaning
// is shown: each answer was one to four Tabs away (a newcomer's walk). Not while typing, nor
// with a modifier held (Ctrl+1 is the browser's).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    // Only these four: '"' made a selector that is none, a script error (the attacker's recheck).
    if (!/^[1-4]$/.test(event.key)) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var shown = document.querySelector(".review-back[open]");
    var answer = shown && shown.querySelector('[aria-keyshortcuts="' + event.key + '"]');
    if (!answer) return;
    event.preventDefault();
    answer.click();
  });
})();
