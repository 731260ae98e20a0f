// Enrolment photos on an employee's page: upload a file or take one with the browser's camera
// (getUserMedia -> canvas -> JPEG), then the quality gate's verdict in words. A capture lives only
// in memory until it is uploaded (kept for "enrol anyway" after a duplicate warning, then dropped).
"use strict";
import { api, el, fmt, show, t } from "./office.js";

const page = document.getElementById("employee");
const id = page.dataset.employeeId;
const result = document.getElementById("photo-result");
const count = document.getElementById("templates-count");
const QUALITY_REASONS = ["face_too_small", "blurry", "pose_yaw", "pose_pitch", "too_dark", "too_bright", "low_det_score", "partial_face"];
let pending = null; // { blob, name } awaiting "enrol anyway"

function outcome(kind, ...children) {
  result.dataset.outcome = kind;
  result.replaceChildren(...children);
}

// The API's code is the first reason; its message lists the others ("... (face_too_small, blurry)").
function reasonsOf(code, message) {
  const found = [code, ...QUALITY_REASONS.filter((r) => r !== code && new RegExp("\\b" + r + "\\b").test(message))];
  return found.filter((r) => r !== "low_quality");
}

async function duplicateOf(message) {
  // "this face already matches employee 'e-17' (similarity 0.712 >= 0.55); ..."
  const m = /employee (['"])(.*?)\1 \(similarity ([0-9.]+)/.exec(message);
  if (!m) return null;
  let name = m[2];
  try { name = (await api("/api/v1/employees/" + encodeURIComponent(m[2]))).full_name; } catch { /* id only */ }
  return { id: m[2], name, similarity: m[3] };
}

// A clip goes to the clip door, which keeps a few of its best frames (see README "Real doors").
function isClip(blob, name) {
  return (blob.type || "").startsWith("video/") || /\.(webm|mp4|mov)$/i.test(name || "");
}

async function upload(blob, name, force) {
  const form = new FormData();
  form.append("file", blob, name);
  if (force) form.append("force", "true");
  const clip = isClip(blob, name);
  outcome("checking", el("span", { text: t.photo_checking }));
  try {
    const res = await api(`/api/v1/employees/${encodeURIComponent(id)}/${clip ? "clips" : "photos"}`, { method: "POST", form });
    pending = null;
    const added = clip ? res.template_ids.length : 1;
    const n = Number(count.dataset.count) + added;
    count.dataset.count = String(n);
    count.textContent = fmt(t.templates_count, { count: n });
    const text = clip ? fmt(t.clip_accepted, { count: added }) : fmt(t.photo_accepted, { score: res.quality.score.toFixed(2) });
    outcome("accepted", el("span", { class: "tag ok", text }));
    return true;
  } catch (err) {
    if (err.status === 409 && err.code === "duplicate_face") {
      pending = { blob, name };
      const other = (await duplicateOf(err.message)) || { id: "?", name: err.message, similarity: "?" };
      const again = el("button", { type: "button", id: "enrol-anyway", text: t.enrol_anyway });
      again.addEventListener("click", () => { if (pending) upload(pending.blob, pending.name, true); });
      outcome("duplicate", el("p", { class: "warning", "data-other-id": other.id, text: fmt(t.duplicate_warning, other) }), again);
      result.querySelector("[data-other-id]").dataset.otherName = other.name;
      return false;
    }
    pending = null;
    if (err.status === 422 || err.status === 413 || err.status === 415) {
      const reasons = reasonsOf(err.code, err.message);
      result.dataset.reasons = reasons.join(",");
      const words = reasons.map((r) => t["reason_" + r] || r).join(", ");
      outcome("refused", el("p", { class: "error", text: fmt(clip ? t.clip_refused : t.photo_refused, { reasons: words }) }));
    } else {
      outcome("error", el("p", { class: "error", text: fmt(t.request_failed, { message: err.message }) }));
    }
    return false;
  }
}

const uploadForm = document.getElementById("photo-upload");
uploadForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = uploadForm.elements.file.files[0];
  if (!file) { uploadForm.elements.file.focus(); return; }
  if (await upload(file, file.name, false)) uploadForm.reset();
});

// ---- the camera ---------------------------------------------------------------------------------
const video = document.getElementById("camera-video");
const start = document.getElementById("camera-start");
const take = document.getElementById("camera-take");
const stop = document.getElementById("camera-stop");
let stream = null;

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.srcObject = null;
  video.hidden = take.hidden = stop.hidden = true;
  start.hidden = false;
}

start.addEventListener("click", async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
  } catch (err) {
    outcome("error", el("p", { class: "error", text: fmt(t.camera_failed, { error: err.message || err.name }) }));
    return;
  }
  video.srcObject = stream;
  video.hidden = take.hidden = stop.hidden = false;
  start.hidden = true;
  await video.play();
  take.focus();
});

take.addEventListener("click", () => {
  if (!stream || !video.videoWidth) return;
  const canvas = document.createElement("canvas"); // never attached to the page, dropped after
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob(async (blob) => {
    if (blob && (await upload(blob, "camera.jpg", false))) stopCamera();
  }, "image/jpeg", 0.92);
});

stop.addEventListener("click", stopCamera);
window.addEventListener("pagehide", stopCamera);
