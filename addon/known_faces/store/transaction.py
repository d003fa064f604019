"""The one way the store writes: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error.

``IMMEDIATE`` takes SQLite's write lock at the start, so two processes (the service and
``known-faces enroll``) never both read and then fail to upgrade to writing; the second waits
for the busy timeout instead. SQLite's own failures (disk full, I/O, locked too long) become
``StorageError``, the error every caller already reports (HTTP 507), and because the transaction
was rolled back the database is as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import StorageError


@contextmanager
def immediate(db: sqlite3.Connection, failure: str) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``db`` (autocommit mode); ``failure`` starts the StorageError's
    message."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StorageError(f"{failure}: {exc}") from exc
