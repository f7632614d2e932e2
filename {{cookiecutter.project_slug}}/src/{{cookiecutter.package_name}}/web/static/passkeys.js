// Passkeys: the one part of the pages that needs JavaScript, since only the browser's WebAuthn API can
// talk to an authenticator. Each ceremony asks the server for options, hands them to the browser, and
// sends its answer back. Uses app.js's helpers (api, detail, errorCode), loaded before this file.
"use strict";

const PASSKEYS_WORK = Boolean(window.PublicKeyCredential?.parseCreationOptionsFromJSON && window.isSecureContext);

function postJSON(path, body) {
  return fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// What the browser says when no passkey was used (cancelled, timed out, none for this site), in words.
function ceremonyFailed(error) {
  return error?.name === "NotAllowedError" ? "No passkey was used (cancelled, or none for this site)." : `The passkey did not work (${error?.name}).`;
}

async function addPasskey(status) {
  status.textContent = "";
  const options = await api("/passkeys/register/options", { method: "POST" });
  if (!options.ok) {
    // A refreshed session must prove itself again first: the page asks for it.
    if ((await errorCode(options)) === "fresh_token_required") { window.location.assign("/?notice=fresh_token_required"); return; }
    status.textContent = await detail(options);
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(await options.json()) });
  } catch (error) {
    status.textContent = ceremonyFailed(error);
    return;
  }
  const name = document.getElementById("new-passkey-name").value.trim() || "Passkey";
  const created = await api("/passkeys/register", { method: "POST", body: { credential: credential.toJSON(), name } });
  if (created.ok) window.location.assign("/?notice=passkey_added");
  else status.textContent = await detail(created);
}

// A login with a passkey alone (`step` absent), or the second step after a password (its mfa_token), of a
// login or of a re-authentication.
async function useTheirPasskey(report, step) {
  report.textContent = "";
  const options = step
    ? await postJSON("/login/mfa/passkey/options", { mfa_token: step.dataset.mfaToken })
    : await postJSON("/login/passkey/options", {});
  if (!options.ok) { report.textContent = await detail(options); return; }
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(await options.json()) });
  } catch (error) {
    report.textContent = ceremonyFailed(error);
    return;
  }
  const passkey = credential.toJSON();
  let answer;
  if (!step) answer = await postJSON("/login/passkey/browser", { credential: passkey });
  else if (step.dataset.reauthenticate) answer = await api("/fresh-login/mfa", { method: "POST", body: { mfa_token: step.dataset.mfaToken, passkey } });
  else answer = await postJSON("/login/mfa/browser", { mfa_token: step.dataset.mfaToken, passkey });
  if (answer.ok) window.location.assign(step?.dataset.reauthenticate ? "/?notice=reauthenticated" : "/");
  else report.textContent = await detail(answer);
}

document.addEventListener("DOMContentLoaded", () => {
  // What the pages say to a browser without the script ("passkeys need JavaScript") is not for this one.
  for (const element of document.querySelectorAll("[data-without-script]")) element.hidden = true;
  const add = document.getElementById("add-passkey");
  const login = document.getElementById("passkey-login-button");
  const step = document.getElementById("passkey-step");
  for (const button of [add, login, step?.querySelector("button")]) {
    if (button && !PASSKEYS_WORK) {
      button.disabled = true;
      button.title = "This browser cannot use passkeys here";
    }
  }
  if (add) add.addEventListener("click", () => addPasskey(document.getElementById("passkey-status")));
  if (login) login.addEventListener("click", () => useTheirPasskey(document.getElementById("login-error")));
  if (step) step.querySelector("button").addEventListener("click", () => useTheirPasskey(document.getElementById("mfa-error"), step));
});
