"""A forker keeps up with the template through cruft, as the README's "Keep up with the template" says.

The template is committed to a git repository of its own (a copy of this one, as it is on disk); a
project is made from that commit with `cruft create`, and the forker commits a change of their own: a
function appended to a module and a test file of their own. The template then changes the same module
elsewhere and adds a test of its own (rendered with the project's package name), in a later commit.
`cruft update -y` must bring the template's change in, keep the forker's, and leave `.env` (the keys the
generation hook wrote) as it was. Then the project's own tests run on the merged result.

Which of the project's tests: the two new test files (each change works, side by side), and the tests
closest to what an update touches: the docs' consistency (README, .env.example and the settings),
models against migrations, the key handling and a login-refresh-logout round (test_docs, test_migrations,
test_paseto_tokens, test_auth_api). Not the whole suite: test_bake.py runs that on every option
combination already, and the merged code is the template's code plus two small additions; a second
full run here would add minutes to CI and prove nothing more.

Then the two ways an update can meet a forker's change: a conflicting hunk in a git project comes out as
conflict markers, outside git as a `.rej` file, and the generated pre-commit hooks refuse both.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import TEMPLATE, run, uv
from .test_bake import interpreter

MODULE = "src/{{cookiecutter.package_name}}/paseto/keys.py"  # in the template; the project's is src/paseto_app/...
PROJECT_MODULE = "src/paseto_app/paseto/keys.py"
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".*_cache", "demo", "bench-results.json")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

FORKED_TEST = """\
from paseto_app.paseto.keys import forked


def test_the_forkers_function() -> None:
    assert forked() == "kept"
"""
TEMPLATE_TEST = """\
from {{ cookiecutter.package_name }}.paseto.keys import from_the_template


def test_the_templates_function() -> None:
    assert from_the_template() == "applied"
"""
SUBSET = ["tests/test_docs.py", "tests/test_migrations.py", "tests/test_paseto_tokens.py", "tests/test_auth_api.py"]


def cruft(folder: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cruft", *arguments]
    if check:
        return run(folder, *command, env=os.environ | GIT_ENV)
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False, env=os.environ | GIT_ENV, timeout=300)


def commit(folder: Path, message: str) -> str:
    run(folder, "git", "add", "--all")
    run(folder, "git", "commit", "--quiet", "-m", message, env=os.environ | GIT_ENV)
    return run(folder, "git", "rev-parse", "HEAD").stdout.strip()


def after_last_import(source: str, addition: str) -> str:
    """The module with `addition` put after its imports, as a template fix would add a function."""
    lines = source.splitlines(keepends=True)
    last = max(index for index, line in enumerate(lines) if re.match(r"(from \S+ )?import ", line))
    return "".join([*lines[: last + 1], "\n\n", addition, *lines[last + 1 :]])


def pre_commit_hook(project: Path, hook: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("uv") or "uv", "run", "--frozen", "--quiet", "pre-commit", "run", hook, "--all-files"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_cruft_update_brings_the_templates_change_and_keeps_the_forkers(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=NOT_COPIED)
    run(template, "git", "init", "--quiet")
    first = commit(template, "The template as it is")

    cruft(tmp_path, "create", "--no-input", "--output-dir", str(tmp_path / "out"), str(template))
    project = tmp_path / "out" / "paseto-app"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == first
    env_before = (project / ".env").read_bytes()
    assert b"PASETO_APP_PASETO_KEY=k4.local." in env_before
    commit(project, "Generated with cruft")
    cruft(project, "check")  # up to date

    # The forker's change: a function appended to a module, and a test file of their own.
    module = project / PROJECT_MODULE
    module.write_text(module.read_text() + '\n\ndef forked() -> str:\n    return "kept"\n')
    (project / "tests" / "test_forked.py").write_text(FORKED_TEST)
    commit(project, "The forker's change")

    # The template's later change: a function after the imports of the same module, and a test of its own.
    template_module = template / "{{cookiecutter.project_slug}}" / MODULE
    fix = 'def from_the_template() -> str:\n    return "applied"\n'
    template_module.write_text(after_last_import(template_module.read_text(), fix))
    (template / "{{cookiecutter.project_slug}}" / "tests" / "test_template_fix.py").write_text(TEMPLATE_TEST)
    second = commit(template, "A fix of the template")

    behind = cruft(project, "check", check=False)
    assert behind.returncode != 0, behind.stdout
    cruft(project, "update", "-y")

    merged = module.read_text()
    assert "def forked() -> str:" in merged, "the forker's change is kept"
    assert "def from_the_template() -> str:" in merged, "the template's change is applied"
    rendered = TEMPLATE_TEST.replace("{{ cookiecutter.package_name }}", "paseto_app")
    assert (project / "tests" / "test_template_fix.py").read_text() == rendered
    assert (project / "tests" / "test_forked.py").read_text() == FORKED_TEST
    assert (project / ".env").read_bytes() == env_before, ".env (the project's keys) is never updated"
    status = run(project, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    assert sorted(status) == sorted([" M .cruft.json", f"M  {PROJECT_MODULE}", "A  tests/test_template_fix.py"]), status
    assert json.loads((project / ".cruft.json").read_text())["commit"] == second
    cruft(project, "check")
    commit(project, "Template update")

    # The merged project's own tests (see the module's docstring for which), and its conflict hooks pass.
    run(project, shutil.which("uv") or "uv", "sync", "--locked", "--quiet", "--python", interpreter("3.11"))
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", "tests/test_forked.py", "tests/test_template_fix.py", *SUBSET)
    for hook in ("check-merge-conflict", "no-rejected-hunks"):
        passed = pre_commit_hook(project, hook)
        assert passed.returncode == 0, passed.stdout + passed.stderr

    # A template change that meets the forker's: both append to the module's end.
    template_module.write_text(template_module.read_text() + '\n\ndef also_from_the_template() -> str:\n    return "clash"\n')
    commit(template, "A change where the forker changed too")

    cruft(project, "update", "-y")  # in a git project: `git apply -3` leaves conflict markers
    assert re.search(r"^<<<<<<< .*def forked.*^=======$.*also_from_the_template.*^>>>>>>> ", module.read_text(), re.M | re.S), (
        module.read_text()
    )
    run(project, "git", "add", "--all")  # what a forker who missed the conflict would do before committing
    refused = pre_commit_hook(project, "check-merge-conflict")
    assert refused.returncode != 0 and f"{PROJECT_MODULE}:" in refused.stdout, refused.stdout + refused.stderr
    run(project, "git", "reset", "--quiet", "--hard")

    (project / ".git").rename(tmp_path / "aside.git")  # outside git: the hunk goes to a .rej file
    cruft(project, "update", "-y")
    (tmp_path / "aside.git").rename(project / ".git")
    rejected = project / f"{PROJECT_MODULE}.rej"
    assert "also_from_the_template" in rejected.read_text()
    assert (project / ".env").read_bytes() == env_before
    refused = pre_commit_hook(project, "no-rejected-hunks")
    assert refused.returncode != 0 and f"{PROJECT_MODULE}.rej" in refused.stdout, refused.stdout + refused.stderr
