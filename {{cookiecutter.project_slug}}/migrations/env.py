"""Alembic's entry point: migrations run against the app's own settings, or a URL the caller passes.

`config.attributes["database_url"]` (set by `{{ cookiecutter.project_slug }} migrate` and the tests) wins over `.env`.
The tables are every `models` module of the package (`database.table_metadata`), found, not listed.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, event, pool, text

from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.database import table_metadata

# Any number the app uses for nothing else: PostgreSQL's advisory locks are named by a bigint.
MIGRATION_LOCK = 7_201_520_001
SQLITE_LOCK_WAIT_SECONDS = 600  # a migration copying a large table may take minutes

config = context.config
if config.config_file_name is not None:
    # Keep loggers that exist already (the app's, when the tests migrate in-process).
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def one_at_a_time(engine: Engine) -> None:
    """Let one migration run at a time: replicas that all run `migrate` as they start take turns, and the
    later ones find the schema at head. The lock is the migration's own transaction's, freed by its end."""
    if engine.dialect.name == "sqlite":
        # pysqlite starts transactions only before writing rows, so DDL would run outside one. Let
        # SQLAlchemy's BEGIN through, as IMMEDIATE: it takes SQLite's write lock, and a second
        # migration waits for it. Every migration is then also all-or-nothing on SQLite.
        @event.listens_for(engine, "connect")
        def _driver_autocommit(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def run_migrations() -> None:
    url = config.attributes.get("database_url") or DatabaseSettings().database_url
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"timeout": SQLITE_LOCK_WAIT_SECONDS} if sqlite else {})
    one_at_a_time(engine)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=table_metadata(),
                render_as_batch=sqlite,  # SQLite alters a table by copying it
                compare_type=True,
                transactional_ddl=True,  # one transaction for the whole upgrade: all or nothing, under one lock
            )
            with context.begin_transaction():
                lock(connection)
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
