"""A fleet on one PostgreSQL server: each robot keeps its own memory (its local store, SQLite by default)
and ships what it committed to shared fleet tables, where any robot can ask about every robot's sightings.

    robot:   MemoryCore.ingest -> local commit (the robot's acknowledgement: ingested_through_ns)
                    |  the local observations table is the outbox: committed rows, ids increasing
             Shipper.ship_once: rows with id > the server's watermark for this robot, in id order, one
                    |  server transaction (INSERT ... ON CONFLICT (robot_id, obs_id) DO NOTHING + watermark)
    server:  fleet.fleet_observations (robot_id on every row), fleet.fleet_robots (watermarks, store ids),
             fleet.fleet_last_seen (each robot's latest sighting per class, kept in the same transaction)
             FleetServer.last_seen_by_any / seen_since: which robot saw X last, has any robot seen X since t
             (from fleet_last_seen: robots x classes rows, however long the history; a window in the past
             or a score floor reads fleet_observations through its (class, stamp) index)

Idempotence: a row's key on the server is (robot_id, obs_id), the id the robot's own store gave it; a batch
whose commit reply was lost (server killed, network cut) is shipped again and the conflicting rows are
skipped, so a retry never duplicates a row. The watermark moves in the same transaction as the rows, so it
never passes a row that is not there. Shipper.run retries with a doubling backoff (``backoff_s``) while
the server is unreachable; the robot keeps ingesting and answering from its own store meanwhile
(FleetView falls back to the local memory, saying so), and the shipper catches up when the server is back.

What is shipped: each observation's stamp, the robot's object (track) id, canonical and detector class,
score, place, room, view id and centroid (m, the robot's map frame), and the robot's room names
(fleet_rooms: its rooms table, replaced when it changes), so answers name another robot's room ("in
robot_b's kitchen") and questions can ask about one ("... in the kitchen": rooms each robot calls so).
Keyframes stay on the robot (the
evidence names robot + view id + observation id). Forgets follow: a forget on the robot records the ids it
deleted (``forgotten_obs``, ids only, in order); the shipper deletes those rows on the server, recomputes
that robot's fleet_last_seen of their classes and drops class names nothing refers to any more, with its
forget watermark (fleet_robots.forgot_seq) in the same transaction (idempotent, like the rows). The
server's deleted rows leave its files when (auto)vacuum reuses their space, not at once. Merges after
shipping: a row keeps the track id it was shipped with; the robot's merged tracks are shipped
(fleet_merges) and answers name the identity the object goes by now on that robot.
Consolidation deletes old raw rows locally: a robot cut off from the server for longer than
``retention.keep_raw_days`` loses the unshipped part of that window on the fleet (never locally).
"""
from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from ...common.errors import StoreError

FLEET_APPLICATION_ID = 0x52464C54          # "RFLT"
FLEET_SCHEMA_VERSION = 2
FLEET_MIGRATIONS = {1: """
CREATE TABLE fleet_info (application_id BIGINT NOT NULL, schema_version INTEGER NOT NULL);
CREATE TABLE fleet_robots (
    robot_id TEXT PRIMARY KEY,
    store_uid TEXT NOT NULL,               -- the robot's local store (meta store_uid): one store per robot id
    shipped_obs_id BIGINT NOT NULL,        -- every row of this robot with obs_id <= this is here
    first_ns BIGINT NOT NULL,
    last_ns BIGINT NOT NULL                -- latest stamp shipped
);
CREATE TABLE fleet_observations (
    robot_id TEXT NOT NULL,
    obs_id BIGINT NOT NULL,                -- the id in the robot's own store
    stamp_ns BIGINT NOT NULL,
    object_id BIGINT,                      -- the robot's track id (NULL: not associated)
    class TEXT NOT NULL,                   -- canonical class
    label TEXT NOT NULL,                   -- as the detector said it
    score DOUBLE PRECISION NOT NULL,
    place_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL,
    view_id TEXT NOT NULL,
    x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL, z DOUBLE PRECISION NOT NULL,  -- m, robot's map
    PRIMARY KEY (robot_id, obs_id)
);
CREATE INDEX fleet_observations_class ON fleet_observations (class, stamp_ns DESC);
CREATE TABLE fleet_classes (name TEXT PRIMARY KEY);
CREATE TABLE fleet_last_seen (             -- each robot's latest associated sighting of each class
    robot_id TEXT NOT NULL,
    class TEXT NOT NULL,
    obs_id BIGINT NOT NULL,
    stamp_ns BIGINT NOT NULL,
    PRIMARY KEY (robot_id, class)
);
CREATE INDEX fleet_last_seen_class ON fleet_last_seen (class, stamp_ns DESC);
""", 2: """
ALTER TABLE fleet_robots ADD COLUMN forgot_seq BIGINT NOT NULL DEFAULT 0;  -- robot's forgotten_obs applied
CREATE TABLE fleet_rooms (                 -- each robot's room names (its rooms table: its own map's ids)
    robot_id TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (robot_id, room_id)
);
CREATE INDEX fleet_rooms_label ON fleet_rooms (label);
CREATE TABLE fleet_merges (                -- a robot's tracks merged into another after their rows shipped
    robot_id TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    into_id BIGINT NOT NULL,
    PRIMARY KEY (robot_id, object_id)
);
"""}

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_INSERT = ("INSERT INTO fleet_observations (robot_id, obs_id, stamp_ns, object_id, class, label, score, place_id, "
           "room_id, view_id, x, y, z) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING")
