"""Check the answers before anything is written: a bad answer stops generation naming its field."""
# ruff: noqa: F821 - the answers below are cookiecutter placeholders, filled in before this runs

import keyword
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

# paseto_purpose and database are plain strings in cookiecutter.json, not choice lists: cookiecutter
# refuses a value outside a list with a traceback of its own, before this hook runs. Their rules are here.
RULES = [
    ("project_name", r'[^"\\]*\S[^"\\]*', "must not be empty nor hold quotes or backslashes"),
    ("project_slug", r"[a-z][a-z0-9]*(-[a-z0-9]+)*", "must be lowercase letters, digits and single hyphens, starting with a letter"),
    ("package_name", r"[a-z][a-z0-9_]*", "must be a valid lowercase Python package name (e.g. my_service)"),
    ("author_email", r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an e-mail address"),
    ("paseto_purpose", r"local|public", "must be 'local' or 'public'"),
    ("database", r"sqlite|postgresql", "must be 'sqlite' or 'postgresql'"),
]

KEYWORDS = set(keyword.kwlist)
# `type` became a soft keyword in 3.12, which the project runs on, whichever Python runs cookiecutter.
SOFT_KEYWORDS = {*keyword.softkwlist, "type"}

# The project runs on Python >= 3.11; cookiecutter's Python (>= 3.10) may lack some of 3.11's modules.
STDLIB_MODULES = {
    *sys.stdlib_module_names,
    "tomllib",  # new in 3.11
    "asynchat", "asyncore", "distutils", "imp", "smtpd",  # removed in 3.12
    "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3", "mailcap", "msilib", "nis",
    "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",  # removed in 3.13
}

# The import names of the generated pyproject.toml's direct dependencies (runtime and the dev group, of
# every option), with what their extras install. tests/test_hooks.py checks that none is missing.
DEPENDENCY_IMPORTS = {
    "fastapi": {"fastapi"},
    "uvicorn[standard]": {"uvicorn", "uvloop", "httptools", "watchfiles", "websockets"},
    "pyseto": {"pyseto"},
    "sqlmodel": {"sqlmodel"},
    "alembic": {"alembic"},
    "libpass": {"passlib"},
    "argon2-cffi": {"argon2"},
    "bcrypt": {"bcrypt"},
    "pydantic[email]": {"pydantic", "email_validator"},
    "pydantic-settings": {"pydantic_settings"},
    "jinja2": {"jinja2"},
    "markdown-it-py": {"markdown_it"},
    "python-multipart": {"multipart", "python_multipart"},
    "fastapi-offline": {"fastapi_offline"},
    "pyotp": {"pyotp"},
    "segno": {"segno"},
    "webauthn": {"webauthn"},
    "authlib": {"authlib"},
    "joserfc": {"joserfc"},
    "prometheus-client": {"prometheus_client"},
    "opentelemetry-sdk": {"opentelemetry"},
    "opentelemetry-exporter-otlp-proto-http": {"opentelemetry"},
    "opentelemetry-instrumentation-fastapi": {"opentelemetry"},
    "opentelemetry-instrumentation-sqlalchemy": {"opentelemetry"},
    "psycopg[binary]": {"psycopg", "psycopg_binary"},
    "pytest": {"pytest", "py"},
    "httpx2": {"httpx2"},
    "playwright": {"playwright"},
    "pytest-playwright": {"pytest_playwright"},
    "schemathesis": {"schemathesis"},
    "pytest-cov": {"pytest_cov"},
    "aiosmtpd": {"aiosmtpd"},
    "ruff": {"ruff"},
    "mypy": {"mypy", "mypyc"},
    "pre-commit": {"pre_commit"},
    "pre-commit-hooks": {"pre_commit_hooks"},
}

# What those stand on that an app imports directly (uvloop and httptools: uvicorn[standard] above).
FRAMEWORK_IMPORTS = {"starlette", "sqlalchemy", "pydantic_core", "anyio", "httpx", "cryptography", "mako"}

# Other names taken. (pyseto, fastapi, sqlmodel, passlib, jinja2 and site, once listed here too, are
# refused above as dependencies or standard library.)
RESERVED_PACKAGES = {
    "paseto": "is a PASETO library on PyPI and the app's own subpackage",
    "test": "is the standard library's test package",  # which sys.stdlib_module_names leaves out
    "tests": "is the project's test package",
}


def dependency_of(name: str) -> str | None:
    return next((requirement for requirement, imports in DEPENDENCY_IMPORTS.items() if name in imports), None)


def package_clash(name: str) -> str | None:
    """Why importing a package of this name would not work, or would break something else; None if it is free."""
    if name in KEYWORDS:
        return f"{name!r} is a Python keyword"
    if name in SOFT_KEYWORDS:
        return f"{name!r} is a Python soft keyword"
    if name in STDLIB_MODULES:
        return f"{name!r} is a standard-library module"
    requirement = dependency_of(name)
    if requirement:
        return f"{name!r} is the import name of the dependency {requirement}"
    if name in FRAMEWORK_IMPORTS:
        return f"{name!r} is the import name of a package the dependencies stand on"
    if name in RESERVED_PACKAGES:
        return f"{name!r} {RESERVED_PACKAGES[name]}"
    return None


def problems() -> list[str]:
    """One line per bad answer."""
    found = []
    for field, pattern, why in RULES:
        if not re.fullmatch(pattern, ANSWERS[field]):
            found.append(f"{field}: {ANSWERS[field]!r} {why}")
        elif field == "package_name" and (clash := package_clash(ANSWERS[field])):
            found.append(f"{field}: {clash}; pick another name")
    return found


if __name__ == "__main__":
    errors = problems()
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    sys.exit(1 if errors else 0)
