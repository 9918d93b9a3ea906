"""MemoryCore: the place-centric, time-indexed scene-graph memory (implements MemoryView in-process).

Ingest (one PerceptionOutput per frame, in time order):
  places / rooms -> view (keyframe file, view row) -> observations (rows) -> identity (optimal assignment
  to tracks; tentative tracks confirmed after repeated sightings; re-identification of moved objects)
  -> absences (remembered locations visible in the view's depth but not detected) -> events (moved,
  appeared, disappeared, each with evidence) -> batched commit -> ``ingested_through_ns``.

Recall is served from in-memory indexes (tracks, stays, events, places); only a few evidence look-ups
touch SQLite. ``fork()`` returns a copy-on-write, never-persisted view for "what if I looked now"
questions: ingest into the fork, query it, drop it; the parent is not affected.

The core never prints, never reads a clock, never sleeps: time comes in with the data (int ns).
"""
from __future__ import annotations

import bisect
import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

import numpy as np

from ..common.errors import InputError, NotFoundError, StoreError
from ..common.protocols import Absence, ChangeEvent, Evidence, HistorySpan, PlaceInfo, Sighting
from ..common.types import ObjectObservation, PerceptionOutput, PlaceGraph, RoomSegmentation, View
from ..vocab import Vocabulary, default_vocabulary
from .association import appearance_cost, associate, color_distance
from .config import NS_PER_DAY, NS_PER_S, MemoryConfig, StoreConfig
from .records import (LIVE_STATUSES, MERGED, MISSING, PRESENT, REJECTED, TENTATIVE,
                      EventRec, PlaceRec, RoomRec, Stay, Track, object_id_str, parse_object_id)
from .staleness import MoveStats, class_posterior, object_prior, p_no_move, with_absences
from .store import Store, dumps
from .visibility import VISIBLE, visibility

_GEN = itertools.count(1)
_MAX_ABSENCE_VIEWS = 6


@dataclass
class ForgetResult:
    observations_deleted: int
    keyframes_deleted: int
    objects_deleted: int


@dataclass
class ObservationRecord:
    """A stored observation as read back (raw data, never altered) with its association."""
    id: int
    stamp_ns: int
    object_id: str                       # "" if not associated
    class_name: str                      # canonical
    raw_class: str                       # as detected
    score: float
    centroid_m: np.ndarray
    place_id: int
    room_id: int
    view_id: str


