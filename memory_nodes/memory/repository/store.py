"""Persistent store: SQLite (WAL, versioned schema migrations, batched transactions) plus a folder of
content-addressed keyframe files.

Durability contract: everything queued before ``commit()`` returns is in the database file (with
``synchronous=FULL`` even across power loss) together with ``ingested_through_ns``; a crash at any moment
leaves the database at its last commit. Keyframe files are written (and fsync'd) before the commit that
references them; files are deleted only after the commit that unreferences them (through the
``pending_file_deletes`` table, so a crash in between is finished on the next open).

A file that is not this store (not SQLite, another application's database, a newer schema, or damaged)
raises StoreError and is never written to: it is inspected read-only before anything else.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ...common.errors import StoreError
from ..config import StoreConfig
from .schema import APPLICATION_ID, SCHEMA_VERSION, apply_migrations


def keyframe_ref(data: bytes) -> str:
    """Content address of a keyframe: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:32]


def _header_ok(path: Path) -> Tuple[bool, str]:
    """(looks like SQLite, reason) from the first 100 bytes, without SQLite touching the file."""
    size = path.stat().st_size
    if size == 0:
        return True, "empty"
    if size < 100:
        return False, f"{size} bytes: too short for an SQLite database"
    with path.open("rb") as f:
        head = f.read(100)
    if not head.startswith(b"SQLite format 3\x00"):
        return False, "not an SQLite database (bad header)"
    return True, "sqlite"


