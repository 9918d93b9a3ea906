"""Persistent store: SQLite (WAL, versioned schema migrations, batched transactions) plus a folder of
content-addressed keyframe files.

Durability contract: everything queued before ``commit()`` returns is in the database file (with
``synchronous=FULL`` even across power loss) together with ``ingested_through_ns``; a crash at any moment
leaves the database at its last commit. Keyframe files are written (and fsync'd) before the commit that
references them; files are deleted only after the commit that unreferences them (through the
``pending_file_deletes`` table, so a crash in between is finished on the next open).

A failed commit keeps its batch: the statements stay queued (in order, before anything queued since) and
the next ``commit()`` retries them, so ``ingested_through_ns`` never passes a row that is not in the file.
Failures are told apart (``StoreError.fault``): ``disk_full`` and ``io`` (the file system: retry later),
``bad_row`` (a row SQLite refuses: those rows alone are dropped, one savepoint per row, and counted in
``rejected_rows``; every other row of the batch is written), ``corrupt`` / ``foreign`` / ``locked`` at open.

Opening: a file that is not this store (not SQLite, 0 bytes, another application's database, a schema
version out of range, damaged pages, unreadable metadata) raises one StoreError naming the file and the
cause, releases the lock and leaves every byte of the file (and its -wal / -journal) unchanged: it is
inspected read-only (header, ``PRAGMA quick_check``, or ``integrity_check`` with ``StoreConfig.open_check``
= "full", the meta values) before anything is written, and the writes of an open (WAL switch, migration,
deferred deletes, orphan and temp keyframe clean-up) wait for ``begin_writing()``, which ``MemoryCore``
calls once the records loaded. A new store is built beside its path and renamed into place, so a store
file is never half-initialised (a 0-byte file is therefore never ours).
"""
from __future__ import annotations

import json
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type

from ...common.errors import StoreError
from ..config import StoreConfig
from .files import KeyframeFiles, _fsync_dir, fault_of, keyframe_ref, store_error  # noqa: F401 (re-exported)
from .page_check import PageCheck
from .schema import APPLICATION_ID, SCHEMA_VERSION, apply_migrations


def _header_ok(path: Path) -> Tuple[bool, str]:
    """(looks like SQLite, reason) from the first 100 bytes, without SQLite touching the file."""
    size = path.stat().st_size
    if size == 0:
        return False, ("0 bytes: not a memory store (new stores are created whole and renamed into place; "
                       "delete the empty file to start a new store)")
    if size < 100:
        return False, f"{size} bytes: too short for an SQLite database"
    with path.open("rb") as f:
        head = f.read(100)
    if not head.startswith(b"SQLite format 3\x00"):
        return False, "not an SQLite database (bad header)"
    return True, "sqlite"


