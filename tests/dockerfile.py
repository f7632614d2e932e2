"""Just enough of a Dockerfile reader to run a generated Dockerfile's own commands without Docker.

These machines cannot pull base images, so tests/test_container.py replays what `docker build` and
`docker run` would do: each stage's COPY lines copy the same files, its RUN lines run the same
commands (bind mounts copied in for the command, cache mounts left to the machine's cache), ENV lines
set the same variables, and the last stage's CMD starts the app (as its USER; its HEALTHCHECK is run too).
"""

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    flags: list[tuple[str, str]]  # --name=value options, in order (RUN may have several --mount)
    args: str

    def flag(self, name: str) -> str | None:
        return next((value for key, value in self.flags if key == name), None)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
        else:
            lines.append(current + stripped)
            current = ""
    return lines


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags = []
        while rest.startswith("--"):
            option, _, rest = rest.partition(" ")
            name, _, value = option[2:].partition("=")
            flags.append((name, value))
            rest = rest.lstrip()
        if keyword == "FROM":
            parts = rest.split()
            stages.append(Stage(base=parts[0], name=parts[2] if len(parts) == 3 else None))
        else:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def env_assignments(args: str) -> dict[str, str]:
    """`ENV A=1 B="x y"` (or the old `ENV A 1`)."""
    words = shlex.split(args)
    if "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def exec_form(args: str) -> list[str]:
    command = json.loads(args)
    assert isinstance(command, list), f"use the exec (JSON) form: {args}"
    return [str(part) for part in command]


def mounts(instruction: Instruction) -> list[dict[str, str]]:
    return [dict(part.split("=", 1) for part in value.split(",")) for key, value in instruction.flags if key == "mount"]


def healthcheck(args: str) -> list[str]:
    """The command of `HEALTHCHECK [options] CMD ...` (its options are flags), as Docker runs it."""
    keyword, _, command = args.partition(" ")
    assert keyword.upper() == "CMD", f"a HEALTHCHECK with a command: {args}"
    return exec_form(command) if command.lstrip().startswith("[") else ["/bin/sh", "-c", command]


def ids(value: str) -> tuple[int, int]:
    """`USER` or `--chown` as numeric uid:gid (a name could not be resolved the same way everywhere)."""
    uid, _, gid = value.partition(":")
    assert uid.isdigit() and gid.isdigit(), f"numeric uid:gid, not {value}"
    return int(uid), int(gid)
