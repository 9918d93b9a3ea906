"""PgStore: the memory's store on a PostgreSQL server, with the same interface, schema and migrations as
the SQLite ``Store`` (psycopg 3, reads through a psycopg_pool connection pool).

    store.url: postgresql://user[:password]@host[:port]/db[?schema=robot_07&<libpq options>]
               postgresql://user@/db?host=/run/postgresql        (a unix socket)

One memory = one PostgreSQL schema (``schema=``, default ``memory``; created if missing), so one database
holds many robots' memories side by side. Flow and contract as store.py's:

    open          the schema's ``store_info`` row (application id, schema version) is checked before
                  anything is written: a schema holding other tables is "foreign", a newer version refused;
                  an empty one is initialised in one transaction. One writer: a session-level advisory lock
                  on the schema's name, held by the writer connection (a second writer gets ``locked``).
    begin_writing migrations (the same ``MIGRATIONS``, rewritten by dialect.py), deferred keyframe deletes
    commit        everything queued in one transaction on the writer connection (executemany, pipelined);
                  a failure keeps the batch for the next commit; rows the server refuses (bad_row) are
                  dropped one savepoint at a time and counted; a lost connection (server restart) is
                  ``io``: the next commit reconnects, takes the lock again and retries the whole batch
    keyframes     in the ``keyframe_files`` table (ref, BYTEA), written in the same transaction as the rows
                  citing them: no file system beside the server
    reads         ``query`` through the pool (committed data only, like the SQLite store's reads)

Server settings replace SQLite's pragmas: durability is the server's (fsync, synchronous_commit); forget
runs VACUUM on the tables it touched instead of secure_delete + WAL truncation.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...common.errors import StoreError
from ..config import StoreConfig
from .dialect import postgres_ddl, to_postgres
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from .store import _NUMERIC_META, StoreBatch, _is_int, keyframe_ref, store_error

_PG_ONLY = ("CREATE TABLE IF NOT EXISTS store_info (application_id BIGINT NOT NULL, schema_version INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS keyframe_files (ref TEXT PRIMARY KEY, data BYTEA NOT NULL)")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def split_url(url: str) -> Tuple[str, str, str]:
    """(libpq conninfo URL without our own parameters, schema, the URL with any password hidden)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"not a PostgreSQL URL: {url!r}")
    q = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in q if k == "schema"), "memory")
    if not _IDENT.match(schema):
        raise StoreError(f"store.url: schema {schema!r} must be a lower-case identifier ([a-z_][a-z0-9_]*)")
    rest = [(k, v) for k, v in q if k != "schema"]
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    shown_netloc = parts.netloc
    if parts.password:
        shown_netloc = shown_netloc.replace(f":{parts.password}@", ":***@")
    shown = urlunsplit((parts.scheme, shown_netloc, parts.path, parts.query, ""))
    return conninfo, schema, shown


def _fault(e: BaseException) -> str:
    import psycopg
    if isinstance(e, (psycopg.errors.IntegrityError, psycopg.errors.DataError, OverflowError, TypeError,
                      ValueError)):
        return "bad_row"
    if isinstance(e, psycopg.errors.DiskFull):
        return "disk_full"
    return "io"


class _Conn:
    """The writer connection as forget.py uses a sqlite3 connection: execute / executemany with the
    repository's dialect, ``in_transaction``."""

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()):
        return self.raw.execute(to_postgres(sql), tuple(params) if params else None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]):
        rows = [tuple(r) for r in rows]
        with self.raw.cursor() as cur:
            if rows:
                cur.executemany(to_postgres(sql), rows)
        return None

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus
        return self.raw.info.transaction_status != TransactionStatus.IDLE


