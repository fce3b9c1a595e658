"""One active scheduler across processes: a leader lock that dies with its holder.

APScheduler 3 does not support several schedulers on one job store (two processes run
the same job), so only the process holding this lock runs the scheduler; the others
stand by and take over when the leader's process ends, however it ends:

- PostgreSQL: ``pg_try_advisory_lock(LOCK_NAMESPACE, hashtext(current_schema()))`` held
  on a dedicated connection. The server releases it when that session ends (process
  killed, connection lost), so a standby's next try succeeds.
- SQLite: an exclusive, non-blocking ``flock`` on ``<database file>.scheduler.lock`` next
  to the database file; the operating system releases it when the process dies.

The PostgreSQL key is a constant namespace plus the schema, so deployments sharing one
database in different schemas do not block each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# "DSCH": the dispatcher scheduler's advisory-lock namespace (first int4 key).
LOCK_NAMESPACE = 0x44534348


class LeaderLock:
    """The scheduler's leadership: ``try_acquire()`` without waiting, ``release()``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    @property
    def lock_path(self) -> Path | None:
        """The lock file on SQLite (None for PostgreSQL or an in-memory database)."""
        if self.engine.dialect.name != "sqlite":
            return None
        database = self.engine.url.database
        if not database or database == ":memory:":
            return None
        return Path(f"{database}.scheduler.lock")

    def try_acquire(self) -> bool:
        """Take leadership if nobody holds it; True when this object holds it now."""
        if self._held:
            return True
        if self.engine.dialect.name == "postgresql":
            self._held = self._try_advisory_lock()
        else:
            self._held = self._try_file_lock()
        return self._held

    def release(self) -> None:
        """Give leadership up (a no-op when not held)."""
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                if self._held:
                    self._conn.execute(text(
                        "SELECT pg_advisory_unlock(:ns, hashtext(current_schema()))"),
                        {"ns": LOCK_NAMESPACE})
                    self._conn.commit()
            with contextlib.suppress(DBAPIError):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._held = False

    def still_held(self) -> bool:
        """False when leadership was lost behind our back (the PostgreSQL session died)."""
        if not self._held:
            return False
        if self._conn is None:
            return True  # a file lock cannot be taken away while the file is open
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except DBAPIError:
            self.release()
            return False
        return True

    def wait_for_leadership(self, stop_event: threading.Event,
                            poll_seconds: float = 5.0) -> bool:
        """Stand by until leadership is ours (True) or ``stop_event`` is set (False)."""
        while not stop_event.is_set():
            try:
                if self.try_acquire():
                    return True
            except DBAPIError:
                pass  # database unreachable for now: keep standing by
            stop_event.wait(poll_seconds)
        return False

    def __enter__(self) -> LeaderLock:
        self.try_acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    # ---------------------------------------------------------------------------------

    def _try_advisory_lock(self) -> bool:
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(text(
                "SELECT pg_try_advisory_lock(:ns, hashtext(current_schema()))"),
                {"ns": LOCK_NAMESPACE}).scalar())
            conn.commit()  # the session lock outlives the transaction
        except BaseException:
            conn.close()
            raise
        if got:
            # Keep this connection out of the pool for as long as we lead: the lock is the
            # session's, so the connection must not be handed to anyone else.
            conn.detach()
            self._conn = conn
        else:
            conn.close()
        return got

    def _try_file_lock(self) -> bool:
        path = self.lock_path
        if path is None:
            return True  # an in-memory database lives in one process only
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True
