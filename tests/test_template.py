"""The template's own code (hooks, scripts, these tests) is held to the same lint as the projects it makes."""

from .conftest import TEMPLATE, run

OWN_CODE = ["hooks", "scripts", "tests", "local_extensions.py"]


def test_the_templates_own_code_is_ruff_clean() -> None:
    run(TEMPLATE, "ruff", "check", *OWN_CODE)
    run(TEMPLATE, "ruff", "format", "--check", *OWN_CODE)
