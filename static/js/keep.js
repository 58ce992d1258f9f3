// Keeping words in the deck, on the chat page and the transcript alike (the transcript kept a
// line whole with words selected in it: a newcomer's walk): a line's Keep keeps the words
// selected in it and says so; a helper answer's offers the German it quotes; a line's "Keep
// words" lists its words, to keep one without selecting it (a keyboard cannot), and closes
// the list again. What is kept is marked wherever the page offers it; the focus follows what
// a Keep answered; a refusal is said beside it. The chat page's script also marks what
// other tabs keep (`Keep.markKept`, from its socket) and says things with `Keep.say`.
var Keep = (function () {
  "use strict";

  // A live region is read when its words change: the same words again (a second "Show" of
  // 100, the same refusal twice) went unread. The region is emptied, then they come back,
  // unless something else was said there meanwhile: the server's frames write to the same
  // regions (a reply's announcement, a refusal), and were overwritten (the attacker's replay).
  function say(box, text) {
    if (!box) return;
    clearTimeout(box.sayAgain);
    if (!text || box.textContent !== text) {
      box.textContent = text;
      return;
    }
    var pause = document.createElement("span");
    box.replaceChildren(pause);
    box.sayAgain = setTimeout(function () {
      if (box.childNodes.length === 1 && box.firstChild === pause) box.textContent = text;
    }, 100);
  }

  // A line or word in the deck: its copies on the page (in the role-play or the report's
  // words, kept here or in another tab) are drawn as kept. Only the very same words: the deck
  // compares case as PostgreSQL does, not as this. A "Keep" still on its way draws its own
  // answer ("Kept").
  function markKept(line) {
    var copies = "#main-messages .keep-form, .report-words .keep-form, .keep-phrases .keep-form";
    document.querySelectorAll(copies).forEach(function (copy) {
      var german = copy.querySelector('input[name="german"]');
      // The deck holds a word once whatever its case ("BREZELN" was offered still), and a
      // noun with its article or without.
      if (copy.hasAttribute("data-typed")) return;  // what the learner types, not a copy
      if (!german || !sameWord(german.value, line, lineOf(copy))) return;
      if (copy.classList.contains("htmx-request")) return;
      if (copy.hasAttribute("data-words-only")) return;  // marked already
      var kept = document.createElement("span");
      kept.className = "kept";
      kept.textContent = "In your deck\u00a0✓";  // the ✓ never wraps alone
      if (copy.hasAttribute("data-phrase")) {  // one of an answer's phrases or a line's words
        var quoted = document.createElement("span");
        quoted.lang = "de";
        quoted.textContent = german.value;
        kept.replaceChildren("„", quoted, "“ in your deck\u00a0✓");
      } else if (copy.closest("#main-messages")) {
        keepForWordsOnly(copy, kept);
        return;
      }
      var focused = copy.contains(document.activeElement);
      copy.replaceWith(kept);
      if (focused) takeFocus(kept);
    });
    dropKeepAllIfDone();
  }

  // As learning/deck.py compares them (noun_of, word_forms): "das Hähnchen" and "Hähnchen" are
  // one card; "der See" and "die See" are two, and "Das stimmt" is not "stimmt", nor "der
  // Morgen" "morgen" (the attacker's recheck).
  function sameWord(one, other, oneFrom) {
    if (one.toLowerCase() === other.toLowerCase()) return true;
    var nounOfOne = nounOf(one, oneFrom), nounOfOther = nounOf(other, "");
    if (!nounOfOne || !nounOfOther) return false;
    if (nounOfOne !== one && nounOfOther !== other) return false;  // both with an article
    return nounOfOne.toLowerCase() === nounOfOther.toLowerCase();
  }
  function nounOf(word, line) {
    var parts = word.split(" "), alone = parts.length === 1;
    if (parts.length === 2 && /^(der|die|das)$/i.test(parts[0])) parts = parts.slice(1);
    // Unicode's Uppercase, as Python's isupper() (a first letter beyond the first 65,536 or a
    // titlecase one was judged otherwise: the attacker's second recheck).
    if (parts.length !== 1 || !/^\p{Uppercase}/u.test(parts[0])) return null;
    return alone && onlyOpensSentences(word, line) ? null : parts[0];
  }
  // As learning/deck.py's _only_opens_sentences: "Morgen" in "Morgen habe ich frei." is no
  // noun; a line's list marked it as "der Morgen" kept, which the server did not.
  function onlyOpensSentences(word, line) {
    if (!line) return false;
    var escaped = word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    var found = Array.from(line.matchAll(new RegExp("(?<![\\p{L}\\p{N}_])" + escaped + "(?![\\p{L}\\p{N}_])", "gu")));
    return found.length > 0 && found.every(function (match) {
      return OPENS.test(line.slice(0, match.index));
    });
  }
  var OPENS = /(?:^|[.!?\u2026:]\s)[\s"'\u201e\u201c\u201a\u2018\u00bb\u00ab(\u2013\u2014-]*$/;
  // The line a copy of a word belongs to, if it is one of a line's words.
  function lineOf(copy) {
    var list = copy.closest(".line-words, .keep-words");
    var text = list && list.closest(".msg") && list.closest(".msg").querySelector(".msg-text");
    return text ? shownText(rangeOver(text)) : "";
  }
  function rangeOver(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    return range;
  }

  // A role-play line in the deck keeps its Keep, shown while words are selected in it, for
  // them: a line kept whole had none, and its words could not be kept (the last note). From
  // the keyboard, its "Keep words" lists them (keep.js).
  function keepForWordsOnly(form, kept) {
    var focused = form.contains(document.activeElement);
    form.before(kept);
    form.setAttribute("data-words-only", "");
    form.querySelector("button").hidden = true;
    if (focused) takeFocus(kept);
    document.dispatchEvent(new Event("selectionchange"));  // shown if words are selected
  }

  // What took a focused Keep's place takes the focus: it fell to the page (the recheck replay).
  function takeFocus(kept) {
    kept.setAttribute("tabindex", "-1");
    kept.focus({preventScroll: true});
  }

  // Every word of the report kept (here or in another tab): its "Keep all" goes too.
  // Some kept: it says how many it has left to keep (it said "all 5" still: a newcomer's walk),
  // as the server draws it.
  function dropKeepAllIfDone() {
    var words = document.querySelector(".report-words"), all = document.querySelector("#report > .keep-form");
    if (!words || !all || all.classList.contains("htmx-request")) return;
    var forms = words.querySelectorAll(".keep-form"), left = forms.length;
    if (!left) {
      all.remove();
    } else if (left < words.querySelectorAll("li").length) {
      // Named as the server names them (chat_tags.words_or_phrases): it said "words" of
      // phrases left (a newcomer's recheck).
      var phrases = Array.prototype.filter.call(forms, function (form) { return form.closest("li[data-phrase]"); }).length;
      var name = phrases && phrases < left ? "words and phrases" : (phrases ? "phrase" : "word") + (left === 1 ? "" : "s");
      all.querySelector("button").textContent = "Keep the other " + (left === 1 ? "" : left + " ") + name;
    }
  }

  // A Keep refused (too many at once, a full deck) or failed says so beside its button, which
  // stays; it said nothing (htmx swaps no error response).
  function showKeepError(form, xhr) {
    // Typed words refused: what the box kept before is not what it holds now.
    if (form.hasAttribute("data-typed")) form.querySelectorAll(".kept-words").forEach(function (said) { said.remove(); });
    var said = xhr && [400, 410, 429].indexOf(xhr.status) >= 0 && xhr.responseText;
    showKeepNote(form, said && said.length < 300 ? said
      : xhr && xhr.status === 403 ? STALE_PAGE
      : "That could not be kept just now. Try again in a moment.");
  }
  // A 403 from a form: the page's CSRF token went with a log-in in another tab, and no
  // retry can succeed (the recheck replay).
  var STALE_PAGE = "This page is out of date: reload it, then try again.";
  function showKeepNote(form, text) {
    var note = form.querySelector(".keep-error") || document.createElement("span");
    note.className = "keep-error";
    note.setAttribute("role", "alert");
    form.append(note);
    say(note, text);
    // Typed words refused: their box says so when the focus comes back to it (a newcomer's walk).
    var typed = form.hasAttribute("data-typed") && form.querySelector('input[name="german"]');
    if (typed) {
      note.id = typed.id + "-error";
      typed.setAttribute("aria-invalid", "true");
      typed.setAttribute("aria-describedby", note.id);
    }
    // A line at the bottom of its chat had the note below the fold (the newcomer's walk).
    note.scrollIntoView({block: "nearest"});
  }

  // The words of a line's text that are selected, without its hidden speaker label: a
  // selection reaching into the next message kept button labels and another line (the
  // attacker's replay). What is selected beyond the text is left out, so a triple-click
  // (which ends past it) keeps the whole line. A word selected in part is taken whole: a
  // drag ending inside "mich" kept "Freut m" (a newcomer's walk).
  function selectedIn(text) {
    var selection = window.getSelection();
    if (!text || !selection || !selection.rangeCount) return "";
    var part = selection.getRangeAt(0).cloneRange();
    if (!part.intersectsNode(text)) return "";
    var whole = document.createRange();
    whole.selectNodeContents(text);
    if (part.compareBoundaryPoints(Range.START_TO_START, whole) < 0) {
      part.setStart(whole.startContainer, whole.startOffset);
    }
    if (part.compareBoundaryPoints(Range.END_TO_END, whole) > 0) {
      part.setEnd(whole.endContainer, whole.endOffset);
    }
    if (part.collapsed) return "";
    var line = shownText(whole), before = whole.cloneRange();
    before.setEnd(part.startContainer, part.startOffset);
    var start = shownText(before).length, end = start + shownText(part).length;
    while (inAWord(line, start - 1) && inAWord(line, start)) start--;
    while (inAWord(line, end - 1) && inAWord(line, end)) end++;
    // Not the marks around words: a drag to the comma kept "Hähnchen," and a selection in
    // ‘Brötchen’ its closing quote (the attacker's recheck); a word alone, not its period.
    var words = line.slice(start, end).replace(EDGES, "");
    return /\s/.test(words) ? words : words.replace(/[.!?\u2026]+$/, "");
  }
  var EDGES = /^[\s,;:.\u2013\u2014\-'"\u2019\u2018\u201a\u201c\u201d\u201e\u00bb\u00ab]+|[\s,;:\u2013\u2014\-'"\u2019\u2018\u201a\u201c\u201d\u201e\u00bb\u00ab]+$/gu;
  // Whether the character at `at` of `line` is part of a word, as the server's words are
  // (learning/deck.py: _LETTERS, WORD): a letter, mark or digit (one beyond the first
  // 65,536 too: it is two of a string's units), or an apostrophe, a hyphen or a joiner
  // between two of them ("darf's", "E\u2011Mail").
  function inAWord(line, at) {
    if (isLetter(codePointAround(line, at))) return true;
    return JOINERS.test(line.charAt(at)) &&
      isLetter(codePointAround(line, at - 1)) && isLetter(codePointAround(line, at + 1));
  }
  var JOINERS = /['\u2019\u00b4\u00ad\u2010\u2011\u200c\u200d-]/;
  function isLetter(char) { return char !== "" && /^[\p{L}\p{M}\p{N}]$/u.test(char); }
  function codePointAround(line, at) {
    if (at < 0 || at >= line.length) return "";
    var unit = line.charCodeAt(at);
    if (unit >= 0xdc00 && unit <= 0xdfff && at > 0) return line.slice(at - 1, at + 1);
    if (unit >= 0xd800 && unit <= 0xdbff) return line.slice(at, at + 2);
    return line.charAt(at);
  }
  function shownText(range) {
    var copy = range.cloneContents();
    copy.querySelectorAll(".visually-hidden").forEach(function (label) { label.remove(); });
    return copy.textContent;
  }

  // A role-play line with words selected in it keeps those words, and its button says so:
  // its name quoted the whole line (the last note's left item). Cut as the server cuts a
  // line's quote (as_button_quote).
  var namedForWords = new Map();  // a Keep button naming a selection -> its own markup
  function quoteOf(words) {
    var chars = Array.from(words.split(/\s+/).join(" "));
    if (chars.length <= 50) return chars.join("");
    var cut = chars.slice(0, 49).join(""), space = cut.lastIndexOf(" ");
    return (space > 0 ? cut.slice(0, space) : cut).replace(/[ ,;:–-]+$/, "") + "…";
  }
  document.addEventListener("selectionchange", function (event) {
    if (event.target !== document) return;  // a caret moving in a text box
    // A helper answer's too: it reads "Keep a phrase" while nothing is selected in it, if it
    // quotes any (its phrases were hidden behind a "Keep selection": a newcomer's walk).
    var lines = "#main-messages .keep-form:not([data-needs-selection]):not([data-phrase]), .keep-form[data-needs-selection]";
    document.querySelectorAll(lines).forEach(function (form) {
      var button = form.querySelector("button"), message = form.closest(".msg");
      var words = selectedIn(message && message.querySelector(".msg-text"));
      var wordsOnly = form.hasAttribute("data-words-only");  // the line is in the deck
      // "Keep a phrase" opens and closes its list, which a screen reader is told; "Keep
      // selection" keeps (a newcomer's walk).
      var phrases = form.hasAttribute("data-needs-selection") && message.querySelector(".keep-phrases");
      if (!words) {
        if (namedForWords.has(button)) button.innerHTML = namedForWords.get(button);
        namedForWords.delete(button);
        if (wordsOnly && !form.classList.contains("htmx-request")) button.hidden = true;
        if (phrases) button.setAttribute("aria-expanded", phrases.hidden ? "false" : "true");
        return;
      }
      button.removeAttribute("aria-expanded");
      button.hidden = false;
      if (!namedForWords.has(button)) namedForWords.set(button, button.innerHTML);
      var hidden = document.createElement("span"), german = document.createElement("span");
      hidden.className = "visually-hidden";
      german.lang = "de";
      german.textContent = quoteOf(words);
      hidden.append(" “", german, "” in your deck");
      button.replaceChildren("Keep selection", hidden);
    });
    namedForWords.forEach(function (markup, button) {
      if (!button.isConnected) namedForWords.delete(button);
    });
  });

  // "Keep" on a line saves it to the deck: the words selected in it if any (a helper answer
  // needs a selection: it is English around the German), with the line as its example.
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest(".keep-form");
    if (!form) return;
    var message = form.closest(".msg");
    var phrase = form.hasAttribute("data-phrase");  // one of a helper answer's quotations
    var selection = phrase ? "" : selectedIn(message && message.querySelector(".msg-text"));
    var inside = Boolean(selection);
    if (inside) event.detail.parameters.german = Array.from(selection).slice(0, 300).join("");
    if (!inside && form.hasAttribute("data-words-only")) {  // the selection went meanwhile
      event.preventDefault();
      showKeepNote(form, "The line is in your deck: select words in it, or Keep words.");
      return;
    }
    if (!inside && form.hasAttribute("data-needs-selection")) {
      event.preventDefault();
      // Nothing selected (from the keyboard, say): the German the answer quotes, to keep
      // one of (a newcomer's walk: without a mouse nothing could be kept from an answer).
      var phrases = message.querySelector(".keep-phrases");
      // What a selection's Keep said before is not about the list: a refusal stayed above the
      // list it sent the learner to (a newcomer's walk).
      if (phrases) {
        form.querySelectorAll(".keep-error, .kept-words").forEach(function (said) { said.remove(); });
      }
      if (phrases && !phrases.hidden) {  // pressed again: closed (it could not be)
        phrases.hidden = true;
        form.querySelector("button").setAttribute("aria-expanded", "false");
      } else if (phrases) {  // those in the deck already say so
        phrases.hidden = false;
        form.querySelector("button").setAttribute("aria-expanded", "true");
        var first = phrases.querySelector(".keep-form button");
        if (first) first.focus();
        else takeFocus(phrases.querySelector(".kept"));
        phrases.scrollIntoView({block: "nearest"});
      } else {
        showKeepNote(form, "Select German words in this answer first, then Keep selection.");
      }
      return;
    }
    var chat = document.getElementById("chat");  // (lines the socket draws name no scene)
    if (chat) event.detail.parameters.scenario = chat.dataset.scenario || "";
    // Words of a line kept: the answer names them ("Kept „Brötchen“"), where "Kept ✓" said
    // nothing of what went into the deck (a newcomer's recheck); a listed phrase or word
    // asks for it itself.
    if (inside) event.detail.parameters.name_it = "1";
    // Every word it asks for ("Keep all" marked its first only: the attacker's recheck).
    form.dataset.keptLines = JSON.stringify(inside ? [] : [].concat(event.detail.parameters.german || []));
    // Words typed under a line's list are said beside their box, which stays for more.
    form.dataset.keptWords = inside || form.hasAttribute("data-typed") ? "yes" : "";
  });

  // A whole line kept here: its copies on the page are marked at once (the server tells
  // every tab of the learner too, markKept above, this one when the socket is up). Words
  // selected in a line leave its Keep in place, beside what it kept, for more of its
  // words: it became "Kept ✓", and a second word needed a reload (a newcomer's recheck).
  document.addEventListener("htmx:beforeSwap", function (event) {
    // The event is the target's: "Keep all" targets the report, not its own form.
    var asking = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    var form = asking && asking.closest && asking.closest(".keep-form");
    if (!form || event.detail.xhr.status !== 200) return;
    // Kept: a refusal said before beside the message goes (it stayed beside "Kept": a
    // newcomer's recheck).
    (form.closest(".msg") || form).querySelectorAll(".keep-error").forEach(function (note) {
      note.remove();
    });
    if (form.dataset.keptWords === "yes") {
      event.detail.shouldSwap = false;
      var answer = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
      var said = form.querySelector(".kept-words") || document.createElement("span");
      said.className = "kept kept-words";
      said.setAttribute("role", "status");
      form.append(said);
      say(said, answer.body.textContent.trim());
      // Its copies on the page too (a phrase an answer's open list offered still, on the
      // transcript, which no socket tells: the attacker's recheck), as the server names it.
      var named = /„([\s\S]*)“/.exec(answer.body.textContent);
      if (named) markKept(named[1]);
      var typed = form.hasAttribute("data-typed") && form.querySelector('input[name="german"]');
      if (typed) {
        typed.value = "";
        typed.removeAttribute("aria-invalid");
        typed.removeAttribute("aria-describedby");
      }
      return;
    }
    var asked = JSON.parse(form.dataset.keptLines || "[]");
    if (!asked.length) return;
    asked.forEach(markKept);
    if (form.closest("#main-messages") && !form.hasAttribute("data-phrase")) {
      event.detail.shouldSwap = false;
      var kept = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
      keepForWordsOnly(form, kept.body.firstElementChild);
    }
  });

  // Typed words changed after a refusal: it is no longer about them (it stayed, and the box
  // said it was invalid, until the next Keep: the attacker's recheck).
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest(".keep-form[data-typed]");
    if (!form || !event.target.hasAttribute("aria-invalid")) return;
    event.target.removeAttribute("aria-invalid");
    event.target.removeAttribute("aria-describedby");
    form.querySelectorAll(".keep-error").forEach(function (note) { note.remove(); });
  });

  // The last word's own Keep was on its way as the others were marked.
  document.addEventListener("htmx:afterSwap", dropKeepAllIfDone);

  ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var form = event.detail.elt.closest && event.detail.elt.closest(".keep-form");
      if (form) showKeepError(form, name === "htmx:responseError" ? event.detail.xhr : null);
    });
  });


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

  // Escape closes the list the focus is in, and hands the focus to what opened it (it
  // closed nothing: a newcomer's walk).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var words = event.target.closest(".line-words");
    var phrases = !words && event.target.closest(".keep-phrases");
    if (words && words.previousElementSibling.matches("button[data-words]")) {
      var opener = words.previousElementSibling;
      opener.setAttribute("aria-expanded", "false");
      words.replaceChildren();
      opener.focus();
    } else if (phrases) {
      phrases.hidden = true;
      var keep = phrases.closest(".msg").querySelector(".keep-form[data-needs-selection] button");
      if (keep) {
        keep.setAttribute("aria-expanded", "false");
        keep.focus();
      }
    }
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

  return {say: say, markKept: markKept, showKeepNote: showKeepNote};
})();
