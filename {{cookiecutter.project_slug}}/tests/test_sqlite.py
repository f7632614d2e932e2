"""SQLite's writers queue in the process instead of colliding in SQLite's busy handler (sqlite.py); readers
never wait for them."""

import threading
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from {{ cookiecutter.package_name }}.database import make_engine

from .conftest import all_at_once, create_tables, make_settings


def sqlite_engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    create_tables(url)
    engine = make_engine(make_settings(url, database_connect_timeout=2))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    return engine


def write_lock(engine: Engine) -> threading.Lock:
    with engine.connect() as connection:
        lock: threading.Lock = connection.connection.dbapi_connection.write_lock  # type: ignore[union-attr]
        return lock


def test_a_write_transaction_holds_the_process_write_lock_until_it_ends_and_reads_take_none(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    lock = write_lock(engine)
    with Session(engine) as session:
        session.exec(text("SELECT n FROM counter"))  # type: ignore[call-overload]
        assert not lock.locked()
        session.exec(text("UPDATE counter SET n = n + 1"))  # type: ignore[call-overload]
        assert lock.locked()
        session.commit()
        assert not lock.locked()
        session.exec(text("UPDATE counter SET n = n + 1"))  # type: ignore[call-overload]
        session.rollback()
        assert not lock.locked()


def test_concurrent_writers_all_get_through(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)

    def add_one() -> None:
        with Session(engine) as session:
            n = session.exec(text("UPDATE counter SET n = n + 1 RETURNING n")).scalar_one()  # type: ignore[call-overload]
            session.exec(text(f"SELECT {n}"))  # type: ignore[call-overload]
            session.commit()

    all_at_once([add_one] * 32)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 32
    engine.dispose()
