// The chat page: sending with Enter, one id per message (so a resend is stored once), clearing
// the box once the server has the message, streamed text by offsets, the connection state,
// the length limit, and the tabs on narrow screens. No inline script.
(function () {
  "use strict";

  var page, connection;
  // Keeping words, shared with the transcript (keep.js, loaded first).
  var say = Keep.say, markKept = Keep.markKept, showKeepNote = Keep.showKeepNote;

  function newId() {
    return self.crypto && crypto.randomUUID ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
          return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
        });
  }

  function idField(form) { return form.querySelector("input[name=client_message_id]"); }
  function chatOf(form) { return form.querySelector("input[name=chat]").value; }
  function state() { return page ? page.dataset.connection : ""; }

  function prepare(form) {
    var field = idField(form);
    if (field && !field.value) field.value = newId();
  }

  // What is in a box, with the id it goes out under, is kept for this tab until the server
  // has it: a reload (which a lost connection invites) emptied the box (a newcomer's walk).
  // Under its id, a message stored meanwhile is known as sent when the page syncs.
  function draftKey(form) { return "maraum-draft " + location.pathname + " " + chatOf(form); }
  function keepDraft(form) {
    var box = form.querySelector("textarea");
    try {
      if (box.value.trim()) {
        sessionStorage.setItem(draftKey(form), JSON.stringify({text: box.value, id: idField(form).value, logOuts: typeof Drafts === "object" ? Drafts.logOuts() : 0}));
      } else {
        sessionStorage.removeItem(draftKey(form));
      }
    } catch (error) { /* storage off or full: the box still holds it */ }
  }
  var AN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  function restoreDraft(form) {
    var box = form.querySelector("textarea"), draft = null;
    try { draft = JSON.parse(sessionStorage.getItem(draftKey(form)) || "null"); } catch (error) { return; }
    if (!draft || typeof draft.text !== "string" || box.value) return;
    var id = typeof draft.id === "string" && AN_ID.test(draft.id) ? draft.id : null;
    if (id && document.querySelector('[data-client-id="' + id + '"]')) {  // stored: sent
      keepDraft(form);
      return;
    }
    box.value = draft.text;
    if (!id) return;
    // Under its id, as sent: stored meanwhile, the sync empties the box, but only of these
    // words; changed, they go out under an id of their own (they were emptied away, or
    // refused as "already sent with other words": the attacker's recheck).
    idField(form).value = id;
    form.dataset.sentText = draft.text;
  }

  var CLEARED = {
    "log-out": {
      first: "You logged out in another tab: what you had typed here was cleared, so the next person at this browser cannot read it.",
      too: "You logged out in another tab: this box was cleared too.",
    },
    "account-deleted": {
      first: "Your account was deleted in another tab: what you had typed here was cleared with it.",
      too: "Your account was deleted in another tab: this box was cleared too.",
    },
  };
  function showError(chat, text) {
    say(document.getElementById(chat + "-error"), text);
  }

  // "Wait for the reply" holds while the chat is busy, and goes once it is free again: once
  // its send button was seen disabled since the note came and is enabled now. Another
  // process's frames (the other tab's message, its reply on its way) may come after the
  // note: it was wiped before it was seen (the attacker's replay). A note whose reply was
  // over before this tab drew the chat busy goes after WAIT_NOTE_ALONE.
  var WAIT_NOTE_ALONE = 3000;
  function showWait(chat) {
    var box = document.getElementById(chat + "-error"), note = document.createElement("span");
    note.dataset.untilReply = "";
    note.dataset.sawBusy = "";  // said because the chat is busy: it goes once it is free
    note.textContent = "Wait for the reply before sending the next message.";
    if (!box) return;
    clearTimeout(box.sayAgain);
    box.replaceChildren(note);
  }
  function clearWaits() {
    document.querySelectorAll("form.compose").forEach(function (form) {
      var send = form.querySelector("button[type=submit]");
      var box = document.getElementById(chatOf(form) + "-error");
      var note = box && box.querySelector("[data-until-reply]");
      if (!send || !note) return;
      if (!note.dataset.since) {
        note.dataset.since = String(Date.now());
        setTimeout(clearWaits, WAIT_NOTE_ALONE + 50);
      }
      if (send.disabled) {
        note.dataset.sawBusy = "";
      } else if (note.dataset.sawBusy !== undefined || Date.now() - Number(note.dataset.since) >= WAIT_NOTE_ALONE) {
        say(box, "");
      }
    });
  }

  function setConnection(name, text, link) {
    page.dataset.connection = name;
    var label = connection.querySelector(".connection-text");
    label.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      label.append(" ", a);
    }
  }

  // A conversation deleted elsewhere has nothing left to end: its "End and delete…" stayed.
  function endGone() {
    document.querySelectorAll(".chat-end").forEach(function (link) { link.hidden = true; });
  }

  // The account was deleted (in another tab): said for good. A Keep pressed afterwards was
  // answered "log in", and the page said "You are logged out. Log in again to go on with
  // this scene", of an account there is no more (a newcomer's walk); its buttons are off.
  var accountGone = false;
  var loggedOut = null;  // the socket a login's end closed, to open again at the next login
  var otherAccount = false;  // ...closed for another account than the page's (4409)
  function showAccountGone() {
    accountGone = true;
    setConnection("closed", "Your account has been deleted, and this conversation with it.", {href: "/", text: "Maraum's home page"});
    endGone();
    // All but the pane tabs and the boxes', which say that nothing can be sent any more;
    // nor the week's scenes left of an account there is no more.
    page.querySelectorAll("button").forEach(function (button) {
      if (!button.closest(".chat-tabs, form.compose")) button.disabled = true;
    });
    page.querySelectorAll(".scenes-left").forEach(function (left) { left.hidden = true; });
    // Nor the account's links: "Log out" said "You are logged out. Bis bald!" (the recheck).
    showAccountLinks(false);
    showLogIn(false);
  }
  function showAccountLinks(shown) {
    document.querySelectorAll(".site-header .nav-list > li").forEach(function (item) { item.hidden = !shown; });
  }
  // Logged out, the header had nothing on its right (the recheck): a "Log in", back here.
  function showLogIn(shown) {
    var list = document.querySelector(".site-header .nav-list");
    var item = list && list.querySelector("li[data-log-in]");
    if (!shown) {
      if (item) item.remove();
      return;
    }
    if (!list || item) return;
    item = document.createElement("li");
    item.dataset.logIn = "";
    var link = document.createElement("a");
    link.href = "/login/?next=" + encodeURIComponent(location.pathname);
    link.textContent = "Log in";
    item.append(link);
    list.append(item);
  }

  // Logged out, the header's links (Practise … Log out) were those of a login there is no
  // more (a newcomer's walk); they come back with a login in another tab.
  function showLoggedOut() {
    if (accountGone) return showAccountGone();
    setConnection("closed", "You are logged out.", {
      href: "/login/?next=" + encodeURIComponent(location.pathname),
      text: "Log in again to go on with this scene.",
    });
    showAccountLinks(false);
    showLogIn(true);
  }

  // Keep a chat scrolled to its newest message, unless the learner scrolled up to read.
  function atBottom(scroller) {
    return !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  }
  function follow(scroller, wasAtBottom) {
    if (scroller && wasAtBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  // A streamed delta: {"reply": id, "at": offset, "text": "..."}. The bubble knows how much
  // text it holds (data-end, in characters); only what lies beyond it is appended, so a
  // bubble drawn mid-stream never shows a word twice.
  function applyDelta(delta) {
    var text = document.getElementById("reply-" + delta.reply + "-text");
    if (!text) return;
    var have = parseInt(text.dataset.end || "0", 10);
    var chars = Array.from(delta.text);
    var end = delta.at + chars.length;
    if (end <= have || delta.at > have) return;
    var scroller = text.closest(".messages");
    var wasAtBottom = atBottom(scroller);
    text.appendChild(document.createTextNode(chars.slice(have - delta.at).join("")));
    text.dataset.end = String(end);
    follow(scroller, wasAtBottom);
  }

  // On narrow screens the other chat's tab says "new" when something arrives there.
  function markUnread(element) {
    var pane = element.closest(".chat-pane");
    if (!pane || !pane.hasAttribute("data-hidden-narrow")) return;
    var tab = document.querySelector('.chat-tabs button[aria-controls="' + pane.id + '"]');
    var dot = tab && tab.querySelector(".unread");
    if (dot && getComputedStyle(tab.parentNode).display !== "none") dot.hidden = false;
  }

  // The length limit, counted as the server counts it (characters, trimmed). Nothing is cut:
  // an over-long message stays in the box with a note.
  function tooLong(form) {
    var max = parseInt(form.dataset.maxLength, 10);
    var length = Array.from(form.querySelector("textarea").value.trim()).length;
    return length > max ? length : 0;
  }
  function updateCounter(form) {
    var max = parseInt(form.dataset.maxLength, 10);
    var length = Array.from(form.querySelector("textarea").value.trim()).length;
    var counter = form.querySelector(".counter");
    counter.hidden = length < 0.8 * max;
    counter.textContent = length.toLocaleString("en") + " / " + max.toLocaleString("en");
    counter.classList.toggle("over", length > max);
  }

  // Grow the box with its text, up to six lines: its lines as drawn, a long one wrapped too
  // (only line breaks were counted: a newcomer's walk).
  function fit(box) {
    box.rows = Math.min(6, Math.max(2, box.value.split("\n").length));
    while (box.rows < 6 && box.scrollHeight > box.clientHeight) box.rows += 1;
  }

  // A question to the helper quoting German words, cut with "…" to fit the box's limit beside
  // `used` characters already there ("" if nothing fits).
  function quoting(form, prefix, words, suffix, used) {
    var room = parseInt(form.dataset.maxLength, 10) - used - prefix.length - suffix.length;
    var chars = Array.from(words);
    if (room < 2) return "";
    return prefix + (chars.length > room ? chars.slice(0, room - 1).join("") + "…" : words) + suffix;
  }

  // Words left unsent in the role-play's box when the scene ended (shown in the completion).
  var unsent = null;
  function showUnsent() {
    var done = document.getElementById("completion");
    if (!unsent || !done || done.hidden || done.querySelector(".unsent")) return;
    var note = document.createElement("p");
    note.className = "unsent";
    var words = document.createElement("q");
    words.lang = unsent.lang;
    words.textContent = unsent.text;
    var ask = document.createElement("button");
    ask.type = "button";
    ask.className = "msg-action ask-about-unsent";
    ask.textContent = "Ask the helper about it";
    note.append("Not sent: ", words, " ", ask);
    done.querySelector("h2").after(note);
  }

  // On a narrow screen, the helper's chat in front.
  function showHelperPane() {
    var helperTab = document.querySelector('.chat-tabs button[aria-controls="pane-helper"]');
    if (helperTab && helperTab.getAttribute("aria-pressed") !== "true") helperTab.click();
  }

  function trySend(form) {
    var chat = chatOf(form), send = form.querySelector("button[type=submit]");
    var box = form.querySelector("textarea");
    if (state() === "closed") {
      // The connection's note, with its link ("Log in again", "Back to scenes"); before
      // "Write a message first.", which asked for a message this page can never send (a
      // newcomer's walk).
      var note = connection.querySelector(".connection-text").cloneNode(true);
      // Not "any more" where a login sends it again (the recheck: it sent after one).
      showError(chat, loggedOut ? "Not sent. " : "This page cannot send any more. ");
      document.getElementById(chat + "-error").append(...note.childNodes);
      return;
    }
    if (!box.value.trim()) {
      showError(chat, "Write a message first.");
      box.focus();
      return;
    }
    var length = tooLong(form);
    if (length) {
      var most = parseInt(form.dataset.maxLength, 10), over = length - most;
      // By how much: "a little" was said of a message four times too long (a newcomer's walk).
      showError(chat, "Your message has " + length.toLocaleString("en") + " characters; the limit is "
        + most.toLocaleString("en") + ". Shorten it by " + over.toLocaleString("en")
        + (over === 1 ? " character" : " characters") + ", or send it in parts.");
      return;
    }
    if (send.disabled) {
      showWait(chat);
      return;
    }
    form.requestSubmit(send);
  }

  document.addEventListener("DOMContentLoaded", function () {
    page = document.getElementById("chat");
    connection = document.getElementById("connection");
    if (!page) return;

    // A page drawn for the browser's own POST of a message (see chat.views.chat_page) is an
    // address again: reloaded, it sent the POST again, put back a message sent since and
    // then sent it twice, or failed on a CSRF token out of date; Back to it failed too (the
    // attacker's replay).
    if (document.querySelector("[data-unsent]")) history.replaceState(history.state, "", location.href);
    document.querySelectorAll("form.compose").forEach(function (form) {
      restoreDraft(form);
      prepare(form);
      var box = form.querySelector("textarea");
      if (box.value) {  // a message put back by the page or kept: its size and count, as if typed
        keepDraft(form);  // (put back by the page, it was not kept: the attacker's recheck)
        fit(box);
        updateCounter(form);
      }
    });
    // Come to talk (Start, Continue, a reload), the focus waits in the role-play's box, or in
    // the helper's if only that holds a draft (a reload took the learner from it: a newcomer's
    // walk); not on a touch screen, where it opened the phone's keyboard over the chat.
    var waiting = document.querySelector("textarea[data-autofocus]");
    var asking = document.getElementById("helper-input");
    if (waiting && !waiting.value && asking && asking.value && asking.getClientRects().length) {
      waiting = asking;
    }
    if (waiting && !matchMedia("(pointer: coarse)").matches) waiting.focus();
    // Logged out in another tab: what the boxes hold goes with the drafts (static/js/drafts.js),
    // and the page says so (it went without a word: a newcomer's walk).
    document.addEventListener("maraum:drafts-forgotten", function (event) {
      var said = false, cleared = CLEARED[event.detail && event.detail.why] || CLEARED["log-out"];
      // The other account logged out too: it still said that one was logged in (the recheck).
      if (otherAccount && state() === "closed") {
        otherAccount = false;
        showLoggedOut();
      }
      document.querySelectorAll("form.compose").forEach(function (form) {
        var box = form.querySelector("textarea");
        // Said in full once: a screen reader heard the same alert from both chats (a
        // newcomer's walk).
        if (box.value.trim()) showError(chatOf(form), said ? cleared.too : cleared.first);
        said = said || Boolean(box.value.trim());
        box.value = "";
        keepDraft(form);
        fit(box);
        updateCounter(form);
      });
    });
    // Each chat opens at its newest message, not at its top until the socket has opened.
    document.querySelectorAll(".messages").forEach(function (scroller) { follow(scroller, true); });
    // ...and stays there when its box changes size, unless the learner scrolled up to read:
    // a row more above it (on a phone, "Connection lost. Reconnecting…" pushed "End and delete…"
    // onto a row of its own) left the newest line under the box's edge.
    if (window.ResizeObserver) {
      var pinned = new WeakMap();
      var resized = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) { follow(entry.target, pinned.get(entry.target)); });
      });
      document.querySelectorAll(".messages").forEach(function (scroller) {
        pinned.set(scroller, atBottom(scroller));
        scroller.addEventListener("scroll", function () {
          pinned.set(scroller, atBottom(scroller));
        }, { passive: true });
        resized.observe(scroller);
      });
    }

    // Enter sends, Shift+Enter makes a new line; typing clears an old error.
    page.addEventListener("keydown", function (event) {
      var box = event.target;
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      if (!box.matches || !box.matches("form.compose textarea")) return;
      event.preventDefault();
      trySend(box.form);
    });
    page.addEventListener("input", function (event) {
      var box = event.target;
      if (!box.matches || !box.matches("form.compose textarea")) return;
      showError(chatOf(box.form), "");
      updateCounter(box.form);
      fit(box);
      keepDraft(box.form);
    });
    page.addEventListener("click", function (event) {
      var send = event.target.closest && event.target.closest("form.compose button[type=submit]");
      if (!send) return;
      event.preventDefault();
      trySend(send.form);
      // The button is drawn again ("Replying…", disabled) and the focus went with it, to the
      // page's top (a newcomer's walk): the learner goes on in the box.
      send.form.querySelector("textarea").focus();
    });

    // While the socket is down a message waits (htmx queues it) and goes out, once, when the
    // connection is back; the text stays in the box until the server has stored it.
    page.addEventListener("htmx:wsConfigSend", function (event) {
      var form = event.detail.elt;
      // The token is there for the browser's own POST, before the scripts ran (the page puts
      // the message back in its box); the socket has no use for it, nor for htmx's request
      // headers (the page's CSRF token again: the attacker's replay).
      delete event.detail.parameters.csrfmiddlewaretoken;
      event.detail.headers = null;
      if (!form.matches("form.compose")) {
        if (state() !== "open") event.preventDefault();  // "Try again" needs the live socket
        return;
      }
      var box = form.querySelector("textarea");
      if (!box.value.trim() || tooLong(form) || state() === "closed") {
        event.preventDefault();
        return;
      }
      prepare(form);
      // The text in the box was changed since it was sent under this id (while the
      // connection was down, say): it is a new message, with an id of its own.
      if (form.dataset.sentText !== undefined && form.dataset.sentText !== box.value) {
        idField(form).value = newId();
      }
      form.dataset.sentText = box.value;
      var id = idField(form).value;
      if (!form.dataset.asking) keepDraft(form);  // under the id it goes out with
      if (state() !== "open") {
        if (form.dataset.queued === id) { event.preventDefault(); return; }
        form.dataset.queued = id;
        if (state() === "reconnecting") {
          showError(chatOf(form),
            "Not connected right now: your message goes out as soon as the connection is back.");
        }
      }
      event.detail.parameters.client_message_id = id;
      // Sending goes to the chat's newest message: the learner's line and its reply came in
      // below where they had scrolled up to read, out of sight (a newcomer's walk).
      follow(document.getElementById(chatOf(form) + "-scroll"), true);
    });

    // Streamed text, and a card kept in any tab, arrive as JSON; everything else is HTML for
    // htmx to swap.
    page.addEventListener("htmx:wsBeforeMessage", function (event) {
      var message = event.detail.message;
      if (typeof message === "string" && message.charAt(0) === "{") {
        event.preventDefault();
        var data = JSON.parse(message);
        if (data.kept) data.kept.forEach(markKept); else applyDelta(data);
      }
    });

    // A message appended twice (a tab that joined mid-turn gets it in its sync and as a
    // frame) is shown once: the first copy stays. A list with a new last message (not
    // earlier ones shown above), or a "Try again" box, in a hidden pane marks its tab.
    function lastId(list) {
      var messages = list.querySelectorAll(".msg[id]");
      return messages.length ? messages[messages.length - 1].id : "";
    }
    document.querySelectorAll(".message-list").forEach(function (list) {
      list.dataset.last = lastId(list);
      new MutationObserver(function () {
        var seen = {};
        list.querySelectorAll(".msg[id]").forEach(function (msg) {
          if (seen[msg.id]) { msg.remove(); } else { seen[msg.id] = true; }
        });
        var last = lastId(list);
        if (last !== list.dataset.last) {
          markUnread(list);
          cueIfOutOfSight(list.closest(".messages"));
        }
        list.dataset.last = last;
      }).observe(list, {childList: true});
    });

    // A learner scrolled up to read is told when something comes in below, out of sight:
    // nothing said so (a newcomer's walk). Their own messages take them there (wsConfigSend).
    function cueIfOutOfSight(scroller) {
      var cue = scroller && scroller.querySelector(".new-below");
      if (cue && !atBottom(scroller)) cue.hidden = false;
    }
    document.querySelectorAll(".messages").forEach(function (scroller) {
      scroller.addEventListener("scroll", function () {
        var cue = scroller.querySelector(".new-below");
        if (cue && !cue.hidden && atBottom(scroller)) cue.hidden = true;
      }, { passive: true });
    });
    page.addEventListener("click", function (event) {
      var cue = event.target.closest && event.target.closest(".new-below");
      if (!cue) return;
      var scroller = cue.closest(".messages");
      follow(scroller, true);
      cue.hidden = true;
      // The focus goes to the newest message, where the reading goes on.
      var messages = scroller.querySelectorAll(".msg");
      var newest = messages[messages.length - 1];
      if (newest) {
        newest.setAttribute("tabindex", "-1");
        newest.focus({preventScroll: true});
      }
    });
    document.querySelectorAll(".live-slot").forEach(function (slot) {
      new MutationObserver(function () {
        if (slot.querySelector(".retry")) markUnread(slot);
        if (slot.querySelector(".msg")) cueIfOutOfSight(slot.closest(".messages"));
      }).observe(slot, {childList: true});
    });

    // A frame that adds a message (or a whole reply, as offline ones and syncs do) keeps each
    // chat at its newest message, if it was there before.
    var wereAtBottom = new Map();
    page.addEventListener("htmx:wsBeforeMessage", function () {
      document.querySelectorAll(".messages").forEach(function (scroller) {
        wereAtBottom.set(scroller, atBottom(scroller));
      });
    });

    // A frame that redraws what has the focus (a sync redraws the lists) gives it back to the
    // same element, or its new copy: a keyboard user was left on the page's body and the next
    // Tab skipped every message (the recheck replay).
    var FOCUSABLE = "a[href], button, input, textarea, select, [tabindex]";
    var focusBefore = null;
    page.addEventListener("htmx:wsBeforeMessage", function (event) {
      var active = document.activeElement;
      focusBefore = null;
      if (String(event.detail.message).charAt(0) === "{") return;  // a delta: no HTML drawn
      if (!active || active === document.body || !page.contains(active)) return;
      var list = active.closest(".message-list");
      focusBefore = {element: active, anchor: active.closest("[id]"), list: list && list.id};
    });
    page.addEventListener("htmx:wsAfterMessage", function () {
      var was = focusBefore;
      focusBefore = null;
      var now = document.activeElement;
      if (!was || now === was.element || (now && now !== document.body)) return;
      var element = was.element.isConnected ? was.element : null;
      var copy = !element && was.anchor && document.getElementById(was.anchor.id);
      if (copy === was.anchor) copy = null;
      if (copy) {  // the anchor drawn again: the same place in its copy
        var index = Array.prototype.indexOf.call(was.anchor.querySelectorAll(FOCUSABLE), was.element);
        element = index >= 0 && copy.querySelectorAll(FOCUSABLE)[index];
        // (A list of words or phrases stays open, moved into the copy: see the sync below.)
        // "Keep words" itself: a "Kept ✓" before it, focusable, moved the count.
        if (was.element.matches("[data-words]")) element = copy.querySelector("button[data-words]");
        // Drawn without it (its Keep now "In your deck", kept elsewhere, and hidden till words
        // are selected): what it says.
        if (element && element.closest("[hidden]")) element = null;
        if (!element) element = was.element.closest(".keep-form") && copy.querySelector(".kept") || copy;
      }
      // A message no longer drawn (more than 100 came while the page was away, and the sync
      // drew only those): its chat's "Show earlier", where it now is, or its first message.
      var list = !element && !copy && was.list && document.getElementById(was.list);
      if (list) element = list.querySelector(".earlier-messages button") || list.querySelector(".msg");
      if (!element) return;
      if (!element.matches(FOCUSABLE)) element.setAttribute("tabindex", "-1");
      element.focus({preventScroll: true});
    });
    page.addEventListener("htmx:wsAfterMessage", function (event) {
      document.querySelectorAll(".messages").forEach(function (scroller) {
        follow(scroller, wereAtBottom.get(scroller) !== false);
      });
      // The page shows the server's state once a sync (the first frame of each connection)
      // has been drawn; what was drawn before it is replaced.
      var message = event.detail.message;
      if (typeof message === "string" && message.indexOf('data-frame="sync"') !== -1) {
        page.dataset.synced = "yes";
        if (page.dataset.overLimit) {
          delete page.dataset.overLimit;
          opened();
        }
      }
      clearWaits();
      // The server echoes the stored message with its id: only then is the box cleared, and
      // only of the text that was sent (what the learner wrote since stays).
      document.querySelectorAll("form.compose").forEach(function (form) {
        var field = idField(form);
        if (field.value && document.querySelector('[data-client-id="' + field.value + '"]')) {
          var box = form.querySelector("textarea");
          if (form.dataset.sentText === undefined || box.value === form.dataset.sentText) {
            box.value = "";
            fit(box);
            updateCounter(form);
          }
          var said = document.getElementById(chatOf(form) + "-error");  // a wait is over
          if (said && said.querySelector("[data-until-reply]")) say(said, "");
          delete form.dataset.sentText;
          field.value = newId();
          keepDraft(form);  // gone, or what was written since, under its own id
        }
      });
      showUnsent();  // also into a completion drawn again (a reconnect's sync)
      var done = document.getElementById("completion");
      if (done && !done.hidden && !done.dataset.shown) {
        done.dataset.shown = "yes";
        done.focus();
      }
    });

    page.addEventListener("htmx:wsConnecting", function () {
      if (state() !== "closed" && state() !== "reconnecting") setConnection("connecting", "Connecting…");
    });
    // A tab over the tab limit tries again now and then, and is let in or turned away at
    // once: it says "Connected" when its sync comes, not for the moment between (it flickered
    // at each try, and its error lines were emptied: the recheck).
    page.addEventListener("htmx:wsOpen", function () {
      if (!page.dataset.overLimit) opened();
    });
    function opened() {
      setConnection("open", "Connected");
      ["main", "helper"].forEach(function (chat) {
        // Except the page's own note that a message posted before the scripts ran was not
        // sent: it stays until the learner sends or types.
        if (!document.querySelector("#" + chat + "-error [data-unsent]")) showError(chat, "");
      });
      document.querySelectorAll("form.compose").forEach(function (form) {
        delete form.dataset.queued;
      });
      // The first time, each chat opens at its newest message; after a reconnect, a reader
      // who had scrolled up to read stays there.
      var first = !page.dataset.opened;
      page.dataset.opened = "yes";
      document.querySelectorAll(".messages").forEach(function (scroller) {
        follow(scroller, first || atBottom(scroller));
      });
    }
    document.addEventListener("maraum:signed-in", function () {  // (static/js/drafts.js)
      if (!loggedOut || state() !== "closed") return;
      otherAccount = false;
      showLogIn(false);
      showAccountLinks(true);
      setConnection("connecting", "Connecting\u2026");
      loggedOut.reconnect();
      loggedOut = null;
    });
    page.addEventListener("htmx:wsClose", function (event) {
      var code = event.detail.event && event.detail.event.code;
      var socket = event.detail.socketWrapper;
      if (code === 4401) {
        socket.queue.length = 0;
        loggedOut = socket;
        showLoggedOut();
      } else if (code === 4403) {
        socket.queue.length = 0;
        setConnection("closed", "This conversation is no longer available.", {href: "/", text: "Back to scenes"});
        endGone();
      } else if (code === 4409) {
        // Another account logged in in this browser: this conversation is not theirs (it said
        // "no longer available", of a conversation that is there: the last note's left item).
        socket.queue.length = 0;
        loggedOut = socket;  // logging in again as its learner connects it again
        otherAccount = true;
        setConnection("closed", "You are logged in as another account in this browser now; this conversation belongs to the account this page was opened with.", {
          href: "/login/?next=" + encodeURIComponent(location.pathname),
          text: "Log in with that account to go on.",
        });
      } else if (code === 4410) {
        socket.queue.length = 0;
        showAccountGone();
      } else if (code === 4429) {
        // Over the limit, a tab tries again now and then: a rolling restart brings another
        // process's tabs here, and the last few stayed closed until a reload (the attacker's
        // replay).
        socket.queue.length = 0;
        page.dataset.overLimit = "yes";
        setConnection("closed", "This conversation is open in too many tabs. Close one, and this tab connects again in a few seconds.");
        setTimeout(function () { socket.reconnect(); }, 5000 + Math.random() * 5000);
      } else {
        setConnection("reconnecting", "Connection lost. Reconnecting…");
        if (code === 4012) {  // the server is restarting: come back in a moment
          setTimeout(function () { socket.reconnect(); }, 500 + Math.random() * 1500);
        } else if (code === 4011) {  // the password changed: this login may hold still
          // (once the page that changed it has its new cookie, sent right after this close)
          setTimeout(function () { socket.reconnect(); }, 1000 + Math.random() * 1000);
        }
      }
    });

    // The scene ended (from this tab, another one, or while this one was away): words typed in
    // the role-play's box and not sent are shown in the completion panel, which takes the
    // focus, with a way to ask the helper about them, instead of going with the box. (Until
    // the page is reloaded: they are kept nowhere else.)
    // A reply its process dropped (its claim was gone) is drawn as on its way only where no
    // other reply streams by now: the one of the process that holds the claim stays.
    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      var ends = event.detail.fragment.dataset && event.detail.fragment.dataset.ends;
      var streaming = ends && event.detail.target.querySelector(".is-streaming");
      if (streaming && streaming.id !== "reply-" + ends) event.detail.shouldSwap = false;
    });

    // A scene's end stays as it was first drawn: a sync drew it again at every reconnect,
    // taking the focus (what the learner typed next was lost), loading the report again and
    // leaving a report word's Keep on its way nowhere to answer (the attacker's replay).
    // Only the count of scenes left this week is drawn again (another may have ended since;
    // compared by its data, as its time reads in the learner's own time zone here), and a report that stopped asking for itself because the login had ended (report.js) asks
    // again; one that is gone (a 404) does not.
    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      var done = event.detail.target, fresh = event.detail.fragment;
      if (done.id !== "completion" || done.hidden || !fresh.querySelector) return;
      event.detail.shouldSwap = false;
      var left = done.querySelector(".scenes-left"), leftNow = fresh.querySelector(".scenes-left");
      if (left && leftNow && left.dataset.week !== leftNow.dataset.week) left.replaceWith(leftNow);
      var stopped = done.querySelector('#report[data-stopped="login"]'), asking = fresh.querySelector("#report");
      if (stopped && asking) {
        stopped.replaceWith(asking);
        htmx.process(asking);
      }
    });

    // A message's frame empties its chat's error line (the sender's own errors go once it is
    // stored); a "Wait for the reply" there is left to clearWaits: the message may be the
    // other tab's, whose reply it waits for.
    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      var box = event.detail.target, fresh = event.detail.fragment;
      if (!box.id || box.id.slice(-6) !== "-error" || !box.querySelector("[data-until-reply]")) return;
      if (!fresh.textContent.trim()) event.detail.shouldSwap = false;
    });

    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      var form = event.detail.target, fragment = event.detail.fragment;
      if (!form.matches || !form.matches("form.compose") || !fragment.querySelector) return;
      var box = form.querySelector("textarea");
      if (!fragment.querySelector(".compose-closed") || !box || !box.value.trim()) return;
      var id = idField(form).value;
      var stored = id && document.querySelector('[data-client-id="' + id + '"]');
      if (stored && (form.dataset.sentText === undefined || box.value === form.dataset.sentText)) return;
      unsent = {text: box.value.trim(), lang: box.lang};
    });
    // "Skip to your message": the role-play's box, or the helper's once the scene is over,
    // also when it ended while the page was open (the link pointed at a box that was gone:
    // the recheck).
    document.addEventListener("click", function (event) {
      var skip = event.target.closest && event.target.closest(".skip-to-box");
      var box = document.getElementById("main-input") || document.getElementById("helper-input");
      if (!skip || !box) return;
      event.preventDefault();
      var pane = box.closest(".chat-pane");  // on a phone, its chat's tab shown first
      var tab = pane && document.querySelector('.chat-tabs button[aria-controls="' + pane.id + '"]');
      if (tab && !box.offsetParent) tab.click();
      box.focus();
    });

    page.addEventListener("click", function (event) {
      var ask = event.target.closest && event.target.closest(".ask-about-unsent");
      if (!ask || !unsent) return;
      var form = document.getElementById("helper-form");
      var box = form && form.querySelector("textarea");
      if (!box) return;
      var before = box.value.trim() ? box.value + "\n" : "";
      var question = quoting(form, "I wanted to say: „", unsent.text, "“", before.length);
      if (!question) {
        showHelperPane();
        showError("helper", "The helper's box is full: send or shorten what is in it first.");
        return;
      }
      box.value = before + question;
      fit(box);
      updateCounter(form);
      keepDraft(form);
      showHelperPane();
      box.focus();
    });

    // "Check my German" on the learner's lines, "Explain" on the character's: the question
    // goes to the helper chat as the learner's own message (same path, same limits); the
    // role-play goes on untouched.
    page.addEventListener("click", function (event) {
      var button = event.target.closest(".msg-action[data-ask]");
      if (!button) return;
      var form = document.getElementById("helper-form");
      var box = form && form.querySelector("textarea");
      if (!box) return;
      var line = button.closest(".msg").querySelector(".msg-text").lastChild.textContent.trim();
      // Sent from the box, whose own words stay: they went, replaced by the question, and
      // with the helper still replying nothing was sent either (a newcomer's walk).
      // A message of the box waits for the connection: the question would wait behind it, and
      // be refused once the helper answers it (the attacker's recheck).
      if (form.dataset.queued && state() !== "open") {
        showHelperPane();
        showWait("helper");
        return;
      }
      // The question goes under an id of its own; the box's words, their id and what of them
      // was sent are as they were (the draft's echo found the question's id, and it was sent
      // again: the attacker's recheck).
      var draft = {text: box.value, id: idField(form).value, sent: form.dataset.sentText};
      box.value = quoting(form, button.dataset.ask + ": „", line, "“", 0);
      idField(form).value = newId();
      delete form.dataset.sentText;
      showHelperPane();
      form.dataset.asking = "yes";
      trySend(form);
      delete form.dataset.asking;
      delete form.dataset.queued;  // the question's
      box.value = draft.text;
      idField(form).value = draft.id;
      if (draft.sent === undefined) delete form.dataset.sentText;
      else form.dataset.sentText = draft.sent;
      fit(box);
      updateCounter(form);
      // On a phone the role-play, and the button with it, went behind the helper's chat: the
      // focus fell to the page. From the keyboard it goes to the helper's box; after a tap
      // (which would open the phone's keyboard there) to the helper's tab, now in front (its
      // pane's title is not shown there: a newcomer's recheck).
      if (!button.offsetParent) {
        var tab = document.querySelector('.chat-tabs button[aria-controls="pane-helper"]');
        if (event.detail === 0 || !tab) box.focus();
        else tab.focus();
      }
    });

    // A "Show" or "Keep" after the login ended is answered with a redirect to log in (for
    // pages elsewhere): here the page stays, with what the learner was writing, and says so
    // as a socket closed for that reason does.
    page.addEventListener("htmx:beforeOnLoad", function (event) {
      var to = event.detail.xhr.getResponseHeader("HX-Redirect");
      if (!to || to.indexOf("/login/") !== 0) return;
      event.preventDefault();
      showLoggedOut();
    });
    // Nor is anything asked of the server for an account deleted (a report drawn since).
    page.addEventListener("htmx:beforeRequest", function (event) {
      if (!accountGone) return;
      event.preventDefault();
      showAccountGone();
    });

    // "Show earlier": the message that was first in view stays where it was, and keeps the
    // focus (the new "Show" is 100 messages up, out of view); what came is announced. A list
    // that could not be fetched says so on its line.
    var readingFrom = null;
    page.addEventListener("htmx:beforeSwap", function (event) {
      var earlier = event.detail.target;
      readingFrom = null;
      if (!event.detail.shouldSwap) return;  // an error: no swap follows (the recheck replay)
      if (!earlier.classList || !earlier.classList.contains("earlier-messages")) return;
      var first = earlier.nextElementSibling;
      readingFrom = first && {message: first, top: first.getBoundingClientRect().top};
    });
    page.addEventListener("htmx:afterSwap", function () {
      if (!readingFrom) return;
      var message = readingFrom.message, top = readingFrom.top;
      readingFrom = null;
      if (!message.isConnected) return;
      var scroller = message.closest(".messages");
      scroller.scrollTop += message.getBoundingClientRect().top - top;
      var shown = 0;
      for (var node = message.previousElementSibling; node; node = node.previousElementSibling) {
        if (node.matches(".msg")) shown += 1;
      }
      message.setAttribute("tabindex", "-1");
      message.focus({preventScroll: true});
      var said = document.getElementById(scroller.id.replace(/-scroll$/, "-announce"));
      say(said, shown + (shown === 1 ? " earlier message" : " earlier messages") + " shown above.");
    });
    ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
      page.addEventListener(name, function (event) {
        var line = event.detail.elt.closest && event.detail.elt.closest(".earlier-messages");
        if (!line) return;
        var status = name === "htmx:responseError" ? event.detail.xhr.status : 0;
        showKeepNote(line, status === 404 ? "This conversation is no longer available."
          : "They could not be fetched just now. Try again in a moment.");
      });
    });
    // A sync (a reconnect) draws each chat's newest messages again: the earlier ones this
    // page had fetched stay above them, rather than the reader losing their place, and so
    // does a "Show" on its way, whose answer had nowhere to go (the recheck replay). Only the
    // newest part is swapped, in a wrapper unwrapped once drawn: moved into the frame, every
    // fetched message was processed by htmx again (0.3 s for 2,000, and the page blocked).
    var keptMeanwhile = [];  // words an open list carried through a sync shows as kept
    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      var list = event.detail.target, fresh = event.detail.fragment;
      if (!list.classList || !list.classList.contains("message-list") || !fresh.querySelector) return;
      if (!fresh.dataset || fresh.dataset.frame !== "sync") return;  // a message appended
      // A "Keep" on its way goes into the line drawn again, to answer there: in the copy
      // replaced, a kept selection said nothing (the recheck replay).
      list.querySelectorAll(".keep-form.htmx-request:not([data-phrase])").forEach(function (form) {
        var message = form.closest(".msg[id]");
        var copy = message && fresh.querySelector("#" + CSS.escape(message.id) + " .keep-form");
        if (copy) copy.replaceWith(form);
      });
      // So does a list of a line's words or an answer's phrases the learner opened, with the
      // focus in it and a word being kept: drawn closed, the focus had to go elsewhere, and a
      // word kept meanwhile was kept with nothing saying so (the last note). What was kept
      // while the page was away (in another tab, say) is marked in it once it is in place: an
      // answer's phrases as the sync draws them, a line's words as the server lists them now
      // (a list kept open offered words the deck held: the last note).
      list.querySelectorAll(".line-words:not(:empty), .keep-phrases:not(.keep-words):not([hidden])")
        .forEach(function (open) {
          var message = open.closest(".msg[id]");
          var copy = message && fresh.querySelector("#" + CSS.escape(message.id));
          var place = copy && copy.querySelector(open.matches(".line-words") ? ".line-words" : ".keep-phrases");
          if (!place) return;
          place.querySelectorAll(".kept [lang]").forEach(function (word) { keptMeanwhile.push(word.textContent); });
          place.replaceWith(open);
          // An answer's "Keep a phrase" drawn again said its open list was closed (the recheck).
          var keep = !open.matches(".line-words") && copy.querySelector(".keep-form[data-needs-selection] button[aria-expanded]");
          if (keep) keep.setAttribute("aria-expanded", "true");
          var opener = open.matches(".line-words") && copy.querySelector("button[data-words]");
          if (!opener) return;
          opener.setAttribute("aria-expanded", "true");
          fetch(opener.dataset.words, {credentials: "same-origin"}).then(function (answer) {
            return answer.ok ? answer.text() : "";
          }).then(function (words) {
            new DOMParser().parseFromString(words, "text/html").querySelectorAll(".kept [lang]")
              .forEach(function (word) { markKept(word.textContent); });
          }).catch(function () { /* offline again: the next sync asks */ });
        });
      var firstFresh = fresh.querySelector(".msg[id]");
      var same = firstFresh && list.querySelector("#" + CSS.escape(firstFresh.id));
      var above = same && same.previousElementSibling;
      if (!above) return;
      var line = fresh.querySelector(".earlier-messages");
      if (above.matches(".earlier-messages") && above.querySelector(".htmx-request") && line) {
        line.replaceWith(above);
        return;
      }
      if (!above.matches(".msg")) return;
      if (line) line.remove();
      var newest = document.createElement("div");
      newest.className = "sync-newest";
      list.insertBefore(newest, same);
      while (newest.nextSibling) newest.appendChild(newest.nextSibling);
      event.detail.target = newest;
    });
    page.addEventListener("htmx:oobAfterSwap", function (event) {
      var words = keptMeanwhile;
      keptMeanwhile = [];
      words.forEach(markKept);
      var newest = event.detail.target;
      if (!newest.classList || !newest.classList.contains("sync-newest") || !newest.isConnected) return;
      while (newest.firstChild) newest.parentNode.insertBefore(newest.firstChild, newest);
      newest.remove();
    });

    // Come to talk, the focus is in the role-play's box, which a screen reader describes with
    // the chat's newest line, the opening one after Start (it began in the box, not hearing it:
    // a newcomer's recheck); once the learner has left the box, it is described as always.
    document.addEventListener("focusout", function (event) {
      var box = event.target;
      if (!box.hasAttribute || !box.hasAttribute("data-described-once")) return;
      box.removeAttribute("data-described-once");
      box.setAttribute("aria-describedby", box.getAttribute("aria-describedby").replace(/^msg-\S+ /, ""));
    });

    // The goals box scrolls in a short window. Drawn again when a goal was reached (or at a
    // reconnect), it went back to its top, and the tick happened out of sight (a newcomer's
    // recheck): it keeps the learner's place, and a goal just reached is scrolled into view.
    var goalsScrolledTo = 0;
    page.addEventListener("htmx:oobBeforeSwap", function (event) {
      if (event.detail.target.id === "goals") goalsScrolledTo = event.detail.target.scrollTop;
    });
    page.addEventListener("htmx:oobAfterSwap", function (event) {
      var goals = document.getElementById("goals");
      if (event.detail.target.id !== "goals" || !goals) return;
      goals.scrollTop = goalsScrolledTo;
      var reached = goals.querySelector(".goal-just-reached");
      if (!reached) return;
      // Scrolled no further than it takes: below the rows shown, or under the title.
      var row = reached.getBoundingClientRect();
      var bottom = goals.getBoundingClientRect().top + goals.clientTop + goals.clientHeight;
      var title = goals.querySelector(".goals-title").getBoundingClientRect().bottom;
      if (row.bottom > bottom) goals.scrollTop += row.bottom - bottom;
      else if (row.top < title) goals.scrollTop -= title - row.top;
    });

    // Narrow screens show one chat at a time.
    var tabs = document.querySelectorAll(".chat-tabs button");
    tabs.forEach(function (tab) {
      tab.addEventListener("click", function () {
        tabs.forEach(function (other) {
          var selected = other === tab;
          other.setAttribute("aria-pressed", selected ? "true" : "false");
          var pane = document.getElementById(other.getAttribute("aria-controls"));
          if (selected) {
            pane.removeAttribute("data-hidden-narrow");
            other.querySelector(".unread").hidden = true;
            follow(pane.querySelector(".messages"), true);
          } else {
            pane.setAttribute("data-hidden-narrow", "");
          }
        });
      });
    });
  });

  // Reconnect soon after a blip, backing off to at most eight seconds, with jitter. (This
  // script runs after htmx and its ws extension, which would otherwise wait up to a minute.)
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retries) {
      return Math.min(8000, 500 * Math.pow(2, retries)) * (0.5 + Math.random() / 2);
    };
  }
})();
