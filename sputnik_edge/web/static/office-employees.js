// Employees: search the listed rows in the page (a search never goes into a URL), add an employee;
// on one employee's page edit, (de)activate and erase after typing the id. All through the API.
"use strict";
import { api, fmt, show, t } from "./office.js";

function employeePath(id) {
  return "/api/v1/employees/" + encodeURIComponent(id);
}

// ---- the list -----------------------------------------------------------------------------------
const search = document.getElementById("search");
if (search) {
  const rows = [...document.querySelectorAll("#employees-table tbody tr")];
  const count = document.getElementById("shown-count");
  const none = document.getElementById("no-matches");
  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const hit = words.every((w) => row.dataset.search.includes(w));
      row.hidden = !hit;
      if (hit) shown += 1;
    }
    count.textContent = fmt(t.shown_of, { shown, total: rows.length });
    none.hidden = shown > 0;
  });
}

const addForm = document.getElementById("add-employee");
if (addForm) {
  const error = document.getElementById("add-error");
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = addForm.elements;
    const body = { employee_id: f.employee_id.value.trim(), full_name: f.full_name.value.trim(), department: f.department.value.trim() || null };
    if (!body.employee_id || !body.full_name) {
      show(error, fmt(t.request_failed, { message: !body.employee_id ? t.employee_id : t.full_name }));
      return;
    }
    try {
      const created = await api("/api/v1/employees", { method: "POST", json: body });
      location.assign("/employees/" + encodeURIComponent(created.employee_id));
    } catch (err) {
      show(error, err.status === 409 ? t.employee_exists : fmt(t.request_failed, { message: err.message }));
    }
  });
}

// ---- one employee -------------------------------------------------------------------------------
const page = document.getElementById("employee");
if (page) {
  const id = page.dataset.employeeId;

  const edit = document.getElementById("edit-employee");
  const editResult = document.getElementById("edit-result");
  edit.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = edit.elements;
    try {
      const saved = await api(employeePath(id), {
        method: "PATCH", json: { full_name: f.full_name.value.trim(), department: f.department.value.trim() || null },
      });
      document.getElementById("employee-name").textContent = saved.full_name;
      show(editResult, t.saved, "ok");
    } catch (err) {
      show(editResult, fmt(t.request_failed, { message: err.message }), "error");
    }
  });

  const toggle = document.getElementById("toggle-active");
  toggle.addEventListener("click", async () => {
    try {
      const saved = await api(employeePath(id) + "/" + toggle.dataset.action, { method: "POST" });
      page.dataset.active = String(saved.is_active);
      toggle.dataset.action = saved.is_active ? "deactivate" : "activate";
      toggle.textContent = saved.is_active ? t.deactivate : t.activate;
      const badge = document.getElementById("employee-status");
      badge.textContent = saved.is_active ? t.active : t.inactive;
      badge.className = "tag " + (saved.is_active ? "ok" : "off");
      show(editResult, t.saved, "ok");
    } catch (err) {
      show(editResult, fmt(t.request_failed, { message: err.message }), "error");
    }
  });

  // Erasure cannot be undone: the button works only once the id is typed exactly.
  const erase = document.getElementById("erase");
  const confirm = document.getElementById("erase-confirm");
  const submit = document.getElementById("erase-submit");
  const eraseError = document.getElementById("erase-error");
  confirm.addEventListener("input", () => { submit.disabled = confirm.value.trim() !== id; });
  erase.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (confirm.value.trim() !== id) return;
    submit.disabled = true;
    try {
      await api(employeePath(id), { method: "DELETE" });
      location.assign("/employees?done=erased");
    } catch (err) {
      show(eraseError, fmt(t.request_failed, { message: err.message }));
      submit.disabled = false;
    }
  });
}
