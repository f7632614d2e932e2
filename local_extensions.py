"""Cookiecutter loads this with the template: it keeps a refused answer to the hook's one line per field.

When hooks/pre_gen_project.py refuses an answer it prints `ERROR: <field>: <why>` and exits 1;
cookiecutter would then log a traceback of its own. This drops that record, so the person sees
which field to fix and nothing else.
"""

import logging

from jinja2.ext import Extension


class _DropHookTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Stopping generation because")


class OneLineErrors(Extension):
    def __init__(self, environment):  # type: ignore[no-untyped-def]
        super().__init__(environment)
        hooks_logger = logging.getLogger("cookiecutter.hooks")
        if not any(isinstance(existing, _DropHookTraceback) for existing in hooks_logger.filters):
            hooks_logger.addFilter(_DropHookTraceback())
