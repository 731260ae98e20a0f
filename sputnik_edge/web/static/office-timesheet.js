// Timesheet: the timesheet API's rows and totals, every mark in words as well as colour; for hr a
// correction dialog (add a missing check-in/out, or void an event; a reason is required).
"use strict";
import { api, duration, el, fmt, hhmm, kindLabel, nextDay, query, show, span, t, tag, zonedIso } from "./office.js";

const root = document.getElementById("timesheet");
const params = { from: root.dataset.from, to: root.dataset.to, department: root.dataset.department };
const canCorrect = root.dataset.canCorrect === "true";
const status = document.getElementById("timesheet-status");

function time(value) {
  if (!value) return "–";
  return value.includes("T") ? hhmm(value) : value.slice(0, 5); // a datetime, or a time of day
}

function marks(r) {
  const out = [];
  if (r.absent) out.push(tag(t.mark_absent, "bad"));
  if (r.late_minutes > 0) out.push(tag(fmt(t.mark_late, { time: span(r.late_minutes) }), "warn"));
  if (r.early_leave_minutes > 0) out.push(tag(fmt(t.mark_early, { time: span(r.early_leave_minutes) }), "warn"));
  if (r.missing_in) out.push(tag(t.mark_missing_in, "warn"));
  if (r.missing_out) out.push(tag(t.mark_missing_out, "warn"));
  if (r.pending) out.push(tag(t.mark_pending, "off"));
  if (r.corrected) {
    out.push(tag(t.mark_corrected, "info"));
    const reasons = (r.correction_reasons || []).join("; ");
    if (reasons) out.push(el("span", { class: "muted reason", text: fmt(t.correction_reasons, { reasons }) }));
  }
  if (!out.length) out.push(tag(t.mark_ok, "ok"));
  return out;
}

function cell(label, content, extra) {
  const td = el("td", { "data-label": label, ...(extra || {}) });
  if (Array.isArray(content)) td.append(...content); else td.append(content);
  return td;
}

function dayRow(r) {
  const scheduled = r.scheduled_start || r.scheduled_end ? `${time(r.scheduled_start)}–${time(r.scheduled_end)}` : "–";
  const tr = el("tr", {
    "data-employee-id": r.employee_id, "data-day": r.day, "data-corrected": r.corrected ? "true" : "false",
    "data-absent": r.absent ? "true" : "false", class: [r.absent && "absent", r.corrected && "corrected"].filter(Boolean).join(" ") || null,
  },
  cell(t.name, [el("strong", { text: r.full_name }), " ", el("span", { class: "muted", text: r.employee_id })]),
  cell(t.day, r.day),
  cell(t.scheduled, scheduled),
  cell(t.first_in, time(r.first_in), { "data-cell": "first_in", class: r.late_minutes > 0 ? "late" : null }),
  cell(t.last_out, time(r.last_out), { "data-cell": "last_out", class: r.early_leave_minutes > 0 ? "late" : null }),
  cell(t.worked, duration(r.worked_minutes)),
  cell(t.marks, marks(r), { "data-cell": "marks", class: "marks" }));
  if (canCorrect) {
    const label = fmt(t.correct_label, { name: r.full_name, day: r.day });
    const button = el("button", { type: "button", class: "quiet", "data-correct": "", "aria-label": label, text: t.correct });
    button.addEventListener("click", () => openDialog(r));
    tr.append(cell("", button, { class: "action" }));
  }
  return tr;
}

function totalRow(x) {
  return el("tr", { "data-employee-id": x.employee_id },
    cell(t.name, [el("strong", { text: x.full_name }), " ", el("span", { class: "muted", text: x.employee_id })]),
    cell(t.worked, duration(x.worked_minutes)),
    cell(t.late_total, x.late_minutes ? span(x.late_minutes) : "–"),
    cell(t.early_total, x.early_leave_minutes ? span(x.early_leave_minutes) : "–"),
    cell(t.days_present, String(x.days_present)),
    cell(t.days_absent, String(x.days_absent)));
}

function empty(columns) {
  return el("tr", {}, el("td", { colspan: columns, text: t.no_rows }));
}

async function load() {
  try {
    const sheet = await api("/api/v1/attendance/timesheet?" + query({ ...params, format: "json" }));
    const days = sheet.rows.map(dayRow);
    document.querySelector("#timesheet-table tbody").replaceChildren(...(days.length ? days : [empty(canCorrect ? 8 : 7)]));
    const totals = sheet.totals.map(totalRow);
    document.querySelector("#totals-table tbody").replaceChildren(...(totals.length ? totals : [empty(6)]));
    show(status, "");
    root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
  } catch (err) {
    show(status, fmt(t.load_failed, { error: err.message }), "error");
  }
}

// ---- corrections (hr) ----------------------------------------------------------------------------
const dialog = document.getElementById("correction");
let current = null;

function part(name) {
  return dialog.querySelector(`[data-part="${name}"]`);
}

function setAction(action) {
  part("add").hidden = action !== "add";
  part("void").hidden = action !== "void";
}

async function listEvents(row) {
  const box = document.getElementById("void-events");
  box.replaceChildren(el("p", { class: "muted", text: t.loading }));
  const from = zonedIso(row.day, "00:00");
  const to = zonedIso(nextDay(row.day), "00:00");
  try {
    const res = await api("/api/v1/attendance/events?" + query({ employee_id: row.employee_id, from, to, limit: 100 }));
    const live = res.events.filter((e) => !e.voided);
    box.replaceChildren(...(live.length ? live.map((e, i) => el("label", { class: "choice" },
      el("input", { type: "radio", name: "event_id", value: e.event_id, checked: i === 0 }),
      ` ${hhmm(e.captured_at)} ${kindLabel(e.kind)} (${e.device_id})`)) : [el("p", { class: "muted", text: t.no_events_to_void })]));
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", text: fmt(t.load_failed, { error: err.message }) }));
  }
}

function openDialog(row) {
  current = row;
  const form = document.getElementById("correction-form");
  form.reset();
  document.getElementById("correction-title").textContent = fmt(t.correction_title, { name: row.full_name, day: row.day });
  form.elements.punch_kind.value = row.missing_in || !row.first_in ? "check_in" : "check_out";
  show(document.getElementById("correction-error"), "");
  setAction("add");
  listEvents(row);
  dialog.showModal();
}

if (dialog) {
  const form = document.getElementById("correction-form");
  const error = document.getElementById("correction-error");
  form.addEventListener("change", (ev) => { if (ev.target.name === "action") setAction(ev.target.value); });
  document.getElementById("correction-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const action = f.namedItem("action").value;
    const reason = f.reason.value.trim();
    const body = { action, reason };
    if (action === "add") {
      if (!f.time.value) { show(error, t.time_required); f.time.focus(); return; }
      Object.assign(body, { employee_id: current.employee_id, punch_kind: f.punch_kind.value, at: zonedIso(current.day, f.time.value) });
    } else {
      const picked = form.querySelector("input[name=event_id]:checked");
      if (!picked) { show(error, t.choose_event); return; }
      body.event_id = picked.value;
    }
    if (!reason) { show(error, t.reason_required); f.reason.focus(); return; }
    const save = document.getElementById("correction-save");
    save.disabled = true;
    try {
      await api("/api/v1/attendance/corrections", { method: "POST", json: body });
      dialog.close();
      show(status, t.correction_saved);
      await load();
      show(status, t.correction_saved);
    } catch (err) {
      show(error, fmt(t.request_failed, { message: err.message }));
    } finally {
      save.disabled = false;
    }
  });
}

load();
