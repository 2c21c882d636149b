// The render player: shows the render of an artifact_render_video result, its
// poster first, then the video read through the host as reel://renders/ID.

// Larger videos are not pulled through the host's message channel in one piece.
const INLINE_LIMIT = 100 * 1024 * 1024;

const describe = (job, render) => {
  const m = render.meta || {};
  const rows = [
    ["render", render.id],
    ["codec", m.container + " / " + m.codec],
    ["size", m.width + "×" + m.height],
    ["frame rate", m.fps ? m.fps.num + "/" + m.fps.den + " fps" : ""],
    ["duration", (m.duration_s || 0).toFixed(2) + " s" + (m.frames ? " (" + m.frames + " frames)" : "")],
    ["bitrate", m.bitrate ? Math.round(m.bitrate / 1000) + " kb/s" : ""],
    ["bytes", bytes(render.size)],
    ["content id (b3sum)", render.content],
    ["checkpoint", render.checkpoint || "working tree"],
    ["memo hit", job.memo_hit ? "yes" : "no"],
  ];
  const dl = document.getElementById("meta");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(el("dt", "", k), el("dd", "", String(v)));
  }
};

const decode = (base64, type) => {
  const raw = atob(base64);
  const buf = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) buf[i] = raw.charCodeAt(i);
  return new Blob([buf], { type });
};

async function show(result) {
  const job = result.structuredContent || {};
  const render = job.render;
  if (!render) {
    status(job.stage ? "The render job is " + job.stage + "." : "This result holds no render.");
    return;
  }
  describe(job, render);
  const player = document.getElementById("player");
  if (render.meta && render.meta.poster) {
    const p = await bridge.read("reel://renders/" + render.id + "/poster");
    player.poster = "data:" + (p.mimeType || "image/jpeg") + ";base64," + p.blob;
  }
  player.hidden = false;
  if (render.size > INLINE_LIMIT) {
    status("This render is " + bytes(render.size) + ", too large to load here: open it with `reel ui`.");
    return;
  }
  status("Loading " + bytes(render.size) + "…");
  const v = await bridge.read("reel://renders/" + render.id);
  const type = v.mimeType || "video/mp4";
  // A blob: URL, or a data: URL where the host's policy allows no blob: media.
  player.addEventListener(
    "error",
    () => {
      player.src = "data:" + type + ";base64," + v.blob;
    },
    { once: true },
  );
  player.src = URL.createObjectURL(decode(v.blob, type));
  status("");
}

bridge.on("ui/notifications/tool-result", (result) =>
  show(result).catch((e) => status("Could not load the render: " + e.message)),
);
bridge.start("reelstore render player").catch((e) => status("No host answered: " + e.message));