class PgStore(StoreBatch):
    """The memory's store in one PostgreSQL schema (see the module docstring)."""

    backend = "postgresql"

    def __init__(self, config: StoreConfig, read_only: bool = False, defer_writes: bool = False):
        config.validate()
        self.config = config
        self.conninfo, self.schema, self.path = split_url(config.url)
        self.read_only = read_only
        self._writing = False
        self._ops: List[Tuple[str, List[Sequence[Any]]]] = []
        self._class_ids: Dict[str, int] = {}
        self._meta: Dict[str, str] = {}
        self.rejected_rows = 0
        self.orphans_removed = 0
        self.conn: Optional[_Conn] = None
        self._pool: Any = None                  # psycopg_pool.ConnectionPool once open
        self._open()
        if not read_only and not defer_writes:
            self.begin_writing()

    # ------------------------------------------------------------------------------------ opening
    def _connect(self):
        import psycopg
        try:
            raw = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
        except psycopg.Error as e:
            raise store_error(f"{self.path}: cannot connect: {str(e).strip()}", "io") from e
        raw.execute(f"SET search_path TO {self.schema}")
        return raw

    def _open(self) -> None:
        import psycopg
        raw = self._connect()
        self.conn = _Conn(raw)
        try:
            if not self.read_only:
                got = raw.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"memory:{self.schema}",)).fetchone()
                if not got or not got[0]:
                    raise store_error(f"{self.path} (schema {self.schema}): in use by another writer", "locked")
            tables = self._tables(raw)
            if not tables:
                if self.read_only:
                    raise store_error(f"{self.path}: no store in schema {self.schema}", "io")
                self._create(raw, SCHEMA_VERSION)
            else:
                self._validate(raw, tables)
            self._read_meta(raw)
            self._open_pool()
        except psycopg.Error as e:
            self.close()
            raise store_error(f"{self.path}: cannot open the store: {str(e).strip()}", "io") from e
        except StoreError:
            self.close()
            raise

    def _open_pool(self) -> None:
        from psycopg_pool import ConnectionPool
        schema = self.schema

        def configure(c) -> None:
            c.execute(f"SET search_path TO {schema}")

        self._pool = ConnectionPool(self.conninfo, min_size=1, max_size=max(1, int(self.config.pool_size)),
                                    kwargs={"autocommit": True}, configure=configure, open=True, timeout=10.0,
                                    name=f"memory-{schema}", check=ConnectionPool.check_connection)
        # (check: a connection the server dropped, after a restart, is replaced before it is handed out)

    def _tables(self, raw) -> set:
        return {r[0] for r in raw.execute("SELECT table_name FROM information_schema.tables WHERE "
                                          "table_schema = %s", (self.schema,)).fetchall()}

    def _create(self, raw, version: int) -> None:
        raw.execute("BEGIN")
        try:
            raw.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            raw.execute(f"SET LOCAL search_path TO {self.schema}")
            for stmt in _PG_ONLY:
                raw.execute(stmt)
            _apply(raw, 0, version)
            raw.execute("INSERT INTO store_info (application_id, schema_version) VALUES (%s, %s)",
                        (APPLICATION_ID, version))
            raw.execute("INSERT INTO meta (key, value) VALUES ('ingested_through_ns', '-1')")
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def _validate(self, raw, tables: set) -> None:
        if "store_info" not in tables:
            raise store_error(f"{self.path}: schema {self.schema} holds tables of another application; "
                              "refusing to touch it", "foreign")
        row = raw.execute("SELECT application_id, schema_version FROM store_info").fetchone()
        if row is None:
            raise store_error(f"{self.path}: damaged store: store_info is empty; left unchanged", "corrupt")
        app, ver = int(row[0]), int(row[1])
        if app != APPLICATION_ID:
            raise store_error(f"{self.path}: schema {self.schema} is another application's "
                              f"(application_id={app:#x}); refusing to touch it", "foreign")
        if ver > SCHEMA_VERSION:
            raise store_error(f"{self.path}: schema version {ver} is newer than this software "
                              f"({SCHEMA_VERSION}); upgrade the software", "foreign")
        if ver < 1:
            raise store_error(f"{self.path}: damaged store: schema version {ver}; left unchanged", "corrupt")

    def _read_meta(self, raw) -> None:
        self._meta = {str(k): str(v) for k, v in raw.execute("SELECT key, value FROM meta").fetchall()}
        for key in _NUMERIC_META:
            v = self._meta.get(key)
            if v is not None and not _is_int(v):
                raise store_error(f"{self.path}: damaged store: meta {key!r} = {v[:40]!r} is not an integer; "
                                  "left unchanged", "corrupt")
        self._class_ids = {str(n): int(i) for i, n in raw.execute("SELECT id, name FROM classes").fetchall()}

    def begin_writing(self) -> None:
        """Migrations and deferred keyframe deletes, once the records loaded."""
        if self.read_only or self._writing:
            return
        import psycopg
        raw = self.connection.raw
        try:
            ver = int(raw.execute("SELECT schema_version FROM store_info").fetchone()[0])
            if ver < SCHEMA_VERSION:
                raw.execute("BEGIN")
                try:
                    for stmt in _PG_ONLY:
                        raw.execute(stmt)
                    _apply(raw, ver, SCHEMA_VERSION)
                    raw.execute("UPDATE store_info SET schema_version = %s", (SCHEMA_VERSION,))
                    raw.execute("INSERT INTO meta (key, value) VALUES ('ingested_through_ns', '-1') "
                                "ON CONFLICT DO NOTHING")
                    raw.execute("COMMIT")
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
            self._read_meta(raw)
            self._writing = True
            self.finish_file_deletes()
            self.orphans_removed += self.collect_orphans()
        except psycopg.Error as e:
            self.close()
            raise store_error(f"{self.path}: cannot prepare the store for writing: {e}", "io") from e

    @classmethod
    def create_at_version(cls, url: str, version: int) -> None:
        """A new, empty store in the URL's schema at an older schema ``version`` (to test migrations)."""
        import psycopg
        conninfo, schema, _ = split_url(url)
        with psycopg.connect(conninfo, autocommit=True) as raw:
            raw.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            raw.execute(f"SET search_path TO {schema}")
            tmp = cls.__new__(cls)
            tmp.schema = schema
            tmp._create(raw, version)

    def _reconnect(self) -> None:
        """After a lost connection (server restart): a new writer connection, the lock taken again."""
        import psycopg
        if self.conn is not None:
            try:
                self.conn.raw.close()
            except psycopg.Error:
                pass
        raw = self._connect()
        got = raw.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"memory:{self.schema}",)).fetchone()
        if not got or not got[0]:
            raw.close()
            raise store_error(f"{self.path} (schema {self.schema}): in use by another writer", "locked")
        self.conn = _Conn(raw)

    @property
    def connection(self) -> _Conn:
        if self.conn is None:
            raise StoreError(f"{self.path}: store is closed")
        return self.conn

    @property
    def schema_version(self) -> int:
        return int(self.query("SELECT schema_version FROM store_info")[0][0])

    def close(self) -> None:
        if self._pool is not None:
            try:
                self._pool.close()
            finally:
                self._pool = None
        if self.conn is not None:
            try:
                if not self.read_only:       # unlocked now: the server ends a closed session's backend (and
                    try:                     # its locks) a moment later, so a reopen right after could be refused
                        self.conn.raw.rollback()
                        self.conn.raw.execute("SELECT pg_advisory_unlock_all()")
                    except Exception:
                        pass
                self.conn.raw.close()        # ends the session: the advisory lock goes with it in any case
            finally:
                self.conn = None

    # ----------------------------------------------------------------------------------- metadata
    def reload_classes(self) -> None:
        self._class_ids = {n: i for i, n in self.query("SELECT id, name FROM classes")}

    @property
    def unwritten_keyframes(self) -> int:
        return 0                        # keyframes are rows of the batch: kept with it

    def commit(self) -> None:
        """Everything queued in one transaction; see the module docstring for failures."""
        import psycopg
        if self.read_only:
            raise store_error("store opened read-only", "io")
        if not self._ops:
            return
        if not self._writing:
            self.begin_writing()
        try:
            if self.conn is None or self.conn.raw.closed or self.conn.raw.broken:
                self._reconnect()
        except StoreError as e:
            raise store_error(f"{e}; the batch is kept for a retry", getattr(e, "fault", "io")) from e
        self._write_batch(self.connection, (psycopg.Error,), _fault, (psycopg.Error,))

    @staticmethod
    def _rollback(conn: _Conn) -> None:
        import psycopg
        try:
            if not conn.raw.closed and conn.in_transaction:
                conn.raw.execute("ROLLBACK")
        except psycopg.Error:
            pass

    @staticmethod
    def _write(conn: _Conn, ops: List[Tuple[str, List[Sequence[Any]]]], per_row: bool) -> int:
        import psycopg
        refused = 0
        raw = conn.raw
        raw.execute("BEGIN")
        with raw.cursor() as cur:
            for sql, rows in ops:
                q = to_postgres(sql)
                if not per_row:
                    if len(rows) == 1:
                        cur.execute(q, tuple(rows[0]))
                    else:
                        cur.executemany(q, [tuple(r) for r in rows])
                    continue
                for row in rows:
                    cur.execute("SAVEPOINT r")
                    try:
                        cur.execute(q, tuple(row))
                    except (psycopg.errors.IntegrityError, psycopg.errors.DataError, OverflowError, ValueError,
                            TypeError):
                        cur.execute("ROLLBACK TO SAVEPOINT r")
                        refused += 1
                    cur.execute("RELEASE SAVEPOINT r")
        raw.execute("COMMIT")
        return refused

    # ---------------------------------------------------------------------------------- keyframes
    def put_keyframe_file(self, data: bytes) -> str:
        ref = keyframe_ref(data)
        self.queue("INSERT OR IGNORE INTO keyframe_files (ref, data) VALUES (?, ?)", (ref, bytes(data)))
        return ref

    def read_keyframe(self, ref: str) -> Optional[bytes]:
        rows = self.query("SELECT data FROM keyframe_files WHERE ref = ?", (ref,))
        return bytes(rows[0][0]) if rows else None

    def delete_keyframe_files_later(self, refs: Iterable[str]) -> None:
        self.queue_many("INSERT OR IGNORE INTO pending_file_deletes (ref) VALUES (?)", [(r,) for r in refs])

    def finish_file_deletes(self) -> None:
        raw = self.connection.raw
        raw.execute("BEGIN")
        try:
            raw.execute("DELETE FROM keyframe_files WHERE ref IN (SELECT ref FROM pending_file_deletes)")
            raw.execute("DELETE FROM pending_file_deletes")
            raw.execute("COMMIT")
        except BaseException:
            self._rollback(self.connection)
            raise

    def collect_orphans(self) -> int:
        refs = self.orphan_keyframe_files()
        if refs:
            self.connection.raw.execute("DELETE FROM keyframe_files WHERE ref = ANY(%s)", (refs,))
        return len(refs)

    def orphan_keyframe_files(self) -> List[str]:
        return [r for (r,) in self.query("SELECT f.ref FROM keyframe_files f LEFT JOIN keyframes k ON "
                                         "k.ref = f.ref AND k.thinned = 0 WHERE k.ref IS NULL")]

    def keyframe_files(self) -> List[str]:
        return sorted(r for (r,) in self.query("SELECT ref FROM keyframe_files"))

    # ------------------------------------------------------------------------------------ reading
    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        import psycopg
        from psycopg_pool import PoolTimeout
        if self._pool is None:
            raise StoreError(f"{self.path}: store is closed")
        try:
            with self._pool.connection() as c:
                return [tuple(r) for r in c.execute(to_postgres(sql), tuple(params) if params else None).fetchall()]
        except (psycopg.Error, PoolTimeout) as e:
            raise StoreError(f"{self.path}: read failed: {str(e).strip()}") from e

    def integrity_check(self) -> str:
        """The server keeps its own pages (checksums, WAL): here, that the schema answers and is whole."""
        tables = {r[0] for r in self.query("SELECT table_name FROM information_schema.tables WHERE "
                                           "table_schema = ?", (self.schema,))}
        missing = [t for v in MIGRATIONS for t in _created_tables(MIGRATIONS[v]) if t not in tables]
        return "ok" if not missing else f"missing tables: {', '.join(missing)}"

    def disk_bytes(self) -> Dict[str, int]:
        rows = self.query("SELECT coalesce(sum(pg_total_relation_size(quote_ident(table_schema) || '.' || "
                          "quote_ident(table_name))), 0) FROM information_schema.tables WHERE table_schema = ? "
                          "AND table_name <> 'keyframe_files'", (self.schema,))
        kf = self.query("SELECT coalesce(sum(length(data)), 0) FROM keyframe_files")
        return {"database": int(rows[0][0]), "keyframes": int(kf[0][0])}

    def checkpoint(self, truncate: bool = False) -> None:
        """After forget (``truncate``): VACUUM the tables whose rows it deleted, so their space is reused."""
        if truncate and self.conn is not None:
            for t in ("observations", "views", "keyframes", "keyframe_files", "stays", "events", "absences",
                      "place_days", "tracks", "classes"):
                self.conn.raw.execute(f"VACUUM {t}")

    def secure_delete(self, on: bool) -> None:
        """SQLite's secure_delete has no server counterpart (checkpoint(truncate=True) vacuums instead)."""


def _apply(raw, from_version: int, to_version: int) -> None:
    for v in range(from_version + 1, to_version + 1):
        for stmt in postgres_ddl(MIGRATIONS[v]):
            raw.execute(stmt)


def _created_tables(sql: str) -> List[str]:
    return re.findall(r"CREATE TABLE\s+(\w+)", sql, re.I)
