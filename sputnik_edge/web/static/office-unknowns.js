// Unknown visitors: groups of face crops of people the devices did not know; "this is ..." enrols a
// group as an existing or a new employee. Crops are shown from the API and never kept by the page.
"use strict";
import { api, dateTime, el, fmt, show, t } from "./office.js";

const box = document.getElementById("unknowns");
const status = document.getElementById("unknowns-status");
const template = document.getElementById("group-template");
const MAX_CROPS = 8;

function groupCard(g, index) {
  const card = template.content.firstElementChild.cloneNode(true);
  card.dataset.groupId = g.group_id;
  const title = card.querySelector('[data-role="title"]');
  title.id = `group-${index}-title`;
  title.textContent = fmt(t.group_seen, { count: g.size });
  card.setAttribute("aria-labelledby", title.id);
  card.querySelector('[data-role="seen"]').textContent =
    `${t.first_seen}: ${dateTime(g.first_seen)} · ${t.last_seen}: ${dateTime(g.last_seen)}`;
  const crops = card.querySelector('[data-role="crops"]');
  for (const f of g.faces.slice(0, MAX_CROPS)) {
    crops.append(el("img", {
      src: `/api/v1/unknowns/faces/${encodeURIComponent(f.event_id)}/crop.jpg`, loading: "lazy", width: 96, height: 96,
      alt: fmt(t.crop_alt, { camera: f.camera_id || f.device_id, time: dateTime(f.captured_at) }),
    }));
  }
  const form = card.querySelector('[data-role="enrol"]');
  for (const [role, name] of [["id-label", "employee_id"], ["name-label", "full_name"], ["department-label", "department"]]) {
    const input = form.elements[name];
    input.id = `group-${index}-${name}`;
    form.querySelector(`[data-role="${role}"]`).htmlFor = input.id;
  }
  for (const radio of form.querySelectorAll("input[name=who]")) radio.name = `who-${index}`;
  const newPart = form.querySelector('[data-part="new"]');
  form.addEventListener("change", (ev) => {
    if (ev.target.name !== `who-${index}`) return;
    const isNew = ev.target.value === "new";
    newPart.hidden = !isNew;
    // A new employee's id is not one of the existing ones: no suggestions then.
    if (isNew) form.elements.employee_id.removeAttribute("list");
    else form.elements.employee_id.setAttribute("list", "employee-list");
    form.elements.full_name.required = isNew;
  });
  const result = form.querySelector('[data-role="result"]');
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const isNew = form.querySelector(`input[name="who-${index}"]:checked`).value === "new";
    const body = { employee_id: f.employee_id.value.trim() };
    if (isNew) Object.assign(body, { full_name: f.full_name.value.trim(), department: f.department.value.trim() || null });
    if (!body.employee_id || (isNew && !body.full_name)) {
      show(result, fmt(t.request_failed, { message: !body.employee_id ? t.employee_id : t.full_name }), "error");
      return;
    }
    try {
      const done = await api(`/api/v1/unknowns/${encodeURIComponent(g.group_id)}/enroll`, { method: "POST", json: body });
      show(result, fmt(t.enrolled, { id: done.employee_id, templates: done.templates }), "ok");
      form.querySelector("button[type=submit]").disabled = true;
      crops.replaceChildren(); // the crops belong to an employee now; nothing of them stays here
    } catch (err) {
      show(result, fmt(t.request_failed, { message: err.message }), "error");
    }
  });
  return card;
}

async function load() {
  try {
    const res = await api("/api/v1/unknowns");
    if (!res.enabled) { show(status, t.unknowns_disabled); return; }
    box.replaceChildren(...res.groups.map(groupCard));
    show(status, res.groups.length ? "" : t.unknowns_none);
  } catch (err) {
    show(status, fmt(t.load_failed, { error: err.message }), "error");
  }
}
load();
