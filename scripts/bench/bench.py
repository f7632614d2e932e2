"""What authentication costs per request: the generated app beside the published library and a bare app.

Run by scripts/bench.sh, which installs wrk, uv, cookiecutter and PostgreSQL first. Standard library
only (it runs on the template venv's Python); every app measured runs in a venv of its own, served by
uvicorn the same way (one worker, no access log, the same loop and HTTP parser), and is driven by wrk
on loopback in interleaved rounds so that a slow minute of the machine hits every target alike.
"""

import argparse
import contextlib
import glob
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STACK = ("fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools", "pyseto", "fastapi-paseto", "sqlmodel", "psycopg")
REFERENCE = "fastapi-paseto==0.7.1"
USER = "bench"
FST_USER = "bench@example.com"
FST_LOGIN = "/api/v1/login/access-token"

FORM = "application/x-www-form-urlencoded"
Prepare = Callable[[Path], tuple[list[str], list[str]]]  # scratch dir -> (wrk options, script arguments)


class StepFailed(Exception):
    pass


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Name what is being done, so a failure says which step it was."""
    print(f"bench: {name}", file=sys.stderr, flush=True)
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:
        raise StepFailed(f"{name}: {exc}") from exc


def clean_env(**extra: str) -> dict[str, str]:
    # No inherited app settings or venv may leak into what is measured; uv must never download a Python.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASETO_APP_") and k != "VIRTUAL_ENV"}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", **extra}


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    if done.returncode:
        output = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n  " + "\n  ".join(output))
    return done.stdout


def succeeds(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> bool:
    return subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True).returncode == 0


# -- HTTP helpers ------------------------------------------------------------------------------------------


def post(url: str, data: bytes, content_type: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data, {"Content-Type": content_type}, method="POST")  # noqa: S310 - loopback URLs we built
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.load(response)
        return answer


def post_json(url: str, body: dict[str, str]) -> dict[str, Any]:
    return post(url, json.dumps(body).encode(), "application/json")


def post_form(url: str, body: dict[str, str]) -> dict[str, Any]:
    return post(url, urllib.parse.urlencode(body).encode(), FORM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- servers -----------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    login: Callable[[], dict[str, Any]]
    stack: dict[str, Any]
    sessions: Callable[[], int] | None = None  # sessions ever established to its PostgreSQL database


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # its own session: uvicorn and nothing else
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s:\n{log.read_text()[-2000:]}")


@dataclass
class Serving:
    """How every server is started: the same uvicorn flags, logs in one folder, each stopped at exit."""

    cleanup: contextlib.ExitStack
    flags: list[str]
    logs: Path


def serve(how: Serving, name: str, python: Path, app: list[str], cwd: Path, env: dict[str, str], health: str) -> str:
    """Start uvicorn in the background and wait until `health` answers; return its URL."""
    port = free_port()
    log = how.logs / (re.sub(r"\W+", "-", name).strip("-") + ".log")
    cmd = [str(python), "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log", *how.flags]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    how.cleanup.callback(stop, process)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + health, process, log)
    return url


# -- virtual environments ----------------------------------------------------------------------------------


def stack_of(python: Path) -> dict[str, Any]:
    """Python and the server stack's package versions in a venv."""
    code = (
        "import importlib.metadata as m, json, platform\n"
        f"names = {list(STACK)!r}\n"
        "found = {}\n"
        "for name in names:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps({'python': platform.python_version(), 'packages': found}))"
    )
    stack: dict[str, Any] = json.loads(run([str(python), "-c", code]))
    return stack


def ensure_standard(python: Path) -> bool:
    """Give a venv uvloop and httptools (uvicorn's standard extras) at its uvicorn version; True if added."""
    if succeeds([str(python), "-c", "import uvloop, httptools"]):
        return False
    version = stack_of(python)["packages"]["uvicorn"]
    run(["uv", "pip", "install", "-q", "--python", str(python), f"uvicorn[standard]=={version}"])
    return True


def server_flags(pythons: list[Path]) -> list[str]:
    # The same loop and HTTP parser for every app, or the comparison measures the stack, not the app.
    if all(succeeds([str(p), "-c", "import uvloop, httptools"]) for p in pythons):
        return ["--loop", "uvloop", "--http", "httptools"]
    return ["--loop", "asyncio", "--http", "h11"]


