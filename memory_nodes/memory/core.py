"""MemoryCore: the place-centric, time-indexed scene-graph memory (implements MemoryView in-process).

A thin facade over rooms of their own, each with one job:

    state.py        MemoryState: everything held in RAM, as one value, with fork()
    ingest.py       frames in (places, rooms, views), batched commits, episodes, retention when due
    identity.py     which remembered object each detection is (association, tracks, stays, confirmation)
    consolidation.py  records that are one object become one (duplicates in a frame, fused, absorbed)
    reid.py         re-identification and merges (a missing object and a look-alike seen elsewhere)
    extents.py      merged extents, viewpoints, "seen through" (pure helpers)
    absences.py     negative evidence from views -> missing objects
    events.py       the change log (moved / appeared / disappeared, with evidence)
    queries.py      the MemoryView reads
    scene_graph.py  networkx scene graphs (now, at a time, per episode, temporal)
    repository/     every SQL statement: schema and migrations, the Store, the Repository, forget

Recall is served from in-memory records; only a few evidence look-ups touch SQLite. ``fork()`` returns a
copy-on-write, never-persisted view for "what if I looked now" questions: ingest into the fork, query
it, drop it; the parent is not affected. One re-entrant lock serialises every public call.

The core never prints, never reads a clock, never sleeps: time comes in with the data (int ns).
"""
from __future__ import annotations

import sqlite3
import threading
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..common.errors import InputError, NotFoundError, StoreError
from ..common.protocols import Absence, ChangeEvent, Evidence, HistorySpan, PlaceInfo, PoseSample, Sighting
from ..common.types import PerceptionOutput
from ..vocab import Vocabulary, default_vocabulary
from .absences import Absences
from .config import MemoryConfig, StoreConfig
from .events import EventLog
from .identity import Tracker
from .ingest import Ingestor
from .queries import Queries
from .records import ObservationRecord
from .repository import ForgetResult, Repository, Store, open_store, run_forget
from .retention import apply_retention
from .state import MemoryState

__all__ = ["MemoryCore", "ForgetResult", "ObservationRecord"]


