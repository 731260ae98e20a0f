// Device status page: polls /health, /api/v1/cameras and /api/v1/events, refreshes each camera's
// preview about twice a second. The token (when the device has one) stays in sessionStorage.
"use strict";
(function () {
  const t = JSON.parse(document.getElementById("i18n").textContent);
  const script = document.currentScript;
  const refreshMs = Number(script.dataset.refreshMs || 500);
  const state = { token: sessionStorage.getItem("sputnik-token") || "", cams: {}, blocked: false };

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }
  async function api(path, asBlob) {
    const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
    const res = await fetch(path, { headers, cache: "no-store" });
    if (res.status === 401) { askToken(); throw new Error("unauthorized"); }
    if (!res.ok) throw new Error(path + ": " + res.status);
    return asBlob ? res.blob() : res.json();
  }
  function askToken() {
    state.blocked = true;
    document.getElementById("token-form").hidden = false;
    if (state.token) document.getElementById("token-error").hidden = false;
  }
  document.getElementById("token").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = document.getElementById("token-input").value.trim();
    sessionStorage.setItem("sputnik-token", state.token);
    state.blocked = false;
    document.getElementById("token-form").hidden = true;
    document.getElementById("token-error").hidden = true;
    tick();
  });

  function setBadge(node, status, label) {
    node.className = "badge badge-" + status;
    node.textContent = label;
  }
  function cameraCard(cam) {
    const img = el("img", { class: "preview", alt: fmt(t.preview_alt, { camera: cam.id }), "data-camera": cam.id });
    const badge = el("span", { class: "badge", "data-role": "state" });
    const stats = el("p", { class: "muted", "data-role": "stats" });
    const hint = el("p", { class: "hint", "data-role": "hint", role: "note" });
    const err = el("p", { class: "error", "data-role": "error" });
    const card = el("article", { class: "card camera", id: "camera-" + cam.id, "aria-label": t.camera + " " + cam.id },
      el("h3", { text: cam.id + " " }, badge), img, stats, hint, err);
    return card;
  }
  function renderCameras(health, cameras) {
    const box = document.getElementById("cameras");
    for (const cam of cameras.cameras) {
      let card = document.getElementById("camera-" + cam.id);
      if (!card) { card = cameraCard(cam); box.append(card); state.cams[cam.id] = { url: null, busy: false }; }
      const h = (health.cameras || {})[cam.id] || {};
      setBadge(card.querySelector('[data-role="state"]'), h.state || "connecting", t["camera_state_" + (h.state || "connecting")] || h.state);
      card.querySelector('[data-role="stats"]').textContent =
        `${(h.fps_processed || 0).toFixed(1)} ${t.fps} · ${t.faces_seen}: ${cam.faces_seen} · ` +
        `${t.median_face}: ${cam.median_face_px == null ? "–" : Math.round(cam.median_face_px) + " px"} (${t.min_face} ${cam.min_face_px} px)`;
      const hint = card.querySelector('[data-role="hint"]');
      hint.textContent = cam.hints.length ? cam.hints.map((k) => t["hint_" + k] || k).join(" ") : t.hint_none;
      hint.classList.toggle("none", cam.hints.length === 0);
      card.querySelector('[data-role="error"]').textContent = h.last_error ? `${t.last_error}: ${h.last_error}` : "";
    }
  }
  async function refreshPreview(camId) {
    const slot = state.cams[camId];
    if (!slot || slot.busy || state.blocked) return;
    slot.busy = true;
    try {
      const blob = await api(`/api/v1/cameras/${encodeURIComponent(camId)}/preview.jpg`, true);
      const url = URL.createObjectURL(blob);
      const img = document.querySelector(`img[data-camera="${CSS.escape(camId)}"]`);
      img.src = url;
      if (slot.url) URL.revokeObjectURL(slot.url);
      slot.url = url;
    } catch (e) { /* no frame yet or camera down: keep the last picture */ } finally { slot.busy = false; }
  }
  function renderSystem(health) {
    const dl = document.getElementById("system");
    const c = health.central || {};
    const central = c.enabled ? `${c.database || ""} · ${t.last_push}: ${c.last_push_ok || "–"}${c.last_error ? " · " + c.last_error : ""}` : t.central_off;
    const rows = [
      [t.gallery, `${health.gallery.employees} ${t.employees}, ${health.gallery.templates} ${t.templates}`],
      [t.outbox, String(health.outbox.backlog)],
      [t.disk_free, `${health.disk_free_mb} MB`],
      [t.central, central],
      [t.uptime, `${Math.round(health.uptime_s)} s`],
    ];
    dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }
  function renderEvents(events) {
    const ul = document.getElementById("events");
    const items = events.events.slice(-20).reverse().map((e) => el("li", {},
      el("span", { class: "when", text: new Date(e.captured_at).toLocaleString() }),
      el("strong", { text: t["kind_" + e.kind] || e.kind }),
      el("span", { text: e.name || e.employee_id || "–" }),
      el("span", { class: "muted", text: `${t.camera}: ${e.camera_id}` }),
      el("span", { class: "muted", text: `${t.synced}: ${e.synced ? t.yes : t.no}` })));
    ul.replaceChildren(...(items.length ? items : [el("li", { text: t.no_events })]));
  }
  let slow = 0;
  async function tick() {
    if (state.blocked) return;
    try {
      if (slow % 4 === 0) {  // the JSON parts every ~2 s, the pictures every refreshMs
        const health = await fetch("/health", { cache: "no-store" }).then((r) => r.json());
        setBadge(document.getElementById("status"), health.status, t["status_" + health.status] || health.status);
        const [cameras, events] = await Promise.all([api("/api/v1/cameras"), api("/api/v1/events?limit=20")]);
        renderCameras(health, cameras);
        renderSystem(health);
        renderEvents(events);
      }
      slow += 1;
      await Promise.all(Object.keys(state.cams).map(refreshPreview));
    } catch (e) { /* shown through the badges; try again */ }
  }
  tick();
  setInterval(tick, refreshMs);
})();
