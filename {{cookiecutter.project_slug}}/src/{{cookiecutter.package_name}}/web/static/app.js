// The browser half of the refresh-token pattern. Tokens live in HttpOnly cookies this script
// cannot read; it only echoes the readable CSRF cookie in a header, and refreshes on expiry.
"use strict";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// The cookies' names depend on the server's settings (Secure cookies get a __Host- prefix).
const CSRF_ACCESS = document.body.dataset.csrfAccessCookie;
const CSRF_REFRESH = document.body.dataset.csrfRefreshCookie;

// Every time on the pages in one format (the server's `when` filter writes the same): 2026-12-03 14:05 UTC.
function when(value) {
  return new Date(value).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

// What the token log says about each event: what happened, why, and the guide's section on it.
const EVENTS = {
  opened: ["dashboard opened", "the access token from your login (or last refresh) is in an HttpOnly cookie", "access-and-refresh-tokens"],
  refreshed: ["access token expired → refreshed", "access tokens live minutes; the refresh token bought a new one and was itself replaced (rotation)", "rotation-and-reuse-detection"],
  refusedRefresh: ["refresh refused → logged out", "the session was ended (logout, password change, expiry): its refresh token no longer works", "revocation"],
  reused: ["refresh token reused → whole session revoked", "a spent refresh token came back: someone may hold a copy, so every token of this session stopped working", "rotation-and-reuse-detection"],
  reauthenticated: ["password re-entered → fresh access token", "sensitive actions need a token straight from a password check, not a refreshed one", "fresh-tokens-and-re-authentication"],
  passwordChanged: ["password changed; other sessions revoked", "a new password ends every other session, in case the old one leaked", "revocation"],
};

function logEvent(kind) {
  const log = document.getElementById("refresh-log");
  if (!log) return;
  const [what, why, section] = EVENTS[kind];
  const item = document.createElement("li");
  item.dataset.event = kind;
  item.append(`${when(Date.now())} — ${what}`);
  const reason = document.createElement("small");
  reason.className = "why";
  reason.textContent = `why: ${why}`;
  const guide = document.getElementById("session-card")?.dataset.guide;
  if (guide) {
    const link = document.createElement("a");
    link.href = `${guide}#${section}`;
    link.textContent = "more";
    reason.append(" (", link, ")");
  }
  item.append(reason);
  log.prepend(item);
}

// The login page shows the message for this code (its list is on the server).
function goToLogin(reason) {
  window.location.assign("/login?reason=" + encodeURIComponent(reason));
}

// A refresh token is single-use: spending one twice looks like theft and revokes the session. So
// requests that find the access token expired together share one refresh, and one that was sent
// before some other refresh (in this tab or another: the CSRF cookie changes with every refresh
// token) just retries. Tabs take turns through a Web Lock where the browser has them.
let refreshInFlight = null;
let lastRefusal = null;  // why the last refresh was refused: the login page says so
const oneTabAtATime = navigator.locks ? (task) => navigator.locks.request("paseto-refresh", task) : (task) => task();

function refreshOnce(refreshCsrfWhenSent) {
  const alreadyRefreshed = () => cookie(CSRF_REFRESH) !== refreshCsrfWhenSent;
  if (alreadyRefreshed()) return Promise.resolve(true);
  if (!refreshInFlight) {
    refreshInFlight = oneTabAtATime(async () => {
      if (alreadyRefreshed()) return true;
      const response = await fetch("/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": cookie(CSRF_REFRESH) },
      });
      if (response.ok) {
        logEvent("refreshed");
        return true;
      }
      lastRefusal = await errorCode(response);
      logEvent(lastRefusal === "token_reused" ? "reused" : "refusedRefresh");
      return false;
    })
      .catch(() => false)
      .finally(() => { refreshInFlight = null; });
  }
  return refreshInFlight;
}

async function errorCode(response) {
  try { return (await response.clone().json()).code; } catch { return undefined; }
}

