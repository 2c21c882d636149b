// The diff viewer: the changes of an artifact_diff result, with each text file's
// lines. A result without them (the model asked for paths only) is asked again
// through the host with lines=true.

let input = null;

const header = (p) => {
  const h = el("header");
  h.append(el("span", "kind", p.change));
  const path = p.from ? p.from + " → " + p.path : p.path;
  h.append(el("span", "path", path));
  if (p.similarity !== undefined && p.similarity !== null && p.from) {
    h.append(el("span", "muted", " " + p.similarity + "% similar"));
  }
  const sizes = [p.old_size, p.new_size].filter((s) => s !== null && s !== undefined).map(bytes);
  h.append(el("span", "muted", "  " + sizes.join(" → ")));
  return h;
};

const lines = (hunks) => {
  const table = el("table");
  for (const h of hunks) {
    const row = table.insertRow();
    row.className = "hunk";
    row.append(el("td", "ln"), el("td", "ln"));
    row.append(el("td", "", "@@ -" + h.old_start + "," + h.old_lines + " +" + h.new_start + "," + h.new_lines + " @@"));
    let o = h.old_start;
    let n = h.new_start;
    for (const l of h.lines) {
      const tr = table.insertRow();
      let oldNo = "";
      let newNo = "";
      if (l.op === "+") {
        tr.className = "add";
        newNo = n++;
      } else if (l.op === "-") {
        tr.className = "del";
        oldNo = o++;
      } else {
        oldNo = o++;
        newNo = n++;
      }
      tr.append(el("td", "ln", String(oldNo)), el("td", "ln", String(newNo)), el("td", "", l.op + " " + l.text));
    }
  }
  return table;
};

const render = (out) => {
  const files = document.getElementById("files");
  files.replaceChildren();
  const items = out.patches || out.changes || [];
  let added = 0;
  let removed = 0;
  for (const item of items) {
    const section = el("section");
    section.append(header(item));
    const body = item.body;
    if (body && body.type === "text") {
      added += body.added;
      removed += body.removed;
      if (body.hunks.length) section.append(lines(body.hunks));
    } else if (body && body.type === "binary") {
      section.append(el("p", "note muted", "binary content differs"));
    }
    files.append(section);
  }
  const counts = out.patches ? ", +" + added + " −" + removed + " lines" : "";
  status(items.length ? items.length + " file(s) changed" + counts : "No differences.");
};

async function show(result) {
  if (result.isError) {
    status("The diff failed.");
    return;
  }
  let out = result.structuredContent || {};
  if (!out.patches && input && input.project_id) {
    status("Loading the lines…");
    const r = await bridge.request("tools/call", {
      name: "artifact_diff",
      arguments: Object.assign({}, input, { lines: true }),
    });
    if (r.isError) throw new Error((r.content && r.content[0] && r.content[0].text) || "artifact_diff failed");
    out = r.structuredContent;
  }
  render(out);
}

bridge.on("ui/notifications/tool-input", (p) => {
  input = p.arguments || null;
});
bridge.on("ui/notifications/tool-result", (result) =>
  show(result).catch((e) => status("Could not load the diff: " + e.message)),
);
bridge.start("reelstore checkpoint diff").catch((e) => status("No host answered: " + e.message));
