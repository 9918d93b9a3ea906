"""A SQLite store's keyframe files (content-addressed JPEGs beside the database, ``<db>.keyframes/ab/<ref>.jpg``),
and the fault helpers both store backends use. ``KeyframeFiles`` is a mixin of ``store.Store``: it uses the
store's ``path``, ``config``, ``keyframe_dir``, ``connection``, ``queue_many`` and ``_rollback``, and keeps
``_unwritten`` (keyframes written by the background writer, not yet durable), ``_writing_files`` and
``_file_writer``, which ``Store.__init__`` sets up."""
from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...common.errors import StoreError


def keyframe_ref(data: bytes) -> str:
    """Content address of a keyframe: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:32]


def fault_of(e: BaseException) -> str:
    """The StoreError.fault of a low-level error: disk_full, io, bad_row or corrupt."""
    if isinstance(e, OSError):
        return "disk_full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "io"
    text = str(e).lower()
    if "full" in text:
        return "disk_full"
    if isinstance(e, (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError, TypeError, ValueError)):
        return "bad_row"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return "corrupt"
    return "io"


def store_error(msg: str, fault: str) -> StoreError:
    e = StoreError(msg)
    e.fault = fault          # type: ignore[attr-defined]
    return e


def _fsync_dir(d: Path) -> None:
    dfd = os.open(str(d), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class KeyframeFiles:
    """The keyframe-file half of the SQLite store (see the module docstring)."""
    path: Path
    keyframe_dir: Path
    config: Any
    _unwritten: Dict[str, bytes]
    _writing_files: Dict[str, Tuple[bytes, "Future[None]"]]
    _file_writer: Optional[ThreadPoolExecutor]
    connection: Any                 # Store's (a property there)

    def queue_many(self, sql: str, rows: Iterable[Any]) -> None:   # StoreBatch's
        raise NotImplementedError

    @staticmethod
    def _rollback(conn: Any) -> None:                             # Store's
        raise NotImplementedError

    def keyframe_path(self, ref: str) -> Path:
        return self.keyframe_dir / ref[:2] / f"{ref}.jpg"

    def put_keyframe_file(self, data: bytes) -> str:
        """Write a keyframe (idempotent, atomic, fsync'd if configured); returns its content ref. A write
        that fails (full disk, I/O error) leaves no temp file and keeps the bytes in RAM: the next commit
        writes them first and fails (the batch kept) while it cannot. With ``fsync_keyframes`` the write and
        its fsyncs run on a writer thread while ingest goes on; ``commit`` waits for them before it writes
        the rows that reference them (a keyframe is durable before its commit is acknowledged)."""
        ref = keyframe_ref(data)
        if ref in self._unwritten or ref in self._writing_files:
            return ref
        if self.config.fsync_keyframes:
            self._writing_files[ref] = (bytes(data), self._writer().submit(self._write_file_job, ref, bytes(data)))
            return ref
        try:
            self._write_file(ref, data)
        except OSError:
            self._unwritten[ref] = bytes(data)
        return ref

    def _write_file_job(self, ref: str, data: bytes) -> None:
        self._write_file(ref, data)           # looked up when it runs (tests replace it to inject faults)

    def _writer(self) -> "ThreadPoolExecutor":
        if self._file_writer is None:
            self._file_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyframe-writer")
        return self._file_writer

    def _drain_files(self, only: Optional[str] = None) -> None:
        """Wait for the writer thread's keyframe files (all, or ``only`` that ref); a failed one is kept in
        RAM (``_unwritten``) for the next commit to write first."""
        refs = [only] if only is not None else list(self._writing_files)
        for ref in refs:
            job = self._writing_files.get(ref)
            if job is None:
                continue
            data, fut = job
            try:
                fut.result()
            except OSError:
                self._unwritten[ref] = data
            finally:
                del self._writing_files[ref]

    def _write_unwritten(self) -> None:
        for ref in list(self._unwritten):
            try:
                self._write_file(ref, self._unwritten[ref])
            except OSError as e:
                raise store_error(f"{self.path}: cannot write keyframe {ref} ({fault_of(e)}): {e}; "
                                  f"{len(self._unwritten)} keyframe(s) and the batch are kept for a retry",
                                  fault_of(e)) from e
            del self._unwritten[ref]

    @property
    def unwritten_keyframes(self) -> int:
        self._drain_files()
        return len(self._unwritten)

    def _write_file(self, ref: str, data: bytes) -> None:
        path = self.keyframe_path(ref)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if self.config.fsync_keyframes:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        if self.config.fsync_keyframes:
            _fsync_dir(path.parent)

    def read_keyframe(self, ref: str) -> Optional[bytes]:
        self._drain_files(ref)
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
        conn = self.connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM pending_file_deletes WHERE ref = ?", [(r,) for r in refs])
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback(conn)      # the files are gone; the rows go at the next successful commit
            raise

    def collect_orphans(self) -> int:
        """Remove keyframe files no row references and temp files a crash left (at open, before any
        keyframe of this run is written). Returns how many went."""
        if not self.keyframe_dir.is_dir():
            return 0
        n = 0
        for p in self.keyframe_dir.glob("*/*.tmp*"):
            p.unlink(missing_ok=True)
            n += 1
        for ref in self.orphan_keyframe_files():
            self.keyframe_path(ref).unlink(missing_ok=True)
            n += 1
        return n

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
        self._drain_files()
        if not self.keyframe_dir.is_dir():
            return []
        return sorted(p.stem for p in self.keyframe_dir.glob("*/*.jpg"))

    # ------------------------------------------------------------------------------------ reading
