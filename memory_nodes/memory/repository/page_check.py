"""The check of a large SQLite store's pages, after it opened: ``PRAGMA quick_check`` (or integrity_check)
reads every page, about 3 s a GB on this machine's disk, so a robot-year's store (3 GB) would take ~10 s to
open. A store larger than ``store.open_check_max_mb`` opens after the checks that need no page scan (header,
application id, schema version, meta values), and this thread checks its pages on a read-only connection
of its own while the memory works (SQLite runs the scan without Python's lock). Damage found stops the
store's commits: every later commit raises a ``corrupt`` StoreError and keeps its batch queued (in RAM), so
nothing more is written into a damaged file and the node reports a store fault until an operator recovers
the file (``memory-stack store recover PATH``)."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Optional

from ...common.errors import StoreError
from .files import store_error


class PageCheck:
    """One background page check of the store at ``path``. ``state``: running | ok | damaged: ... |
    not finished: ... (the check itself failed, e.g. interrupted at close; the store is not judged)."""

    def __init__(self, path: Path, pragma: str):
        self.path, self.pragma = path, pragma
        self.state = "running"
        self.fault: Optional[StoreError] = None
        self._conn: Optional[sqlite3.Connection] = None
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="store-page-check", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._lock:
                if self._stopped:
                    self.state = "not finished: the store closed first"
                    return
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                             check_same_thread=False)
            rows = [str(r[0]) for r in self._conn.execute(f"PRAGMA {self.pragma}(5)").fetchall()]
            if rows == ["ok"]:
                self.state = "ok"
            else:
                self._damaged("; ".join(rows))
        except sqlite3.DatabaseError as e:
            if self._stopped or isinstance(e, sqlite3.OperationalError) and "interrupt" in str(e):
                self.state = "not finished: the store closed first"
            elif isinstance(e, sqlite3.OperationalError):
                self.state = f"not finished: {e}"
            else:
                self._damaged(str(e))
        finally:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

    def _damaged(self, why: str) -> None:
        self.state = f"damaged: {why[:300]}"
        self.fault = store_error(f"{self.path}: damaged store ({self.pragma} after open: {why[:300]}); commits "
                                 "stopped, what is not committed is held in RAM (memory-stack store recover "
                                 "PATH copies what is readable)", "corrupt")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: Optional[float] = None) -> str:
        self._thread.join(timeout)
        return self.state

    def stop(self, timeout: float = 5.0) -> None:
        """Interrupt a check still running (the store is closing) and wait for the thread."""
        with self._lock:
            self._stopped = True
            if self._conn is not None:
                self._conn.interrupt()
        self._thread.join(timeout)