// fetch() with cookies and CSRF; on 401 token_expired it refreshes once and retries once.
async function api(path, { method = "GET", body } = {}) {
  const send = () => {
    const headers = { "Content-Type": "application/json" };
    if (UNSAFE.has(method)) headers["X-CSRF-Token"] = cookie(CSRF_ACCESS);
    return fetch(path, {
      method, credentials: "same-origin", headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  const refreshCsrfWhenSent = cookie(CSRF_REFRESH);
  let response = await send();
  if (response.status === 401 && ["token_expired", "missing_token"].includes(await errorCode(response))) {
    if (!(await refreshOnce(refreshCsrfWhenSent))) {
      goToLogin(lastRefusal === "token_reused" ? "reused" : "session_ended");
      return response;
    }
    response = await send();
  }
  if (response.status === 401 && ["token_revoked", "token_reused", "missing_token"].includes(await errorCode(response))) {
    goToLogin("revoked");
  }
  return response;
}

async function detail(response) {
  try {
    const data = await response.json();
    return typeof data.detail === "string" ? data.detail : "Please check the form.";
  } catch {
    return `Request failed (${response.status}).`;
  }
}

// -- login page ----------------------------------------------------------------------------------

function initLogin(form) {
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const response = await fetch("/login/browser", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) { window.location.assign("/"); return; }
    // A second factor: the server renders its step (the page of the form without script). form.submit()
    // posts the form as it is, without this handler; the password is checked once more there.
    if (response.status === 401 && (await errorCode(response)) === "mfa_required") { form.submit(); return; }
    error.textContent = await detail(response);
    form.password.value = "";
    form.password.focus();
  });
}

// -- dashboard --------------------------------------------------------------------------------------

let expiresAt = null;

function tick() {
  const countdown = document.getElementById("session-countdown");
  if (!expiresAt) return;
  const seconds = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
  countdown.textContent = seconds > 0 ? `${seconds} s` : "expired (refreshes on your next action)";
}

function show(id, text) {
  document.getElementById(id).textContent = text;
}

async function loadSession() {
  const response = await api("/session");
  if (!response.ok) return;
  const session = await response.json();
  expiresAt = Date.parse(session.expires_at);
  show("session-user", session.user);
  show("session-family", session.family.slice(0, 8) + "…");
  show("session-fresh", session.fresh ? "yes" : "no (refreshed)");
  show("session-issued", when(session.issued_at));
  show("session-expires", `(at ${when(expiresAt)})`);
  show("session-refresh-expires", session.refresh_expires_at ? when(session.refresh_expires_at) : "unknown");
  tick();
}

async function changePassword(form, result) {
  const response = await api("/users/me/password", {
    method: "POST",
    body: { current_password: form["current-password"].value, new_password: form["new-password"].value },
  });
  if (response.status === 204) {
    result.textContent = "Password changed. Your other sessions were logged out.";
    form.reset();
    logEvent("passwordChanged");
  } else if ((await errorCode(response)) === "fresh_token_required") {
    result.textContent = "Please confirm your password to continue.";
    const reauth = document.getElementById("reauth-form");
    reauth.hidden = false;
    document.getElementById("reauth-password").focus();
  } else {
    result.textContent = await detail(response);
  }
}

function initDashboard() {
  const result = document.getElementById("protected-result");
  document.getElementById("call-protected").addEventListener("click", async () => {
    const response = await api("/protected");
    result.textContent = response.ok ? `/protected says: ${JSON.stringify(await response.json())}` : await detail(response);
    loadSession();
  });
  // Log out (here or everywhere) needs no script: those forms post to the server as they are.

  const passwordForm = document.getElementById("password-form");
  const passwordResult = document.getElementById("password-result");
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await changePassword(passwordForm, passwordResult);
    loadSession();
  });
  const reauth = document.getElementById("reauth-form");
  reauth.addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = document.getElementById("reauth-password");
    const response = await api("/fresh-login", { method: "POST", body: { password: password.value } });
    // A second factor: let the form post as it is; the server shows the page that asks for the code.
    if (response.status === 401 && (await errorCode(response)) === "mfa_required") {
      reauth.csrf.value = cookie(CSRF_ACCESS);  // submit() skips the listener that does this (the call may have refreshed)
      reauth.submit();
      return;
    }
    password.value = "";
    if (!response.ok) { passwordResult.textContent = await detail(response); return; }
    reauth.hidden = true;
    logEvent("reauthenticated");
    await changePassword(passwordForm, passwordResult);
    loadSession();
  });

  logEvent("opened");
  loadSession();
  setInterval(tick, 1000);
}

// The page came with an expired access token: refresh it as the API calls do (once, shared by tabs),
// instead of waiting for a click on "Continue", and show the page again.
async function continueSession() {
  if (await refreshOnce(cookie(CSRF_REFRESH))) window.location.reload();
  else goToLogin(lastRefusal === "token_reused" ? "reused" : "session_ended");
}

// Forms cannot send the CSRF header, so they carry the value in a hidden field; the page may be older
// than the last refresh (made by this script, or another tab), so the field takes the cookie's value now.
document.addEventListener("submit", (event) => {
  for (const field of event.target.querySelectorAll("input[data-csrf]")) {
    field.value = cookie(field.dataset.csrf === "refresh" ? CSRF_REFRESH : CSRF_ACCESS);
  }
}, true);

document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-script]")) element.hidden = false;  // what needs this script
  // A one-time link's token is in the page's form now: out of the address bar and the history with it.
  if (new URLSearchParams(window.location.search).has("token")) window.history.replaceState(null, "", window.location.pathname);
  const loginForm = document.getElementById("login-form");
  if (loginForm) initLogin(loginForm);
  if (document.getElementById("session-expired")) continueSession();
  if (document.getElementById("session-user")) initDashboard();
});
