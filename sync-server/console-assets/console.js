// Gridwalk supervisor console: the little behaviour pages need, in plain JavaScript with no
// build step (served from the binary; the Content-Security-Policy forbids inline scripts, so
// everything is wired here by data attributes).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Call-back form: the satisfaction answer only applies when the resident was reached.
  document.querySelectorAll("form[data-callback]").forEach(function (form) {
    var sat = form.querySelector("[data-satisfaction]");
    if (!sat) return;
    function sync() {
      var reached = form.querySelector("input[name=reached]:checked");
      var on = reached && reached.value === "true";
      sat.hidden = !on;
      sat.querySelectorAll("input").forEach(function (i) { i.required = on; i.disabled = !on; });
    }
    form.querySelectorAll("input[name=reached]").forEach(function (r) {
      r.addEventListener("change", sync);
    });
    sync();
  });

  // Forms that need a second thought (archive, return, reopen) ask once.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) e.preventDefault();
    });
  });

  // Queue filters apply as soon as a choice changes.
  document.querySelectorAll("form.filters select, form.filters input[type=checkbox]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
});