_COLS = "robot_id, obs_id, stamp_ns, object_id, class, label, score, place_id, room_id, view_id, x, y, z"


class FleetIdentityError(StoreError):
    """A robot id already shipped by another store (two robots configured with one id, or a robot whose
    store was replaced): shipping under it would silently skip this store's rows as "already there"."""


@dataclass
class FleetConfig:
    """Section ``fleet`` (config/fleet.yaml): the fleet server, this robot's id on it, and how the outbox
    relay ships. Read by the planner node (fleet questions) and by the relay (``ship --params-file``)."""
    url: str = ""                  # postgresql://... of the fleet server; "" = no fleet (own memory only)
    robot_id: str = ""             # this robot's id on the server; "" = the ROS namespace, else the host name
    timeout_s: float = 2.0         # s a fleet question waits for the server before answering from own memory
    min_score: float = 0.0         # fleet answers ignore sightings with a lower detector score, in [0, 1]
    batch: int = 2000              # observations per shipping transaction
    backoff_min_s: float = 0.05    # s waited after a failed shipment, doubling each time ...
    backoff_max_s: float = 2.0     # ... up to this many s
    idle_s: float = 0.5            # s between looks for new rows once caught up

    def validate(self) -> None:
        from ...common.errors import ConfigError
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"fleet.url must be postgresql://... or empty (no fleet), got {self.url!r}")
        if any(ord(c) < 32 for c in self.robot_id) or len(self.robot_id) > 200:
            raise ConfigError("fleet.robot_id: at most 200 characters, no control characters")
        if not self.timeout_s > 0 or not self.backoff_min_s > 0 or not self.idle_s > 0:
            raise ConfigError("fleet.timeout_s, fleet.backoff_min_s and fleet.idle_s must be > 0")
        if not self.backoff_max_s >= self.backoff_min_s:
            raise ConfigError("fleet.backoff_max_s must be >= fleet.backoff_min_s")
        if self.batch < 1:
            raise ConfigError("fleet.batch must be >= 1")
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError("fleet.min_score must be in [0, 1]")


def fleet_robot_id(configured: str, namespace: str = "") -> str:
    """The robot's id on the fleet: ``fleet.robot_id``, else its ROS namespace ("/robot1" -> "robot1",
    "/site/robot1" -> "site_robot1"), else the host name. The planner node and the relay beside it resolve it
    the same way, so a robot's questions and its shipments name one robot."""
    if configured:
        return configured
    ns = namespace.strip("/").replace("/", "_")
    if ns:
        return ns
    import socket
    return socket.gethostname() or "robot"


@dataclass
class FleetSighting:
    """One robot's sighting on the fleet server, with its evidence (ids in that robot's own store)."""
    robot_id: str
    class_name: str
    label: str
    object_id: Optional[int]
    stamp_ns: int
    place_id: int
    room_id: int
    position_m: np.ndarray                 # (3,) in that robot's map frame
    score: float
    observation_id: int
    view_id: str
    room_label: str = ""                   # that robot's name for room_id ("" unknown), fleet_rooms

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> "FleetSighting":
        return cls(str(r[0]), str(r[4]), str(r[5]), None if r[3] is None else int(r[3]), int(r[2]), int(r[7]),
                   int(r[8]), np.array([r[10], r[11], r[12]], float), float(r[6]), int(r[1]), str(r[9]))


