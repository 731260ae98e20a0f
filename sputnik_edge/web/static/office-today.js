// Today: who is in now, who came late, who is absent, the last events and each device, refreshed
// every few seconds without reloading. Rows carry data-employee-id / data-event-id / data-device-id
// so a test (or a screen reader user's find) can follow one person or event across refreshes.
"use strict";
import { api, clock, el, fmt, hhmm, kindLabel, query, show, span, t, tag, todayIn, zonedIso } from "./office.js";

const root = document.getElementById("today");
const refreshMs = Number(root.dataset.refreshMs || 5000);
const department = root.dataset.department || "";
const EVENTS_LIMIT = 100;

function person(row, ...extra) {
  return el("li", { "data-employee-id": row.employee_id },
    el("strong", { text: row.full_name }), " ",
    row.department ? el("span", { class: "muted", text: row.department }) : null,
    ...extra.flatMap((x) => (typeof x === "string" ? [el("span", { text: " · " + x })] : [" ", x])));
}

function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: empty })]));
}

function renderDaily(daily) {
  const rows = daily.rows.slice().sort((a, b) => a.full_name.localeCompare(b.full_name));
  const inNow = rows.filter((r) => r.in_now);
  const late = rows.filter((r) => r.late);
  // The API decides "absent" once the day is over; until then, whoever was due and has not come.
  const now = Date.now();
  const absent = rows.filter((r) => r.absent || (!r.present && r.scheduled_start && Date.parse(r.scheduled_start) <= now));
  const present = rows.filter((r) => r.present);
  const counts = { in_now: inNow.length, late: late.length, absent: absent.length, present: present.length };
  for (const [key, n] of Object.entries(counts)) {
    const node = root.querySelector(`[data-counter="${key}"] .num`);
    node.textContent = key === "present" ? fmt(t.of_total, { count: n, total: rows.length }) : String(n);
  }
  fill(document.getElementById("list-in-now"),
    inNow.map((r) => person(r, fmt(t.since, { time: hhmm(r.first_in) }))), t.nobody);
  fill(document.getElementById("list-late"),
    late.map((r) => person(r, hhmm(r.first_in), tag(fmt(t.late_by, { time: span(r.late_minutes) }), "warn"))), t.nobody);
  fill(document.getElementById("list-absent"),
    absent.map((r) => person(r, r.absent ? tag(t.mark_absent, "bad") : tag(t.not_arrived, "warn"))), t.nobody);
  document.getElementById("today-day").textContent = daily.day;
}

function eventItem(e) {
  const who = e.employee_id ? e.full_name || e.employee_id : t.unknown_person;
  return el("li", { "data-event-id": e.event_id, "data-kind": e.kind, "data-employee-id": e.employee_id || null,
    class: e.voided ? "voided" : null },
    el("time", { class: "when", datetime: e.captured_at, text: hhmm(e.captured_at) }),
    el("strong", { text: kindLabel(e.kind) }),
    el("span", { text: who }),
    el("span", { class: "muted", text: e.device_id + (e.camera_id ? " / " + e.camera_id : "") }),
    e.voided ? tag(t.voided, "off") : null,
    e.correction_id ? tag(t.mark_corrected, "info") : null);
}

function renderDevices(devices, events, complete) {
  const byDevice = new Map();
  for (const d of devices.devices) byDevice.set(d.device_id, { d, events: [] });
  for (const e of events) {
    if (!byDevice.has(e.device_id)) byDevice.set(e.device_id, { d: null, events: [] });
    byDevice.get(e.device_id).events.push(e);
  }
  const rows = [...byDevice.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([id, { d, events: evs }]) => {
    const last = evs[0]; // newest first
    const status = d === null ? "–" : tag(d.stale ? t.device_stale : t.device_fresh, d.stale ? "bad" : "ok");
    const count = complete ? String(evs.length) : evs.length + "+";
    return el("tr", { "data-device-id": id, class: d && d.stale ? "stale" : null },
      el("td", { "data-label": t.device }, el("strong", { text: id })),
      el("td", { "data-label": t.status }, status),
      el("td", { "data-label": t.last_seen, text: d && d.last_seen_at ? hhmm(d.last_seen_at) : "–" }),
      el("td", { "data-label": t.events_today, text: count }),
      el("td", { "data-label": t.last_event, text: last
        ? `${hhmm(last.captured_at)} ${kindLabel(last.kind)} ${last.employee_id ? last.full_name || last.employee_id : t.unknown_person}`
        : "–" }));
  });
  const body = document.querySelector("#today-devices tbody");
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, text: t.no_devices }))]));
}

async function refresh() {
  const day = todayIn(); // recomputed each time: a page left open overnight moves to the new day
  const [daily, events, devices] = await Promise.all([
    api("/api/v1/attendance/daily?" + query({ day, department })),
    api("/api/v1/attendance/events?" + query({ from: zonedIso(day, "00:00"), department, limit: EVENTS_LIMIT })),
    api("/api/v1/devices"),
  ]);
  renderDaily(daily);
  const list = events.events;
  fill(document.getElementById("today-events"), list.slice(0, 20).map(eventItem), t.no_events_today);
  renderDevices(devices, list, !events.next_cursor);
  const now = new Date();
  show(document.getElementById("today-updated"), fmt(t.updated_at, { time: clock(now) }));
  root.dataset.refreshes = String(Number(root.dataset.refreshes) + 1);
  root.dataset.refreshedAt = now.toISOString();
}

async function loop() {
  const banner = document.getElementById("today-error");
  try {
    await refresh();
    show(banner, "");
  } catch (err) {
    show(banner, err.status === 0 ? t.connection_lost : fmt(t.load_failed, { error: err.message }));
  }
  setTimeout(loop, document.hidden ? refreshMs * 4 : refreshMs);
}
loop();
