"""{{ cookiecutter.project_name }}: a FastAPI service with PASETO access and refresh tokens."""