@dataclass
class FleetAnswer:
    """Sightings (most recent first) and where they came from: "fleet" (the server) or "local" (this robot's
    own store only: the server was unreachable, ``note`` says why)."""
    sightings: List[FleetSighting] = field(default_factory=list)
    source: str = "fleet"
    note: str = ""


def _fleet_schema_of(url: str) -> Tuple[str, str]:
    """(conninfo, schema): the URL's ``schema=`` or ``fleet``."""
    from .pg_store import split_url
    conninfo, schema, _ = split_url(url)
    return conninfo, schema if "schema=" in url else "fleet"


class FleetServer:
    """The fleet tables on one server (schema ``fleet`` unless the URL's ``schema=`` names another), through a
    connection pool shared by every caller in this process."""

    def __init__(self, url: str, pool_size: int = 8, timeout_s: float = 5.0):
        from psycopg_pool import ConnectionPool
        self.conninfo, self.schema = _fleet_schema_of(url)
        if not _IDENT.match(self.schema):
            raise StoreError(f"fleet schema {self.schema!r} must be a lower-case identifier")
        schema = self.schema

        def configure(c) -> None:
            c.execute(f"SET search_path TO {schema}")

        self.pool = ConnectionPool(self.conninfo, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                                   configure=configure, open=False, timeout=timeout_s, name="fleet",
                                   check=ConnectionPool.check_connection)
        self.pool.open(wait=False)
        try:
            self._ensure_schema()
        except BaseException:
            self.pool.close()              # unreachable or refused: no pool left retrying in the background
            raise

    def close(self) -> None:
        self.pool.close()

    def _ensure_schema(self) -> None:
        with self.pool.connection() as c:
            c.execute("SELECT pg_advisory_lock(hashtext('fleet-schema'))")
            try:
                have = c.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND "
                                 "table_name = 'fleet_info'", (self.schema,)).fetchone()
                if have:
                    app, ver = c.execute("SELECT application_id, schema_version FROM fleet_info").fetchone()
                    if int(app) != FLEET_APPLICATION_ID or int(ver) > FLEET_SCHEMA_VERSION:
                        raise StoreError(f"fleet schema {self.schema}: application {int(app):#x} version {ver}: "
                                         f"not this software's (version {FLEET_SCHEMA_VERSION})")
                    if int(ver) == FLEET_SCHEMA_VERSION:
                        return
                else:
                    ver = 0
                with c.transaction():
                    c.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    c.execute(f"SET LOCAL search_path TO {self.schema}")
                    for v in range(int(ver) + 1, FLEET_SCHEMA_VERSION + 1):
                        for stmt in re.sub(r"--[^\n]*", "", FLEET_MIGRATIONS[v]).split(";"):
                            if stmt.strip():
                                c.execute(stmt)
                    c.execute("DELETE FROM fleet_info")
                    c.execute("INSERT INTO fleet_info VALUES (%s, %s)", (FLEET_APPLICATION_ID, FLEET_SCHEMA_VERSION))
            finally:
                c.execute("SELECT pg_advisory_unlock(hashtext('fleet-schema'))")

    # --------------------------------------------------------------------------------- shipping
    def shipped_through(self, robot_id: str, store_uid: str) -> int:
        """The server's watermark for this robot: every row with obs_id <= it is stored (0: none).
        FleetIdentityError if another store ships under this robot id."""
        return self._watermark("shipped_obs_id", robot_id, store_uid)

    def _watermark(self, column: str, robot_id: str, store_uid: str) -> int:
        """fleet_robots' ``column`` for this robot (0: it has shipped nothing); another store's id refused."""
        with self.pool.connection() as c:
            r = c.execute(f"SELECT {column}, store_uid FROM fleet_robots WHERE robot_id = %s",
                          (robot_id,)).fetchone()
        if r is not None and str(r[1]) != store_uid:
            raise _identity_error(robot_id)
        return int(r[0]) if r else 0

    def ship(self, robot_id: str, store_uid: str, rows: Sequence[Sequence[Any]]) -> int:
        """Store one batch (rows as Shipper reads them, ordered by obs_id) in one transaction; returns the
        new watermark. Rows already there are skipped; a robot id of another store is refused whole."""
        if not rows:
            return self.shipped_through(robot_id, store_uid)
        top = int(rows[-1][0])
        stamps = [int(r[1]) for r in rows]
        with self.pool.connection() as c:
            with c.transaction():
                with c.cursor() as cur:
                    cur.execute("INSERT INTO fleet_robots (robot_id, store_uid, shipped_obs_id, first_ns, last_ns) "
                                "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (robot_id) DO UPDATE SET shipped_obs_id = "
                                "GREATEST(fleet_robots.shipped_obs_id, EXCLUDED.shipped_obs_id), first_ns = "
                                "LEAST(fleet_robots.first_ns, EXCLUDED.first_ns), last_ns = "
                                "GREATEST(fleet_robots.last_ns, EXCLUDED.last_ns) "
                                "WHERE fleet_robots.store_uid = EXCLUDED.store_uid",
                                (robot_id, store_uid, top, min(stamps), max(stamps)))
                    if cur.rowcount != 1:
                        raise _identity_error(robot_id)       # rolls the transaction back
                    cur.executemany(_INSERT, [(robot_id, *r) for r in rows])
                    cur.executemany("INSERT INTO fleet_classes (name) VALUES (%s) ON CONFLICT DO NOTHING",
                                    [(n,) for n in sorted({str(r[3]) for r in rows})])
                    latest: dict = {}
                    for r in rows:                    # (obs id, stamp, track, class, ...): associated ones
                        if r[2] is not None and (r[3] not in latest or int(r[1]) >= latest[r[3]][1]):
                            latest[r[3]] = (int(r[0]), int(r[1]))
                    cur.executemany("INSERT INTO fleet_last_seen (robot_id, class, obs_id, stamp_ns) VALUES "
                                    "(%s,%s,%s,%s) ON CONFLICT (robot_id, class) DO UPDATE SET obs_id = "
                                    "EXCLUDED.obs_id, stamp_ns = EXCLUDED.stamp_ns WHERE (EXCLUDED.stamp_ns, "
                                    "EXCLUDED.obs_id) > (fleet_last_seen.stamp_ns, fleet_last_seen.obs_id)",
                                    [(robot_id, c, o, t) for c, (o, t) in sorted(latest.items())])
        return top

    def forgot_through(self, robot_id: str, store_uid: str) -> int:
        """The robot's forget watermark: its forgotten_obs rows with seq <= this are applied here (0: none)."""
        return self._watermark("forgot_seq", robot_id, store_uid)

    def forget(self, robot_id: str, store_uid: str, seq: int, obs_ids: Sequence[int]) -> int:
        """Delete this robot's rows ``obs_ids`` (what a forget on the robot deleted, up to its forgotten_obs
        ``seq``) in one transaction with the watermark: its fleet_last_seen of their classes recomputed,
        class names nothing refers to any more dropped. Returns rows deleted (0 for ids never shipped or
        already gone: a retry changes nothing). A robot that never shipped has nothing here to delete."""
        ids = sorted({int(i) for i in obs_ids})
        with self.pool.connection() as c:
            with c.transaction():
                with c.cursor() as cur:
                    cur.execute("UPDATE fleet_robots SET forgot_seq = GREATEST(forgot_seq, %s) WHERE robot_id = %s "
                                "AND store_uid = %s", (int(seq), robot_id, store_uid))
                    if cur.rowcount != 1:
                        cur.execute("SELECT 1 FROM fleet_robots WHERE robot_id = %s", (robot_id,))
                        if cur.fetchone() is not None:
                            raise _identity_error(robot_id)
                        return 0
                    cur.execute("DELETE FROM fleet_observations WHERE robot_id = %s AND obs_id = ANY(%s) "
                                "RETURNING class", (robot_id, ids))
                    gone = cur.fetchall()
                    classes = sorted({str(r[0]) for r in gone})
                    if classes:
                        cur.execute("DELETE FROM fleet_last_seen WHERE robot_id = %s AND class = ANY(%s)",
                                    (robot_id, classes))
                        cur.execute("INSERT INTO fleet_last_seen (robot_id, class, obs_id, stamp_ns) SELECT DISTINCT "
                                    "ON (class) robot_id, class, obs_id, stamp_ns FROM fleet_observations WHERE "
                                    "robot_id = %s AND class = ANY(%s) AND object_id IS NOT NULL ORDER BY class, "
                                    "stamp_ns DESC, obs_id DESC", (robot_id, classes))
                        cur.execute("DELETE FROM fleet_classes f WHERE f.name = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "
                                    "fleet_observations o WHERE o.class = f.name)", (classes,))
        return len(gone)

    def ship_rooms(self, robot_id: str, store_uid: str, rooms: Sequence[Tuple[int, str]]) -> None:
        """This robot's room names (room id, label) as its store holds them now: replaces the old ones."""
        with self.pool.connection() as c:
            with c.transaction():
                with c.cursor() as cur:
                    if not _known_robot(cur, robot_id, store_uid):
                        return                       # it has shipped nothing yet: its rooms follow its rows
                    cur.execute("DELETE FROM fleet_rooms WHERE robot_id = %s", (robot_id,))
                    cur.executemany("INSERT INTO fleet_rooms (robot_id, room_id, label) VALUES (%s,%s,%s)",
                                    [(robot_id, int(i), str(lb)) for i, lb in rooms])

    def ship_merges(self, robot_id: str, store_uid: str, merges: Sequence[Tuple[int, int]]) -> None:
        """This robot's merged tracks (track id, id it was merged into): its shipped rows keep the old id,
        answers name the identity it goes by now."""
        with self.pool.connection() as c:
            with c.transaction():
                with c.cursor() as cur:
                    if not _known_robot(cur, robot_id, store_uid):
                        return
                    cur.executemany("INSERT INTO fleet_merges (robot_id, object_id, into_id) VALUES (%s,%s,%s) "
                                    "ON CONFLICT (robot_id, object_id) DO UPDATE SET into_id = EXCLUDED.into_id",
                                    [(robot_id, int(a), int(b)) for a, b in merges])

    def rooms_named(self, label: str) -> List[Tuple[str, int]]:
        """(robot id, room id) of every robot's room called ``label``."""
        with self.pool.connection() as c:
            return [(str(a), int(b)) for a, b in c.execute(
                "SELECT robot_id, room_id FROM fleet_rooms WHERE label = %s ORDER BY robot_id, room_id", (label,))]

    def _named(self, sightings: List[FleetSighting]) -> List[FleetSighting]:
        """The sightings with their robots' room names, and the object ids their robots' tracks go by now
        (merges after shipping followed)."""
        if not sightings:
            return sightings
        with self.pool.connection() as c:
            names = {(str(a), int(b)): str(lb) for a, b, lb in c.execute(
                "SELECT robot_id, room_id, label FROM fleet_rooms WHERE robot_id = ANY(%s)",
                (sorted({s.robot_id for s in sightings}),))}
            now = {(s.robot_id, s.object_id): s.object_id for s in sightings if s.object_id is not None}
            todo = set(now)
            for _ in range(16):                # follow merges (a chain is short: each hop an older identity)
                cur = {(r, now[(r, o)]) for r, o in todo}
                if not cur:
                    break
                hops = {(str(r), int(a)): int(b) for r, a, b in c.execute(
                    "SELECT robot_id, object_id, into_id FROM fleet_merges WHERE robot_id = ANY(%s) AND "
                    "object_id = ANY(%s)", (sorted({r for r, _ in cur}), sorted({o for _, o in cur})))}
                todo = {k for k in todo if (k[0], now[k]) in hops}
                for k in todo:
                    now[k] = hops[(k[0], now[k])]
        for s in sightings:
            s.room_label = names.get((s.robot_id, s.room_id), "")
            if s.object_id is not None:
                s.object_id = now.get((s.robot_id, s.object_id), s.object_id)
        return sightings

    # ---------------------------------------------------------------------------------- reading
    def classes(self) -> List[str]:
        with self.pool.connection() as c:
            return [r[0] for r in c.execute("SELECT name FROM fleet_classes").fetchall()]

    def robots(self) -> List[Tuple[str, int, int]]:
        """(robot id, shipped watermark, latest stamp shipped) of every robot that shipped."""
        with self.pool.connection() as c:
            return [(str(a), int(b), int(d)) for a, b, d in
                    c.execute("SELECT robot_id, shipped_obs_id, last_ns FROM fleet_robots ORDER BY robot_id")]

    def last_seen_by_any(self, classes: Sequence[str], before_ns: Optional[int] = None,
                         min_score: float = 0.0, room_label: str = "") -> Optional[FleetSighting]:
        """The most recent associated sighting of any of ``classes`` by any robot (at or before
        ``before_ns``; in a room its robot calls ``room_label``): which robot saw it last, when, where, with
        its evidence."""
        if before_ns is None and min_score <= 0.0 and not room_label:
            hits = self._latest(classes, None, 1)
            return self._named(hits)[0] if hits else None
        best: Optional[FleetSighting] = None
        in_room, args = _room_condition(room_label)
        with self.pool.connection() as c:
            for cls in classes:                       # one index descent per class (class, stamp DESC)
                r = c.execute(f"SELECT {_COLS} FROM fleet_observations WHERE class = %s AND stamp_ns <= %s AND "
                              f"object_id IS NOT NULL AND score >= %s{in_room} ORDER BY stamp_ns DESC, obs_id DESC "
                              "LIMIT 1", (cls, 2 ** 62 if before_ns is None else int(before_ns), float(min_score),
                                          *args)).fetchone()
                if r is not None and (best is None or int(r[2]) > best.stamp_ns):
                    best = FleetSighting.from_row(r)
        return None if best is None else self._named([best])[0]

    def seen_since(self, classes: Sequence[str], since_ns: int, until_ns: Optional[int] = None,
                   min_score: float = 0.0, room_label: str = "") -> List[FleetSighting]:
        """Each robot's latest associated sighting of ``classes`` in [since_ns, until_ns] (in a room its
        robot calls ``room_label``), most recent first ("has any robot seen X today": since the day's start)."""
        if not classes:
            return []
        if until_ns is None and min_score <= 0.0 and not room_label:
            return self._named(self._latest(classes, since_ns, None))
        in_room, args = _room_condition(room_label)
        with self.pool.connection() as c:
            rows = c.execute(f"SELECT DISTINCT ON (robot_id) {_COLS} FROM fleet_observations WHERE class = ANY(%s) "
                             "AND stamp_ns >= %s AND stamp_ns <= %s AND object_id IS NOT NULL AND score >= %s"
                             f"{in_room} ORDER BY robot_id, stamp_ns DESC, obs_id DESC",
                             (list(classes), int(since_ns), 2 ** 62 if until_ns is None else int(until_ns),
                              float(min_score), *args)).fetchall()
        return self._named(sorted((FleetSighting.from_row(r) for r in rows), key=lambda s: -s.stamp_ns))

    def _latest(self, classes: Sequence[str], since_ns: Optional[int], limit: Optional[int]) -> List[FleetSighting]:
        """From fleet_last_seen (one row per robot and class, kept by ship): each robot's latest sighting of
        ``classes`` (stamped at or after ``since_ns``), most recent first, one per robot."""
        if not classes:
            return []
        with self.pool.connection() as c:
            rows = c.execute(
                "SELECT " + ", ".join(f"o.{x.strip()}" for x in _COLS.split(",")) + " FROM fleet_last_seen s JOIN "
                "fleet_observations o ON o.robot_id = s.robot_id AND o.obs_id = s.obs_id WHERE s.class = ANY(%s) "
                "AND s.stamp_ns >= %s ORDER BY s.stamp_ns DESC, s.obs_id DESC, s.robot_id",
                (list(classes), -1 if since_ns is None else int(since_ns))).fetchall()
        out: List[FleetSighting] = []
        seen = set()
        for r in rows:
            if r[0] not in seen:
                seen.add(r[0])
                out.append(FleetSighting.from_row(r))
        return out[:limit] if limit else out

    def counts(self) -> Tuple[int, int]:
        """(rows, distinct (robot, stamp, view, class, centroid) contents): the second counts a row shipped
        twice under two keys, which the primary key alone would not catch."""
        with self.pool.connection() as c:
            r = c.execute("SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT robot_id, stamp_ns, view_id, "
                          "label, x, y, z FROM fleet_observations) d) FROM fleet_observations").fetchone()
        return int(r[0]), int(r[1])

    def obs_ids(self, robot_id: str) -> List[int]:
        with self.pool.connection() as c:
            return [int(r[0]) for r in c.execute("SELECT obs_id FROM fleet_observations WHERE robot_id = %s",
                                                 (robot_id,))]


