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

// A render job's page: follow it live (server-sent events) until it ends.
document.addEventListener("DOMContentLoaded", () => {
  const job = document.getElementById("job");
  if (!job || !window.EventSource) return;
  const source = new EventSource(job.dataset.events);
  source.onmessage = (ev) => {
    const s = JSON.parse(ev.data);
    document.getElementById("stage").textContent = s.stage;
    document.getElementById("progress").value = s.percent;
    document.getElementById("percent").textContent = Math.round(s.percent) + "%";
    const result = document.getElementById("result");
    if (s.render) {
      result.replaceChildren();
      const a = document.createElement("a");
      a.href = "/renders/" + s.render;
      a.textContent = "open the render";
      result.appendChild(a);
    } else if (s.error) {
      result.textContent = s.error;
      result.className = "error";
    }
    if (s.final) {
      source.close();
      const cancel = document.getElementById("cancel");
      if (cancel) cancel.remove();
    }
  };
});
