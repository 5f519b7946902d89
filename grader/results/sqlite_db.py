"""Opening the grader's SQLite files the same way everywhere: the results store, the cohort job queue and the
reviews share one database file, which many processes on one machine read and write at once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from grader.errors import InfrastructureError

BUSY_TIMEOUT_S = 30.0
_FIRST_WAL_RETRY_PAUSE_S = 0.005
_LONGEST_WAL_RETRY_PAUSE_S = 0.25


def open_database(path: Path, what: str, *, shared_between_threads: bool = False) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` (created with its folder when missing) with rows by name, the
    busy timeout set before any other statement, and WAL mode on; ``what`` names the database in errors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # isolation_level=None: no implicit transactions; each write opens its own (write_transaction).
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                             check_same_thread=not shared_between_threads)
    except sqlite3.Error as exc:
        raise InfrastructureError(f"cannot open {what} {path}: {exc}") from exc
    try:
        db.row_factory = sqlite3.Row
        # Explicit, and before any other statement, although connect(timeout=) sets it too: nothing below
        # may run without it.
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        switch_to_wal(db.execute, path)
    except BaseException:
        db.close()
        raise
    return db


class SqliteFile:
    """A store over one connection from :func:`open_database`: closing, ``with`` support and write transactions
    shared by the results store and the reviews."""

    _db: sqlite3.Connection

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db)


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction. IMMEDIATE takes the write lock at BEGIN, where waiting for it is covered by
    the busy timeout, instead of upgrading a read lock later, which can fail at once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def switch_to_wal(
    execute: Callable[[str], sqlite3.Cursor],
    path: Path,
    *,
    timeout_s: float = BUSY_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put the database behind ``execute`` in WAL mode, retrying with doubling pauses while another
    connection holds the lock, for up to ``timeout_s``; ``path`` names the database in errors."""
    deadline = clock() + timeout_s
    pause = _FIRST_WAL_RETRY_PAUSE_S
    while True:
        try:
            mode = execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            if clock() + pause > deadline:
                raise InfrastructureError(
                    f"the results store {path} stayed locked by another process for {timeout_s:.0f} s"
                ) from exc
            sleep(pause)
            pause = min(pause * 2, _LONGEST_WAL_RETRY_PAUSE_S)
            continue
        if mode != "wal":
            raise InfrastructureError(
                f"the results store {path} cannot use WAL mode (journal mode stays {mode!r}): "
                "put it on a local filesystem"
            )
        return
