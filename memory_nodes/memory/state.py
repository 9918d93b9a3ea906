"""MemoryState: everything the memory core holds in RAM, as one value (no behaviour but copying).

The jobs that read and change it live beside it: ingest.py (frames in, commit), identity.py and
absences.py (tracking), events.py (the change log), queries.py (MemoryView reads), repository/ (SQL).

Copy-on-write: ``gen`` is the generation allowed to mutate records in place; ``fork()`` hands out a
state sharing the records, and both sides clone a record before its first write (``own_track``).
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from ..common.errors import InputError, StoreError
from ..common.types import RoomSegmentation
from .config import NS_PER_DAY
from .records import CONFIRMED_STATUSES, EventRec, PlaceRec, RoomRec, Stay, Track
from .staleness import MoveStats

_GEN = itertools.count(1)


def next_generation() -> int:
    return next(_GEN)


def event_key(e: EventRec) -> Tuple[int, int]:
    """The change log's order: (stamp, id)."""
    return (e.stamp_ns, e.id)


def _ids() -> Dict[str, int]:
    return {"obs": 1, "track": 1, "stay": 1, "event": 1, "absence": 1}


@dataclass
class MemoryState:
    gen: int = field(default_factory=next_generation)
    # what is remembered
    tracks: Dict[int, Track] = field(default_factory=dict)             # live: tentative, present, missing
    class_index: Dict[str, Set[int]] = field(default_factory=dict)     # canonical class -> confirmed ids
    events: List[EventRec] = field(default_factory=list)               # sorted by (stamp, id)
    event_keys: List[Tuple[int, int]] = field(default_factory=list)
    # object id -> its events in log order; built on first use (object_events), then kept in step by
    # events.EventLog; None until then (a fork builds its own)
    events_by_object: Optional[Dict[int, List[EventRec]]] = None
    places: Dict[int, PlaceRec] = field(default_factory=dict)
    edges: Dict[Tuple[int, int], List[int]] = field(default_factory=dict)   # (a < b) -> [first_ns, last_ns]
    rooms: Dict[int, RoomRec] = field(default_factory=dict)
    room_map: Optional[RoomSegmentation] = None
    episodes: List[List[int]] = field(default_factory=list)            # [start_ns, end_ns]
    class_stats: Dict[str, MoveStats] = field(default_factory=dict)
    merged: Dict[int, int] = field(default_factory=dict)               # merged track id -> the one it became
    counts: Dict[str, int] = field(default_factory=lambda: {"observations": 0, "views": 0})
    next_id: Dict[str, int] = field(default_factory=_ids)
    # time and durability
    now_ns: int = -1
    ingested_through_ns: int = -1
    pending_through_ns: int = -1
    frames_since_commit: int = 0
    last_commit_stamp_ns: int = -1
    last_retention_ns: int = -1
    store_fault: Optional[StoreError] = None   # the last failed scheduled commit (None after a good one)
    commit_backoff_frames: int = 0            # frames to wait before the next scheduled retry
    commit_backoff_frames_last: int = 0
    writes_paused: bool = False
    recent_frames: "OrderedDict[int, tuple]" = field(default_factory=OrderedDict)   # stamp -> frame key
    # changed since the last commit
    dirty_tracks: Dict[int, Track] = field(default_factory=dict)
    dirty_stays: Dict[int, Stay] = field(default_factory=dict)
    dirty_places: Set[int] = field(default_factory=set)
    dirty_episode: bool = False
    recent_obs: List[Tuple[int, int, int]] = field(default_factory=list)   # (stamp, object, obs id) not in SQL
    recent_abs: List[Tuple[int, int, str, Tuple[float, float, float]]] = field(default_factory=list)
    # views' camera poses not in SQL (all of them in a memory without a store): the robot's pose trail
    # (stamp, view id, place, room at ingest, x, y, z (m), yaw (rad), keyframe ref), in ingest order
    recent_poses: List[Tuple[int, str, int, int, float, float, float, float, str]] = field(default_factory=list)
    # views seen lately: view id -> keyframe ref / place
    view_kf: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    view_place: "OrderedDict[str, int]" = field(default_factory=OrderedDict)
    # the live tracks as arrays for association (rebuilt when ``active_dirty``)
    active_dirty: bool = True
    act_ids: List[int] = field(default_factory=list)
    act_pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    act_slot: Dict[int, int] = field(default_factory=dict)
    # per frame and caches
    frame_cooc: Dict[int, Set[int]] = field(default_factory=dict)
    view_pose: "OrderedDict[str, np.ndarray]" = field(default_factory=OrderedDict)  # view id -> (6,) camera
    #                                            position + optical axis (map), for the viewpoints of sightings
    last_assignment: List[Tuple[int, int]] = field(default_factory=list)  # (observation id, track id)
    warnings: List[InputError] = field(default_factory=list)
    receptacle_cache: Dict[Tuple[int, int], str] = field(default_factory=dict)
    query_cache: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    room_cache: Dict[Tuple[int, int, int], int] = field(default_factory=dict)   # (col, row, stored) -> room
    room_cache_cut: Optional[RoomSegmentation] = None                           # the cut room_cache is of
    sim_cache: Dict[Tuple[str, str], float] = field(default_factory=dict)
    miss_cache: Optional[tuple] = field(default=None, repr=False)   # class_miss_counts' (key, counts)

    def fork(self) -> "MemoryState":
        """A state sharing this one's records (copy-on-write): both sides get a new generation, so
        either clones a shared record before changing it. Nothing pending is carried over."""
        self.gen = next_generation()
        return MemoryState(
            tracks=dict(self.tracks),
            class_index={k: set(v) for k, v in self.class_index.items()},
            events=list(self.events),
            event_keys=list(self.event_keys),
            places={k: PlaceRec(p.place_id, p.pos.copy(), p.room_id, p.first_ns, p.last_ns)
                    for k, p in self.places.items()},
            edges={k: list(v) for k, v in self.edges.items()},
            rooms=dict(self.rooms),
            room_map=self.room_map,
            episodes=[list(e) for e in self.episodes],
            class_stats={k: MoveStats(v.moves, v.exposure_days) for k, v in self.class_stats.items()},
            merged=dict(self.merged),
            counts=dict(self.counts),
            next_id=dict(self.next_id),
            now_ns=self.now_ns,
            ingested_through_ns=self.ingested_through_ns,
            pending_through_ns=self.pending_through_ns,
            last_commit_stamp_ns=self.last_commit_stamp_ns,
            last_retention_ns=self.last_retention_ns,
            recent_obs=list(self.recent_obs),
            recent_abs=list(self.recent_abs),
            recent_poses=list(self.recent_poses),
            view_kf=OrderedDict(self.view_kf),
            view_place=OrderedDict(self.view_place),
            receptacle_cache=dict(self.receptacle_cache),
            view_pose=OrderedDict(self.view_pose),
            sim_cache=self.sim_cache,
        )

    # ------------------------------------------------------------------------------ small helpers
    def take_id(self, kind: str, n: int = 1) -> int:
        """The first of ``n`` fresh ids of ``kind`` (obs, track, stay, event, absence)."""
        i = self.next_id[kind]
        self.next_id[kind] = i + n
        return i

    def object_events(self) -> Dict[int, List[EventRec]]:
        """``events_by_object`` (built here from the log on first use)."""
        if self.events_by_object is None:
            by: Dict[int, List[EventRec]] = {}
            for e in self.events:
                by.setdefault(e.object_id, []).append(e)
            self.events_by_object = by
        return self.events_by_object

    def own_track(self, t: Track) -> Track:
        """``t`` itself if this generation may change it, else its clone (installed in ``tracks``)."""
        if t.owner != self.gen:
            t = t.clone(self.gen)
            if t.id in self.tracks:
                self.tracks[t.id] = t
        return t

    def mark(self, t: Track, stay: bool = False) -> None:
        """Queue the track (and its open stay) for the next commit."""
        self.dirty_tracks[t.id] = t
        if stay and t.stays:
            self.dirty_stays[t.stay.id] = t.stay

    def class_miss_counts(self) -> Dict[str, Tuple[int, int]]:
        """Per class, over its confirmed records: (proven misses, views it was there in: proven misses +
        views with a sighting), the detector's record on that class (absences.miss_rate). Made again when
        observations, records or merges change (the only things that change these counts)."""
        key = (self.counts.get("observations", 0), len(self.tracks), len(self.merged))
        c = self.miss_cache
        if c is None or c[0] != key:
            out: Dict[str, List[int]] = {}
            for t in self.tracks.values():
                if t.status in CONFIRMED_STATUSES:
                    a = out.setdefault(t.class_name, [0, 0])
                    a[0] += t.proven_misses
                    a[1] += t.proven_misses + t.views_seen
            c = self.miss_cache = (key, {k: (v[0], v[1]) for k, v in out.items()})
        return c[1]

    def rebuild_active(self) -> None:
        ids = list(self.tracks)
        self.act_ids = ids
        self.act_slot = {tid: i for i, tid in enumerate(ids)}
        self.act_pos = np.array([self.tracks[i].pos for i in ids], float).reshape(-1, 3)
        self.active_dirty = False

    def resolve_track_id(self, track_id: int) -> int:
        """The id a track goes by now (follows merges)."""
        seen = 0
        while track_id in self.merged and seen < 1000:
            track_id = self.merged[track_id]
            seen += 1
        return track_id

    def room_at(self, pos: np.ndarray, place_id: int) -> int:
        """The room at a map position (the room map's cell, else the place's room; -1 unknown)."""
        if self.room_map is not None:
            rid = self.room_map.room_at(float(pos[0]), float(pos[1]))
            if rid >= 0:
                return rid
        p = self.places.get(place_id)
        return p.room_id if p is not None else -1

    def recompute_class_stats(self) -> None:
        self.class_stats = {}
        for t in self.tracks.values():
            if t.confirmed:
                s = self.class_stats.setdefault(t.class_name, MoveStats())
                s.moves += t.n_moves
                s.exposure_days += max(0, t.last_seen_ns - t.first_seen_ns) / NS_PER_DAY