class MemoryCore:
    """Long-term memory. Create with ``MemoryCore.open(path)`` (persistent) or ``MemoryCore.in_memory()``."""

    # ------------------------------------------------------------------------------ construction
    def __init__(self, config: Optional[MemoryConfig] = None, vocab: Optional[Vocabulary] = None,
                 store: Optional[Store] = None):
        self.config = config or MemoryConfig()
        self.config.validate()
        self.vocab = vocab or default_vocabulary()
        self._store = store                  # written by this core (None: in-memory or a fork)
        self._base: Optional[Store] = store  # read for evidence (a fork reads its root's store)
        self._gen = next(_GEN)
        self._lock = threading.RLock()
        self._reset_state()
        if store is not None:
            self._load_state()

    @classmethod
    def open(cls, path: str, config: Optional[MemoryConfig] = None,
             vocab: Optional[Vocabulary] = None) -> "MemoryCore":
        """Open (or create) the persistent store at ``path``; raises StoreError for a foreign/corrupt file."""
        cfg = config or MemoryConfig()
        store_cfg = StoreConfig(**{**cfg.store.__dict__, "path": str(path)})
        cfg = MemoryConfig(store_cfg, cfg.association, cfg.absence, cfg.staleness, cfg.retention, cfg.events)
        return cls(cfg, vocab, Store(store_cfg))

    @classmethod
    def in_memory(cls, config: Optional[MemoryConfig] = None,
                  vocab: Optional[Vocabulary] = None) -> "MemoryCore":
        """A memory that is never persisted (fast; tests, benchmarks, simulations)."""
        return cls(config, vocab, None)

    def close(self) -> None:
        """Commit what is pending and release the store."""
        with self._lock:
            if self._store is not None:
                self.commit()
                self._store.close()
                self._store = None
                self._base = None

    def __enter__(self) -> "MemoryCore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _reset_state(self) -> None:
        self._tracks: Dict[int, Track] = {}          # live tracks (tentative, present, missing)
        self._class_index: Dict[str, Set[int]] = {}  # canonical class -> confirmed track ids
        self._events: List[EventRec] = []            # sorted by (stamp, id)
        self._event_keys: List[Tuple[int, int]] = []
        self._places: Dict[int, PlaceRec] = {}
        self._edges: Dict[Tuple[int, int], List[int]] = {}
        self._rooms: Dict[int, RoomRec] = {}
        self._room_map: Optional[RoomSegmentation] = None
        self._episodes: List[List[int]] = []
        self._class_stats: Dict[str, MoveStats] = {}
        self._next = {"obs": 1, "track": 1, "stay": 1, "event": 1, "absence": 1}
        self._now_ns = -1
        self._ingested_through_ns = -1
        self._pending_through_ns = -1
        self._frames_since_commit = 0
        self._last_commit_stamp_ns = -1
        self._last_retention_ns = -1
        self._dirty_tracks: Dict[int, Track] = {}
        self._dirty_stays: Dict[int, Stay] = {}
        self._dirty_places: Set[int] = set()
        self._dirty_episode = False
        self._recent_obs: List[Tuple[int, int, int]] = []      # (stamp, object id, obs id) not in SQL
        self._recent_abs: List[Tuple[int, int, str, Tuple[float, float, float]]] = []
        self._view_kf: "OrderedDict[str, str]" = OrderedDict()
        self._view_place: "OrderedDict[str, int]" = OrderedDict()
        self._active_dirty = True
        self._act_ids: List[int] = []
        self._act_pos = np.zeros((0, 3))
        self._act_slot: Dict[int, int] = {}
        self._warnings: List[InputError] = []
        self._graph_cache = None
        self._receptacle_cache: Dict[Tuple[int, int], str] = {}
        self._query_cache: Dict[str, Tuple[str, ...]] = {}
        self._counts = {"observations": 0, "views": 0}
        self._merged: Dict[int, int] = {}            # merged track id -> the track it became
        self._frame_cooc: Dict[int, Set[int]] = {}
        self._sim_cache: Dict[Tuple[str, str], float] = {}
        self.last_assignment: List[Tuple[int, int]] = []   # (observation id, track id) of the last frame

    # ------------------------------------------------------------------------------------ loading
    def _load_state(self) -> None:
        st = self._store
        names = st.class_names()
        for tid, status, cid, first, last, data in st.query(
                "SELECT id, status, class_id, first_seen_ns, last_seen_ns, data FROM tracks WHERE status IN (?,?,?)",
                LIVE_STATUSES):
            t = Track.from_row(tid, status, names.get(cid, "unknown"), first, last, json.loads(data))
            t.owner = self._gen
            self._tracks[tid] = t
        for row in st.query("SELECT id, object_id, start_ns, end_ns, x, y, z, place_id, room_id, first_obs, "
                            "last_obs, first_kf, last_kf, n_obs FROM stays ORDER BY object_id, start_ns, id"):
            t = self._tracks.get(row[1])
            if t is not None:
                t.stays.append(Stay(row[0], row[1], row[2], row[3], np.array(row[4:7], float), row[7], row[8],
                                    row[9], row[10], row[11], row[12], row[13]))
        for tid, data in st.query("SELECT id, data FROM tracks WHERE status = ?", (MERGED,)):
            self._merged[tid] = int(json.loads(data).get("into", -1))
        for tid in [tid for tid, t in self._tracks.items() if not t.stays]:
            del self._tracks[tid]            # cannot happen in a consistent store; tolerate
        for t in self._tracks.values():
            if t.confirmed:
                self._class_index.setdefault(t.class_name, set()).add(t.id)
        for eid, kind, oid, stamp, data in st.query(
                "SELECT id, kind, object_id, stamp_ns, data FROM events ORDER BY stamp_ns, id"):
            self._events.append(EventRec.from_row(eid, kind, oid, stamp, json.loads(data)))
        self._event_keys = [(e.stamp_ns, e.id) for e in self._events]
        for pid, x, y, z, rid, first, last in st.query(
                "SELECT place_id, x, y, z, room_id, first_ns, last_ns FROM places"):
            self._places[pid] = PlaceRec(pid, np.array([x, y, z]), rid, first, last)
        for a, b, first, last in st.query("SELECT a, b, first_ns, last_ns FROM place_edges"):
            self._edges[(a, b)] = [first, last]
        for rid, label, conf, x, y, z, area, first, last in st.query(
                "SELECT room_id, label, confidence, x, y, z, area_m2, first_ns, last_ns FROM rooms"):
            self._rooms[rid] = RoomRec(rid, label, conf, np.array([x, y, z]), area, first, last)
        rm = st.query("SELECT stamp_ns, rows, cols, resolution_m, origin_x, origin_y, data FROM room_map")
        if rm:
            stamp, rows, cols, res, ox, oy, data = rm[0]
            grid = np.frombuffer(data, np.int16).reshape(rows, cols).copy()
            self._room_map = RoomSegmentation(stamp, [], grid, res, (ox, oy))
        self._episodes = [[s, e] for s, e in st.query("SELECT start_ns, end_ns FROM episodes ORDER BY id")]
        for key, table in (("obs", "observations"), ("track", "tracks"), ("stay", "stays"),
                           ("event", "events"), ("absence", "absences")):
            self._next[key] = int(st.query(f"SELECT coalesce(max(id), 0) FROM {table}")[0][0]) + 1
        self._counts["observations"] = int(st.query("SELECT count(*) FROM observations")[0][0])
        self._counts["views"] = int(st.query("SELECT count(*) FROM views")[0][0])
        self._ingested_through_ns = int(st.meta("ingested_through_ns", "-1"))
        self._pending_through_ns = self._ingested_through_ns
        self._now_ns = self._ingested_through_ns
        self._last_commit_stamp_ns = self._ingested_through_ns
        self._last_retention_ns = int(st.meta("last_retention_ns", "-1"))
        self._recompute_class_stats()
        self._active_dirty = True

    def _recompute_class_stats(self) -> None:
        self._class_stats = {}
        for t in self._tracks.values():
            if t.confirmed:
                s = self._class_stats.setdefault(t.class_name, MoveStats())
                s.moves += t.n_moves
                s.exposure_days += max(0, t.last_seen_ns - t.first_seen_ns) / NS_PER_DAY

    # --------------------------------------------------------------------------------------- fork
    def fork(self) -> "MemoryCore":
        """A copy-on-write, in-memory view of this memory: ingest into it freely, query it, drop it.
        Nothing it ingests reaches the store or this memory; this memory's later ingests do not show in
        it. Cheap (shallow copies; records are cloned on first write)."""
        with self._lock:
            f = MemoryCore.__new__(MemoryCore)
            f.config = self.config
            f.vocab = self.vocab
            f._store = None
            f._base = self._base
            f._gen = next(_GEN)
            f._lock = threading.RLock()
            self._gen = next(_GEN)          # the parent also clones shared records before writing them
            f._tracks = dict(self._tracks)
            f._class_index = {k: set(v) for k, v in self._class_index.items()}
            f._events = list(self._events)
            f._event_keys = list(self._event_keys)
            f._places = {k: PlaceRec(p.place_id, p.pos.copy(), p.room_id, p.first_ns, p.last_ns)
                         for k, p in self._places.items()}
            f._edges = {k: list(v) for k, v in self._edges.items()}
            f._rooms = dict(self._rooms)
            f._room_map = self._room_map
            f._episodes = [list(e) for e in self._episodes]
            f._class_stats = {k: MoveStats(v.moves, v.exposure_days) for k, v in self._class_stats.items()}
            f._next = dict(self._next)
            f._now_ns = self._now_ns
            f._ingested_through_ns = self._ingested_through_ns
            f._pending_through_ns = self._pending_through_ns
            f._frames_since_commit = 0
            f._last_commit_stamp_ns = self._last_commit_stamp_ns
            f._last_retention_ns = self._last_retention_ns
            f._dirty_tracks, f._dirty_stays, f._dirty_places, f._dirty_episode = {}, {}, set(), False
            f._recent_obs = list(self._recent_obs)
            f._recent_abs = list(self._recent_abs)
            f._view_kf = OrderedDict(self._view_kf)
            f._view_place = OrderedDict(self._view_place)
            f._active_dirty = True
            f._act_ids, f._act_pos, f._act_slot = [], np.zeros((0, 3)), {}
            f._warnings = []
            f._graph_cache = None
            f._receptacle_cache = dict(self._receptacle_cache)
            f._query_cache = {}
            f._counts = dict(self._counts)
            f._merged = dict(self._merged)
            f._frame_cooc = {}
            f._sim_cache = self._sim_cache
            f.last_assignment = []
            return f

    @property
    def is_persistent(self) -> bool:
        return self._store is not None

    def _own_track(self, t: Track) -> Track:
        if t.owner != self._gen:
            t = t.clone(self._gen)
            if t.id in self._tracks:
                self._tracks[t.id] = t
        return t

    # ------------------------------------------------------------------------------------- ingest
    @property
    def ingested_through_ns(self) -> int:
        """All input stamped at or before this is durably stored (-1: nothing yet)."""
        return self._ingested_through_ns

    def drain_warnings(self) -> List[InputError]:
        """Input problems seen since the last call (bad observations skipped, ...), for logging."""
        with self._lock:
            w, self._warnings = self._warnings, []
            return w

    @property
    def has_uncommitted(self) -> bool:
        """True if frames were ingested since the last commit (a caller with a clock may flush them)."""
        return self._frames_since_commit > 0 or self._pending_through_ns > self._ingested_through_ns

    def ingest(self, out: PerceptionOutput, derive_absences: bool = True) -> Optional[int]:
        """Take in one frame's perception output. Returns the new ``ingested_through_ns`` when this call
        committed a batch (then publish it), else None. Raises InputError only for an unusable frame.
        ``derive_absences=False`` stores a view without reading absences from it (use when the frame's
        observations were lost: a view without its detections would make everything in it look absent)."""
        with self._lock:
            if not isinstance(out, PerceptionOutput):
                raise InputError("bad_input", f"expected PerceptionOutput, got {type(out).__name__}")
            t = int(out.stamp_ns)
            if t < 0:
                raise InputError("bad_stamp", f"negative stamp {t}")
            self._now_ns = max(self._now_ns, t)
            if out.places is not None:
                self._ingest_places(out.places)
            if out.rooms is not None:
                self._ingest_rooms(out.rooms)
            view_ok = False
            if out.view is not None:
                view_ok = self._ingest_view(out.view)
            matched = self._ingest_observations(t, out)
            if view_ok and derive_absences:
                self._absences_from_view(out.view, matched)
            self._expire_tentative(t)
            self._update_episode(t)
            self._pending_through_ns = max(self._pending_through_ns, t)
            self._frames_since_commit += 1
            self._graph_cache = None
            ret = self.config.retention
            if (self._store is not None and self._last_retention_ns >= 0
                    and t - self._last_retention_ns >= ret.run_every_s * NS_PER_S):
                self.apply_retention(t)
            elif self._last_retention_ns < 0:
                self._last_retention_ns = t
            sc = self.config.store
            if (self._frames_since_commit >= sc.commit_every_frames
                    or t - self._last_commit_stamp_ns >= sc.commit_every_s * NS_PER_S):
                return self.commit()
            return None

    def ingest_many(self, outputs: Iterable[PerceptionOutput]) -> int:
        """Ingest frames in order, then commit; returns ingested_through_ns."""
        for out in outputs:
            self.ingest(out)
        return self.commit()

    def commit(self) -> int:
        """Persist everything ingested so far (one transaction); returns ingested_through_ns."""
        with self._lock:
            st = self._store
            if st is not None:
                for t in self._dirty_tracks.values():
                    st.queue("INSERT OR REPLACE INTO tracks (id, status, class_id, first_seen_ns, last_seen_ns, "
                             "data) VALUES (?,?,?,?,?,?)",
                             (t.id, t.status, st.class_id(t.class_name), t.first_seen_ns, t.last_seen_ns,
                              dumps(t.to_json())))
                for s in self._dirty_stays.values():
                    st.queue("INSERT OR REPLACE INTO stays (id, object_id, start_ns, end_ns, x, y, z, place_id, "
                             "room_id, first_obs, last_obs, first_kf, last_kf, n_obs) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (s.id, s.object_id, s.start_ns, s.end_ns, float(s.pos[0]), float(s.pos[1]),
                              float(s.pos[2]), s.place_id, s.room_id, s.first_obs, s.last_obs, s.first_kf,
                              s.last_kf, s.n_obs))
                for pid in self._dirty_places:
                    p = self._places[pid]
                    st.queue("INSERT OR REPLACE INTO places (place_id, x, y, z, room_id, first_ns, last_ns) "
                             "VALUES (?,?,?,?,?,?,?)", (pid, float(p.pos[0]), float(p.pos[1]), float(p.pos[2]),
                                                        p.room_id, p.first_ns, p.last_ns))
                if self._dirty_episode and self._episodes:
                    s0, e0 = self._episodes[-1]
                    st.queue("INSERT OR REPLACE INTO episodes (id, start_ns, end_ns) VALUES (?,?,?)",
                             (len(self._episodes), s0, e0))
                if self._pending_through_ns > self._ingested_through_ns:
                    st.set_meta("ingested_through_ns", self._pending_through_ns)
                st.set_meta("last_retention_ns", self._last_retention_ns)
                st.commit()
                self._recent_obs.clear()
                self._recent_abs.clear()
            self._dirty_tracks.clear()
            self._dirty_stays.clear()
            self._dirty_places.clear()
            self._dirty_episode = False
            self._ingested_through_ns = max(self._ingested_through_ns, self._pending_through_ns)
            self._frames_since_commit = 0
            self._last_commit_stamp_ns = max(self._last_commit_stamp_ns, self._pending_through_ns)
            return self._ingested_through_ns

    # -- places, rooms, views
    def _ingest_places(self, pg: PlaceGraph) -> None:
        for p in pg.places:
            pos = np.asarray(p.position_m, float).reshape(3)
            if not np.all(np.isfinite(pos)):
                self._warnings.append(InputError("bad_place", f"place {p.place_id} has a non-finite position"))
                continue
            rec = self._places.get(p.place_id)
            first = p.first_observed_ns or pg.stamp_ns
            last = max(p.last_observed_ns, first)
            if rec is None:
                self._places[p.place_id] = PlaceRec(p.place_id, pos, p.room_id, first, last)
                self._dirty_places.add(p.place_id)
            elif (rec.room_id != p.room_id or rec.last_ns != last or np.any(np.abs(rec.pos - pos) > 1e-3)):
                rec.pos, rec.room_id, rec.last_ns = pos, p.room_id, max(rec.last_ns, last)
                self._dirty_places.add(p.place_id)
        rows = []
        for a, b in pg.edges:
            key = (min(a, b), max(a, b))
            if key not in self._edges:
                self._edges[key] = [pg.stamp_ns, pg.stamp_ns]
                rows.append((key[0], key[1], pg.stamp_ns, pg.stamp_ns))
        if self._store is not None and rows:
            self._store.queue_many("INSERT OR REPLACE INTO place_edges (a, b, first_ns, last_ns) VALUES (?,?,?,?)", rows)

    def _ingest_rooms(self, seg: RoomSegmentation) -> None:
        grid = np.asarray(seg.room_map)
        if grid.ndim != 2 or seg.resolution_m <= 0:
            self._warnings.append(InputError("bad_rooms", "room map must be 2-D with a positive resolution"))
            return
        self._room_map = RoomSegmentation(seg.stamp_ns, [], grid.astype(np.int16), float(seg.resolution_m),
                                          (float(seg.origin_xy_m[0]), float(seg.origin_xy_m[1])))
        rows = []
        for r in seg.rooms:
            label = self.vocab.resolve_room(r.label, allow_model=False)
            label_c = label[0] if label else (r.label or "unknown")
            old = self._rooms.get(r.room_id)
            first = old.first_ns if old else seg.stamp_ns
            rec = RoomRec(r.room_id, label_c, float(r.label_confidence), np.asarray(r.centroid_m, float).reshape(3),
                          float(r.area_m2), first, seg.stamp_ns)
            self._rooms[r.room_id] = rec
            rows.append((r.room_id, label_c, rec.confidence, *map(float, rec.centroid), rec.area_m2, first,
                         seg.stamp_ns))
        # rooms may have been re-cut: where each remembered object is now
        for t in list(self._tracks.values()):
            if not t.confirmed:
                continue
            rid = self._room_at(t.pos, t.stay.place_id)
            if rid != t.stay.room_id:
                t = self._own_track(t)
                t.stay.room_id = rid
                self._mark(t, stay=True)
        if self._store is not None:
            st = self._store
            st.queue_many("INSERT OR REPLACE INTO rooms (room_id, label, confidence, x, y, z, area_m2, first_ns, "
                          "last_ns) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            g = self._room_map.room_map
            st.queue("INSERT OR REPLACE INTO room_map (id, stamp_ns, rows, cols, resolution_m, origin_x, origin_y, "
                     "data) VALUES (1,?,?,?,?,?,?,?)",
                     (seg.stamp_ns, g.shape[0], g.shape[1], self._room_map.resolution_m,
                      self._room_map.origin_xy_m[0], self._room_map.origin_xy_m[1], g.tobytes()))

    def _room_at(self, pos: np.ndarray, place_id: int) -> int:
        if self._room_map is not None:
            rid = self._room_map.room_at(float(pos[0]), float(pos[1]))
            if rid >= 0:
                return rid
        p = self._places.get(place_id)
        return p.room_id if p is not None else -1

    def _ingest_view(self, v: View) -> bool:
        T = np.asarray(v.map_T_camera, float)
        depth = np.asarray(v.depth_m)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            self._warnings.append(InputError("bad_view_pose", f"view {v.view_id}: map_T_camera must be finite 4x4"))
            return False
        if depth.ndim != 2 or depth.shape != (v.intrinsics.height, v.intrinsics.width):
            self._warnings.append(InputError("bad_view_depth", f"view {v.view_id}: depth {depth.shape} does not "
                                             f"match intrinsics {v.intrinsics.width}x{v.intrinsics.height}"))
            return False
        if not v.view_id:
            self._warnings.append(InputError("bad_view_id", "view without an id"))
            return False
        ref = ""
        if v.color_jpeg and self._store is not None:
            ref = self._store.put_keyframe_file(bytes(v.color_jpeg))
        elif v.color_jpeg:
            from .store import keyframe_ref
            ref = keyframe_ref(bytes(v.color_jpeg))
        self._view_kf[v.view_id] = ref
        self._view_place[v.view_id] = v.place_id
        while len(self._view_kf) > 4096:
            self._view_kf.popitem(last=False)
            self._view_place.popitem(last=False)
        self._counts["views"] += 1
        if self._store is not None:
            st = self._store
            intr = v.intrinsics
            cam_pos = T[:3, 3]
            st.queue("INSERT OR REPLACE INTO views (view_id, stamp_ns, place_id, room_id, pose, intrinsics, "
                     "keyframe_ref, detected) VALUES (?,?,?,?,?,?,?,?)",
                     (v.view_id, int(v.stamp_ns), int(v.place_id), self._room_at(cam_pos, v.place_id),
                      T.astype(np.float64).tobytes(),
                      np.array([intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy], np.float64).tobytes(),
                      ref or None, dumps(list(v.detected_classes))))
            if ref:
                st.queue("INSERT OR IGNORE INTO keyframes (ref, stamp_ns, place_id, size_bytes) VALUES (?,?,?,?)",
                         (ref, int(v.stamp_ns), int(v.place_id), len(v.color_jpeg)))
        return True

    # -- observations and identity
    def _valid_obs(self, o: ObjectObservation) -> bool:
        try:
            c = np.asarray(o.centroid_m, float).reshape(3)
            bmin = np.asarray(o.bbox_min_m, float).reshape(3)
            bmax = np.asarray(o.bbox_max_m, float).reshape(3)
        except (ValueError, TypeError):
            self._warnings.append(InputError("bad_observation", "centroid/bbox must be 3-vectors"))
            return False
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(bmin)) and np.all(np.isfinite(bmax))):
            self._warnings.append(InputError("nan_observation", f"non-finite geometry for {o.class_name!r}"))
            return False
        if not o.class_name or not str(o.class_name).strip():
            self._warnings.append(InputError("bad_observation", "empty class name"))
            return False
        if not (0.0 <= float(o.score) <= 1.0) or not np.isfinite(o.score):
            self._warnings.append(InputError("bad_observation", f"score {o.score} outside [0, 1]"))
            return False
        return True

    def _rebuild_active(self) -> None:
        ids = list(self._tracks)
        self._act_ids = ids
        self._act_slot = {tid: i for i, tid in enumerate(ids)}
        self._act_pos = np.array([self._tracks[i].pos for i in ids], float).reshape(-1, 3)
        self._active_dirty = False

    def _ingest_observations(self, t: int, out: PerceptionOutput) -> Set[int]:
        obs = [o for o in out.observations if self._valid_obs(o)]
        if not obs:
            return set()
        cfg = self.config.association
        if self._active_dirty:
            self._rebuild_active()
        n = len(obs)
        ids = list(range(self._next["obs"], self._next["obs"] + n))
        self._next["obs"] += n
        canon = [self.vocab.canonical(o.class_name) for o in obs]
        pos = np.array([np.asarray(o.centroid_m, float).reshape(3) for o in obs])
        colors = np.array([np.asarray(o.color_rgb, float).reshape(3) for o in obs])
        apps = []
        for o in obs:
            a = None if o.appearance is None else np.asarray(o.appearance, np.float32).ravel()
            if a is not None and a.size:
                nrm = float(np.linalg.norm(a))
                a = a / nrm if nrm > 0 and np.isfinite(nrm) else None
            else:
                a = None
            apps.append(a)
        eligible = [i for i, o in enumerate(obs) if float(o.score) >= cfg.min_score]
        matches: List[Tuple[int, int, float]] = []
        if eligible and self._act_ids:
            trk = [self._tracks[i] for i in self._act_ids]
            gates = np.array([max(cfg.gate_m, cfg.gate_extent_factor * tr.extent_m) for tr in trk])
            el = np.array(eligible)
            raw = associate(cfg, pos[el], [canon[i] for i in eligible], colors[el], [apps[i] for i in eligible],
                            self._act_pos, gates, [tr.class_name for tr in trk],
                            np.array([tr.color for tr in trk]).reshape(-1, 3), [tr.appearance for tr in trk],
                            self._class_sim, [str(obs[i].class_name) for i in eligible],
                            [tr.raw_votes for tr in trk])
            matches = [(eligible[a], b, c) for a, b, c in raw]
        obs_track = [-1] * n
        matched: Set[int] = set()
        for i, slot, _ in matches:
            tid = self._act_ids[slot]
            obs_track[i] = tid
            matched.add(tid)
        new_tracks = []
        for i in eligible:
            if obs_track[i] < 0:
                tid = self._next["track"]
                self._next["track"] += 1
                obs_track[i] = tid
                new_tracks.append(i)
        # tracks detected in one frame near each other are distinct objects (never absorbed or fused)
        self._frame_cooc = {}
        near = cfg.cooccur_radius_m
        for a_i, i in enumerate(eligible):
            for j in eligible[a_i + 1:]:
                if float(np.linalg.norm(pos[i] - pos[j])) <= near:
                    self._frame_cooc.setdefault(obs_track[i], set()).add(obs_track[j])
                    self._frame_cooc.setdefault(obs_track[j], set()).add(obs_track[i])
        # rows first (ids are fixed), then track updates
        place_default = out.place_id
        rows = []
        for i, o in enumerate(obs):
            place = o.place_id if o.place_id >= 0 else place_default
            room = self._room_at(pos[i], place)
            geom = np.concatenate([pos[i], np.asarray(o.bbox_min_m, float).reshape(3),
                                   np.asarray(o.bbox_max_m, float).reshape(3), colors[i],
                                   [float(o.distance_m)]]).astype(np.float32).tobytes()
            rows.append((ids[i], int(o.stamp_ns or t), obs_track[i] if obs_track[i] >= 0 else None,
                         canon[i], o.class_name, float(o.score), int(place), int(room), o.view_id or
                         (out.view.view_id if out.view is not None else ""), geom, int(o.num_points),
                         None if apps[i] is None else apps[i].astype(np.float32).tobytes()))
        self._counts["observations"] += n
        st = self._store
        if st is not None:
            st.queue_many("INSERT INTO observations (id, stamp_ns, object_id, class_id, raw_class_id, score, "
                          "place_id, room_id, view_id, geom, num_points, appearance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                          [(r[0], r[1], r[2], st.class_id(r[3]), st.class_id(self._raw_name(r[4])), *r[5:])
                           for r in rows])
        for r in rows:
            if r[2] is not None:
                self._recent_obs.append((r[1], r[2], r[0]))
        self.last_assignment = [(r[0], r[2]) for r in rows if r[2] is not None]
        for i, slot, _ in matches:
            self._update_track(self._tracks[self._act_ids[slot]], obs[i], ids[i], canon[i], pos[i], colors[i],
                               apps[i], rows[i][6], rows[i][7], rows[i][8], t)
        for i in new_tracks:
            self._new_track(obs_track[i], obs[i], ids[i], canon[i], pos[i], colors[i], apps[i],
                            rows[i][6], rows[i][7], rows[i][8], t)
        self._consolidate({self.resolve_track_id(obs_track[i]) for i in eligible})
        return matched

    def _class_sim(self, a: str, b: str) -> float:
        """1 for the same canonical class, 0.85 when one is a kind of the other, else the vocabulary's
        embedding similarity (which never makes look-alike but distinct classes equal)."""
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        hit = self._sim_cache.get(key)
        if hit is None:
            if self.vocab.is_a(a, b) or self.vocab.is_a(b, a):
                hit = 0.85
            else:
                hit = self.vocab.class_similarity(a, b)
            self._sim_cache[key] = hit
        return hit

    @staticmethod
    def _raw_name(name: str) -> str:
        return str(name).strip()

    def _mark(self, t: Track, stay: bool = False) -> None:
        self._dirty_tracks[t.id] = t
        if stay and t.stays:
            self._dirty_stays[t.stay.id] = t.stay

    def _new_track(self, tid: int, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray, color: np.ndarray,
                   app: Optional[np.ndarray], place: int, room: int, view_id: str, t: int) -> None:
        stamp = int(o.stamp_ns or t)
        kf = self._view_kf.get(view_id, "")
        sid = self._next["stay"]
        self._next["stay"] += 1
        tr = Track(id=tid, status=TENTATIVE, class_name=cls, first_seen_ns=stamp, last_seen_ns=stamp,
                   pos=pos.copy(), bbox_min=np.asarray(o.bbox_min_m, float).reshape(3).copy(),
                   bbox_max=np.asarray(o.bbox_max_m, float).reshape(3).copy(), color=color.copy(),
                   appearance=None if app is None else app.copy(), votes={cls: float(o.score)},
                   label=str(o.class_name), raw_votes={str(o.class_name): float(o.score)}, hits=1, n_window=1,
                   stays=[Stay(sid, tid, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1)],
                   owner=self._gen)
        tr.cooccur |= self._frame_cooc.get(tid, set())
        self._tracks[tid] = tr
        self._active_dirty = True
        self._mark(tr, stay=True)
        if self.config.association.confirm_hits <= 1:
            self._confirm(tr, t)

    def _update_track(self, tr: Track, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray,
                      color: np.ndarray, app: Optional[np.ndarray], place: int, room: int, view_id: str,
                      t: int) -> None:
        cfg = self.config.association
        tr = self._own_track(tr)
        stamp = int(o.stamp_ns or t)
        kf = self._view_kf.get(view_id, "")
        if tr.confirmed:
            self._class_stats.setdefault(tr.class_name, MoveStats()).exposure_days += \
                max(0, stamp - tr.last_seen_ns) / NS_PER_DAY
        was_missing = tr.status == MISSING
        if was_missing:
            self._reappeared(tr, pos, stamp, oid, kf)
        tr.absences_since_seen = 0
        tr.absence_views.clear()
        tr.absence_stamps.clear()
        w = float(o.score)
        tr.votes[cls] = tr.votes.get(cls, 0.0) + w
        raw = str(o.class_name)
        tr.raw_votes[raw] = tr.raw_votes.get(raw, 0.0) + w
        tr.label = max(tr.raw_votes.items(), key=lambda kv: kv[1])[0]
        best = max(tr.votes.items(), key=lambda kv: kv[1])[0]
        if best != tr.class_name:
            if tr.confirmed:
                self._class_index.get(tr.class_name, set()).discard(tr.id)
                self._class_index.setdefault(best, set()).add(tr.id)
            tr.class_name = best
        tr.hits += 1
        tr.last_seen_ns = max(tr.last_seen_ns, stamp)
        k = min(tr.hits, cfg.position_window)
        tr.color += (color - tr.color) / k
        tr.bbox_min += (np.asarray(o.bbox_min_m, float).reshape(3) - tr.bbox_min) / k
        tr.bbox_max += (np.asarray(o.bbox_max_m, float).reshape(3) - tr.bbox_max) / k
        if app is not None:
            if tr.appearance is None or tr.appearance.shape != app.shape:
                tr.appearance = app.copy()
            else:
                a = tr.appearance + (app - tr.appearance) / k
                nrm = float(np.linalg.norm(a))
                tr.appearance = a / nrm if nrm > 0 else app.copy()
        st = tr.stay
        d = float(np.linalg.norm(pos - st.pos))
        split = max(cfg.stay_split_m, 0.25 * tr.extent_m)
        if tr.confirmed and d > split and tr.n_window >= cfg.stay_split_hits:
            tr.drift_hits += 1
            tr.drift_sum = pos.copy() if tr.drift_sum is None else tr.drift_sum + pos
            if tr.drift_hits >= cfg.stay_split_hits:
                new_pos = tr.drift_sum / tr.drift_hits
                tr.drift_hits, tr.drift_sum = 0, None
                self._start_stay(tr, new_pos, stamp, oid, kf, place, room, moved=True)
                return
        else:
            tr.drift_hits, tr.drift_sum = 0, None
            tr.n_window = min(tr.n_window + 1, cfg.position_window)
            st.pos = st.pos + (pos - st.pos) / tr.n_window
            tr.pos = st.pos.copy()
        st.end_ns = max(st.end_ns, stamp)
        st.last_obs = oid
        if kf:
            st.last_kf = kf
            if not st.first_kf:
                st.first_kf = kf
        st.n_obs += 1
        if st.place_id < 0 and place >= 0:
            st.place_id = place
        if st.room_id < 0 and room >= 0:
            st.room_id = room
        slot = self._act_slot.get(tr.id)
        if slot is not None and not self._active_dirty:
            self._act_pos[slot] = tr.pos
        self._mark(tr, stay=True)
        tr.cooccur |= self._frame_cooc.get(tr.id, set())
        if tr.status == TENTATIVE:
            if tr.hits >= cfg.confirm_hits:
                self._confirm(tr, t)
        elif was_missing:
            # found again: another missing track may be this very object, remembered at an old spot
            m = self._best_reid(tr, [x for x in self._tracks.values() if x.status == MISSING and x.id != tr.id],
                                extra=lambda x: not self._coexisted(x, tr))
            if m is not None:
                if m.first_seen_ns < tr.first_seen_ns:
                    self._merge(new=tr, old=m)
                else:
                    self._merge(new=m, old=tr)

    def _start_stay(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str, place: int, room: int,
                    moved: bool) -> None:
        """Close the current stay and open one at ``pos`` (a move within the gate)."""
        old = tr.stay
        self._dirty_stays[old.id] = old
        sid = self._next["stay"]
        self._next["stay"] += 1
        room = self._room_at(pos, place) if room < 0 else room
        tr.stays.append(Stay(sid, tr.id, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1))
        tr.pos = pos.copy()
        tr.n_window = 1
        self._receptacle_cache.pop((tr.id, old.id), None)
        slot = self._act_slot.get(tr.id)
        if slot is not None and not self._active_dirty:
            self._act_pos[slot] = tr.pos
        if moved and tr.confirmed:
            tr.n_moves += 1
            self._class_stats.setdefault(tr.class_name, MoveStats()).moves += 1
            ev = Evidence([object_id_str(tr.id)], [old.last_obs, oid], [p for p in (old.place_id, place) if p >= 0],
                          [old.end_ns, stamp], [r for r in (old.last_kf, kf) if r])
            self._add_event("moved", tr, stamp, old.pos, pos, old.room_id, room, ev)
        self._mark(tr, stay=True)

    def _confirm(self, tr: Track, t: int) -> None:
        tr = self._own_track(tr)
        host = self._absorbing_host(tr)
        if host is not None:
            self._absorb(tr, host)
            return
        tr.status = PRESENT
        tr.confirmed_ns = t
        self._class_index.setdefault(tr.class_name, set()).add(tr.id)
        self._class_stats.setdefault(tr.class_name, MoveStats()).exposure_days += \
            max(0, tr.last_seen_ns - tr.first_seen_ns) / NS_PER_DAY
        self._mark(tr, stay=True)
        # a confirmed newcomer may be a remembered object that moved while memory was not looking
        m = self._best_reid(tr, candidates=[x for x in self._tracks.values()
                                            if x.status == MISSING and x.id != tr.id
                                            and x.last_seen_ns < tr.first_seen_ns])
        if m is not None:
            self._merge(new=tr, old=m)
            return
        self._maybe_appeared(tr)

    def _absorbing_host(self, tr: Track) -> Optional[Track]:
        """A confirmed object of another class right where ``tr`` is, seen far more often and never in the
        same frame as it: ``tr`` is that object's confused detections."""
        cfg = self.config.association
        best, best_d = None, cfg.absorb_radius_m
        recent = tr.first_seen_ns - int(cfg.tentative_ttl_s * NS_PER_S)
        seen_with = {self.resolve_track_id(c) for c in tr.cooccur}
        for x in self._tracks.values():
            if x.status != PRESENT or x.id == tr.id or x.id in seen_with or x.class_name == tr.class_name:
                continue
            if x.hits < cfg.absorb_hits_ratio * tr.hits or x.last_seen_ns < recent:
                continue          # the host must be in view in this very pass, and well established
            d = float(np.linalg.norm(x.pos - tr.pos))
            if d <= best_d:
                best, best_d = x, d
        return best

    def _consolidate(self, touched: Set[int]) -> None:
        """Two confirmed records right next to each other that were never detected in one frame are one
        object: the same class -> fuse them (duplicates from a gap in tracking); another class seen far
        less often -> it was the detector's confusion of its neighbour, absorb it."""
        cfg = self.config.association
        live = [self._tracks[i] for i in touched if i in self._tracks and self._tracks[i].confirmed]
        if not live:
            return
        if self._active_dirty:
            self._rebuild_active()
        for tr in live:
            if tr.id not in self._tracks:
                continue
            d = np.linalg.norm(self._act_pos - tr.pos[None, :], axis=1)
            for k in np.flatnonzero(d <= cfg.absorb_radius_m):
                other = self._tracks.get(self._act_ids[k])
                if other is None or other.id == tr.id or not other.confirmed or tr.id not in self._tracks:
                    continue
                seen_with = {self.resolve_track_id(c) for c in tr.cooccur | other.cooccur}
                if other.id in seen_with or tr.id in seen_with or not self._coexisted(tr, other):
                    continue          # seen together, or at different times (one replaced the other)
                small, big = (tr, other) if tr.hits <= other.hits else (other, tr)
                if self._class_sim(tr.class_name, other.class_name) >= 0.99:
                    if color_distance(tr.color, other.color) > cfg.reid_max_color_distance:
                        continue
                    older, younger = (tr, other) if tr.first_seen_ns <= other.first_seen_ns else (other, tr)
                    self._merge(new=younger, old=older)
                elif big.hits >= cfg.absorb_hits_ratio * small.hits and small.hits <= 2 * cfg.confirm_hits:
                    self._absorb(small, big)        # only a young record: an established one is an object
                else:
                    continue
                if self._active_dirty:
                    self._rebuild_active()
                break

    def _absorb(self, tr: Track, host: Track) -> None:
        host = self._own_track(host)
        tr = self._own_track(tr)
        if tr.confirmed:               # a phantom object: nothing it "did" happened
            self._class_index.get(tr.class_name, set()).discard(tr.id)
            for e in [e for e in self._events if e.object_id == tr.id]:
                self._delete_event(e.id)
            if self._store is not None:
                self._store.queue("UPDATE absences SET object_id = ? WHERE object_id = ?", (host.id, tr.id))
        for k, v in tr.votes.items():
            host.votes[k] = host.votes.get(k, 0.0) + v
        for k, v in tr.raw_votes.items():
            host.raw_votes[k] = host.raw_votes.get(k, 0.0) + v
        host.hits += tr.hits
        host.last_seen_ns = max(host.last_seen_ns, tr.last_seen_ns)
        hs = host.stay
        hs.end_ns = max(hs.end_ns, tr.last_seen_ns)
        hs.n_obs += sum(x.n_obs for x in tr.stays)
        host.cooccur |= tr.cooccur
        tr.status = MERGED
        tr.merged_into = host.id
        self._merged[tr.id] = host.id
        del self._tracks[tr.id]
        for s in tr.stays:
            self._dirty_stays.pop(s.id, None)
        self._active_dirty = True
        self._mark(tr)
        self._mark(host, stay=True)
        for i, (s, oid, o) in enumerate(self._recent_obs):
            if oid == tr.id:
                self._recent_obs[i] = (s, host.id, o)
        if self._store is not None:
            self._store.queue("DELETE FROM stays WHERE object_id = ?", (tr.id,))
            self._store.queue("UPDATE observations SET object_id = ? WHERE object_id = ?", (host.id, tr.id))

    def _maybe_appeared(self, tr: Track) -> None:
        cfg = self.config.events
        st = tr.stay
        p = self._places.get(st.place_id)
        known_since = p.first_ns if p is not None else (self._episodes[0][0] if self._episodes else tr.first_seen_ns)
        if tr.first_seen_ns - known_since >= cfg.appear_after_s * NS_PER_S:
            ev = Evidence([object_id_str(tr.id)], [st.first_obs], [st.place_id] if st.place_id >= 0 else [],
                          [st.start_ns], [st.first_kf] if st.first_kf else [])
            e = self._add_event("appeared", tr, st.start_ns, None, st.pos, -1, st.room_id, ev)
            tr.appeared_event = e.id

    def _reid_cost(self, a: Track, b: Track) -> float:
        cfg = self.config.association
        c = color_distance(a.color, b.color)
        if c > cfg.reid_max_color_distance:
            return float("inf")
        label = 0.0 if (a.label == b.label or not a.label or not b.label) else cfg.weight_label
        return c + appearance_cost(a.appearance, b.appearance) + label

    def _best_reid(self, tr: Track, candidates: Iterable[Track], extra=None) -> Optional[Track]:
        """The cheapest same-class, same-looking candidate (``extra(candidate)`` must hold too)."""
        cfg = self.config.association
        best, best_cost = None, cfg.reid_max_cost
        for m in candidates:
            if self._class_sim(m.class_name, tr.class_name) < 0.99:
                continue
            c = self._reid_cost(m, tr)
            if c > best_cost or (extra is not None and not extra(m)):
                continue
            if c < best_cost or (c == best_cost and best is not None and m.last_seen_ns > best.last_seen_ns):
                best, best_cost = m, c
        return best

    def _coexisted(self, a: Track, b: Track) -> bool:
        """True if a and b were seen within coexist_window_s of each other at least once (then they are
        two objects: one object cannot be at two places in one patrol)."""
        w = int(self.config.association.coexist_window_s * NS_PER_S)
        sa, sb = a.stays, b.stays
        i = j = 0
        while i < len(sa) and j < len(sb):
            x, y = sa[i], sb[j]
            if x.start_ns - w <= y.end_ns and y.start_ns - w <= x.end_ns:
                return True
            if x.end_ns < y.end_ns:
                i += 1
            else:
                j += 1
        return False

    def _merge(self, new: Track, old: Track) -> None:
        """``new`` and ``old`` are one object seen at different places at different times (it moved while
        memory was not looking): keep old's identity, interleave their stays in time, and log a move at
        every hand-over between them."""
        drop = self._own_track(new)
        keep = self._own_track(old)
        missing = keep if keep.status == MISSING else (drop if drop.status == MISSING else None)
        absence_views = list(missing.absence_views) if missing is not None else []
        absence_stamps = list(missing.absence_stamps) if missing is not None else []
        latest = drop if drop.last_seen_ns > keep.last_seen_ns else keep
        missing_last = missing.stays[-1] if missing is not None else None
        latest_status = latest.status
        latest_abs = (latest.absences_since_seen, list(latest.absence_views), list(latest.absence_stamps))
        from_drop = {s.id for s in drop.stays}
        for s in drop.stays:
            s.object_id = keep.id
            self._dirty_stays[s.id] = s
        keep.stays = sorted(keep.stays + drop.stays, key=lambda s: (s.start_ns, s.id))
        if latest is drop:
            keep.pos = drop.pos.copy()
            keep.bbox_min, keep.bbox_max = drop.bbox_min.copy(), drop.bbox_max.copy()
            keep.n_window = drop.n_window
            if drop.appearance is not None:
                keep.appearance = drop.appearance.copy()
        keep.color = (keep.color + drop.color) / 2.0
        for k, v in drop.votes.items():
            keep.votes[k] = keep.votes.get(k, 0.0) + v
        for k, v in drop.raw_votes.items():
            keep.raw_votes[k] = keep.raw_votes.get(k, 0.0) + v
        keep.hits += drop.hits
        keep.cooccur |= drop.cooccur
        keep.first_seen_ns = min(keep.first_seen_ns, drop.first_seen_ns)
        keep.last_seen_ns = max(keep.last_seen_ns, drop.last_seen_ns)
        # the object is now what the most recently seen of the two says
        keep.status = MISSING if latest_status == MISSING else PRESENT
        keep.absences_since_seen, keep.absence_views, keep.absence_stamps = latest_abs
        # the newcomer's "appeared" and the missing one's "disappeared" are explained by the move
        for eid in (drop.appeared_event, missing.disappeared_event if missing is not None else -1):
            if eid >= 0:
                self._delete_event(eid)
        drop.appeared_event = -1
        if missing is not None:
            missing.disappeared_event = -1
        drop.status = MERGED
        drop.merged_into = keep.id
        self._merged[drop.id] = keep.id
        self._class_index.get(drop.class_name, set()).discard(drop.id)
        self._class_index.setdefault(keep.class_name, set()).add(keep.id)
        del self._tracks[drop.id]
        self._active_dirty = True
        self._mark(drop)
        self._mark(keep, stay=True)
        # a move at every hand-over between the two former tracks
        stats = self._class_stats.setdefault(keep.class_name, MoveStats())
        for a, b in zip(keep.stays, keep.stays[1:]):
            if ((a.id in from_drop) == (b.id in from_drop)
                    or float(np.linalg.norm(a.pos - b.pos)) <= self.config.association.stay_split_m):
                continue
            kfs = [a.last_kf, b.first_kf]
            stamps = [a.end_ns, b.start_ns]
            if a is missing_last:
                kfs[1:1] = [self._view_kf.get(v, "") for v in absence_views]
                stamps[1:1] = absence_stamps
            ev = Evidence([object_id_str(keep.id)], [a.last_obs, b.first_obs],
                          [p for p in (a.place_id, b.place_id) if p >= 0], stamps,
                          list(dict.fromkeys(k for k in kfs if k)))
            self._add_event("moved", keep, b.start_ns, a.pos, b.pos, a.room_id, b.room_id, ev)
            keep.n_moves += 1
            stats.moves += 1
        for i, (st_ns, oid, o) in enumerate(self._recent_obs):
            if oid == drop.id:
                self._recent_obs[i] = (st_ns, keep.id, o)
        if self._store is not None:
            self._store.queue("UPDATE observations SET object_id = ? WHERE object_id = ?", (keep.id, drop.id))
            self._store.queue("UPDATE absences SET object_id = ? WHERE object_id = ?", (keep.id, drop.id))

    def _reappeared(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str) -> None:
        """A missing object is seen again near where it was: the absences were misses, or it came back."""
        tr.status = PRESENT
        ab = self.config.absence
        if tr.disappeared_event >= 0:
            ev = self._find_event(tr.disappeared_event)
            if ev is None:
                pass                      # the event was forgotten
            elif stamp - ev.stamp_ns <= ab.retract_disappeared_s * NS_PER_S:
                self._delete_event(ev.id)
            else:
                st = tr.stay
                e = Evidence([object_id_str(tr.id)], [oid], [st.place_id] if st.place_id >= 0 else [], [stamp],
                             [kf] if kf else [])
                self._add_event("appeared", tr, stamp, None, pos, -1, st.room_id, e)
            tr.disappeared_event = -1

    def _expire_tentative(self, t: int) -> None:
        ttl = int(self.config.association.tentative_ttl_s * NS_PER_S)
        if not self._tracks:
            return
        dead = [tr for tr in self._tracks.values() if tr.status == TENTATIVE and t - tr.last_seen_ns > ttl]
        for tr in dead:
            self._reject(tr)

    def _reject(self, tr: Track) -> None:
        tr = self._own_track(tr)
        tr.status = REJECTED
        del self._tracks[tr.id]
        self._active_dirty = True
        self._mark(tr)
        for s in tr.stays:
            self._dirty_stays.pop(s.id, None)
        if self._store is not None:
            self._store.queue("DELETE FROM stays WHERE object_id = ?", (tr.id,))

    # -- negative evidence
    def _absences_from_view(self, v: View, matched: Set[int]) -> None:
        if not self._tracks:
            return
        if self._active_dirty:
            self._rebuild_active()
        cam = np.asarray(v.map_T_camera, float)[:3, 3]
        ab = self.config.absence
        d = np.linalg.norm(self._act_pos - cam[None, :], axis=1)
        near = np.flatnonzero(d <= ab.max_range_m + 0.5)
        cand = [self._act_ids[i] for i in near
                if self._act_ids[i] not in matched and self._tracks[self._act_ids[i]].status in (PRESENT, TENTATIVE)]
        if not cand:
            return
        trs = [self._tracks[i] for i in cand]
        pts = np.array([tr.pos for tr in trs])
        half = np.array([0.5 * tr.extent_m for tr in trs])
        vis = visibility(ab, v, pts, half)
        stamp = int(v.stamp_ns)
        rows = []
        for tr, s in zip(trs, vis):
            if s != VISIBLE or stamp <= tr.last_seen_ns:
                continue
            if tr.status == TENTATIVE:
                if tr.hits <= 1 or stamp - tr.last_seen_ns > NS_PER_S:
                    self._reject(tr)          # a one-off (false positive) not there when looked at again
                continue
            tr = self._own_track(tr)
            aid = self._next["absence"]
            self._next["absence"] += 1
            p = tr.pos
            rows.append((aid, tr.id, stamp, v.view_id, float(p[0]), float(p[1]), float(p[2])))
            self._recent_abs.append((stamp, tr.id, v.view_id, (float(p[0]), float(p[1]), float(p[2]))))
            tr.absences_since_seen += 1
            tr.absence_views = (tr.absence_views + [v.view_id])[-_MAX_ABSENCE_VIEWS:]
            tr.absence_stamps = (tr.absence_stamps + [stamp])[-_MAX_ABSENCE_VIEWS:]
            self._mark(tr)
            if tr.absences_since_seen >= ab.missing_after_absences:
                self._went_missing(tr, stamp)
        if rows and self._store is not None:
            self._store.queue_many("INSERT INTO absences (id, object_id, stamp_ns, view_id, x, y, z) "
                                   "VALUES (?,?,?,?,?,?,?)", rows)

    def _went_missing(self, tr: Track, stamp: int) -> None:
        tr.status = MISSING
        st = tr.stay
        kfs = [st.last_kf] + [self._view_kf.get(v, "") for v in tr.absence_views]
        ev = Evidence([object_id_str(tr.id)], [st.last_obs], [st.place_id] if st.place_id >= 0 else [],
                      [st.end_ns] + list(tr.absence_stamps), list(dict.fromkeys(k for k in kfs if k)))
        e = self._add_event("disappeared", tr, stamp, st.pos, None, st.room_id, -1, ev)
        tr.disappeared_event = e.id
        self._mark(tr)
        # it may already be known elsewhere: a newcomer of its class first seen after it was last seen here
        n = self._best_reid(tr, [x for x in self._tracks.values() if x.status == PRESENT and x.id != tr.id],
                            extra=lambda x: x.first_seen_ns > tr.last_seen_ns or not self._coexisted(x, tr))
        if n is not None:
            if n.first_seen_ns < tr.first_seen_ns:
                self._merge(new=tr, old=n)          # the older identity survives
            else:
                self._merge(new=n, old=tr)

    # -- events
    def _add_event(self, kind: str, tr: Track, stamp: int, from_pos, to_pos, from_room: int, to_room: int,
                   ev: Evidence) -> EventRec:
        eid = self._next["event"]
        self._next["event"] += 1
        e = EventRec(eid, kind, tr.id, tr.class_name, int(stamp),
                     None if from_pos is None else np.asarray(from_pos, float).copy(),
                     None if to_pos is None else np.asarray(to_pos, float).copy(), from_room, to_room, ev)
        key = (e.stamp_ns, e.id)
        i = bisect.bisect_right(self._event_keys, key)
        self._event_keys.insert(i, key)
        self._events.insert(i, e)
        if self._store is not None:
            self._store.queue("INSERT INTO events (id, kind, object_id, stamp_ns, data) VALUES (?,?,?,?,?)",
                              (eid, kind, tr.id, e.stamp_ns, dumps(e.to_json())))
        return e

    def _find_event(self, eid: int) -> Optional[EventRec]:
        for e in reversed(self._events):
            if e.id == eid:
                return e
        return None

    def _delete_event(self, eid: int) -> None:
        for i in range(len(self._events) - 1, -1, -1):
            if self._events[i].id == eid:
                del self._events[i]
                del self._event_keys[i]
                break
        if self._store is not None:
            self._store.queue("DELETE FROM events WHERE id = ?", (eid,))

    def _update_episode(self, t: int) -> None:
        gap = int(self.config.events.episode_gap_s * NS_PER_S)
        if not self._episodes or t - self._episodes[-1][1] > gap:
            if self._episodes and self._dirty_episode and self._store is not None:
                s0, e0 = self._episodes[-1]
                self._store.queue("INSERT OR REPLACE INTO episodes (id, start_ns, end_ns) VALUES (?,?,?)",
                                  (len(self._episodes), s0, e0))
            self._episodes.append([t, t])
        else:
            self._episodes[-1][1] = max(self._episodes[-1][1], t)
        self._dirty_episode = True

    # -------------------------------------------------------------------------------- retention
    def apply_retention(self, now_ns: int) -> int:
        """Thin keyframes older than keep_all_days: keep those cited by events or by the first/last
        sighting of a stay, plus keep_per_place_per_day per place and day. Returns how many were thinned
        (their files go after the next commit)."""
        with self._lock:
            self._last_retention_ns = now_ns
            st = self._store
            if st is None:
                return 0
            cfg = self.config.retention
            cutoff = now_ns - int(cfg.keep_all_days * NS_PER_DAY)
            done = int(st.meta("retention_done_ns", "-1"))
            if cutoff <= done:
                return 0
            protected: Set[str] = set()
            for e in self._events:
                protected.update(e.evidence.keyframe_refs)
            for (ref,) in st.query("SELECT first_kf FROM stays UNION SELECT last_kf FROM stays"):
                protected.add(ref)
            for t in self._tracks.values():
                for s in t.stays:
                    protected.add(s.first_kf)
                    protected.add(s.last_kf)
            rows = st.query("SELECT ref, stamp_ns, place_id FROM keyframes WHERE thinned = 0 AND stamp_ns > ? "
                            "AND stamp_ns <= ? ORDER BY stamp_ns", (done, cutoff))
            kept_per: Dict[Tuple[int, int], int] = {}
            thin = []
            for ref, stamp, place in rows:
                key = (place, stamp // NS_PER_DAY)
                if ref in protected:
                    continue
                if kept_per.get(key, 0) < cfg.keep_per_place_per_day:
                    kept_per[key] = kept_per.get(key, 0) + 1
                    continue
                thin.append(ref)
            if thin:
                st.queue_many("UPDATE keyframes SET thinned = 1 WHERE ref = ?", [(r,) for r in thin])
                st.delete_keyframe_files_later(thin)
            st.set_meta("retention_done_ns", cutoff)
            return len(thin)

    # ------------------------------------------------------------------------------ MemoryView
    def now_ns(self) -> int:
        return self._now_ns

    def _resolve(self, query: str) -> Tuple[Optional[int], Tuple[str, ...]]:
        """(object id, ()) for an id; (None, stored classes it names) for a class phrase."""
        q = str(query).strip()
        oid = parse_object_id(q) if q.startswith("obj_") else None
        if oid is not None:
            return oid, ()
        hit = self._query_cache.get(q)
        if hit is not None:
            return None, hit
        res = self.vocab.resolve_class(q, allow_model=False)
        if res is None and not self.vocab.is_known(q):
            res = self.vocab.resolve_class(q)     # may load the embedding model once
        general = res[0] if res else self.vocab.canonical(q)
        stored = tuple(c for c in self._class_index if c == general or self.vocab.is_a(c, general))
        if len(self._query_cache) > 4096:
            self._query_cache.clear()
        self._query_cache[q] = stored
        return None, stored

    def _tracks_for(self, query: str) -> List[Track]:
        oid, classes = self._resolve(query)
        if oid is not None:
            t = self._tracks.get(oid)
            return [t] if t is not None and t.confirmed else []
        out: List[Track] = []
        for c in classes:
            out.extend(self._tracks[i] for i in self._class_index.get(c, ()) if i in self._tracks)
        return out

    def _track(self, object_id: str) -> Track:
        oid = parse_object_id(object_id)
        t = self._tracks.get(oid) if oid is not None else None
        if t is None or not t.confirmed:
            raise NotFoundError(f"no object {object_id!r}")
        return t

    def _stay_at(self, t: Track, t_ns: Optional[int]) -> Optional[Stay]:
        if t_ns is None:
            return t.stay
        starts = [s.start_ns for s in t.stays]
        i = bisect.bisect_right(starts, t_ns) - 1
        return t.stays[i] if i >= 0 else None

    def _stay_evidence(self, t: Track, s: Stay) -> Evidence:
        obs = [s.first_obs] if s.first_obs == s.last_obs else [s.first_obs, s.last_obs]
        stamps = [s.start_ns] if s.start_ns == s.end_ns else [s.start_ns, s.end_ns]
        kfs = list(dict.fromkeys(k for k in (s.first_kf, s.last_kf) if k))
        return Evidence([object_id_str(t.id)], obs, [s.place_id] if s.place_id >= 0 else [], stamps, kfs)

    def _p_still_there(self, t: Track, s: Stay, t_ns: int) -> float:
        nxt = None
        for x in t.stays:
            if x.start_ns > s.start_ns:
                nxt = x
                break
        if nxt is not None and t_ns >= nxt.start_ns:
            return 0.0
        if t_ns <= s.end_ns:
            return 1.0
        alpha, beta = self._object_gamma(t)
        p = p_no_move(alpha, beta, t_ns - s.end_ns)
        if nxt is None and t.absence_stamps:
            if t_ns >= t.absence_stamps[-1]:
                k = t.absences_since_seen
            else:
                k = sum(1 for a in t.absence_stamps if a <= t_ns)
            ab = self.config.absence
            p = with_absences(p, k, ab.detector_miss_prob, ab.unexplained_change_prob)
        return p

    def _object_gamma(self, t: Track) -> Tuple[float, float]:
        cfg = self.config.staleness
        stats = self._class_stats.get(t.class_name, MoveStats())
        a_c, b_c = class_posterior(cfg, self.vocab.category(t.class_name), stats)
        a0, b0 = object_prior(cfg, a_c, b_c)
        exposure = max(0, t.last_seen_ns - t.first_seen_ns) / NS_PER_DAY
        return a0 + t.n_moves, b0 + exposure

    def _receptacle(self, t: Track, s: Stay) -> str:
        key = (t.id, s.id)
        hit = self._receptacle_cache.get(key)
        if hit is not None:
            return hit
        best, best_d = "", 1e9
        p = s.pos
        for c, ids in self._class_index.items():
            if c == t.class_name or not self.vocab.is_receptacle(c):
                continue
            for i in ids:
                f = self._tracks.get(i)
                if f is None or f.id == t.id:
                    continue
                lo, hi = f.bbox_min - 0.15, f.bbox_max + 0.15
                if lo[0] <= p[0] <= hi[0] and lo[1] <= p[1] <= hi[1] and p[2] >= f.bbox_min[2] - 0.1:
                    dz = abs(p[2] - f.bbox_max[2])
                    dxy = float(np.linalg.norm(p[:2] - f.pos[:2]))
                    d = dz + 0.1 * dxy
                    if d < best_d:
                        best, best_d = c, d
        if len(self._receptacle_cache) > 100_000:
            self._receptacle_cache.clear()
        self._receptacle_cache[key] = best
        return best

    def _sighting(self, t: Track, s: Stay, t_ns: Optional[int], last_seen_ns: Optional[int] = None,
                  evidence: Optional[Evidence] = None) -> Sighting:
        at = self._now_ns if t_ns is None else t_ns
        return Sighting(object_id=object_id_str(t.id), class_name=t.class_name, position_m=s.pos.copy(),
                        place_id=s.place_id, room_id=s.room_id, first_seen_ns=s.start_ns,
                        last_seen_ns=s.end_ns if last_seen_ns is None else last_seen_ns,
                        p_still_there=self._p_still_there(t, s, at),
                        color_rgb=tuple(float(c) for c in t.color), receptacle=self._receptacle(t, s),
                        evidence=evidence or self._stay_evidence(t, s))

    def _last_obs_before(self, t: Track, before_ns: int) -> Optional[Tuple[int, int]]:
        """(observation id, stamp) of the object's last sighting at or before ``before_ns``."""
        best: Optional[Tuple[int, int]] = None
        for stamp, oid, obs_id in self._recent_obs:
            if oid == t.id and stamp <= before_ns and (best is None or stamp > best[1]):
                best = (obs_id, stamp)
        if self._base is not None and self._base.conn is not None:
            rows = self._base.query("SELECT id, stamp_ns FROM observations WHERE object_id = ? AND stamp_ns <= ? "
                                    "ORDER BY stamp_ns DESC LIMIT 1", (t.id, before_ns))
            if rows and (best is None or rows[0][1] > best[1]):
                best = (int(rows[0][0]), int(rows[0][1]))
        return best

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]:
        """Where each matching object was last seen (at or before ``before_ns``), most recent first."""
        with self._lock:
            out = []
            for t in self._tracks_for(query):
                if before_ns is None:
                    out.append(self._sighting(t, t.stay, None))
                    continue
                s = self._stay_at(t, before_ns)
                if s is None:
                    continue
                if s.end_ns <= before_ns:
                    out.append(self._sighting(t, s, before_ns))
                    continue
                hit = self._last_obs_before(t, before_ns)
                last = hit[1] if hit else s.start_ns
                ev = self._stay_evidence(t, s)
                ev = Evidence(ev.object_ids, [s.first_obs] + ([hit[0]] if hit and hit[0] != s.first_obs else []),
                              ev.place_ids, list(dict.fromkeys([s.start_ns, last])),
                              [s.first_kf] if s.first_kf else [])
                out.append(self._sighting(t, s, before_ns, last_seen_ns=last, evidence=ev))
            out.sort(key=lambda x: -x.last_seen_ns)
            return out

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]:
        """Where the object was believed to be at ``t_ns`` (None if not yet known then)."""
        with self._lock:
            oid = parse_object_id(object_id)
            t = self._tracks.get(oid) if oid is not None else None
            if t is None or not t.confirmed:
                return None
            s = self._stay_at(t, t_ns)
            return None if s is None else self._sighting(t, s, t_ns)

    def history(self, query: str, start_ns: Optional[int] = None,
                end_ns: Optional[int] = None) -> List[HistorySpan]:
        """Every stay of the matching objects overlapping [start_ns, end_ns], in time order."""
        with self._lock:
            lo = -1 if start_ns is None else start_ns
            hi = 2 ** 62 if end_ns is None else end_ns
            out = []
            for t in self._tracks_for(query):
                for s in t.stays:
                    if s.end_ns >= lo and s.start_ns <= hi:
                        out.append(HistorySpan(object_id_str(t.id), t.class_name, s.pos.copy(), s.place_id,
                                               s.room_id, s.start_ns, s.end_ns, self._stay_evidence(t, s)))
            out.sort(key=lambda h: (h.start_ns, h.object_id))
            return out

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]:
        """Objects believed in a room and/or at a place at ``t_ns`` (now if None), most certain first."""
        with self._lock:
            out = []
            for t in self._tracks.values():
                if not t.confirmed:
                    continue
                s = self._stay_at(t, t_ns)
                if s is None:
                    continue
                if room_id is not None and room_id >= 0 and s.room_id != room_id:
                    continue
                if place_id is not None and place_id >= 0 and s.place_id != place_id:
                    continue
                out.append(self._sighting(t, s, t_ns))
            out.sort(key=lambda x: (-x.p_still_there, x.object_id))
            return out

    def count(self, class_name: str, room_id: Optional[int] = None,
              t_ns: Optional[int] = None) -> Tuple[int, Evidence]:
        """How many objects of a class (in a room) are believed there at ``t_ns``: P(still there) >= 0.5."""
        with self._lock:
            n = 0
            ev = Evidence()
            for t in self._tracks_for(class_name):
                s = self._stay_at(t, t_ns)
                if s is None or (room_id is not None and room_id >= 0 and s.room_id != room_id):
                    continue
                at = self._now_ns if t_ns is None else t_ns
                if self._p_still_there(t, s, at) >= 0.5:
                    n += 1
                    ev = ev.merged(self._stay_evidence(t, s))
            return n, ev

    def _event_out(self, e: EventRec) -> ChangeEvent:
        return ChangeEvent(e.kind, object_id_str(e.object_id), e.class_name, e.stamp_ns,
                           None if e.from_pos is None else e.from_pos.copy(),
                           None if e.to_pos is None else e.to_pos.copy(), e.from_room, e.to_room,
                           Evidence(list(e.evidence.object_ids), list(e.evidence.observation_ids),
                                    list(e.evidence.place_ids), list(e.evidence.stamps_ns),
                                    list(e.evidence.keyframe_refs)))

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]:
        """moved / appeared / disappeared events in the window (and room), in time order."""
        with self._lock:
            lo = bisect.bisect_left(self._event_keys, (-1 if start_ns is None else start_ns, -1))
            hi = bisect.bisect_right(self._event_keys, ((2 ** 62) if end_ns is None else end_ns, 2 ** 62))
            out = []
            for e in self._events[lo:hi]:
                if room_id is not None and room_id >= 0 and room_id not in (e.from_room, e.to_room):
                    continue
                out.append(self._event_out(e))
            return out

    def changes_of(self, query: str, start_ns: Optional[int] = None,
                   end_ns: Optional[int] = None) -> List[ChangeEvent]:
        """``changes`` restricted to an object id or class phrase."""
        with self._lock:
            ids = {t.id for t in self._tracks_for(query)}
            return [e for e in self.changes(start_ns, end_ns) if parse_object_id(e.object_id) in ids]

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]:
        """Times the object's remembered location was in view, unoccluded, and it was not detected."""
        with self._lock:
            oid = parse_object_id(object_id)
            if oid is None:
                return []
            t = self._tracks.get(oid)
            cls = t.class_name if t is not None else ""
            lo = -1 if since_ns is None else since_ns
            seen = set()
            out = []
            if self._base is not None and self._base.conn is not None:
                for stamp, view, x, y, z in self._base.query(
                        "SELECT stamp_ns, view_id, x, y, z FROM absences WHERE object_id = ? AND stamp_ns >= ? "
                        "ORDER BY stamp_ns", (oid, lo)):
                    seen.add((stamp, view))
                    out.append(Absence(object_id_str(oid), cls, stamp, view, np.array([x, y, z])))
            for stamp, o, view, p in self._recent_abs:
                if o == oid and stamp >= lo and (stamp, view) not in seen:
                    out.append(Absence(object_id_str(oid), cls, stamp, view, np.array(p)))
            out.sort(key=lambda a: a.stamp_ns)
            return out

    def p_still_there(self, object_id: str, t_ns: int) -> float:
        with self._lock:
            t = self._track(object_id)
            s = self._stay_at(t, t_ns)
            return 0.0 if s is None else self._p_still_there(t, s, t_ns)

    def class_move_rate_per_day(self, class_name: str) -> float:
        """Posterior mean move rate (moves per day) of a class, learned from its objects' history."""
        with self._lock:
            c = self.vocab.canonical(class_name)
            res = self.vocab.resolve_class(class_name, allow_model=False)
            if res is not None:
                c = res[0]
            a, b = class_posterior(self.config.staleness, self.vocab.category(c),
                                   self._class_stats.get(c, MoveStats()))
            return a / b

    def places(self) -> List[PlaceInfo]:
        with self._lock:
            out = []
            for pid in sorted(self._places):
                p = self._places[pid]
                rid = self._room_at(p.pos, -1) if self._room_map is not None else p.room_id
                rid = rid if rid >= 0 else p.room_id
                r = self._rooms.get(rid)
                out.append(PlaceInfo(pid, p.pos.copy(), rid, r.label if r else "unknown"))
            return out

    def place_edges(self) -> List[Tuple[int, int]]:
        with self._lock:
            return sorted(self._edges)

    def _place_graph(self):
        import networkx as nx
        if self._graph_cache is not None and self._graph_cache[0] == len(self._edges):
            return self._graph_cache[1]
        g = nx.Graph()
        for pid, p in self._places.items():
            g.add_node(pid)
        for a, b in self._edges:
            pa, pb = self._places.get(a), self._places.get(b)
            w = float(np.linalg.norm(pa.pos - pb.pos)) if pa is not None and pb is not None else 1.0
            g.add_edge(a, b, weight=w)
        self._graph_cache = (len(self._edges), g)
        return g

    def path_between_places(self, a: int, b: int) -> List[int]:
        """Shortest traversed path (by length) from place a to place b; [] if none."""
        import networkx as nx
        with self._lock:
            g = self._place_graph()
            try:
                return [int(x) for x in nx.shortest_path(g, a, b, weight="weight")]
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                return []

    def rooms(self) -> Dict[int, str]:
        with self._lock:
            return {rid: r.label for rid, r in sorted(self._rooms.items())}

    # ------------------------------------------------------------------------------ extras
    def objects(self, include_missing: bool = True) -> List[str]:
        """Ids of all confirmed objects."""
        with self._lock:
            return sorted(object_id_str(t.id) for t in self._tracks.values()
                          if t.status == PRESENT or (include_missing and t.status == MISSING))

    def get_object(self, object_id: str) -> Sighting:
        """The object's current belief (NotFoundError if unknown)."""
        with self._lock:
            t = self._track(object_id)
            return self._sighting(t, t.stay, None)

    def object_label(self, object_id: str) -> str:
        """The class name the detector most often gave this object (e.g. "cup" for a canonical "mug")."""
        with self._lock:
            return self._track(object_id).label

    def resolve_track_id(self, track_id: int) -> int:
        """The id a track goes by now (follows merges: a newcomer found to be a moved object)."""
        seen = 0
        while track_id in self._merged and seen < 1000:
            track_id = self._merged[track_id]
            seen += 1
        return track_id

    def is_confirmed(self, track_id: int) -> bool:
        t = self._tracks.get(self.resolve_track_id(track_id))
        return t is not None and t.confirmed

    def episodes(self) -> List[Tuple[int, int]]:
        """(start_ns, end_ns) of each episode: a run of input without a gap longer than episode_gap_s."""
        with self._lock:
            return [(s, e) for s, e in self._episodes]

    def room_label(self, room_id: int) -> str:
        r = self._rooms.get(room_id)
        return r.label if r is not None else "unknown"

    def stats(self) -> Dict[str, int]:
        with self._lock:
            by = {}
            for t in self._tracks.values():
                by[t.status] = by.get(t.status, 0) + 1
            return {"observations": self._counts["observations"], "views": self._counts["views"],
                    "objects": by.get(PRESENT, 0) + by.get(MISSING, 0), "missing": by.get(MISSING, 0),
                    "tentative": by.get(TENTATIVE, 0), "events": len(self._events), "places": len(self._places),
                    "rooms": len(self._rooms), "episodes": len(self._episodes)}

    # -- raw observations (read-only access to what was stored)
    def observations(self, object_id: Optional[str] = None, start_ns: Optional[int] = None,
                     end_ns: Optional[int] = None, limit: int = 0) -> List[ObservationRecord]:
        """Stored observations (committed ones), oldest first."""
        with self._lock:
            if self._base is None or self._base.conn is None:
                raise StoreError("raw observations are only kept by a persistent memory")
            where, args = ["1=1"], []
            if object_id is not None:
                where.append("object_id = ?")
                args.append(parse_object_id(object_id))
            if start_ns is not None:
                where.append("stamp_ns >= ?")
                args.append(start_ns)
            if end_ns is not None:
                where.append("stamp_ns <= ?")
                args.append(end_ns)
            sql = ("SELECT id, stamp_ns, object_id, class_id, raw_class_id, score, geom, place_id, room_id, view_id "
                   f"FROM observations WHERE {' AND '.join(where)} ORDER BY stamp_ns, id")
            if limit > 0:
                sql += f" LIMIT {int(limit)}"
            names = self._base.class_names()
            out = []
            for oid, stamp, obj, cid, rid, score, geom, place, room, view in self._base.query(sql, args):
                g = np.frombuffer(geom, np.float32)
                out.append(ObservationRecord(oid, stamp, object_id_str(obj) if obj is not None else "",
                                             names.get(cid, ""), names.get(rid, ""), score,
                                             g[:3].astype(float), place, room, view))
            return out

    def count_observations(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> int:
        with self._lock:
            if self._base is None or self._base.conn is None:
                return self._counts["observations"]
            return int(self._base.query("SELECT count(*) FROM observations WHERE stamp_ns >= ? AND stamp_ns <= ?",
                                        (-1 if start_ns is None else start_ns,
                                         2 ** 62 if end_ns is None else end_ns))[0][0])

    def view_keyframe(self, view_id: str) -> str:
        """The keyframe ref of a view ("" if it had none, or it was thinned or forgotten)."""
        with self._lock:
            ref = self._view_kf.get(view_id)
            if ref is None and self._base is not None and self._base.conn is not None:
                rows = self._base.query("SELECT v.keyframe_ref FROM views v JOIN keyframes k ON k.ref = v.keyframe_ref "
                                        "WHERE v.view_id = ? AND k.thinned = 0", (view_id,))
                ref = rows[0][0] if rows and rows[0][0] else ""
            return ref or ""

    def keyframe(self, ref: str) -> Optional[bytes]:
        """JPEG bytes of a keyframe ref (None if thinned, forgotten or in-memory)."""
        with self._lock:
            return None if self._base is None else self._base.read_keyframe(ref)

    @property
    def store(self) -> Optional[Store]:
        return self._store

    # ------------------------------------------------------------------------------ scene graph
    def scene_graph(self, t_ns: Optional[int] = None):
        """networkx.DiGraph of the world as remembered at ``t_ns`` (now if None). See scene_graph.py."""
        from .scene_graph import graph_at
        with self._lock:
            return graph_at(self, t_ns)

    def temporal_scene_graph(self):
        """networkx.MultiDiGraph of everything: each place->object edge is one stay with its time span."""
        from .scene_graph import temporal_graph
        with self._lock:
            return temporal_graph(self)

    def episode_scene_graph(self, index: int):
        """The world instance of one episode (objects seen during it, where they were at its end)."""
        from .scene_graph import episode_graph
        with self._lock:
            eps = self.episodes()
            if not -len(eps) <= index < len(eps):
                raise NotFoundError(f"no episode {index} (have {len(eps)})")
            return episode_graph(self, *eps[index])

    # ------------------------------------------------------------------------------ forget
    def forget(self, object_id: str = "", class_name: str = "", room_id: int = -1,
               start_ns: Optional[int] = None, end_ns: Optional[int] = None,
               request_stamp_ns: Optional[int] = None) -> ForgetResult:
        """Delete the observations selected by all given criteria (and the keyframes showing them, and
        everything derived from them); keep only the fact that a deletion happened."""
        from .forget import run_forget
        with self._lock:
            if self._store is None:
                raise StoreError("forget needs a persistent memory (not an in-memory one or a fork)")
            if not object_id and not class_name and room_id < 0 and start_ns is None and end_ns is None:
                raise InputError("bad_forget", "at least one criterion is required")
            self.commit()
            res = run_forget(self, object_id, class_name, room_id, start_ns, end_ns,
                             self._now_ns if request_stamp_ns is None else request_stamp_ns)
            store = self._store
            self._reset_state()
            self._store = self._base = store
            self._load_state()
            return res
