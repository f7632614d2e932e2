"""Baking helpers for the template's tests."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]


@pytest.fixture
def bake(tmp_path: Path) -> Callable[..., Path]:
    """Generate a project with the given answers (defaults for the rest); return its folder."""

    def run(**answers: Any) -> Path:
        output = tmp_path / "out"
        return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output)))

    return run


def bake_cli(tmp_path: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Run cookiecutter as a user would, answers as key=value."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path), str(TEMPLATE), *answers],
        capture_output=True,
        text=True,
        check=False,
    )
