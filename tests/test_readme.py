"""A generated project's README, followed as a newcomer would: its serve commands work, twice, on either database."""

import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import PREFIX, free_port, run, start, stop, wait_for


def shell_block(project: Path, section: str, holding: str) -> list[str]:
    """The lines of the shell block of a README section that holds the given text."""
    text = (project / "README.md").read_text().split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    blocks = [block for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if holding in block]
    assert blocks, f"the README's {section!r} shows a command with {holding!r}"
    return [line for line in blocks[0].splitlines() if line.strip()]


def serve_commands(project: Path) -> list[str]:
    """Under "Run it": install, then migrate + create the demo user + serve."""
    return shell_block(project, "Run it", "uv sync --locked --no-dev")


def post(url: str, body: dict[str, str]) -> dict[str, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback server
        answer: dict[str, str] = json.loads(response.read())
        return answer


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback server
        return int(response.status)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_readme_serve_commands_work_and_work_again(bake: Callable[..., Path], database: str, postgres_database: str) -> None:
    project = bake(database=database)
    install, serve = serve_commands(project)
    assert "--no-dev" in install and "--locked" in install
    if database == "postgresql":  # a database that does not exist yet: `migrate` creates it
        env_file = project / ".env"
        env_file.write_text(
            re.sub(rf"^{PREFIX}DATABASE_URL=.*$", f"{PREFIX}DATABASE_URL={postgres_database}", env_file.read_text(), flags=re.M)
        )
    run(project, "bash", "-c", install)
    assert not list((project / ".venv").glob("lib/python*/site-packages/playwright")), "the server runs without the dev group"

    outputs: list[str] = []
    for _ in range(2):  # a newcomer runs it again the next day; the second time, logs in as demo
        port = free_port()
        command = serve.replace("--port 8000", f"--port {port}")
        server = start(["bash", "-c", command], project)
        try:
            wait_for(f"http://127.0.0.1:{port}/ready", server)
            password = re.search(r"with password: (\S+)", "".join(outputs))
            if password:
                tokens = post(f"http://127.0.0.1:{port}/login", {"username": "demo", "password": password[1]})
                assert get(f"http://127.0.0.1:{port}/protected", tokens["access_token"]) == 200
        finally:
            outputs.append(stop(server))
    first, second = outputs
    assert "created user 'demo' with password" in first, first
    assert "user 'demo' exists" in second, second
    assert "Traceback" not in first + second

    # The tip for seeing a refresh within a minute, as written: the setting must reach the server.
    (tip,) = shell_block(project, "Run it", "ACCESS_TOKEN_MINUTES=0.5")
    port = free_port()
    server = start(["bash", "-c", tip.replace("--port 8000", f"--port {port}")], project)
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", server)
        password = re.search(r"with password: (\S+)", first)
        assert password, first
        tokens = post(f"http://127.0.0.1:{port}/login", {"username": "demo", "password": password[1]})
        assert tokens["expires_in"] == 30, tokens
    finally:
        stop(server)