class Store:
    """One store = ``<path>`` (SQLite) + ``<path>.keyframes/`` + ``<path>.lock``. Single writer per store
    (an flock on the lock file; a second writer gets StoreError)."""

    def __init__(self, config: StoreConfig, read_only: bool = False):
        config.validate()
        self.config = config
        self.path = Path(config.path)
        self.keyframe_dir = Path(str(self.path) + ".keyframes")
        self.read_only = read_only
        self._lock_fd: Optional[int] = None
        self._ops: List[Tuple[str, List[Sequence[Any]]]] = []
        self._queued_files: List[str] = []      # keyframes written since the last commit (for rollback GC)
        self._class_ids: Dict[str, int] = {}
        self._new_classes: List[Tuple[int, str]] = []
        self._meta: Dict[str, str] = {}
        self.conn: Optional[sqlite3.Connection] = None
        self._open()

    # ------------------------------------------------------------------------------------ opening
    def _open(self) -> None:
        exists = self.path.exists()
        if exists:
            if not self.path.is_file():
                raise StoreError(f"{self.path}: not a regular file")
            ok, why = _header_ok(self.path)
            if not ok:
                raise StoreError(f"{self.path}: {why}; refusing to open it as a memory store (left unchanged)")
            self._inspect_read_only()
        elif self.read_only:
            raise StoreError(f"{self.path}: no such store")
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        try:
            if self.read_only:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            self._release_lock()
            raise StoreError(f"{self.path}: cannot open: {e}") from e
        self.conn = conn
        try:
            if exists:
                self._validate(conn)     # again, now with any WAL content: before the first write
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
                conn.execute(f"PRAGMA synchronous={self.config.synchronous}")
            conn.execute(f"PRAGMA cache_size=-{int(self.config.cache_size_mb) * 1024}")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA temp_store=MEMORY")
            if not self.read_only:
                self._migrate()
            self._meta = {k: v for k, v in conn.execute("SELECT key, value FROM meta")}
            self._class_ids = {n: i for i, n in conn.execute("SELECT id, name FROM classes")}
            if not self.read_only:
                self.finish_file_deletes()
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(f"{self.path}: damaged or unreadable store: {e}") from e
        except StoreError:
            self.close()
            raise

    def _inspect_read_only(self) -> None:
        """Validate an existing file without writing a byte to it (nor creating -wal/-shm files, unless a
        WAL is already there: then its content must be read too)."""
        wal = Path(str(self.path) + "-wal").exists()
        uri = f"file:{self.path}?mode=ro" + ("" if wal else "&immutable=1")
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open read-only: {e}") from e
        try:
            self._validate(conn)
        finally:
            conn.close()

    def _validate(self, conn: sqlite3.Connection) -> None:
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            ver = conn.execute("PRAGMA user_version").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: damaged or not a database ({e}); left unchanged") from e
        if app == 0 and ver == 0 and n_tables == 0:
            return          # an empty database (e.g. a crash before the first commit): safe to initialise
        if app != APPLICATION_ID:
            raise StoreError(f"{self.path}: an SQLite database of another application "
                             f"(application_id={app:#x}); refusing to touch it")
        if ver > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {ver} is newer than this software "
                             f"({SCHEMA_VERSION}); upgrade the software")

    def _take_lock(self) -> None:
        import fcntl
        lock_path = str(self.path) + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise StoreError(f"{self.path}: in use by another writer ({e})") from e
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)
            finally:
                self._lock_fd = None

    def _migrate(self) -> None:
        conn = self.connection
        ver = conn.execute("PRAGMA user_version").fetchone()[0]
        if ver == SCHEMA_VERSION:
            return
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
        if self.conn is not None:
            try:
                if not self.read_only and self.conn.in_transaction:
                    self.connection.execute("ROLLBACK")
                self.conn.close()
            finally:
                self.conn = None
        self._release_lock()

    # ----------------------------------------------------------------------------------- metadata
    def meta(self, key: str, default: str) -> str:
        return self._meta.get(key, default)

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

    def reload_classes(self) -> None:
        """Re-read the class table (after rows were deleted outside the batch, e.g. by forget)."""
        self._class_ids = {n: i for i, n in self.connection.execute("SELECT id, name FROM classes")}

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

    def commit(self) -> None:
        """Write everything queued in one transaction. Raises StoreError (and keeps nothing) on failure."""
        if self.read_only:
            raise StoreError("store opened read-only")
        if not self._ops:
            return
        conn = self.connection
        ops, self._ops = self._ops, []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for sql, rows in ops:
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                else:
                    conn.executemany(sql, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{self.path}: commit failed: {e}") from e
        self._queued_files = []
        self.finish_file_deletes()

    # ---------------------------------------------------------------------------------- keyframes
    def keyframe_path(self, ref: str) -> Path:
        return self.keyframe_dir / ref[:2] / f"{ref}.jpg"

    def put_keyframe_file(self, data: bytes) -> str:
        """Write a keyframe (idempotent, atomic, fsync'd if configured); returns its content ref."""
        ref = keyframe_ref(data)
        path = self.keyframe_path(ref)
        if path.exists():
            return ref
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(data)
            if self.config.fsync_keyframes:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if self.config.fsync_keyframes:
            dfd = os.open(str(path.parent), os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._queued_files.append(ref)
        return ref

    def read_keyframe(self, ref: str) -> Optional[bytes]:
        p = self.keyframe_path(ref)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            return None

    def delete_keyframe_files_later(self, refs: Iterable[str]) -> None:
        """Queue the deletion of files; they go after the commit that includes this."""
        self.queue_many("INSERT OR IGNORE INTO pending_file_deletes (ref) VALUES (?)", [(r,) for r in refs])

    def finish_file_deletes(self) -> None:
        refs = [r for (r,) in self.connection.execute("SELECT ref FROM pending_file_deletes")]
        if not refs:
            return
        for r in refs:
            try:
                self.keyframe_path(r).unlink()
            except FileNotFoundError:
                pass
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany("DELETE FROM pending_file_deletes WHERE ref = ?", [(r,) for r in refs])
        self.connection.execute("COMMIT")

    def orphan_keyframe_files(self) -> List[str]:
        """Keyframe files no row references (left by a crash between writing a file and its commit)."""
        if not self.keyframe_dir.is_dir():
            return []
        known = {r for (r,) in self.connection.execute("SELECT ref FROM keyframes WHERE thinned = 0")}
        out = []
        for p in self.keyframe_dir.glob("*/*.jpg"):
            if p.stem not in known:
                out.append(p.stem)
        return out

    def keyframe_files(self) -> List[str]:
        if not self.keyframe_dir.is_dir():
            return []
        return sorted(p.stem for p in self.keyframe_dir.glob("*/*.jpg"))

    # ------------------------------------------------------------------------------------ reading
    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: read failed: {e}") from e

    def integrity_check(self) -> str:
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])

    def disk_bytes(self) -> Dict[str, int]:
        """Bytes on disk: database (+ WAL) and keyframe files."""
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


def add_stamp_window(where: List[str], args: List[Any], start_ns: Optional[int], end_ns: Optional[int]) -> None:
    """Append ``stamp_ns`` bounds (inclusive; None = open) to a WHERE clause being built."""
    if start_ns is not None:
        where.append("stamp_ns >= ?")
        args.append(int(start_ns))
    if end_ns is not None:
        where.append("stamp_ns <= ?")
        args.append(int(end_ns))


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
