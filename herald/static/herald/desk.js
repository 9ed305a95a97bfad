// The agent desk's composer: formatting buttons, the HTML sent with the form, saved answers,
// the reply mode's recipients, and the "answering" signal other agents see.
(function () {
  "use strict";
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function ready() {
    var form = document.getElementById("composer-form");
    var editor = document.getElementById("editor");
    if (!form || !editor) return;
    var hidden = document.getElementById("composer-html");
    document.querySelectorAll(".toolbar [data-command]").forEach(function (button) {
      button.addEventListener("click", function () {
        var command = button.getAttribute("data-command");
        var value = null;
        if (command === "createLink") {
          value = window.prompt("URL", "https://");
          if (!value) return;
        }
        editor.focus();
        document.execCommand(command, false, value);
      });
    });
    form.addEventListener("submit", function () {
      hidden.value = editor.innerHTML;
    });
    form.querySelectorAll("input[name=mode]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        form.querySelectorAll("[data-mode]").forEach(function (el) {
          el.hidden = el.getAttribute("data-mode") !== radio.value;
        });
      });
    });
    var saved = document.getElementById("saved-answer");
    if (saved) {
      saved.addEventListener("change", function () {
        if (!saved.value) return;
        fetch(form.getAttribute("data-saved") + "?template=" + encodeURIComponent(saved.value), {
          credentials: "same-origin",
        })
          .then(function (response) {
            return response.text().then(function (text) {
              return { ok: response.ok, text: text };
            });
          })
          .then(function (result) {
            if (result.ok) {
              editor.insertAdjacentHTML("afterbegin", result.text);
            } else {
              window.alert(result.text);
            }
            saved.value = "";
          });
      });
    }
    var answering = form.getAttribute("data-answering");
    var last = 0;
    if (answering) {
      editor.addEventListener("input", function () {
        var now = Date.now();
        if (now - last < 5000) return;
        last = now;
        fetch(answering, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrf() },
        });
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