class StoreBatch:
    """What both backends share: the queue of statements for the next commit (consecutive equal statements
    batch), the meta values and the class-name ids, all held in RAM between commits."""

    _ops: List[Tuple[str, List[Sequence[Any]]]]
    _class_ids: Dict[str, int]
    _meta: Dict[str, str]
    path: Any                   # Path (SQLite) or the URL without its password (PostgreSQL)
    rejected_rows: int
    # each backend's: one transaction of ops (per_row: row by row, returning how many were refused), a
    # rollback, and the keyframe files whose rows a commit deleted
    _write: Callable[[Any, List[Tuple[str, List[Sequence[Any]]]], bool], int]
    _rollback: Callable[[Any], None]
    finish_file_deletes: Callable[[], None]

    # ----------------------------------------------------------------------------------- the commit
    def _write_batch(self, conn: Any, errors: Tuple[Type[BaseException], ...],
                     fault: Callable[[BaseException], str], cleanup_errors: Tuple[Type[BaseException], ...]) -> None:
        """Both backends' commit of the queued batch: one transaction; on failure it is rolled back, the
        batch stays queued and StoreError says why; rows the database refuses (``bad_row``) are dropped one
        by one, the rest written, and counted. ``errors``: the driver's errors (plus the conversions');
        ``fault``: its classifier; a failure finishing file deletes (``cleanup_errors``) is retried later."""
        errors = errors + (OverflowError, ValueError, TypeError)
        try:
            self._write(conn, self._ops, False)       # the whole batch at once
        except errors as e:
            self._rollback(conn)
            f = fault(e)
            if f != "bad_row":
                raise store_error(f"{self.path}: commit failed ({f}): {str(e).strip()}; the batch is kept for a "
                                  "retry", f) from e
            try:
                self.rejected_rows += self._write(conn, self._ops, True)   # row by row
            except errors as e2:
                self._rollback(conn)
                raise store_error(f"{self.path}: commit failed ({fault(e2)}): {e2}; the batch is kept for a "
                                  "retry", fault(e2)) from e2
        self._ops = []
        try:
            self.finish_file_deletes()
        except cleanup_errors:
            pass                      # the rows stay in pending_file_deletes: finished at a later commit

    # ----------------------------------------------------------------------------------- metadata
    def meta(self, key: str, default: str) -> str:
        return self._meta.get(key, default)

    def drop_meta(self, key: str) -> None:
        """Forget a meta value held in RAM (its row was deleted in the file)."""
        self._meta.pop(key, None)

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = str(value)
        self.queue("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))

    def class_id(self, name: str) -> int:
        i = self._class_ids.get(name)
        if i is None:
            i = max(self._class_ids.values(), default=0) + 1
            self._class_ids[name] = i
            self.queue("INSERT INTO classes (id, name) VALUES (?, ?)", (i, name))
        return i

    def class_names(self) -> Dict[int, str]:
        return {i: n for n, i in self._class_ids.items()}

    # -------------------------------------------------------------------------------- batched writes
    def queue(self, sql: str, row: Sequence[Any]) -> None:
        """Queue one statement execution for the next commit (consecutive equal statements batch)."""
        if self._ops and self._ops[-1][0] == sql:
            self._ops[-1][1].append(row)
        else:
            self._ops.append((sql, [row]))

    def queue_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            if self._ops and self._ops[-1][0] == sql:
                self._ops[-1][1].extend(rows)
            else:
                self._ops.append((sql, rows))

    @property
    def has_pending(self) -> bool:
        return bool(self._ops)


class Store(StoreBatch, KeyframeFiles):
    """One store = ``<path>`` (SQLite) + ``<path>.keyframes/`` + ``<path>.lock``. Single writer per store
    (an flock on the lock file; a second writer gets StoreError)."""

    def __init__(self, config: StoreConfig, read_only: bool = False, defer_writes: bool = False):
        config.validate()
        self.config = config
        self.path = Path(config.path)
        self.keyframe_dir = Path(str(self.path) + ".keyframes")
        self.read_only = read_only
        self._lock_fd: Optional[int] = None
        self._made_lock = False
        self._writing = False
        self._ops: List[Tuple[str, List[Sequence[Any]]]] = []
        self._unwritten: Dict[str, bytes] = {}  # keyframes a failed write left in RAM (written before the commit)
        # keyframes the writer thread is writing (fsync_keyframes): ref -> (bytes, its job); commit waits
        self._writing_files: Dict[str, Tuple[bytes, "Future[None]"]] = {}
        self._file_writer: Optional[ThreadPoolExecutor] = None
        self._class_ids: Dict[str, int] = {}
        self._meta: Dict[str, str] = {}
        self.rejected_rows = 0                  # rows SQLite refused (bad_row), dropped from their batch
        self.orphans_removed = 0                # keyframe and temp files no row referenced, removed at open
        self.orphan_scan = "not yet"            # done | skipped (closed cleanly)
        self.conn: Optional[sqlite3.Connection] = None
        self.page_check_state = "not checked"
        self._deferred_check: Optional[str] = None        # the pragma a large store is checked with after open
        self._page_check: Optional[PageCheck] = None
        self._open()
        if not read_only and not defer_writes:
            self.begin_writing()

    # ------------------------------------------------------------------------------------ opening
    def _open(self) -> None:
        exists = self.path.exists()
        if exists:
            if not self.path.is_file():
                raise store_error(f"{self.path}: not a regular file", "foreign")
            ok, why = _header_ok(self.path)
            if not ok:
                raise store_error(f"{self.path}: {why}; refusing to open it as a memory store (left unchanged)",
                                  "foreign")
            self._inspect_read_only()
        elif self.read_only:
            raise store_error(f"{self.path}: no such store", "io")
        if not self.read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise store_error(f"{self.path}: cannot create its folder: {e}", fault_of(e)) from e
            self._take_lock()
            if not exists:
                try:
                    self._create_new()
                except (OSError, sqlite3.Error) as e:
                    self._release_lock()
                    raise store_error(f"{self.path}: cannot create a new store: {e}", fault_of(e)) from e
        try:
            if self.read_only:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            self._release_lock()
            raise store_error(f"{self.path}: cannot open: {e}", fault_of(e)) from e
        self.conn = conn
        try:
            self._validate(conn)     # again, now through the connection that will write: before the first write
            conn.execute(f"PRAGMA cache_size=-{int(self.config.cache_size_mb) * 1024}")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA temp_store=MEMORY")
            self._read_meta(conn)
        except sqlite3.DatabaseError as e:
            self.close()
            raise store_error(f"{self.path}: damaged or unreadable store: {e}; left unchanged", "corrupt") from e
        except StoreError:
            self.close()
            raise

    def _read_meta(self, conn: sqlite3.Connection) -> None:
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self._meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")} if "meta" in tables \
            else {}
        for key in _NUMERIC_META:
            v = self._meta.get(key)
            if v is not None and not _is_int(v):
                raise store_error(f"{self.path}: damaged store: meta {key!r} = {v[:40]!r} is not an integer; "
                                  "left unchanged (memory-stack store recover PATH copies what is readable)",
                                  "corrupt")
        self._class_ids = {str(n): int(i) for i, n in conn.execute("SELECT id, name FROM classes")} \
            if "classes" in tables else {}

    def begin_writing(self) -> None:
        """The writes of an open, once the store validated and its records loaded: WAL mode, migrations,
        deferred file deletes, orphan and temp keyframe files removed."""
        if self.read_only or self._writing:
            return
        conn = self.connection
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise store_error(f"{self.path}: cannot switch to WAL mode (got {mode})", "io")
            conn.execute(f"PRAGMA synchronous={self.config.synchronous}")
            self._migrate()
            self._read_meta(conn)
            self._writing = True
            self.finish_file_deletes()
            # orphan keyframe files come from a run that ended between writing a file and committing its
            # row: after a clean close there are none, and the scan (every keyframe file, ~150 k in a
            # robot-year) is skipped; the mark is cleared before this run writes a file
            if self._meta.get("closed_cleanly") == "1":
                self.orphan_scan = "skipped (closed cleanly)"
            else:
                self.orphans_removed += self.collect_orphans()
                self.orphan_scan = "done"
            self._mark_closed_cleanly(False)
            if self._deferred_check and self._page_check is None:
                self._page_check = PageCheck(self.path, self._deferred_check)
        except (sqlite3.Error, OSError) as e:
            self.close()
            raise store_error(f"{self.path}: cannot prepare the store for writing: {e}", fault_of(e)) from e
        except StoreError:
            self.close()
            raise

    def _create_new(self) -> None:
        """A new store, built whole beside its path (rollback journal, so nothing is left beside it) and
        renamed into place: the path never holds a half-initialised store."""
        tmp = Path(f"{self.path}.new{os.getpid()}")
        for f in (tmp, Path(f"{tmp}-journal")):
            if f.exists():
                f.unlink()
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("BEGIN")
            apply_migrations(conn, 0, SCHEMA_VERSION)
            conn.execute("INSERT INTO meta (key, value) VALUES ('ingested_through_ns', '-1')")
            conn.execute("COMMIT")
        finally:
            conn.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def _inspect_read_only(self) -> None:
        """Validate an existing file without writing a byte to it (nor creating -wal/-shm files, unless a
        WAL is already there: then its content must be read too): header pragmas, quick_check (or
        integrity_check) and the meta values."""
        wal = Path(str(self.path) + "-wal").exists()
        uri = f"file:{self.path}?mode=ro" + ("" if wal else "&immutable=1")
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as e:
            raise store_error(f"{self.path}: cannot open read-only: {e}", fault_of(e)) from e
        try:
            self._validate(conn)
            self._check_pages(conn)
            self._read_meta(conn)
        except sqlite3.DatabaseError as e:
            raise store_error(f"{self.path}: damaged or not a database ({e}); left unchanged", "corrupt") from e
        finally:
            conn.close()

    def _check_pages(self, conn: sqlite3.Connection) -> None:
        how = self.config.open_check
        if how == "none":
            self.page_check_state = "off (store.open_check: none)"
            return
        pragma = "integrity_check" if how == "full" else "quick_check"
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.is_file())
        big = self.config.open_check_max_mb
        if not self.read_only and 0 < big < size / 1e6:
            self._deferred_check = pragma        # page_check.py, once the store is open
            return
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(5)").fetchall()]
        if rows != ["ok"]:
            raise store_error(f"{self.path}: damaged store ({pragma}: {'; '.join(rows)[:300]}); left unchanged "
                              "(memory-stack store recover PATH copies what is readable)", "corrupt")
        self.page_check_state = "ok (at open)"

    @property
    def page_check(self) -> str:
        """The page check's state: ok (at open) | running | ok | damaged: ... | not finished: ... | off."""
        return self.page_check_state if self._page_check is None else self._page_check.state

    def _validate(self, conn: sqlite3.Connection) -> None:
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            ver = conn.execute("PRAGMA user_version").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise store_error(f"{self.path}: damaged or not a database ({e}); left unchanged", "corrupt") from e
        if app == 0 and ver == 0 and n_tables == 0:
            return          # an empty database (no table, no data): safe to initialise
        if app != APPLICATION_ID:
            raise store_error(f"{self.path}: an SQLite database of another application "
                              f"(application_id={app:#x}); refusing to touch it", "foreign")
        if ver > SCHEMA_VERSION:
            raise store_error(f"{self.path}: schema version {ver} is newer than this software "
                              f"({SCHEMA_VERSION}); upgrade the software", "foreign")
        if ver < 1:
            raise store_error(f"{self.path}: damaged store: schema version {ver} (this software knows 1.."
                              f"{SCHEMA_VERSION}); left unchanged", "corrupt")

    def _take_lock(self) -> None:
        import fcntl
        lock_path = str(self.path) + ".lock"
        self._made_lock = not os.path.exists(lock_path)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise store_error(f"{self.path}: cannot create its lock file: {e}", fault_of(e)) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise store_error(f"{self.path}: in use by another writer ({e})", "locked") from e
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            try:
                if self._made_lock and not self._writing:     # a failed open leaves nothing beside the file
                    try:
                        os.unlink(str(self.path) + ".lock")
                    except OSError:
                        pass
                os.close(self._lock_fd)
            finally:
                self._lock_fd = None

    def _migrate(self) -> None:
        conn = self.connection
        ver = conn.execute("PRAGMA user_version").fetchone()[0]
        if ver == SCHEMA_VERSION:
            return
        if not 0 <= ver < SCHEMA_VERSION:
            raise store_error(f"{self.path}: schema version {ver} cannot be migrated", "corrupt")
        conn.execute("BEGIN IMMEDIATE")
        try:
            apply_migrations(conn, ver, SCHEMA_VERSION)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('ingested_through_ns', '-1')")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def create_at_version(path: str, version: int) -> None:
        """Create a new, empty store file at an older schema ``version`` (to test migrations)."""
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN")
            apply_migrations(conn, 0, version)
            conn.execute("INSERT INTO meta (key, value) VALUES ('ingested_through_ns', '-1')")
            conn.execute("COMMIT")
        finally:
            conn.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (StoreError once closed)."""
        if self.conn is None:
            raise StoreError(f"{self.path}: store is closed")
        return self.conn

    @property
    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        if self._page_check is not None:
            self._page_check.stop()
        if self._file_writer is not None:
            self._drain_files()           # files of a batch never committed are orphans: removed at next open
            self._file_writer.shutdown(wait=True)
            self._file_writer = None
        if self.conn is not None:
            try:
                if not self.read_only and self.conn.in_transaction:
                    self.connection.execute("ROLLBACK")
                if self._writing and not self._ops and not self._unwritten and not self._writing_files:
                    try:
                        self._mark_closed_cleanly(True)     # every file written is a committed row's
                    except sqlite3.Error:
                        pass                                # then the next open scans for orphans
                self.conn.close()
            finally:
                self.conn = None
        self._release_lock()

    def _mark_closed_cleanly(self, clean: bool) -> None:
        self.connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('closed_cleanly', ?)",
                                ("1" if clean else "0",))
        self._meta["closed_cleanly"] = "1" if clean else "0"

    def reload_classes(self) -> None:
        """Re-read the class table (after rows were deleted outside the batch, e.g. by forget)."""
        self._class_ids = {n: i for i, n in self.connection.execute("SELECT id, name FROM classes")}

    def commit(self) -> None:
        """Write everything queued in one transaction. On failure nothing is written, the batch stays
        queued (retried by the next commit) and StoreError says why (``fault``: disk_full, io). Rows SQLite
        refuses (``bad_row``) are dropped one by one, the rest of the batch written, and counted."""
        if self.read_only:
            raise store_error("store opened read-only", "io")
        if self._page_check is not None and self._page_check.fault is not None:
            raise self._page_check.fault        # damaged pages found after open: nothing more is written
        self._drain_files()
        if not self._ops and not self._unwritten:
            return
        if not self._writing:
            self.begin_writing()
        self._write_unwritten()
        if not self._ops:
            return
        self._write_batch(self.connection, (sqlite3.Error,), fault_of, (sqlite3.Error, OSError))

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @staticmethod
    def _write(conn: sqlite3.Connection, ops: List[Tuple[str, List[Sequence[Any]]]], per_row: bool) -> int:
        """One transaction of ``ops``; with ``per_row`` each row in a savepoint, the rows SQLite refuses
        rolled back alone. Returns how many were refused."""
        refused = 0
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in ops:
            if not per_row:
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                else:
                    conn.executemany(sql, rows)
                continue
            for row in rows:
                conn.execute("SAVEPOINT r")
                try:
                    conn.execute(sql, row)
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError, ValueError, TypeError):
                    conn.execute("ROLLBACK TO r")
                    refused += 1
                conn.execute("RELEASE r")
        conn.execute("COMMIT")
        return refused

    # ---------------------------------------------------------------------------------- keyframes
    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: read failed: {e}") from e

    def integrity_check(self) -> str:
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])

    def disk_bytes(self) -> Dict[str, int]:
        """Bytes on disk: database (+ WAL) and keyframe files."""
        self._drain_files()
        db = sum(os.path.getsize(p) for p in (str(self.path), str(self.path) + "-wal")
                 if os.path.exists(p))
        kf = 0
        if self.keyframe_dir.is_dir():
            for p in self.keyframe_dir.glob("*/*.jpg"):
                kf += p.stat().st_size
        return {"database": db, "keyframes": kf}

    def checkpoint(self, truncate: bool = False) -> None:
        mode = "TRUNCATE" if truncate else "PASSIVE"
        self.connection.execute(f"PRAGMA wal_checkpoint({mode})")

    def secure_delete(self, on: bool) -> None:
        self.connection.execute(f"PRAGMA secure_delete={'ON' if on else 'OFF'}")


_NUMERIC_META = ("ingested_through_ns", "last_retention_ns", "retention_done_ns", "consolidated_through_ns",
                 "observations_count")


def _is_int(v: str) -> bool:
    try:
        int(v)
        return True
    except ValueError:
        return False


def add_stamp_window(where: List[str], args: List[Any], start_ns: Optional[int], end_ns: Optional[int]) -> None:
    """Append ``stamp_ns`` bounds (inclusive; None = open) to a WHERE clause being built."""
    if start_ns is not None:
        where.append("stamp_ns >= ?")
        args.append(int(start_ns))
    if end_ns is not None:
        where.append("stamp_ns <= ?")
        args.append(int(end_ns))


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(obj: Any) -> str:
    """Compact JSON (``json.dumps(obj, separators=(",", ":"))``, its encoder built once, not per call)."""
    return _ENCODER.encode(obj)
