"""Check the answers before anything is written: a bad answer stops generation naming its field."""
# ruff: noqa: F821 - the answers below are cookiecutter placeholders, filled in before this runs

import re
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
    "paseto_purpose": {{ cookiecutter.paseto_purpose | tojson }},
    "database": {{ cookiecutter.database | tojson }},
}

# Names that would shadow the standard library or the app's own dependencies when imported.
RESERVED_PACKAGES = {"paseto", "pyseto", "fastapi", "sqlmodel", "passlib", "jinja2", "test", "tests", "site"}

RULES = [
    ("project_name", r'[^"\\]*\S[^"\\]*', "must not be empty nor hold quotes or backslashes"),
    ("project_slug", r"[a-z][a-z0-9]*(-[a-z0-9]+)*", "must be lowercase letters, digits and single hyphens, starting with a letter"),
    ("package_name", r"[a-z][a-z0-9_]*", "must be a valid lowercase Python package name (e.g. my_service)"),
    ("author_email", r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an e-mail address"),
    ("paseto_purpose", r"local|public", "must be 'local' or 'public'"),
    ("database", r"sqlite|postgresql", "must be 'sqlite' or 'postgresql'"),
]


def problems() -> list[str]:
    found = [
        f"{field}: {ANSWERS[field]!r} {why}"
        for field, pattern, why in RULES
        if not re.fullmatch(pattern, ANSWERS[field])
    ]
    if ANSWERS["package_name"] in RESERVED_PACKAGES:
        found.append(f"package_name: {ANSWERS['package_name']!r} would shadow another package; pick another name")
    return found


if __name__ == "__main__":
    errors = problems()
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    sys.exit(1 if errors else 0)