def _known_robot(cur, robot_id: str, store_uid: str) -> bool:
    """Whether this robot has shipped rows here (False: not yet); another store under its id is refused."""
    cur.execute("SELECT store_uid FROM fleet_robots WHERE robot_id = %s", (robot_id,))
    r = cur.fetchone()
    if r is not None and str(r[0]) != store_uid:
        raise _identity_error(robot_id)
    return r is not None


def _room_condition(label: str) -> Tuple[str, tuple]:
    """SQL (and its argument) keeping rows in a room their robot calls ``label`` ("" keeps all)."""
    if not label:
        return "", ()
    return (" AND EXISTS (SELECT 1 FROM fleet_rooms fr WHERE fr.robot_id = fleet_observations.robot_id AND "
            "fr.room_id = fleet_observations.room_id AND fr.label = %s)", (label,))


def _identity_error(robot_id: str) -> FleetIdentityError:
    return FleetIdentityError(f"fleet: robot id {robot_id!r} is already shipped by another store; give this "
                              "robot its own id (or retire the old one: DELETE its fleet_robots and "
                              "fleet_observations rows)")


def _store_uid(local_path: str) -> str:
    """The local store's identity (meta ``store_uid``), made on its first shipment: the one write a shipper
    makes to the robot's store, a single INSERT OR IGNORE that SQLite serialises with the memory's own
    commits (WAL; the memory's connection waits out the busy lock). Stores that never ship stay as they are
    (a replayed bag gives the same store twice)."""
    import uuid
    try:
        w = sqlite3.connect(local_path, timeout=10.0)
    except sqlite3.Error as e:
        raise StoreError(f"{local_path}: cannot open the robot's store: {e}") from e
    try:
        tables = {n for (n,) in w.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables or "observations" not in tables:
            raise StoreError(f"{local_path}: not a memory store (open it with MemoryCore.open first)")
        w.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_uid', ?)", (uuid.uuid4().hex,))
        w.commit()
        return str(w.execute("SELECT value FROM meta WHERE key = 'store_uid'").fetchone()[0])
    finally:
        w.close()


class Shipper:
    """One robot's outbox: ships its committed local observations to the fleet server, in id order.

    Reads the local SQLite store through a read-only connection of its own (WAL: the memory keeps
    writing meanwhile). ``ship_once`` makes one attempt; ``run`` loops until ``stop`` is set, retrying with
    a doubling backoff after a failure. Counters: ``acked_through`` (the last watermark the server
    confirmed), ``failures``, ``batches``."""

    def __init__(self, robot_id: str, local_path: str, server: FleetServer, batch: int = 2000,
                 backoff_s: Tuple[float, float] = (0.05, 2.0)):
        self.robot_id = robot_id
        self.server = server
        self.batch = int(batch)
        self.backoff_s = backoff_s
        self.store_uid = _store_uid(local_path)
        self._local = sqlite3.connect(f"file:{local_path}?mode=ro", uri=True, check_same_thread=False)
        self.acked_through = -1            # unknown until the server said
        self.forgot_through = -1           # the same, for forgotten_obs (forgets on the robot)
        self.forgotten_deleted = 0         # rows this shipper deleted on the server for forgets
        self._rooms_shipped: Optional[List[Tuple[int, str]]] = None   # as last sent (None: not this run)
        self._merges_shipped = -1          # merged tracks count as last sent (-1: not this run)
        self.failures = 0
        self.batches = 0
        self.last_error = ""

    def close(self) -> None:
        self._local.close()

    def local_rows(self, after_id: int, limit: int) -> List[tuple]:
        """(obs id, stamp, track, class, label, score, place, room, view, x, y, z) committed locally."""
        rows = self._local.execute(
            "SELECT o.id, o.stamp_ns, o.object_id, coalesce(c.name, ''), coalesce(r.name, ''), o.score, o.place_id, "
            "o.room_id, o.view_id, o.geom FROM observations o LEFT JOIN classes c ON c.id = o.class_id "
            "LEFT JOIN classes r ON r.id = o.raw_class_id WHERE o.id > ? ORDER BY o.id LIMIT ?",
            (int(after_id), int(limit))).fetchall()
        out = []
        for r in rows:
            g = np.frombuffer(r[9], np.float32)
            out.append((*r[:9], float(g[0]), float(g[1]), float(g[2])))
        return out

    def local_forgets(self, after_seq: int, limit: int) -> List[Tuple[int, int]]:
        """(seq, obs id) of what forgets deleted locally, after ``after_seq`` (none in a store from before
        forgets were recorded: it has no such table until the memory opens it once)."""
        try:
            rows = self._local.execute("SELECT seq, obs_id FROM forgotten_obs WHERE seq > ? ORDER BY seq LIMIT ?",
                                       (int(after_seq), int(limit))).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        return [(int(a), int(b)) for a, b in rows]

    def local_rooms(self) -> List[Tuple[int, str]]:
        """(room id, label) of the robot's rooms, labelled ones only."""
        return [(int(i), str(lb)) for i, lb in self._local.execute(
            "SELECT room_id, label FROM rooms WHERE label <> '' ORDER BY room_id")]

    def local_merges(self) -> List[Tuple[int, int]]:
        """(track id, id it was merged into) of the robot's merged tracks."""
        import json
        return [(int(i), int(json.loads(d).get("into", -1))) for i, d in self._local.execute(
            "SELECT id, data FROM tracks WHERE status = 'merged' ORDER BY id")]

    def local_max_id(self) -> int:
        r = self._local.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()
        return int(r[0])

    def ship_once(self) -> int:
        """One attempt: rows past the server's watermark, one batch, then forgotten ids past its forget
        watermark, one batch. Returns rows and ids sent (0: caught up). Raises what the server raised (the
        caller backs off)."""
        if self.acked_through < 0:
            self.acked_through = self.server.shipped_through(self.robot_id, self.store_uid)
        rows = self.local_rows(self.acked_through, self.batch)
        if rows:
            self.acked_through = self.server.ship(self.robot_id, self.store_uid, rows)
            self.batches += 1
        # after the rows: a row read before a forget deleted it locally is deleted here in this very call
        if self.forgot_through < 0:
            self.forgot_through = self.server.forgot_through(self.robot_id, self.store_uid)
        fr = self.local_forgets(self.forgot_through, self.batch)
        if fr:
            self.forgotten_deleted += self.server.forget(self.robot_id, self.store_uid, fr[-1][0],
                                                         [o for _, o in fr])
            self.forgot_through = fr[-1][0]
        rooms = self.local_rooms()
        if rooms != self._rooms_shipped and self.acked_through > 0:
            self.server.ship_rooms(self.robot_id, self.store_uid, rooms)   # names for its room ids
            self._rooms_shipped = rooms
        n_merged = int(self._local.execute("SELECT count(*) FROM tracks WHERE status = 'merged'").fetchone()[0])
        if n_merged != self._merges_shipped and self.acked_through > 0:
            self.server.ship_merges(self.robot_id, self.store_uid, [m for m in self.local_merges() if m[1] >= 0])
            self._merges_shipped = n_merged
        return len(rows) + len(fr)

    def run(self, stop: threading.Event, idle_s: float = 0.05,
            on_error: Optional[Callable[[BaseException], None]] = None) -> None:
        """Ship until ``stop`` is set: at once while behind, every ``idle_s`` when caught up, after a failure
        with a doubling backoff (the watermark is asked again: the last batch may or may not have landed).
        A FleetIdentityError ends it (``last_error``): retrying cannot help."""
        wait = self.backoff_s[0]
        while not stop.is_set():
            try:
                n = self.ship_once()
                wait = self.backoff_s[0]
                if n < self.batch:
                    stop.wait(idle_s)
            except FleetIdentityError as e:
                self.failures += 1
                self.last_error = str(e)
                if on_error is not None:
                    on_error(e)
                return
            except Exception as e:          # the server is down or restarting: back off, ask again
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
                self.acked_through = self.forgot_through = -1
                self._rooms_shipped, self._merges_shipped = None, -1
                if on_error is not None:
                    on_error(e)
                stop.wait(wait)
                wait = min(self.backoff_s[1], wait * 2.0)


def redact_url(url: str) -> str:
    """The URL without its password (for logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