# -- the generated app -------------------------------------------------------------------------------------


@dataclass
class Project:
    folder: Path
    package: str
    env: dict[str, str]
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    added_standard: bool = False

    @property
    def python(self) -> Path:
        return self.folder / ".venv/bin/python"

    @property
    def cli(self) -> str:
        return str(self.folder / ".venv/bin" / self.folder.name)


def bake(template: Path, out: Path, answers: list[str], env: dict[str, str]) -> Project:
    run(["cookiecutter", "--no-input", "--output-dir", str(out), str(template), *answers])
    (folder,) = out.iterdir()
    return Project(folder, folder.name.replace("-", "_"), env)


def install(project: Project, python: Path | None) -> None:
    # The venv's own binaries, not `uv run`: that would also install the dev group.
    run(["uv", "sync", "--no-dev", "-q", *(["--python", str(python)] if python else [])], cwd=project.folder)
    project.added_standard = ensure_standard(project.python)


def add_user(project: Project) -> None:
    """Migrate when the app has migrations (else start-up creates tables), then create the bench user."""
    if succeeds([project.cli, "migrate", "--help"], cwd=project.folder, env=project.env):
        run([project.cli, "migrate"], cwd=project.folder, env=project.env)
    run([project.cli, "create-user", USER, f"--password={project.password}"], cwd=project.folder, env=project.env)


def serve_project(how: Serving, name: str, project: Project, sessions: Callable[[], int] | None = None) -> Server:
    app = [f"{project.package}.main:create_app", "--factory"]
    url = serve(how, name, project.python, app, project.folder, project.env, "/health")
    stack = {**stack_of(project.python), "added_uvicorn_standard": project.added_standard}
    return Server(name, url, lambda: post_json(url + "/login", {"username": USER, "password": project.password}), stack, sessions)


# -- PostgreSQL databases ----------------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    return urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()


def sql(python: Path, server_url: str, statement: str) -> None:
    """Run one statement with psycopg from an app's venv (psql may not be installed)."""
    code = "import psycopg, sys\nwith psycopg.connect(sys.argv[1], autocommit=True) as c: c.execute(sys.argv[2])"
    run([str(python), "-c", code, server_url.replace("+psycopg", ""), statement])


