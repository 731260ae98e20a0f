// Shared by the office pages (an ES module: no build step, no inline script, no eval).
// The page's strings come from the #i18n JSON block, the CSRF token and the office time zone from
// data- attributes of <body>; every unsafe request sends the token as X-CSRF-Token.
"use strict";

export const t = JSON.parse(document.getElementById("i18n").textContent);
const body = document.body.dataset;
export const csrf = body.csrf || "";
export const timezone = body.timezone || "UTC";
export const lang = body.lang || "en";

export function fmt(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : ""));
}

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export class ApiFailure extends Error {
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function loginUrl() {
  return "/login?next=" + encodeURIComponent(location.pathname + location.search);
}

// fetch with the session cookie; JSON in and out; errors as ApiFailure with the API's code.
export async function api(path, opts = {}) {
  const method = opts.method || "GET";
  const headers = { Accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.json);
  } else if (opts.form) {
    init.body = opts.form;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiFailure(0, "network", String(err.message || err), new Headers());
  }
  if (res.status === 401 && !opts.noLoginRedirect) {
    location.assign(loginUrl()); // the session ended: log in again and come back here
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiFailure(res.status, err.code || "http_" + res.status, err.message || res.statusText, res.headers);
  }
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  return q.toString();
}

// Times in the office's time zone, whatever the browser's own is.
const timeFmt = new Intl.DateTimeFormat(lang, { timeZone: timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const dateTimeFmt = new Intl.DateTimeFormat(lang, {
  timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
export function hhmm(iso) {
  return iso ? timeFmt.format(new Date(iso)) : "–";
}
export function dateTime(iso) {
  return iso ? dateTimeFmt.format(new Date(iso)) : "–";
}
const clockFmt = new Intl.DateTimeFormat(lang, {
  timeZone: timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
export function clock(date) {
  return clockFmt.format(date);
}

export function duration(minutes) {
  if (minutes === null || minutes === undefined) return "–";
  const m = Math.max(0, Math.round(minutes));
  return fmt(t.hours_minutes, { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") });
}

// A lateness or early leave: "24 min", "5 h 50 min".
export function span(minutes) {
  const m = Math.max(0, Math.round(minutes || 0));
  return m < 60 ? fmt(t.minutes_only, { m }) : fmt(t.hours_minutes, { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") });
}

// The zone's offset from UTC, in minutes, at an instant.
function offsetAt(date, tz) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(date);
  const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second);
  return Math.round((asUtc - date.getTime()) / 60000);
}

// "2026-03-02" + "09:05" in the office zone -> "2026-03-02T09:05:00+03:00" (what the API takes).
export function zonedIso(day, time, tz = timezone) {
  const [y, mo, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const naive = Date.UTC(y, mo - 1, d, hh, mm);
  let off = offsetAt(new Date(naive), tz);
  off = offsetAt(new Date(naive - off * 60000), tz); // again at the real instant (DST edges)
  const a = Math.abs(off);
  const pad = (n) => String(n).padStart(2, "0");
  return `${day}T${pad(hh)}:${pad(mm)}:00${off >= 0 ? "+" : "-"}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

export function todayIn(tz = timezone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

export function nextDay(day) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

export function show(node, text, kind) {
  node.textContent = text || "";
  node.hidden = !text;
  if (kind) node.dataset.kind = kind;
}

export function tag(text, kind) {
  return el("span", { class: "tag " + kind, text });
}

export function kindLabel(kind) {
  return t["kind_" + kind] || kind;
}

// Logout: the API ends the session server-side; then the login page.
const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    try { await api("/api/v1/auth/logout", { method: "POST", noLoginRedirect: true }); } catch { /* ended anyway */ }
    location.assign("/login");
  });
}
