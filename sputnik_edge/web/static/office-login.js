// Login page: the API's login (rate limits and all); a refusal never says which part was wrong.
"use strict";
import { fmt, show, t } from "./office.js";

const form = document.getElementById("login");
const error = document.getElementById("login-error");
const button = form.querySelector("button[type=submit]");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    show(error, t.login_failed);
    return;
  }
  button.disabled = true;
  show(error, "");
  let res;
  try {
    res = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, password }),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    show(error, t.login_error);
    button.disabled = false;
    return;
  }
  if (res.ok) {
    location.replace(form.dataset.next || "/today"); // the server checked it is a local path
    return;
  }
  form.password.value = "";
  if (res.status === 429) {
    const wait = Number(res.headers.get("Retry-After") || 60);
    show(error, fmt(t.login_rate_limited, { seconds: wait }));
    setTimeout(() => { button.disabled = false; }, Math.min(wait, 600) * 1000);
    return;
  }
  // 401 and a malformed form alike (422) get the same words.
  show(error, res.status === 401 || res.status === 422 ? t.login_failed : t.login_error);
  button.disabled = false;
  form.password.focus();
});
