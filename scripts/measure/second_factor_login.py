"""Issue 24, live: logins with a second factor on PostgreSQL, the claims they give, what introspection says, the refusals.

One uvicorn worker, production hashing. `--accounts N` accounts with TOTP, N with a passkey and N with neither
log in, interleaved, in the same run: TOTP codes are single use, so each TOTP account logs in once, in a time
step after its enrolment. The passkeys are the project's software authenticator (tests/webauthn_authenticator.py),
served on http://localhost (browsers take no IP address as a relying party).
Prints the login's requests and answers (tokens elided), the access token's claims (decrypted with the project's
key), introspection's answer, and each refusal as request and answer.

    /tmp/measure/paseto-app/.venv/bin/python second_factor_login.py [--accounts 30]
"""

import hashlib
import json
import secrets
import sys
import time
from typing import Any

import httpx2
import pyotp
import pyseto
from common import (
    PASSWORD,
    Server,
    arguments,
    bearer,
    cli,
    command_line,
    create_user,
    drop_database,
    environment,
    error_code,
    fresh_database,
    load,
    percentile,
    write_section,
)

DATABASE = "measure_second_factor"
PORT = 8131


def elide(body: Any) -> Any:
    """The answer with every token shortened: the note shows shapes, never a usable secret."""
    if isinstance(body, dict):
        return {key: (f"{value[:12]}…" if isinstance(value, str) and len(value) > 40 else elide(value)) for key, value in body.items()}
    return body


def claims_of(project_env: dict[str, str], token: str) -> dict[str, Any]:
    """Decrypt a v4.local access token with the project's key (from its .env), as the app does."""
    key = pyseto.Key.from_paserk(project_env["PASETO_APP_PASETO_KEY"])
    decoded = pyseto.decode(key, token, deserializer=json)
    payload: dict[str, Any] = decoded.payload  # type: ignore[assignment]
    return {name: payload[name] for name in ("sub", "type", "fresh", "amr", "auth_time", "fam") if name in payload}