def fresh_database(cleanup: contextlib.ExitStack, python: Path, server_url: str, prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    sql(python, server_url, f'CREATE DATABASE "{name}"')
    cleanup.callback(sql, python, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return database_url(server_url, name)


def session_counter(python: Path, server_url: str, app_database_url: str) -> Callable[[], int]:
    """How many sessions were ever established to the app's database (pg_stat_database.sessions, PostgreSQL
    14+). Only the app connects there: the database is made for this run under a random name, and this
    reading connects to the server's own database (server_url's), so it is not counted itself."""
    name = urllib.parse.urlsplit(app_database_url).path.lstrip("/")
    code = (
        "import psycopg, sys\n"
        "with psycopg.connect(sys.argv[1]) as c:\n"
        "    print(c.execute('SELECT sessions FROM pg_stat_database WHERE datname = %s', [sys.argv[2]]).fetchone()[0])"
    )
    return lambda: int(run([str(python), "-c", code, server_url.replace("+psycopg", ""), name]))


# -- reference apps: the seed on the published library, and a bare app --------------------------------------


def reference_venv(work: Path, pins: dict[str, str], base_python: Path) -> Path:
    """fastapi-paseto 0.7.1 with fastapi, pydantic, pyseto and the server stack at the generated project's versions."""
    venv = work / "reference-venv"
    run(["uv", "venv", "-q", "--python", str(base_python), str(venv)])
    python = venv / "bin/python"
    # 0.7.1 declares no dependencies at all: fastapi and pyseto must be named.
    pinned = [f"{name}=={pins[name]}" for name in ("fastapi", "starlette", "pydantic", "pyseto", "uvloop", "httptools") if name in pins]
    run(["uv", "pip", "install", "-q", "--python", str(python), REFERENCE, f"uvicorn[standard]=={pins['uvicorn']}", *pinned])
    return python


def reference_apps(work: Path, python: Path, project: Project) -> tuple[Path, str | None]:
    """Copy the apps beside each other. The seed is the published example the baked project's test runs
    against its own package: its two import lines go back to the published library's (`fastapi_paseto_auth`,
    which 0.7.1 may call otherwise)."""
    apps = work / "reference-apps"
    apps.mkdir()
    for name in ("bare_app.py", "reference_app.py"):
        shutil.copy(HERE / name, apps / name)
    example = (project.folder / "tests/fastapi_paseto_auth_example.py").read_text()
    published = r"from fastapi_paseto_auth\1 import \2"
    seed, restored = re.subn(rf"^from {project.package}\.paseto(\.exceptions)? import (\w+)  # was: .*$", published, example, flags=re.M)
    if restored != 2:
        raise SystemExit(f"bench: could not restore the published imports in {project.folder}/tests/fastapi_paseto_auth_example.py")
    change = None
    if not succeeds([str(python), "-c", "import fastapi_paseto_auth"]) and succeeds([str(python), "-c", "import fastapi_paseto"]):
        seed = seed.replace("fastapi_paseto_auth", "fastapi_paseto")
        change = "fastapi_paseto_auth -> fastapi_paseto (2 import lines)"
    (apps / "reference_seed_app.py").write_text(seed)
    return apps, change


# -- full-stack-fastapi-template (optional) ----------------------------------------------------------------

# Its code uses Python 3.14 syntax; on an older Python these rewrites (same meaning) let it run.
PY314_REWRITES = [
    ("app/api/deps.py", r"except (\w+), (\w+):", r"except (\1, \2):", "PEP 758 unparenthesised except"),
    ("app/models.py", r"list\[Item\]", 'list["Item"]', "PEP 649 forward reference"),
]


def fst_checkout(git_dir: Path, work: Path) -> tuple[Path, str]:
    src = work / "full-stack-fastapi-template"
    src.mkdir()
    # A private index, so the git directory is only read from.
    env = clean_env(GIT_INDEX_FILE=str(work / "fst-index"))
    run(["git", f"--git-dir={git_dir}", f"--work-tree={src}", "checkout", "-f", "HEAD"], env=env)
    commit = run(["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"]).strip()
    (src / ".env").unlink(missing_ok=True)  # compose defaults ("changethis"); settings come from the environment
    return src, commit


def fst_patch(backend: Path, python_version: str) -> list[str]:
    applied = []
    if tuple(map(int, python_version.split(".")[:2])) < (3, 14):
        for name, pattern, replacement, why in PY314_REWRITES:
            path = backend / name
            text, count = re.subn(pattern, replacement, path.read_text())
            if count:
                path.write_text(text)
                applied.append(f"{name}: {why} ({count}x)")
    # It serves a built frontend from app/frontend and refuses to start without the folder.
    (backend / "app/frontend").mkdir(exist_ok=True)
    (backend / "app/frontend/index.html").write_text("<!doctype html><title>frontend not built</title>\n")
    return applied


def newer_pythons() -> Iterator[Path]:
    """Python 3.14, 3.13, 3.12 where installed (pyenv's shims only run the active version: ask for its real paths)."""
    for minor in (14, 13, 12):
        found = [
            shutil.which(f"python3.{minor}"),
            *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"))),
        ]
        usable = [Path(path) for path in found if path and succeeds([path, "-c", ""], cwd=Path.home())]
        yield from usable[:1]


def fst_install(src: Path, work: Path, base_python: Path) -> Path:
    """Its locked runtime versions: on the generated project's Python if they install there (one interpreter
    for both), else on the newest Python here (its lock asks for 3.14)."""
    requirements = work / "fst-requirements.txt"
    requirements.write_text(
        run(["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-workspace", "--package", "app", "-q"], cwd=src)
    )
    failures = []
    for python in [base_python, *newer_pythons()]:
        venv = work / "fst-venv"
        shutil.rmtree(venv, ignore_errors=True)
        try:
            run(["uv", "venv", "-q", "--python", str(python), str(venv)], cwd=work)
            run(["uv", "pip", "install", "-q", "--python", str(venv / "bin/python"), "-r", str(requirements)], cwd=work)
            return venv / "bin/python"
        except RuntimeError as exc:
            failures.append(f"{python}: {str(exc).splitlines()[-1].strip()}")
    raise RuntimeError("its locked dependencies install on no Python here:\n  " + "\n  ".join(failures))


def fst_server(how: Serving, args: argparse.Namespace, work: Path, base_python: Path, psql_python: Path) -> tuple[Server, str]:
    """Serve their backend on a fresh database; return the server and a login form body for wrk."""
    src, commit = fst_checkout(args.fastapi_template, work)
    python = fst_install(src, work, base_python)
    stack = stack_of(python)
    backend = src / "backend"
    patches = fst_patch(backend, stack["python"])
    password = secrets.token_urlsafe(16)
    env = clean_env(
        PYTHONPATH=str(backend),
        DATABASE_URL=fresh_database(how.cleanup, psql_python, args.postgres_url, "fst_bench"),
        SECRET_KEY=secrets.token_urlsafe(32),
        PROJECT_NAME="bench",
        FIRST_SUPERUSER=FST_USER,
        FIRST_SUPERUSER_PASSWORD=password,
    )
    for prestart in (["app/backend_pre_start.py"], ["-m", "alembic", "upgrade", "head"], ["app/initial_data.py"]):
        run([str(python), *prestart], cwd=backend, env=env)
    url = serve(how, "full-stack-fastapi-template", python, ["app.main:app"], backend, env, "/api/v1/utils/health-check/")
    form = {"username": FST_USER, "password": password}
    stack |= {"commit": commit, "patches": patches}
    sessions = session_counter(psql_python, args.postgres_url, env["DATABASE_URL"])
    server = Server("full-stack-fastapi-template", url, lambda: post_form(url + FST_LOGIN, form), stack, sessions)
    return server, urllib.parse.urlencode(form)


# -- load ----------------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    server: Server
    path: str
    connections: int
    prepare: Prepare


def no_auth(scratch: Path) -> tuple[list[str], list[str]]:
    return [], []


def bearer(server: Server) -> Prepare:
    # A login per measurement: access tokens expire, a long run must not measure 401s.
    return lambda scratch: (["-H", f"Authorization: Bearer {server.login()['access_token']}"], [])


def posting(content_type: str, body: str) -> Prepare:
    return lambda scratch: (["-s", str(HERE / "post.lua")], [content_type, body])


def refresh_pool(server: Server, size: int) -> Prepare:
    """Refresh tokens from `size` logins, for refresh.lua to spend one per request."""

    def prepare(scratch: Path) -> tuple[list[str], list[str]]:
        with ThreadPoolExecutor(2) as pool:  # argon2 bound: two at a time keeps both cores busy
            tokens = [answer["refresh_token"] for answer in pool.map(lambda _: server.login(), range(size))]
        path = scratch / f"refresh-tokens-{time.monotonic_ns()}.txt"
        path.write_text("\n".join(tokens) + "\n")
        return ["-s", str(HERE / "refresh.lua")], [str(path)]

    return prepare


UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def millis(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not found:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found[1]) * UNITS_MS[found[2]]


def parse_wrk(output: str) -> dict[str, Any]:
    def number(pattern: str) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if not found:
            raise ValueError(f"no {pattern!r} in wrk's output:\n{output}")
        return found[1]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(number(r"Requests/sec:\s+([\d.]+)")),
        "requests": int(number(r"(\d+) requests in")),
        "mean_ms": millis(number(r"^\s+Latency\s+(\S+)")),
        "p50_ms": millis(number(r"^\s+50%\s+(\S+)")),
        "p99_ms": millis(number(r"^\s+99%\s+(\S+)")),
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "wrk_output": output,
    }


# A backend reports its counts to pg_stat_database within a second of going idle (PostgreSQL 15+), at once when it ends.
STATS_DELAY = 1.5


def measure(target: Target, seconds: int, scratch: Path) -> dict[str, Any]:
    options, script_args = target.prepare(scratch)
    if count := target.server.sessions:
        time.sleep(STATS_DELAY)  # the login that prepare made is counted before, not during
        before = count()
    # wrk counts an answer slower than its timeout (2 s by default) as an error; a slow answer is a
    # latency to report (p99), not a refusal, so the timeout is longer than any answer here should take.
    cmd = [
        "wrk",
        "-t1",
        f"-c{target.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        *options,
        target.server.url + target.path,
    ]
    figures = parse_wrk(run(cmd + (["--", *script_args] if script_args else [])))
    if count:
        time.sleep(STATS_DELAY)
        figures["sessions_opened"] = count() - before
        figures["connections_per_1000"] = 1000 * figures["sessions_opened"] / figures["requests"]
    return figures


# -- report --------------------------------------------------------------------------------------------------


def summarize(target: Target, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    counted = "connections_per_1000" in runs[0]
    return {
        "target": target.name,
        "server": target.server.name,
        "connections": target.connections,
        "requests_per_second": median("requests_per_second"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "mean_ms": median("mean_ms"),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
        # PostgreSQL connections opened per 1,000 requests (None: not counted); the first round's include the pool filling
        "connections_per_1000": round(median("connections_per_1000"), 2) if counted else None,
    }


def ratio(summary: dict[str, dict[str, Any]], top: str, bottom: str) -> float | None:
    if top in summary and bottom in summary and summary[bottom]["requests_per_second"]:
        return round(summary[top]["requests_per_second"] / summary[bottom]["requests_per_second"], 3)
    return None


def checks(summary: dict[str, dict[str, Any]], micro: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets set in issues beside what was measured ("before:" ones only with --before)."""
    tokens = micro["tokens"]
    reading_the_user = [
        (f"{app} /users/me ÷ /protected ({db})", ratio(summary, f"{app} ({db}) GET /users/me", f"{app} ({db}) GET /protected"), "≥ 0.4")
        for app in ("app", "before: app")
        for db in ("SQLite", "PostgreSQL")
        if f"{app} ({db}) GET /users/me" in summary
    ]
    found = [
        *reading_the_user,
        ("app /protected ÷ app /health (SQLite)", ratio(summary, "app (SQLite) GET /protected", "app (SQLite) GET /health"), "≥ 0.85"),
        ("app /protected ÷ seed /protected", ratio(summary, "app (SQLite) GET /protected", "seed GET /protected"), "≥ 2.5"),
        ("app /health ÷ bare FastAPI /health", ratio(summary, "app (SQLite) GET /health", "bare FastAPI GET /health"), "≥ 0.9"),
        (
            "app /users/me ÷ theirs (PostgreSQL)",
            ratio(summary, "app (PostgreSQL) GET /users/me", "full-stack-fastapi-template GET /users/me"),
            "≥ 2",
        ),
        ("verify an already-seen token, µs", round(tokens["decode_seen_us"], 1), "≤ 10"),
        ("verify a new token ÷ raw pyseto", round(tokens["decode_new_us"] / tokens["pyseto_decode_us"], 3), "≤ 1.2"),
    ]
    return [{"check": what, "measured": value, "target": goal} for what, value, goal in found]


def logins(summary: list[dict[str, Any]]) -> str:
    rows = [row for row in summary if "login" in row["target"] and row["requests_per_second"]]
    return ", ".join(f"{row['server']} {1000 / row['requests_per_second']:.0f} ms" for row in rows) or "n/a"


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return {
        "cpu": model[1] if model else platform.processor(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "system": platform.platform(),
        "load_average_at_start": os.getloadavg(),  # above ~0.5 something else was running: noisy figures
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        "| target | req/s | p50 ms | p99 ms | non-2xx + socket errors | PostgreSQL connections opened per 1,000 requests |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["summary"]:
        opened = "" if row["connections_per_1000"] is None else row["connections_per_1000"]
        lines.append(
            f"| {row['target']} (c={row['connections']}) | {row['requests_per_second']:.0f} "
            f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['non_2xx'] + row['socket_errors']} | {opened} |"
        )
    lines += ["", "| check | measured | target |", "| --- | ---: | --- |"]
    lines += [f"| {c['check']} | {'n/a' if c['measured'] is None else c['measured']} | {c['target']} |" for c in report["checks"]]
    tokens, argon = report["micro"]["tokens"], report["micro"]["argon2"]
    app = report["stacks"]["app (SQLite)"]
    m = report["machine"]
    lines += [
        "",
        f"Token verification (in-process): new token {tokens['decode_new_us']:.1f} µs, already-seen {tokens['decode_seen_us']:.1f} µs, "
        f"raw pyseto.decode {tokens['pyseto_decode_us']:.1f} µs.",
        f"Passwords: {argon['type']} m={argon['memory_kib']} KiB, t={argon['time_cost']}, p={argon['parallelism']}: "
        f"{argon['hash_ms']:.0f} ms per hash, {argon['verify_ms']:.0f} ms per verify (in-process); "
        f"server time per login (1000 ÷ req/s): {logins(report['summary'])}.",
        f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Python {app['python']}; "
        f"uvicorn {app['packages'].get('uvicorn')} {' '.join(report['uvicorn_flags'])}, one worker, wrk -t1 on loopback, "
        f"{report['settings']['rounds']} interleaved rounds of {report['settings']['seconds']} s, medians.",
        f"Seed: {REFERENCE} (import {report['reference_import_change'] or 'unchanged'}) on the app's fastapi, pydantic and pyseto.",
        "Connections opened: sessions established to the database made for that app alone (pg_stat_database.sessions), "
        "read before and after each wrk run, divided by the requests wrk made (median of the rounds; the first fills the pool).",
    ]
    if before := report["settings"]["before"]:
        lines.append(f"before: the same apps baked from {before} (commit {report['before_commit'] or 'unknown'}), in the same rounds.")
    if fst := report["stacks"].get("full-stack-fastapi-template"):
        packages = fst["packages"]
        lines.append(
            f"full-stack-fastapi-template {fst['commit'][:7]} on Python {fst['python']}, fastapi {packages.get('fastapi')}, "
            f"uvicorn {packages.get('uvicorn')}, its own lock; same PostgreSQL server; rewritten: {'; '.join(fst['patches']) or 'nothing'}."
        )
    elif "fastapi_template_skipped" in report:
        lines.append(f"full-stack-fastapi-template skipped: {report['fastapi_template_skipped'].splitlines()[0]}")
    for name, figures in report.get("revoked", {}).items():
        before, after = figures["before"], figures["after"]
        lines.append(
            f"{figures['revoked_families_added']} revoked sessions ({name}): start-up read {before['first_read_ms']} -> "
            f"{after['first_read_ms']} ms ({after['first_read_rows']} rows), each 1-second read {before['read_ms_median']} -> "
            f"{after['read_ms_median']} ms (median), held in memory {before['families_in_memory']} -> {after['families_in_memory']}."
        )
    lines.append(f"Command: `{report['command']}`")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bash scripts/bench.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over every target; medians are reported (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--login-connections", type=int, default=2, help="wrk connections for logins, argon2 bound (default 2)")
    parser.add_argument("--template", type=Path, default=REPO, help="template checkout to bake (default: this repository)")
    parser.add_argument(
        "--before", type=Path, metavar="DIR", help="also bake this template checkout (an older commit's); its apps run in the same rounds"
    )
    parser.add_argument("--only", metavar="REGEX", help="measure only the targets whose name matches (e.g. 'PostgreSQL|refresh')")
    parser.add_argument(
        "--output", type=Path, default=REPO / "bench-results.json", help="raw figures (default: bench-results.json in this repository)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="a server to create databases on (default: scripts/postgres.sh's)",
    )
    parser.add_argument(
        "--fastapi-template", type=Path, metavar="GIT_DIR", help="also measure full-stack-fastapi-template from this git directory"
    )
    parser.add_argument(
        "--python", type=Path, metavar="PATH", help="interpreter for every app (default: uv's choice for the project); theirs too if it can"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (baked apps, venvs, server logs)")
    parser.add_argument(
        "--revoked", type=int, default=0, metavar="N", help="add N revoked sessions to both apps' databases first, and time their reads"
    )
    args = parser.parse_args()
    if not args.postgres_url:
        parser.error("no PostgreSQL server: run scripts/bench.sh, which finds or starts one")
    args.refresh_pool = args.connections + 16  # more tokens than connections: a request never waits for one
    return args


def bake_apps(cleanup: contextlib.ExitStack, args: argparse.Namespace, template: Path, work: Path) -> tuple[Project, Project]:
    """The default project (SQLite) and a PostgreSQL one on a database of its own, installed, with the bench user."""
    with step(f"bake and install the default project (SQLite) from {template}"):
        sqlite = bake(template, work / "sqlite", [], clean_env())
        install(sqlite, args.python)
        add_user(sqlite)
    with step(f"bake and install a PostgreSQL project from {template}"):
        pg = bake(template, work / "postgresql", ["database=postgresql"], clean_env())
        install(pg, args.python)
        pg.env = clean_env(PASETO_APP_DATABASE_URL=fresh_database(cleanup, pg.python, args.postgres_url, "paseto_bench"))
        add_user(pg)
    return sqlite, pg


def app_targets(how: Serving, args: argparse.Namespace, apps: tuple[Project, Project], prefix: str, notes: dict[str, Any]) -> list[Target]:
    sqlite, pg = apps
    app = serve_project(how, f"{prefix}app (SQLite)", sqlite)
    counter = session_counter(pg.python, args.postgres_url, pg.env["PASETO_APP_DATABASE_URL"])
    app_pg = serve_project(how, f"{prefix}app (PostgreSQL)", pg, counter)
    notes["stacks"] |= {server.name: server.stack for server in (app, app_pg)}
    login_body = json.dumps({"username": USER, "password": sqlite.password})
    c, lc = args.connections, args.login_connections
    return [
        Target(f"{prefix}app (SQLite) GET /health", app, "/health", c, no_auth),
        Target(f"{prefix}app (SQLite) GET /protected", app, "/protected", c, bearer(app)),
        Target(f"{prefix}app (SQLite) GET /users/me", app, "/users/me", c, bearer(app)),
        Target(f"{prefix}app (SQLite) POST /refresh", app, "/refresh", c, refresh_pool(app, args.refresh_pool)),
        Target(f"{prefix}app (SQLite) POST /login", app, "/login", lc, posting("application/json", login_body)),
        Target(f"{prefix}app (PostgreSQL) GET /protected", app_pg, "/protected", c, bearer(app_pg)),
        Target(f"{prefix}app (PostgreSQL) GET /users/me", app_pg, "/users/me", c, bearer(app_pg)),
        Target(f"{prefix}app (PostgreSQL) POST /refresh", app_pg, "/refresh", c, refresh_pool(app_pg, args.refresh_pool)),
    ]


def setup(cleanup: contextlib.ExitStack, args: argparse.Namespace, work: Path, notes: dict[str, Any]) -> list[Target]:
    """Bake, install and serve every app; return the targets in the order each round runs them."""
    sqlite, pg = current = bake_apps(cleanup, args, args.template, work / "current")
    before = bake_apps(cleanup, args, args.before, work / "before") if args.before else None
    if args.before:
        git = succeeds(["git", "rev-parse"], cwd=args.before)
        notes["before_commit"] = run(["git", "rev-parse", "--short", "HEAD"], cwd=args.before).strip() if git else None
    if args.revoked:
        with step(f"add {args.revoked} revoked sessions and time the reads of revoked sessions"):
            notes["revoked"] = {
                name: json.loads(
                    run([str(project.python), str(HERE / "revoked.py"), project.package, url, str(args.revoked)], cwd=project.folder)
                )
                for name, project, url in [
                    ("SQLite", sqlite, f"sqlite:///{sqlite.folder / 'app.db'}"),
                    ("PostgreSQL", pg, pg.env["PASETO_APP_DATABASE_URL"]),
                ]
            }
    with step(f"install {REFERENCE} in its own venv"):
        pins = stack_of(sqlite.python)["packages"]
        ref_python = reference_venv(work, pins, sqlite.python)
        apps, notes["reference_import_change"] = reference_apps(work, ref_python, sqlite)
    with step("measure token verification and argon2 in-process"):
        notes["micro"] = json.loads(run([str(sqlite.python), str(HERE / "micro.py"), sqlite.package], cwd=sqlite.folder))
    pythons = [sqlite.python, pg.python, ref_python, *([p.python for p in before] if before else [])]
    how = Serving(cleanup, server_flags(pythons), work)
    notes["uvicorn_flags"] = how.flags
    notes["stacks"] = {}
    with step("start the servers"):
        targets = app_targets(how, args, current, "", notes)
        if before:
            targets += app_targets(how, args, before, "before: ", notes)
        url = serve(how, "seed", ref_python, ["reference_app:app", "--app-dir", str(apps)], apps, clean_env(), "/health")
        seed = Server("seed", url, lambda: post_json(url + "/login", {"username": "test", "password": "test"}), stack_of(ref_python))
        bare_url = serve(how, "bare FastAPI", sqlite.python, ["bare_app:app", "--app-dir", str(apps)], apps, clean_env(), "/health")
        bare = Server("bare FastAPI", bare_url, lambda: {}, stack_of(sqlite.python))
    c = args.connections
    targets += [
        Target("seed GET /protected", seed, "/protected", c, bearer(seed)),
        Target("seed GET /health (bare route)", seed, "/health", c, no_auth),
        Target("bare FastAPI GET /health", bare, "/health", c, no_auth),
    ]
    notes["stacks"] |= {server.name: server.stack for server in (seed, bare)}
    if args.fastapi_template:
        targets += fastapi_template_targets(how, args, work, sqlite.python, pg.python, notes)
    return [target for target in targets if not args.only or re.search(args.only, target.name)]


def fastapi_template_targets(
    how: Serving, args: argparse.Namespace, work: Path, base: Path, psql: Path, notes: dict[str, Any]
) -> list[Target]:
    """Theirs beside ours, or nothing (saying why) when it cannot run here."""
    print("bench: set up full-stack-fastapi-template", file=sys.stderr, flush=True)
    try:
        fst, login_form = fst_server(how, args, work, base, psql)
    except Exception as exc:
        print(f"bench: --fastapi-template skipped: {exc}", file=sys.stderr)
        notes["fastapi_template_skipped"] = str(exc)
        return []
    notes["stacks"][fst.name] = fst.stack
    c = args.connections
    return [
        Target("full-stack-fastapi-template GET /users/me", fst, "/api/v1/users/me", c, bearer(fst)),
        Target("full-stack-fastapi-template GET /utils/health-check/", fst, "/api/v1/utils/health-check/", c, no_auth),
        Target("full-stack-fastapi-template POST /login/access-token", fst, FST_LOGIN, args.login_connections, posting(FORM, login_form)),
    ]


def measure_rounds(targets: list[Target], args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    runs = []
    for number in range(1, args.rounds + 1):
        for target in targets:
            with step(f"round {number}/{args.rounds}: {target.name}"):
                runs.append({"target": target.name, "round": number, **measure(target, args.seconds, scratch)})
    return runs


def report_of(args: argparse.Namespace, targets: list[Target], runs: list[dict[str, Any]], notes: dict[str, Any]) -> dict[str, Any]:
    summary = [summarize(t, [r for r in runs if r["target"] == t.name]) for t in targets]
    by_name = {row["target"]: row for row in summary}
    return {
        "command": os.environ.get("BENCH_COMMAND", " ".join(sys.argv)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "postgres_url"},
        **notes,
        "summary": summary,
        "checks": checks(by_name, notes["micro"]),
        "runs": runs,
    }


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that cleanup runs
    notes: dict[str, Any] = {"machine": machine()}
    if (load := notes["machine"]["load_average_at_start"][0]) > 0.5:
        print(f"bench: warning: load average {load:.1f}: something else is running, figures will be noisy", file=sys.stderr)
    with contextlib.ExitStack() as cleanup:
        work = Path(tempfile.mkdtemp(prefix="paseto-bench-"))
        if args.keep:
            print(f"bench: keeping {work}")
        else:
            cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        try:
            targets = setup(cleanup, args, work, notes)
            minutes = len(targets) * args.rounds * args.seconds / 60
            print(f"bench: {len(targets)} targets x {args.rounds} rounds x {args.seconds} s = {minutes:.1f} min of load, plus logins")
            runs = measure_rounds(targets, args, work)
        except StepFailed as exc:
            print(f"bench: FAILED at step {exc}", file=sys.stderr)
            return 1
    report = report_of(args, targets, runs, notes)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(table(report))
    print(f"\nRaw figures: {args.output}")
    refused = [row["target"] for row in report["summary"] if row["non_2xx"] or row["socket_errors"]]
    if refused:
        print(f"bench: INVALID run: requests refused or failed on {', '.join(refused)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
