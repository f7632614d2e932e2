"""SQLite, tuned for a web app: readers beside a writer (WAL), and writers that queue instead of colliding.

SQLite lets one write transaction in at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps between tries (1, 2, 5 ... up to 100 ms): a writer that has waited
keeps being overtaken by newcomers, and under 32 concurrent refreshes the slowest took ten times the
median. So each process lets one write transaction of its own at a time into SQLite; the others wait
their turn in line for a lock, taken at a transaction's first write and given back when it commits or
rolls back. Reads take no lock (WAL). Between processes (uvicorn --workers) SQLite's busy handler
still decides, but between one writer per process. scripts/bench.sh measures it (README).
"""

import re
import sqlite3
import threading
from typing import Any, Self

from sqlalchemy import Engine, event
from sqlmodel import create_engine

# Python's sqlite3 opens a transaction just before these statements (its default transaction control).
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class QueuedWritesConnection(sqlite3.Connection):
    """A connection whose write transactions take the engine's write lock (set when it connects)."""

    write_lock = threading.Lock()
    lock_timeout = 5.0
    writing = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedWritesCursor)

    def begin_write(self, statement: str) -> None:
        if self.writing or self.in_transaction or not _WRITE.match(statement):
            return
        if not self.write_lock.acquire(timeout=self.lock_timeout):
            raise sqlite3.OperationalError("database is locked (by another write transaction of this process)")
        self.writing = True

    def end_write(self) -> None:
        if self.writing and not self.in_transaction:
            self.writing = False
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.writing:
                self.writing = False
                self.write_lock.release()


class _QueuedWritesCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        connection: QueuedWritesConnection = self.connection  # type: ignore[assignment]
        connection.begin_write(sql)
        try:
            return super().execute(sql, parameters)
        except OverflowError as error:
            raise _out_of_range(error) from error
        finally:
            connection.end_write()  # the statement failed before it opened the transaction

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        connection: QueuedWritesConnection = self.connection  # type: ignore[assignment]
        connection.begin_write(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        except OverflowError as error:
            raise _out_of_range(error) from error
        finally:
            connection.end_write()


def _out_of_range(error: OverflowError) -> sqlite3.DataError:
    # The driver refuses an int beyond 64 bits with a plain OverflowError; as the DB-API's DataError,
    # SQLAlchemy raises it as exc.DataError, which the app answers as PostgreSQL's out-of-range numbers (422).
    return sqlite3.DataError(str(error))


def sqlite_engine(url: str, options: dict[str, Any], timeout: float) -> Engine:
    """An engine for a SQLite URL. `timeout` bounds each wait for a writer: of this process, then of another."""
    write_lock = threading.Lock()
    connect = {"check_same_thread": False, "timeout": timeout, "factory": QueuedWritesConnection}
    engine = create_engine(url, **options, connect_args=connect)

    @event.listens_for(engine, "connect")
    def _prepare(connection: QueuedWritesConnection, _record: Any) -> None:
        # WAL lets readers run beside a writer, and with synchronous=NORMAL a commit needs no fsync
        # (the database stays consistent; a power cut may lose the last commits). Foreign keys are
        # off in SQLite unless asked for.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.write_lock, connection.lock_timeout = write_lock, timeout

    return engine