class MemoryCore:
    """Long-term memory. Create with ``MemoryCore.open(path)`` (persistent) or ``MemoryCore.in_memory()``."""

    # ------------------------------------------------------------------------------ construction
    def __init__(self, config: Optional[MemoryConfig] = None, vocab: Optional[Vocabulary] = None,
                 store: Optional[Store] = None):
        self.config = config or MemoryConfig()
        self.config.validate()
        self.vocab = vocab or default_vocabulary()
        self._lock = threading.RLock()
        self._attach(MemoryState(), Repository(store))
        if store is not None:
            try:
                self._load()
                store.begin_writing()
            except StoreError:
                store.close()
                raise
            except (KeyError, ValueError, TypeError, IndexError, AttributeError, sqlite3.Error) as e:
                store.close()         # releases the lock; nothing was written (writes wait for begin_writing)
                raise StoreError(f"{store.path}: damaged store: cannot load its records ({type(e).__name__}: "
                                 f"{e}); left unchanged (memory-stack store recover PATH copies what is "
                                 "readable)") from e

    def _attach(self, state: MemoryState, repo: Repository) -> None:
        """Wire the jobs to one state and repository (a fork or a reload gets fresh ones)."""
        self._state = state
        self._repo = repo
        events = EventLog(state, repo)
        self._tracker = Tracker(self.config, self.vocab, state, repo, events)
        absences = Absences(self.config, state, repo, self._tracker, events)
        self._ingestor = Ingestor(self.config, self.vocab, state, repo, self._tracker, absences)
        self._queries = Queries(self.config, self.vocab, state, repo)

    def _load(self) -> None:
        s = self._state
        self._repo.load(s, s.gen)
        s.pending_through_ns = s.ingested_through_ns
        s.now_ns = s.ingested_through_ns
        s.last_commit_stamp_ns = s.ingested_through_ns
        s.recompute_class_stats()
        s.active_dirty = True

    @classmethod
    def open(cls, path: str, config: Optional[MemoryConfig] = None,
             vocab: Optional[Vocabulary] = None) -> "MemoryCore":
        """Open (or create) the persistent store at ``path``: a file (SQLite) or a store URL (sqlite:///...,
        postgresql://...); a plain path yields to a server named by ``config.store.url``. Raises StoreError
        for a foreign/corrupt store."""
        cfg = config or MemoryConfig()
        target = str(path)
        if target.startswith(("sqlite:///", "postgresql://", "postgres://")):
            store_cfg = StoreConfig(**{**cfg.store.__dict__, "url": target})
        elif cfg.store.backend == "postgresql":
            store_cfg = cfg.store
        else:
            store_cfg = StoreConfig(**{**cfg.store.__dict__, "path": target, "url": ""})
        cfg = MemoryConfig(store_cfg, cfg.association, cfg.absence, cfg.staleness, cfg.retention, cfg.events)
        return cls(cfg, vocab, open_store(store_cfg, defer_writes=True))

    @classmethod
    def in_memory(cls, config: Optional[MemoryConfig] = None,
                  vocab: Optional[Vocabulary] = None) -> "MemoryCore":
        """A memory that is never persisted (fast; tests, benchmarks, simulations)."""
        return cls(config, vocab, None)

    def close(self) -> None:
        """Commit what is pending and release the store."""
        with self._lock:
            store = self._repo.store
            if self._repo.writable and store is not None:
                self.commit()
                store.close()
                self._attach(self._state, Repository(None))

    def __enter__(self) -> "MemoryCore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fork(self) -> "MemoryCore":
        """A copy-on-write, in-memory view of this memory: ingest into it freely, query it, drop it.
        Nothing it ingests reaches the store or this memory; this memory's later ingests do not show in
        it. Cheap (shallow copies; records are cloned on first write)."""
        with self._lock:
            f = MemoryCore.__new__(MemoryCore)
            f.config = self.config
            f.vocab = self.vocab
            f._lock = threading.RLock()
            f._attach(self._state.fork(), self._repo.read_only())
            return f

    @property
    def is_persistent(self) -> bool:
        return self._repo.writable

    @property
    def store(self) -> Optional[Store]:
        """The store this memory writes (None for an in-memory memory or a fork)."""
        return self._repo.store if self._repo.writable else None

    @property
    def state(self) -> MemoryState:
        """The records themselves (read them under ``lock``; change them only through ingest)."""
        return self._state

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # ------------------------------------------------------------------------------------- ingest
    @property
    def ingested_through_ns(self) -> int:
        """All input stamped at or before this is durably stored (-1: nothing yet)."""
        return self._state.ingested_through_ns

    @property
    def last_assignment(self) -> List[Tuple[int, int]]:
        """(observation id, track id) of the last ingested frame's associated observations."""
        return self._state.last_assignment

    def drain_warnings(self) -> List[InputError]:
        """Input problems seen since the last call (bad observations skipped, ...), for logging."""
        with self._lock:
            w, self._state.warnings = self._state.warnings, []
            return w

    @property
    def has_uncommitted(self) -> bool:
        """True if frames were ingested since the last commit (a caller with a clock may flush them)."""
        s = self._state
        return s.frames_since_commit > 0 or s.pending_through_ns > s.ingested_through_ns

    @property
    def store_fault(self) -> Optional[StoreError]:
        """The last failed scheduled commit's error (its ``fault``: disk_full, io), None once a commit
        succeeded. While set, ``ingested_through_ns`` does not move: frames are held in RAM, their batch
        retried with a backoff (doubling, in frames) by later ingests and by ``commit()``."""
        return self._state.store_fault

    def set_writes_paused(self, paused: bool) -> None:
        """Hold scheduled commits (a caller watching free space pauses them while the disk is low)."""
        with self._lock:
            self._state.writes_paused = bool(paused)

    def ingest(self, out: PerceptionOutput, derive_absences: bool = True,
               latest_ok_ns: Optional[int] = None) -> Optional[int]:
        """Take in one frame's perception output. Returns the new ``ingested_through_ns`` when this call
        committed a batch (then publish it), else None. Raises InputError only for an unusable frame
        (validate.py: every field checked; a bad observation is skipped with a warning). A scheduled commit
        that fails does not raise: see ``store_fault``.
        ``derive_absences=False`` stores a view without reading absences from it (use when the frame's
        observations were lost: a view without its detections would make everything in it look absent).
        ``latest_ok_ns`` (a caller with a clock: its now + a tolerance): a later stamp is InputError
        future_stamp, so one frame from 2033 cannot pin ``ingested_through_ns`` there."""
        with self._lock:
            return self._ingestor.ingest(out, derive_absences, latest_ok_ns)

    def ingest_many(self, outputs: Iterable[PerceptionOutput]) -> int:
        """Ingest frames in order, then commit; returns ingested_through_ns."""
        for out in outputs:
            self.ingest(out)
        return self.commit()

    def commit(self) -> int:
        """Persist everything ingested so far (one transaction); returns ingested_through_ns."""
        with self._lock:
            return self._ingestor.commit()

    def apply_retention(self, now_ns: int) -> int:
        """Thin keyframes older than keep_all_days: keep those cited by events or by the first/last
        sighting of a stay, plus keep_per_place_per_day per place and day. Returns how many were thinned
        (their files go after the next commit)."""
        with self._lock:
            return apply_retention(self.config.retention, self._state, self._repo, now_ns)

    # ------------------------------------------------------------------------------ MemoryView
    def now_ns(self) -> int:
        return self._state.now_ns

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]:
        """Where each matching object was last seen (at or before ``before_ns``), most recent first."""
        with self._lock:
            return self._queries.last_seen(query, before_ns)

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]:
        """Where the object was believed to be at ``t_ns`` (None if not yet known then)."""
        with self._lock:
            return self._queries.where_at(object_id, t_ns)

    def history(self, query: str, start_ns: Optional[int] = None,
                end_ns: Optional[int] = None) -> List[HistorySpan]:
        """Every stay of the matching objects overlapping [start_ns, end_ns], in time order."""
        with self._lock:
            return self._queries.history(query, start_ns, end_ns)

    def seen_between(self, start_ns: int, end_ns: int, limit: int = 0) -> List[HistorySpan]:
        """The objects observed within [start_ns, end_ns], one span each (first to last observation there)."""
        with self._lock:
            return self._queries.seen_between(start_ns, end_ns, limit)

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]:
        """Objects believed in a room and/or at a place at ``t_ns`` (now if None), most certain first."""
        with self._lock:
            return self._queries.objects_in(room_id, place_id, t_ns)

    def count(self, class_name: str, room_id: Optional[int] = None,
              t_ns: Optional[int] = None) -> Tuple[int, Evidence]:
        """How many objects of a class (in a room) are believed there at ``t_ns``: P(still there) >= 0.5."""
        with self._lock:
            return self._queries.count(class_name, room_id, t_ns)

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]:
        """moved / appeared / disappeared events in the window (and room), in time order."""
        with self._lock:
            return self._queries.changes(start_ns, end_ns, room_id)

    def changes_of(self, query: str, start_ns: Optional[int] = None,
                   end_ns: Optional[int] = None) -> List[ChangeEvent]:
        """``changes`` restricted to an object id or class phrase."""
        with self._lock:
            return self._queries.changes_of(query, start_ns, end_ns)

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]:
        """Times the object's remembered location was in view, unoccluded, and it was not detected."""
        with self._lock:
            return self._queries.absences(object_id, since_ns)

    def p_still_there(self, object_id: str, t_ns: int) -> float:
        with self._lock:
            return self._queries.p_still_there(object_id, t_ns)

    def class_move_rate_per_day(self, class_name: str) -> float:
        """Posterior mean move rate (moves per day) of a class, learned from its objects' history."""
        with self._lock:
            return self._queries.class_move_rate_per_day(class_name)

    def places(self) -> List[PlaceInfo]:
        with self._lock:
            return self._queries.places()

    def place_edges(self) -> List[Tuple[int, int]]:
        with self._lock:
            return self._queries.place_edges()

    def path_between_places(self, a: int, b: int) -> List[int]:
        """Shortest traversed path (by floor length) from place a to place b; [] if none."""
        with self._lock:
            return self._queries.path_between_places(a, b)

    def rooms(self) -> Dict[int, str]:
        with self._lock:
            return self._queries.rooms()

    def room_at(self, position_m: np.ndarray, observed_room_id: int = -1) -> int:
        """The room holding a map position in the latest room cut (the room every read gives an object at
        that position); ``observed_room_id`` without a cut or at a wall between two rooms; -1 none."""
        with self._lock:
            return self._queries.room_of(np.asarray(position_m, dtype=float), int(observed_room_id))

    def robot_poses(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                    room_id: Optional[int] = None, limit: int = 0) -> List[PoseSample]:
        """The robot's pose trail (each stored view's camera pose) in [start_ns, end_ns], only those in
        ``room_id`` if given, oldest first; ``limit`` > 0 keeps the latest ``limit``. Answers from it (where at
        t, visits, time in a room, the gap rule): common/trajectory.py."""
        with self._lock:
            return self._queries.robot_poses(start_ns, end_ns, room_id, limit)

    # ------------------------------------------------------------------------------ extras
    def objects(self, include_missing: bool = True) -> List[str]:
        """Ids of all confirmed objects."""
        with self._lock:
            return self._queries.objects(include_missing)

    def get_object(self, object_id: str) -> Sighting:
        """The object's current belief (NotFoundError if unknown)."""
        with self._lock:
            return self._queries.get_object(object_id)

    def object_label(self, object_id: str) -> str:
        """The class name the detector most often gave this object (e.g. "cup" for a canonical "mug")."""
        with self._lock:
            return self._queries.object_label(object_id)

    def resolve_track_id(self, track_id: int) -> int:
        """The id a track goes by now (follows merges: a newcomer found to be a moved object)."""
        return self._state.resolve_track_id(track_id)

    def is_confirmed(self, track_id: int) -> bool:
        return self._queries.is_confirmed(track_id)

    def episodes(self) -> List[Tuple[int, int]]:
        """(start_ns, end_ns) of each episode: a run of input without a gap longer than episode_gap_s."""
        with self._lock:
            return self._queries.episodes()

    def room_label(self, room_id: int) -> str:
        return self._queries.room_label(room_id)

    def stats(self) -> Dict[str, int]:
        with self._lock:
            return self._queries.stats()

    # -- raw observations (read-only access to what was stored)
    def observations(self, object_id: Optional[str] = None, start_ns: Optional[int] = None,
                     end_ns: Optional[int] = None, limit: int = 0) -> List[ObservationRecord]:
        """Stored observations (committed ones), oldest first."""
        with self._lock:
            return self._queries.observations(object_id, start_ns, end_ns, limit)

    def count_observations(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> int:
        with self._lock:
            return self._queries.count_observations(start_ns, end_ns)

    def view_keyframe(self, view_id: str) -> str:
        """The keyframe ref of a view ("" if it had none, or it was thinned or forgotten)."""
        with self._lock:
            return self._queries.view_keyframe(view_id)

    def keyframe(self, ref: str) -> Optional[bytes]:
        """JPEG bytes of a keyframe ref (None if thinned, forgotten or in-memory)."""
        with self._lock:
            return self._queries.keyframe(ref)

    # ------------------------------------------------------------------------------ scene graph
    def scene_graph(self, t_ns: Optional[int] = None):
        """networkx.DiGraph of the world as remembered at ``t_ns`` (now if None). See scene_graph.py."""
        from .scene_graph import graph_at
        with self._lock:
            return graph_at(self._state, self._queries, t_ns)

    def temporal_scene_graph(self):
        """networkx.MultiDiGraph of everything: each place->object edge is one stay with its time span."""
        from .scene_graph import temporal_graph
        with self._lock:
            return temporal_graph(self._state, self._queries)

    def episode_scene_graph(self, index: int):
        """The world instance of one episode (objects seen during it, where they were at its end)."""
        from .scene_graph import episode_graph
        with self._lock:
            eps = self._queries.episodes()
            if not -len(eps) <= index < len(eps):
                raise NotFoundError(f"no episode {index} (have {len(eps)})")
            return episode_graph(self._state, self._queries, *eps[index])

    # ------------------------------------------------------------------------------ forget
    def forget(self, object_id: str = "", class_name: str = "", room_id: int = -1,
               start_ns: Optional[int] = None, end_ns: Optional[int] = None,
               request_stamp_ns: Optional[int] = None) -> ForgetResult:
        """Delete the observations selected by all given criteria (and the keyframes showing them, and
        everything derived from them); keep only the fact that a deletion happened."""
        with self._lock:
            store = self._repo.store
            if not self._repo.writable or store is None:
                raise StoreError("forget needs a persistent memory (not an in-memory one or a fork)")
            if not object_id and not class_name and room_id < 0 and start_ns is None and end_ns is None:
                raise InputError("bad_forget", "at least one criterion is required")
            self.commit()
            general = ""
            if class_name:
                res = self.vocab.resolve_class(class_name, allow_model=False)
                general = res[0] if res else self.vocab.canonical(class_name)

            def under_class(name: str) -> bool:
                return name == general or self.vocab.is_a(name, general)

            result = run_forget(store, under_class, object_id, class_name, room_id, start_ns, end_ns,
                                self._state.now_ns if request_stamp_ns is None else request_stamp_ns)
            self._attach(MemoryState(), Repository(store))
            self._load()
            return result
