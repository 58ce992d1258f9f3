// The chat page: sending with Enter, one id per message (so a resend is stored once), clearing
// the box once the server has the message, and the tabs on narrow screens. No inline script.
(function () {
  "use strict";

  function newId() {
    return self.crypto && crypto.randomUUID ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
          return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
        });
  }

  function idField(form) { return form.querySelector("input[name=client_message_id]"); }

  function prepare(form) {
    var field = idField(form);
    if (field && !field.value) field.value = newId();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.compose").forEach(prepare);

    // Enter sends, Shift+Enter makes a new line.
    document.addEventListener("keydown", function (event) {
      var box = event.target;
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      if (!box.matches || !box.matches("form.compose textarea")) return;
      event.preventDefault();
      var form = box.form, send = form.querySelector("button[type=submit]");
      if (send && !send.disabled && box.value.trim()) form.requestSubmit(send);
    });

    // Nothing goes out while this chat's reply streams or without text.
    document.body.addEventListener("htmx:wsConfigSend", function (event) {
      var form = event.detail.elt;
      if (!form.matches("form.compose")) return;
      var send = form.querySelector("button[type=submit]");
      var box = form.querySelector("textarea");
      if ((send && send.disabled) || !box.value.trim()) { event.preventDefault(); return; }
      prepare(form);
      event.detail.parameters.client_message_id = idField(form).value;
    });

    // The server echoes the stored message with its id: only then is the box cleared.
    document.body.addEventListener("htmx:wsAfterMessage", function () {
      document.querySelectorAll("form.compose").forEach(function (form) {
        var field = idField(form);
        if (field.value && document.querySelector('[data-client-id="' + field.value + '"]')) {
          form.querySelector("textarea").value = "";
          field.value = newId();
        }
      });
      var done = document.getElementById("completion");
      if (done && done.children.length && done.hidden) { done.hidden = false; done.focus(); }
      document.querySelectorAll(".messages").forEach(function (list) {
        list.scrollTop = list.scrollHeight;
      });
    });

    // Narrow screens show one chat at a time.
    var tabs = document.querySelectorAll(".chat-tabs button");
    tabs.forEach(function (tab) {
      tab.addEventListener("click", function () {
        tabs.forEach(function (other) {
          var selected = other === tab;
          other.setAttribute("aria-pressed", selected ? "true" : "false");
          var pane = document.getElementById(other.getAttribute("aria-controls"));
          if (selected) pane.removeAttribute("data-hidden-narrow");
          else pane.setAttribute("data-hidden-narrow", "");
        });
      });
    });
  });
})();
