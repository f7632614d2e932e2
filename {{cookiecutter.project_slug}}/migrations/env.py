"""Alembic's entry point: migrations run against the app's own settings, or a URL the caller passes.

`config.attributes["database_url"]` (set by `{{ cookiecutter.project_slug }} migrate` and the tests) wins over `.env`.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

from {{ cookiecutter.package_name }}.auth.models import TokenFamily  # noqa: F401 - registers the table
from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.users.models import LoginThrottle, User  # noqa: F401 - registers the tables

config = context.config
if config.config_file_name is not None:
    # Keep loggers that exist already (the app's, when the tests migrate in-process).
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations() -> None:
    url = config.attributes.get("database_url") or DatabaseSettings().database_url
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
