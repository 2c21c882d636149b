"use strict";
// The MCP Apps bridge: JSON-RPC 2.0 with the host over postMessage. The page asks
// the host to initialize it, is told the tool's input and result, and reads what it
// shows through the host (resources/read, tools/call): it has no network of its own.
const bridge = (() => {
  let next = 1;
  const pending = new Map();
  const handlers = new Map();
  const post = (m) => window.parent.postMessage(Object.assign({ jsonrpc: "2.0" }, m), "*");
  window.addEventListener("message", (ev) => {
    if (ev.source !== window.parent) return;
    const m = ev.data;
    if (!m || m.jsonrpc !== "2.0") return;
    if (m.method === undefined) {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error.message || "error " + m.error.code));
      else p.resolve(m.result);
      return;
    }
    if (m.id !== undefined) {
      // A request from the host (ui/resource-teardown): nothing to release.
      post({ id: m.id, result: {} });
      return;
    }
    const handler = handlers.get(m.method);
    if (handler) handler(m.params || {});
  });
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      post({ id, method, params });
    });
  const notify = (method, params) => post({ method, params });
  const size = () =>
    notify("ui/notifications/size-changed", {
      width: document.documentElement.scrollWidth,
      height: document.documentElement.scrollHeight,
    });
  return {
    request,
    on: (method, f) => handlers.set(method, f),
    start: (name) =>
      request("ui/initialize", {
        protocolVersion: "2026-01-26",
        appInfo: { name, version: "1" },
        appCapabilities: {},
      }).then(() => {
        notify("ui/notifications/initialized", {});
        new ResizeObserver(size).observe(document.body);
      }),
    read: async (uri) => (await request("resources/read", { uri })).contents[0],
  };
})();

const status = (text) => {
  document.getElementById("status").textContent = text;
};

const bytes = (n) => {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : n) + " " + units[i];
};

const el = (tag, className, text) => {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
};
