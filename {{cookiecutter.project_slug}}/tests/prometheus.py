"""A real Prometheus server for the tests (Debian's `prometheus` package), and promtool.

Installed from the OS packages when missing (as root, or through sudo), as the browser tests' Chromium
is; where neither works the tests fail, naming the command to run. They never skip.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from .conftest import free_port

INSTALL = "sudo apt-get update && sudo apt-get install -y prometheus"
DEADLINE_SECONDS = 60


def prometheus_programs() -> tuple[str, str]:
    """The paths of `prometheus` and `promtool`, installing the package first if they are missing."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if found[0] and found[1]:
        return found[0], found[1]
    as_root = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if as_root is None or not shutil.which("apt-get"):
        pytest.fail(f"Prometheus is not installed, and cannot be installed from here: run `{INSTALL}`", pytrace=False)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "prometheus"]):
        result = subprocess.run([*as_root, *command], env=environment, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"installing Prometheus failed ({' '.join(command)}): run `{INSTALL}`\n{result.stderr}", pytrace=False)
    found = shutil.which("prometheus"), shutil.which("promtool")
    if not (found[0] and found[1]):
        pytest.fail(f"the prometheus package brought no prometheus/promtool: run `{INSTALL}`", pytrace=False)
    return found[0], found[1]


@contextmanager
def prometheus_server(target: str, folder: Path) -> Iterator[str]:
    """Prometheus scraping `target` (host:port) every second, on a free loopback port: its URL."""
    prometheus, _ = prometheus_programs()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        f"scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port, log = free_port(), folder / "prometheus.log"
    command = [prometheus, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}"]
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, server, log), f"Prometheus did not start:\n{log.read_text()}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _ready(url: str, server: "subprocess.Popen[bytes]", log: Path) -> bool:
    if server.poll() is not None:
        pytest.fail(f"Prometheus exited:\n{log.read_text()}", pytrace=False)
    try:
        return httpx2.get(f"{url}/-/ready").status_code == 200
    except httpx2.TransportError:
        return False


def target_health(url: str) -> str | None:
    """The health Prometheus gives its one target (`up` once a scrape worked)."""
    targets = httpx2.get(f"{url}/api/v1/targets").json()["data"]["activeTargets"]
    return str(targets[0]["health"]) if targets else None


def query(url: str, expression: str) -> float | None:
    """An instant query's single value, or None while it has none."""
    result = httpx2.get(f"{url}/api/v1/query", params={"query": expression}).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def wait_for(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure, pytrace=False)
        time.sleep(0.1)
