// reel ui: the little that needs a script. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Timeline: choosing an "old" checkpoint moves "new" to the row above it if unset.
  const form = document.querySelector("form.diff-pick");
  if (form) {
    form.addEventListener("change", (ev) => {
      if (ev.target.name !== "old") return;
      const chosen = form.querySelector("input[name=new]:checked");
      if (chosen) return;
      const rows = [...form.querySelectorAll("input[name=old]")];
      const i = rows.indexOf(ev.target);
      const news = form.querySelectorAll("input[name=new]");
      if (i > 0 && news[i - 1]) news[i - 1].checked = true;
    });
  }
});
