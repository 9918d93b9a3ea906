"""The store's schema and its migrations: the one place that says what the tables are.

A store file carries ``APPLICATION_ID`` in its SQLite header and its schema version in ``user_version``;
``MIGRATIONS[v]`` brings a store from version v-1 to v (v1 creates everything). Add a version: append
its SQL here and bump ``SCHEMA_VERSION``; stores of older versions are migrated when opened for writing.
"""
from __future__ import annotations

import sqlite3
from typing import Dict

APPLICATION_ID = 0x524D454D          # "RMEM" in the SQLite header: marks a file as this store
SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    stamp_ns INTEGER NOT NULL,
    object_id INTEGER,                 -- track the observation was associated with
    class_id INTEGER NOT NULL,         -- canonical class
    raw_class_id INTEGER NOT NULL,     -- class as the detector said it
    score REAL NOT NULL,
    place_id INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    view_id TEXT NOT NULL,
    geom BLOB NOT NULL,                -- float32[13]: centroid, bbox_min, bbox_max (m), rgb [0,1], distance_m
    num_points INTEGER NOT NULL,
    appearance BLOB                    -- float32[D] or NULL
);
CREATE INDEX observations_stamp ON observations (stamp_ns);
CREATE INDEX observations_object ON observations (object_id, stamp_ns);
CREATE TABLE views (
    view_id TEXT PRIMARY KEY,
    stamp_ns INTEGER NOT NULL,
    place_id INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    pose BLOB NOT NULL,                -- float64[16] map_T_camera, row-major
    intrinsics BLOB NOT NULL,          -- float64[6]: width, height, fx, fy, cx, cy of the depth image
    keyframe_ref TEXT,                 -- sha256 (hex, 32) of the colour JPEG, or NULL
    detected TEXT NOT NULL             -- JSON list of detected classes
);
CREATE INDEX views_stamp ON views (stamp_ns);
CREATE TABLE keyframes (
    ref TEXT PRIMARY KEY,
    stamp_ns INTEGER NOT NULL,
    place_id INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    thinned INTEGER NOT NULL DEFAULT 0 -- 1: file removed by the retention policy
);
CREATE INDEX keyframes_stamp ON keyframes (stamp_ns);
CREATE TABLE pending_file_deletes (ref TEXT PRIMARY KEY);
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    class_id INTEGER NOT NULL,
    first_seen_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    data TEXT NOT NULL                 -- JSON of the rest of the track state
);
CREATE INDEX tracks_status ON tracks (status);
CREATE TABLE stays (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    place_id INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    first_obs INTEGER NOT NULL,
    last_obs INTEGER NOT NULL,
    first_kf TEXT NOT NULL,
    last_kf TEXT NOT NULL,
    n_obs INTEGER NOT NULL
);
CREATE INDEX stays_object ON stays (object_id, start_ns);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    stamp_ns INTEGER NOT NULL,
    data TEXT NOT NULL                 -- JSON: positions, rooms, evidence
);
CREATE INDEX events_stamp ON events (stamp_ns);
CREATE TABLE absences (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL,
    stamp_ns INTEGER NOT NULL,
    view_id TEXT NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL
);
CREATE INDEX absences_object ON absences (object_id, stamp_ns);
CREATE TABLE places (
    place_id INTEGER PRIMARY KEY,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    room_id INTEGER NOT NULL,
    first_ns INTEGER NOT NULL,
    last_ns INTEGER NOT NULL
);
CREATE TABLE place_edges (
    a INTEGER NOT NULL, b INTEGER NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE rooms (
    room_id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    area_m2 REAL NOT NULL,
    first_ns INTEGER NOT NULL,
    last_ns INTEGER NOT NULL
);
CREATE TABLE room_map (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stamp_ns INTEGER NOT NULL,
    rows INTEGER NOT NULL, cols INTEGER NOT NULL,
    resolution_m REAL NOT NULL, origin_x REAL NOT NULL, origin_y REAL NOT NULL,
    data BLOB NOT NULL                 -- int16[rows * cols]
);
CREATE TABLE episodes (id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL);
"""

_SCHEMA_V2 = """
CREATE TABLE forgets (
    id INTEGER PRIMARY KEY,
    stamp_ns INTEGER NOT NULL,         -- input time of the request
    observations INTEGER NOT NULL,     -- how many were deleted (nothing about what)
    keyframes INTEGER NOT NULL
);
"""

# v3: the per-place snapshots that consolidation (retention.py) keeps of raw observations it deletes
_SCHEMA_V3 = """
CREATE TABLE place_days (
    place_id INTEGER NOT NULL,         -- where the robot saw it from
    day INTEGER NOT NULL,              -- stamp_ns // 86400e9 (UTC day of input time)
    object_id INTEGER NOT NULL,        -- track
    first_ns INTEGER NOT NULL,         -- first and last sighting there that day
    last_ns INTEGER NOT NULL,
    n_obs INTEGER NOT NULL,            -- raw observations summarised
    PRIMARY KEY (place_id, day, object_id)
) WITHOUT ROWID;
CREATE INDEX place_days_object ON place_days (object_id, day);
"""

# v4: which observation ids forgets deleted (ids only), so a fleet shipper deletes the copies it shipped
_SCHEMA_V4 = """
CREATE TABLE forgotten_obs (
    seq INTEGER PRIMARY KEY,           -- order of deletion: a shipper's watermark (repository/fleet.py)
    obs_id INTEGER NOT NULL            -- an id a forget deleted (nothing about what it was)
);
"""

# version -> SQL that brings a store from version-1 to version
MIGRATIONS: Dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4}


def apply_migrations(conn: sqlite3.Connection, from_version: int, to_version: int) -> None:
    """Run the migrations after ``from_version`` up to ``to_version`` (inside the caller's transaction)
    and stamp the file as this store at ``to_version``."""
    for v in range(from_version + 1, to_version + 1):
        for stmt in MIGRATIONS[v].split(";"):
            if stmt.strip():
                conn.execute(stmt)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={to_version}")