def read_env_file(project: Any) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (project / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def wait_for_next_step(totp: pyotp.TOTP) -> None:
    """Codes are single use per 30-second step: start the logins in a step after every enrolment's."""
    step = int(time.time()) // totp.interval
    while int(time.time()) // totp.interval == step:
        time.sleep(0.05)


def main() -> None:
    args = arguments(__doc__ or "", accounts="30")
    count = int(args.accounts)
    introspection_secret = secrets.token_urlsafe(24)
    clients = [{"id": "measure", "secret_sha256": hashlib.sha256(introspection_secret.encode()).hexdigest()}]
    env = environment(fresh_database(DATABASE), {"PASETO_APP_INTROSPECTION_CLIENTS": json.dumps(clients)})
    cli(args.project, env, "migrate")
    for index in range(count):
        create_user(args.project, env, f"totp{index}")
        create_user(args.project, env, f"plain{index}")
    for index in range(count):
        create_user(args.project, env, f"passkey{index}")
    keys = read_env_file(args.project)
    origin = f"http://localhost:{PORT}"
    env["PASETO_APP_PUBLIC_URL"] = origin
    server = Server(args.project, env, PORT, "second-factor")
    sys.path.insert(0, str(args.project / "tests"))
    from webauthn_authenticator import SoftwareAuthenticator  # the project's, beside its tests

    lines: list[str] = []
    try:
        with httpx2.Client(base_url=origin, timeout=60) as client:
            authenticators: dict[str, Any] = {}
            for index in range(count):
                name = f"passkey{index}"
                fresh = client.post("/login", json={"username": name, "password": PASSWORD}).json()["access_token"]
                options = client.post("/passkeys/register/options", headers=bearer(fresh)).json()
                authenticators[name] = SoftwareAuthenticator(origin=origin)
                credential = authenticators[name].create(options)
                client.post(
                    "/passkeys/register", headers=bearer(fresh), json={"credential": credential, "name": "Laptop"}
                ).raise_for_status()

            def passkey_second_step(name: str) -> httpx2.Response:
                first = client.post("/login", json={"username": name, "password": PASSWORD}).json()
                options = client.post("/login/mfa/passkey/options", json={"mfa_token": first["mfa_token"]}).json()
                return client.post("/login/mfa", json={"mfa_token": first["mfa_token"], "passkey": authenticators[name].get(options)})

            def passwordless(name: str, **wrong: Any) -> httpx2.Response:
                options = client.post("/login/passkey/options").json()
                return client.post("/login/passkey", json={"credential": authenticators[name].get(options, **wrong)})

            secrets_by_name: dict[str, str] = {}
            recovery: dict[str, list[str]] = {}
            for index in range(count):
                name = f"totp{index}"
                fresh = client.post("/login", json={"username": name, "password": PASSWORD}).json()["access_token"]
                setup = client.post("/mfa/totp/setup", headers=bearer(fresh)).json()
                secrets_by_name[name] = setup["secret"]
                confirmed = client.post("/mfa/totp/confirm", headers=bearer(fresh), json={"code": pyotp.TOTP(setup["secret"]).now()})
                confirmed.raise_for_status()
                recovery[name] = confirmed.json()["recovery_codes"]
            wait_for_next_step(pyotp.TOTP(secrets_by_name["totp0"]))

            # The same run, interleaved: a login without a factor, one with TOTP, one with a password and a
            # passkey, one with the passkey alone.
            plain_ms: list[float] = []
            first_ms: list[float] = []
            second_ms: list[float] = []
            passkey_step_ms: list[float] = []
            passwordless_ms: list[float] = []
            for index in range(count):
                started = time.perf_counter()
                passkey_second_step(f"passkey{index}").raise_for_status()
                passkey_step_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                passwordless(f"passkey{index}").raise_for_status()
                passwordless_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                client.post("/login", json={"username": f"plain{index}", "password": PASSWORD}).raise_for_status()
                plain_ms.append((time.perf_counter() - started) * 1000)
                name = f"totp{index}"
                started = time.perf_counter()
                first = client.post("/login", json={"username": name, "password": PASSWORD})
                middle = time.perf_counter()
                second = client.post(
                    "/login/mfa", json={"mfa_token": first.json()["mfa_token"], "code": pyotp.TOTP(secrets_by_name[name]).now()}
                )
                second.raise_for_status()
                first_ms.append((middle - started) * 1000)
                second_ms.append((time.perf_counter() - middle) * 1000)
            totals = [a + b for a, b in zip(first_ms, second_ms, strict=True)]
            lines += [
                f"Load before: {load()}. `{command_line()}`",
                "",
                "### Login latency, same run, interleaved (one worker, production argon2id, PostgreSQL)",
                "",
                f"- no second factor (`POST /login`): p50 {percentile(plain_ms, 0.5):.1f} ms, "
                f"p95 {percentile(plain_ms, 0.95):.1f} ms (n={count})",
                f"- TOTP, both steps: p50 {percentile(totals, 0.5):.1f} ms, p95 {percentile(totals, 0.95):.1f} ms "
                f"(password step p50 {percentile(first_ms, 0.5):.1f} ms, `/login/mfa` p50 {percentile(second_ms, 0.5):.1f} ms)",
                f"- password, then a passkey (3 requests): p50 {percentile(passkey_step_ms, 0.5):.1f} ms, "
                f"p95 {percentile(passkey_step_ms, 0.95):.1f} ms",
                f"- a passkey alone (2 requests, no password hashed): p50 {percentile(passwordless_ms, 0.5):.1f} ms, "
                f"p95 {percentile(passwordless_ms, 0.95):.1f} ms",
                "",
            ]

            # One login as requests and answers, its claims, introspection's answer.
            name, totp = "totp0", pyotp.TOTP(secrets_by_name["totp0"])
            wait_for_next_step(totp)
            first = client.post("/login", json={"username": name, "password": PASSWORD})
            second = client.post("/login/mfa", json={"mfa_token": first.json()["mfa_token"], "code": totp.now()})
            access = second.json()["access_token"]
            introspected = client.post("/introspect", data={"token": access}, auth=("measure", introspection_secret))
            plain = client.post("/login", json={"username": "plain0", "password": PASSWORD}).json()
            options = client.post("/login/passkey/options")
            answer = client.post("/login/passkey", json={"credential": authenticators["passkey0"].get(options.json())})
            passkey_access = answer.json()["access_token"]
            passkey_introspected = client.post("/introspect", data={"token": passkey_access}, auth=("measure", introspection_secret))
            stepped = passkey_second_step("passkey1").json()["access_token"]
            lines += [
                "### A passkey login (passwordless), and a password + passkey one",
                "",
                f"- `POST /login/passkey/options` → {options.status_code} `{json.dumps(elide(options.json()))}`",
                f"- `POST /login/passkey {{credential}}` → {answer.status_code} `{json.dumps(elide(answer.json()))}`",
                f"- access token's claims: `{json.dumps(claims_of(keys, passkey_access))}`",
                f"- `POST /introspect` → {passkey_introspected.status_code} `{json.dumps(elide(passkey_introspected.json()))}`",
                f"- password, then `/login/mfa {{mfa_token, passkey}}`: claims `{json.dumps(claims_of(keys, stepped))}`",
                "",
                "### A TOTP login",
                "",
                f"- `POST /login {{username: {name}, password}}` → {first.status_code} `{json.dumps(elide(first.json()))}`",
                f"- `POST /login/mfa {{mfa_token, code}}` → {second.status_code} `{json.dumps(elide(second.json()))}`",
                f"- access token's claims: `{json.dumps(claims_of(keys, access))}`",
                f"- `POST /introspect` → {introspected.status_code} `{json.dumps(elide(introspected.json()))}`",
                f"- for comparison, a password-only login's claims: `{json.dumps(claims_of(keys, plain['access_token']))}`",
                "",
                "### Refusals (request → answer)",
                "",
            ]

            def refusal(what: str, answer: httpx2.Response) -> None:
                lines.append(f"- {what} → {answer.status_code} `{error_code(answer)}`")

            def mfa_token(user: str) -> str:
                return str(client.post("/login", json={"username": user, "password": PASSWORD}).json()["mfa_token"])

            refusal(
                "`/login/mfa` with the code just accepted (same step)",
                client.post("/login/mfa", json={"mfa_token": mfa_token(name), "code": totp.now()}),
            )
            refusal(
                "`/login/mfa` with a wrong code",
                client.post("/login/mfa", json={"mfa_token": mfa_token(name), "code": "000000" if totp.now() != "000000" else "111111"}),
            )
            refusal(
                "`/login/mfa` with a code of 3 steps ago",
                client.post("/login/mfa", json={"mfa_token": mfa_token(name), "code": totp.at(time.time() - 90)}),
            )
            spare = recovery[name][0]
            client.post("/login/mfa", json={"mfa_token": mfa_token(name), "recovery_code": spare}).raise_for_status()
            refusal(
                "`/login/mfa` with a recovery code already used",
                client.post("/login/mfa", json={"mfa_token": mfa_token(name), "recovery_code": spare}),
            )
            token = mfa_token(name)
            refusal("the `mfa_token` as a bearer token on `/protected`", client.get("/protected", headers=bearer(token)))
            refusal("the `mfa_token` as a refresh token on `/refresh`", client.post("/refresh", headers=bearer(token)))
            user = "totp1"
            token = mfa_token(user)
            for _ in range(5):
                client.post("/login/mfa", json={"mfa_token": token, "recovery_code": "wrong-wrong-wrong"})
            refusal(
                "the `mfa_token` after 5 wrong attempts, with a right code",
                client.post("/login/mfa", json={"mfa_token": token, "code": pyotp.TOTP(secrets_by_name[user]).now()}),
            )
            user = "totp2"
            token = mfa_token(user)
            fresh = client.post("/login/mfa", json={"mfa_token": mfa_token(user), "recovery_code": recovery[user][0]}).json()[
                "access_token"
            ]
            changed = client.post(
                "/users/me/password", headers=bearer(fresh), json={"current_password": PASSWORD, "new_password": PASSWORD + "!"}
            )
            lines.append(f"- (the owner changes the password → {changed.status_code})")
            refusal(
                "an `mfa_token` issued before the password change",
                client.post("/login/mfa", json={"mfa_token": token, "recovery_code": recovery[user][1]}),
            )
            refreshed = client.post("/refresh", headers=bearer(second.json()["refresh_token"])).json()["access_token"]
            refusal("`DELETE /mfa/totp` with a refreshed (not fresh) token", client.delete("/mfa/totp", headers=bearer(refreshed)))
            lines.append(f"- (the refreshed token's claims: `{json.dumps(claims_of(keys, refreshed))}`)")
            refusal("passwordless, the assertion signed for another origin", passwordless("passkey2", origin="http://evil.example"))
            refusal("passwordless, the authenticator's counter replayed (sign count 1 again)", passwordless("passkey2", sign_count=1))
            refusal("passwordless, user verification not done", passwordless("passkey2", user_verified=False))
            first = client.post("/login", json={"username": "passkey3", "password": PASSWORD}).json()
            options = client.post("/login/mfa/passkey/options", json={"mfa_token": first["mfa_token"]}).json()
            other = authenticators["passkey4"].get({**options, "allowCredentials": []})
            refusal(
                "second step of passkey3 with passkey4's passkey",
                client.post("/login/mfa", json={"mfa_token": first["mfa_token"], "passkey": other}),
            )
            options = client.post("/login/passkey/options").json()
            client.post("/login/passkey", json={"credential": authenticators["passkey5"].get(options)}).raise_for_status()
            refusal(
                "passwordless, a challenge already used",
                client.post("/login/passkey", json={"credential": authenticators["passkey5"].get(options)}),
            )
            password_only = client.post("/fresh-login", headers=bearer(refreshed), json={"password": PASSWORD})
            refusal("`/fresh-login` with the password alone, for a TOTP account", password_only)
    finally:
        server.stop()
        drop_database(DATABASE)
    write_section("Second factors: TOTP logins, claims, introspection, refusals (issue 24)", lines)


if __name__ == "__main__":
    main()
