"""Shared helpers of the measurement scripts: a baked project, its database, its servers, the results file.

Run every script with the baked project's own Python (it has httpx2 and psycopg), e.g.
    /tmp/measure/paseto-app/.venv/bin/python scripts/measure/logout_propagation.py --project /tmp/measure/paseto-app
"""

import argparse
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import httpx2
import psycopg

MEASURE = Path("/tmp/measure")  # noqa: S108 - where the README bakes projects; results and logs go beside them
RESULTS = MEASURE / "results.md"
LOGS = MEASURE / "logs"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery staple"  # noqa: S105 - every measured account's, on throwaway databases
# Cheap hashing for scenarios where argon2's cost is not what is measured (NOT the production cost).
CHEAP_HASHING = {
    "PASETO_APP_PASSWORD_HASH_MEMORY_KIB": "8",
    "PASETO_APP_PASSWORD_HASH_TIME_COST": "1",
    "PASETO_APP_PASSWORD_HASH_PARALLELISM": "1",
}


def arguments(description: str, **extra: str) -> argparse.Namespace:
    """--project (a baked project), --label (how the results name this run) and any extra string options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--project", type=Path, default=MEASURE / "paseto-app", help="a baked project with its .venv")
    parser.add_argument("--label", default="", help="names this run in the results (e.g. 'main' or 'c6c51bb')")
    for name, default in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=default)
    args = parser.parse_args()
    args.project = args.project.resolve()
    args.label = args.label or git_revision(args.project)
    return args


def git_revision(project: Path) -> str:
    """Which template commit baked the project, as far as the project can tell: its folder name, else 'main'."""
    match = re.search(r"old-([0-9a-f]{7,})", str(project))
    return match.group(1) if match else "main"


def command_line() -> str:
    return " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv])


def load() -> str:
    """The machine's load averages (1, 5, 15 min) now: the CPUs are shared."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- the database -----------------------------------------------------------------------------------------


def fresh_database(name: str) -> str:
    """Drop and create database `name` (must start with measure_); its SQLAlchemy URL."""
    assert name.startswith("measure_")
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    assert name.startswith("measure_")
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def listeners(database: str) -> int:
    """How many revocation listeners (auth/listener.py) are connected to the database."""
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'paseto-revocations'", (database,)
        ).fetchone()
    return int(row[0]) if row else 0


# -- the project's commands and servers -----------------------------------------------------------------------


def environment(database_url: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PASETO_APP_")}
    env.update({"PASETO_APP_DATABASE_URL": database_url, "PASETO_APP_ENVIRONMENT": "development", "PASETO_APP_COOKIE_SECURE": "false"})
    env.update(overrides or {})
    return env


def cli(project: Path, env: Mapping[str, str], *arguments: str) -> str:
    """Run `paseto-app ARGUMENTS` in the project (its .env gives the keys); its output."""
    done = subprocess.run([str(project / ".venv/bin/paseto-app"), *arguments], cwd=project, env=dict(env), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"paseto-app {' '.join(arguments)}: {done.stderr or done.stdout}")
    return done.stdout


def create_user(project: Path, env: Mapping[str, str], name: str, *, admin: bool = False, email: str | None = None) -> None:
    extra = (["--admin"] if admin else []) + (["--email", email] if email else [])
    cli(project, env, "create-user", name, "--password", PASSWORD, *extra)


class Server:
    """One uvicorn process serving the project; its output goes to /tmp/measure/logs/<name>.log."""

    def __init__(self, project: Path, env: Mapping[str, str], port: int, name: str, *extra: str) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{port}"
        self.log = LOGS / f"{name}.log"
        command = [str(project / ".venv/bin/uvicorn"), "paseto_app.main:create_app", "--factory", "--port", str(port), *extra]
        self.process = subprocess.Popen(command, cwd=project, env=dict(env), stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not answer /health")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's spawned workers with --workers, else uvicorn itself."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        workers = [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
        return workers or [self.process.pid]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def log_in(client: httpx2.Client, url: str, name: str, password: str = PASSWORD, **extra: object) -> dict[str, str]:
    answer = client.post(f"{url}/login", json={"username": name, "password": password, **extra})
    answer.raise_for_status()
    tokens: dict[str, str] = answer.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(answer: httpx2.Response) -> str:
    """The app's error code of a refusal ({"code": ...} or {"detail": {"code": ...}}), else the status."""
    try:
        body = answer.json()
    except ValueError:
        return str(answer.status_code)
    if isinstance(body, dict):
        for candidate in (body, body.get("detail"), body.get("error")):
            if isinstance(candidate, dict) and "code" in candidate:
                return str(candidate["code"])
    return str(answer.status_code)


# -- numbers and the results file ------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(values: Sequence[float], unit: str = "ms") -> str:
    return (
        f"n={len(values)}, p50 {percentile(values, 0.5):.1f} {unit}, p95 {percentile(values, 0.95):.1f} {unit}, "
        f"max {max(values):.1f} {unit}, min {min(values):.1f} {unit}, mean {statistics.fmean(values):.1f} {unit}"
    )


def write_section(title: str, lines: Iterable[str]) -> None:
    """Put `## title` with these lines into the results file, replacing a section of that title."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text() if RESULTS.exists() else "# Measurements\n"
    section = f"## {title}\n\n" + "\n".join(lines).rstrip() + "\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)
    print(section)
