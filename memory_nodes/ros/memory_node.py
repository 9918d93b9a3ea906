"""Memory node: the lifecycle node around MemoryCore (memory_nodes/memory).

configure  -> read parameters, open the store (a corrupt or foreign store fails the transition, untouched)
activate   -> subscribe perception/frames, perception/places, perception/rooms
deactivate -> unsubscribe, commit
cleanup / shutdown -> commit and close the store

Serves memory/recall (Recall), memory/forget (Forget), memory/get_scene_graph (GetSceneGraph); publishes
memory/ingested_through (IngestProgress) after every commit and at least every second (a heartbeat: a
perception that resends unacknowledged frames learns of a restarted memory), memory/scene_graph (latched) and
memory/markers (MarkerArray, latched). Each perception/frames message (FrameObservations) is one frame:
its observations and, for a keyframe, its View go into the core together. A frame whose View is malformed
goes in without it; a keyframe whose observations are malformed is stored without deriving absences.
Bad input is logged once per cause (then at debug level); the node stays up and loses nothing else. Every
subscription callback is guarded (``_guarded``): no message, latched garbage included, can kill the node.
A frame stamped more than ``node.max_future_s`` past the node clock is refused (``future_stamp``), so one
bad stamp cannot pin memory/ingested_through.

Store faults are a state, not bad input: a commit that fails (``disk_full``, ``io``) keeps its batch, the
node stops acknowledging (ingested_through does not move), says so once per change of state (an ERROR
line naming the cause, an INFO line when it clears) and retries with a backoff (0.2 s doubling to 5 s).
Free space on the store's file system is watched (every second): below ``node.min_free_mb`` commits are
paused (state ``disk_low``) until twice that is free again.
Service callbacks answer NOT_ACTIVE unless the node is active, and UNKNOWN (logged once) for anything
unexpected (``memory_service``). Service queues hold ``node.service_queue_depth`` requests (qos.py: rclpy's
default of 10 dropped the 11th request of a burst unanswered). The callbacks never wait on anything but the
core's lock (one thread, no blocking calls), so queued requests are answered in order, none refused BUSY.

Diagnostics (``/diagnostics``, see diagnostics.py), in every lifecycle state: ``memory: lifecycle`` (the
state; WARN unless active). While configured or active also ``memory: store`` (path, size on disk, age of
the last commit, store errors by cause, schema version; ERROR on a store error in the last minute) and
the store state (ok / disk_full / io / disk_low) with its reason, free space, keyframes held in RAM, rows
refused, orphan files removed at open; ERROR while in a fault) and
``memory: ingest`` (lag = node clock now - ingested_through, frames received vs ingested, objects /
observations / views, bad inputs by cause; WARN on bad input in the last minute).
"""
from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from memory_interfaces.msg import FrameObservations, IngestProgress, PlaceGraph, RoomSegmentation, SceneGraph
from memory_interfaces.srv import Forget, GetSceneGraph, Recall
from visualization_msgs.msg import MarkerArray

from memory_nodes.common.config import ConfigError
from memory_nodes.common.errors import InputError, MemoryStackError, NotFoundError, StoreError
from memory_nodes.common.types import PerceptionOutput
from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.vocab import VocabConfig, Vocabulary

from . import compat
from .conversions.basic import time_to_ns
from .conversions.memory import (
    absence_to_item,
    change_to_item,
    count_to_item,
    ingest_progress_msg,
    markers_from_graph,
    place_to_item,
    pose_to_item,
    scene_graph_to_msg,
    sighting_to_item,
    span_to_item,
    staleness_to_item,
)
from .conversions.perception import frame_view_from_msg, observations_from_msg, place_graph_from_msg, rooms_from_msg
from .diagnostics import ERROR, WARN, Diagnostics, RateWindow, Status
from .log_once import LogOnce
from .params import NodeParameters, Section
from .qos import EVENTS, LATCHED, STREAM, services_qos
from .runner import run_node

LifecycleNode, State, TransitionCallbackReturn = compat.lifecycle_api()   # rclpy.lifecycle (Humble or later)
_RECENT_S = 60.0          # steady s: a store error or bad input this recent raises the diagnostic level


@dataclass
class MemoryNodeConfig:
    """Section ``node`` of the memory node's parameters."""
    map_frame: str = "map"
    flush_period_s: float = 0.2          # commit what is pending at least this often (wall time)
    scene_graph_period_s: float = 2.0    # republish memory/scene_graph and markers at most this often
    publish_markers: bool = True
    max_marker_objects: int = 2000
    max_future_s: float = 300.0          # refuse frames stamped this far past the node clock (0 = no check)
    min_free_mb: float = 64.0            # pause commits while the store's disk has less free (0 = never)
    service_queue_depth: int = 100       # requests each memory/* service holds while the node is busy (qos.py)

    def validate(self) -> None:
        if self.flush_period_s <= 0 or self.scene_graph_period_s <= 0:
            raise ConfigError("node.flush_period_s and scene_graph_period_s must be > 0")
        if not (self.max_future_s >= 0 and self.min_free_mb >= 0):
            raise ConfigError("node.max_future_s and node.min_free_mb must be >= 0")
        if not self.map_frame:
            raise ConfigError("node.map_frame must not be empty")
        if self.service_queue_depth < 1:
            raise ConfigError("node.service_queue_depth must be >= 1")


@dataclass
class MemoryNodeParams:
    """Everything the node reads: the core's sections, the vocabulary and the node's own section."""
    memory: MemoryConfig
    vocab: VocabConfig
    node: MemoryNodeConfig
    data_dir: str


# The parameters: MemoryConfig's sections at the top level (store.path, association.gate_m, ...), vocab.*,
# node.*, and data_dir. Ranges: only those validate() enforces exactly (tests/test_ros_params.py checks).
PARAMETERS = (
    Section(MemoryConfig, ranges={
        "store.commit_every_frames": (1, None), "store.cache_size_mb": (1, None),
        "association.absorb_radius_m": (0.0, None), "association.absorb_hits_ratio": (1.0, None),
        "association.min_class_similarity": (0.0, 1.0), "association.confirm_hits": (1, None),
        "association.position_window": (1, None), "association.stay_split_hits": (1, None),
        "association.coexist_window_s": (0.0, None), "absence.window_px": (0, None),
        "absence.missing_after_absences": (1, None), "retention.keep_all_days": (0.0, None),
        "retention.keep_per_place_per_day": (0, None), "events.appear_after_s": (0.0, None)}),
    Section(VocabConfig, "vocab.", ranges={"vocab.min_model_score": (0.0, 1.0), "vocab.max_ngram_words": (1, None)}),
    Section(MemoryNodeConfig, "node.", ranges={"node.max_future_s": (0.0, None), "node.min_free_mb": (0.0, None),
                                                  "node.service_queue_depth": (1, None)}),
)


def read_params(params: NodeParameters) -> MemoryNodeParams:
    """Typed, validated parameters of the memory node (a relative store.path is under data_dir)."""
    data_dir = str(params.value("data_dir") or "data")
    vocab = params.read(VocabConfig, "vocab.")
    node = params.read(MemoryNodeConfig, "node.")
    mem = params.read(MemoryConfig)
    if not os.path.isabs(mem.store.path):
        mem.store.path = os.path.join(data_dir, mem.store.path)
    return MemoryNodeParams(mem, vocab, node, data_dir)


def memory_service(cause: str, bad_request: Tuple[Type[Exception], ...] = ()) -> Callable:
    """Guard of a memory service callback ``(self, req, resp) -> resp``: NOT_ACTIVE unless the node is active
    with an open store; an exception in ``bad_request`` -> BAD_REQUEST; any other -> UNKNOWN, logged once
    under ``cause``. Nothing escapes into the executor."""
    def wrap(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(self: "MemoryNode", req, resp):
            codes = type(resp)
            if not self._active or self.memory is None:
                resp.error_code, resp.error_msg = codes.NOT_ACTIVE, "memory is not active"
                return resp
            try:
                return method(self, req, resp)
            except bad_request as e:
                resp.error_code, resp.error_msg = codes.BAD_REQUEST, str(e)
            except Exception as e:        # nothing escapes into the executor
                resp.error_code, resp.error_msg = codes.UNKNOWN, f"{type(e).__name__}: {e}"
                self._bad(cause, resp.error_msg)
            return resp
        return guarded
    return wrap


def _guarded(method: Callable) -> Callable:
    """Guard of a subscription callback: whatever a message does, the exception is logged once per cause
    (``callback_<name>``) and counted; nothing escapes into the executor."""
    @functools.wraps(method)
    def guarded(self: "MemoryNode", msg) -> None:
        try:
            method(self, msg)
        except Exception as e:        # nothing escapes into the executor
            self._bad(f"callback_{method.__name__.lstrip('_')}", f"{type(e).__name__}: {e}")
    return guarded


_RETRY_S = (0.2, 5.0)     # wall s: first and longest wait between commit retries in a store fault
_PROGRESS_HEARTBEAT_S = 1.0   # wall s: memory/ingested_through is republished at least this often while active


class MemoryNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("memory", automatically_declare_parameters_from_overrides=True, **kwargs)
        self._params = NodeParameters(self)
        self._params.declare_sections(PARAMETERS)
        self._params.declare_value("data_dir", "data", "folder of the store; a relative store.path is under it")
        self.params: Optional[MemoryNodeParams] = None
        self.memory: Optional[MemoryCore] = None
        self._active = False
        self._log_bad = LogOnce(self.get_logger(), "bad input")
        self._recall_kinds = self._recall_table()
        self._mem_subs: List[Any] = []
        self._mem_services: List[Any] = []
        self._mem_timers: List[Any] = []
        self._pub_progress = None
        self._pub_graph = None
        self._pub_markers = None
        self._graph_dirty = False
        self._last_graph_wall = 0.0
        now = time.monotonic()
        self._frames_received = 0
        self._frames_ingested = 0
        self._last_commit_wall: Optional[float] = None
        self._last_progress_wall = 0.0
        self._store_errors = RateWindow(_RECENT_S, now)
        self._bad_recent = RateWindow(_RECENT_S, now)
        self._fault = "ok"                     # store state: ok | disk_full | io | disk_low | ...
        self._fault_why = ""
        self._retry_at = 0.0
        self._retry_wait = _RETRY_S[0]
        self._free_mb: Optional[float] = None
        self._free_checked = 0.0
        self.diagnostics = Diagnostics(self)
        self.diagnostics.add("lifecycle", self._diagnose_lifecycle)
        self.diagnostics.add("store", self._diagnose_store)
        self.diagnostics.add("ingest", self._diagnose_ingest)
        self.get_logger().info("memory node created (unconfigured)")

    # ------------------------------------------------------------------------------ lifecycle
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.params = read_params(self._params)
        except ConfigError as e:
            self.get_logger().error(f"bad memory parameters: {e}")
            return TransitionCallbackReturn.FAILURE
        p = self.params
        try:
            self.memory = MemoryCore.open(p.memory.store.path, p.memory, Vocabulary(p.vocab))
        except StoreError as e:
            self.get_logger().error(f"cannot open the memory store: {e}")
            return TransitionCallbackReturn.FAILURE
        except OSError as e:
            self.get_logger().error(f"cannot open the memory store {p.memory.store.path}: {e}")
            return TransitionCallbackReturn.FAILURE
        self._pub_progress = self.create_lifecycle_publisher(IngestProgress, "memory/ingested_through", EVENTS)
        self._pub_graph = self.create_lifecycle_publisher(SceneGraph, "memory/scene_graph", LATCHED)
        self._pub_markers = self.create_lifecycle_publisher(MarkerArray, "memory/markers", LATCHED)
        qos = services_qos(p.node.service_queue_depth)
        self._mem_services = [
            self.create_service(Recall, "memory/recall", self._on_recall, qos_profile=qos),
            self.create_service(Forget, "memory/forget", self._on_forget, qos_profile=qos),
            self._make_graph_service(qos),
        ]
        st = self.memory.stats()
        self.get_logger().info(
            f"memory store {p.memory.store.path}: {st['objects']} objects, {st['observations']} observations, "
            f"ingested through {self.memory.ingested_through_ns} ns")
        return TransitionCallbackReturn.SUCCESS

    def _make_graph_service(self, qos):
        return self.create_service(GetSceneGraph, "memory/get_scene_graph", self._on_get_scene_graph, qos_profile=qos)

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._mem_subs = [
            self.create_subscription(FrameObservations, "perception/frames", self._on_frame, STREAM),
            self.create_subscription(PlaceGraph, "perception/places", self._on_places, LATCHED),
            self.create_subscription(RoomSegmentation, "perception/rooms", self._on_rooms, LATCHED),
        ]
        # a steady (wall) timer: under use_sim_time a lockstep replay or simulator holds /clock at a frame's
        # stamp until memory/ingested_through passes it, so a sim-time flush would never commit that frame
        from rclpy.clock import Clock, ClockType
        self._mem_timers = [self.create_timer(self.params.node.flush_period_s, self._on_tick,
                                              clock=Clock(clock_type=ClockType.STEADY_TIME))]
        self._active = True
        ret = super().on_activate(state)
        self._publish_progress()
        self._graph_dirty = True
        self._publish_graph(force=True)
        self.get_logger().info("memory active")
        return ret

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._drop_io()
        self._commit_and_publish()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._drop_io()
        self._close_memory()
        for s in self._mem_services:
            self.destroy_service(s)
        self._mem_services = []
        for pub in (self._pub_progress, self._pub_graph, self._pub_markers):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._pub_progress = self._pub_graph = self._pub_markers = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._drop_io()
        self._close_memory()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._drop_io()
        self._close_memory()
        return TransitionCallbackReturn.SUCCESS

    def _drop_io(self) -> None:
        for s in self._mem_subs:
            self.destroy_subscription(s)
        self._mem_subs = []
        for t in self._mem_timers:
            self.destroy_timer(t)
        self._mem_timers = []

    def _close_memory(self) -> None:
        if self.memory is not None:
            try:
                self.memory.close()
            except MemoryStackError as e:
                self.get_logger().error(f"closing the memory store: {e}")
            self.memory = None

    def close_memory(self) -> None:
        """Commit and close (main() calls this on Ctrl-C, before the node is destroyed)."""
        self._active = False
        self._close_memory()

    # ------------------------------------------------------------------------------ logging
    def _bad(self, cause: str, detail: str) -> None:
        self._log_bad.warning(cause, detail)
        if cause == "duplicate_frame":      # perception resends what it did not see acknowledged (a start, a
            return                          # restart): logged once and counted, no WARN on /diagnostics
        (self._store_errors if cause == "store_error" else self._bad_recent).tick(time.monotonic())

    # ------------------------------------------------------------------------------ ingest
    def _ingest(self, out: PerceptionOutput, derive_absences: bool = True) -> bool:
        """True when the core took the frame in (committed or pending)."""
        if self.memory is None:
            return False
        taken = True
        try:
            through = self.memory.ingest(out, derive_absences=derive_absences, latest_ok_ns=self._latest_ok_ns())
            if through is not None:
                self._last_commit_wall = time.monotonic()
        except InputError as e:
            self._bad(e.cause, str(e))
            through, taken = None, False
        except StoreError as e:
            self._bad("store_error", str(e))
            through, taken = None, False
        for w in self.memory.drain_warnings():
            self._bad(w.cause, str(w))
        self._update_fault()
        if through is not None:
            self._publish_progress()
            self._graph_dirty = True
        return taken

    def _latest_ok_ns(self) -> Optional[int]:
        """The node clock's now + node.max_future_s (None without a clock, e.g. sim time before /clock)."""
        lim = self.params.node.max_future_s if self.params is not None else 0.0
        now = self.get_clock().now().nanoseconds
        return None if lim <= 0 or now <= 0 else int(now + lim * 1e9)

    # ------------------------------------------------------------------------------ store faults
    def _set_fault(self, state: str, why: str) -> None:
        """One log line per change of the store state."""
        if state == self._fault:
            self._fault_why = why
            return
        old, self._fault, self._fault_why = self._fault, state, why
        if state == "ok":
            through = self.memory.ingested_through_ns if self.memory is not None else -1
            self.get_logger().info(f"store fault cleared (was {old}): writing again, ingested through {through} ns")
        else:
            self._store_errors.tick(time.monotonic())
            self.get_logger().error(f"store fault ({state}): {why}; not acknowledging new input until it clears "
                                    "(frames are held in RAM and retried)")

    def _update_fault(self) -> None:
        mem = self.memory
        if mem is None:
            return
        if self._fault == "disk_low":
            return
        f = mem.store_fault
        if f is None:
            self._set_fault("ok", "")
            self._retry_wait = _RETRY_S[0]
        else:
            if self._fault == "ok":
                self._retry_at = time.monotonic() + self._retry_wait
            self._set_fault(getattr(f, "fault", "io"), str(f))

    def _watch_space(self, now: float) -> None:
        """Every second: free space on the store's file system; below node.min_free_mb commits pause."""
        if self.memory is None or self.params is None or now - self._free_checked < 1.0:
            return
        self._free_checked = now
        folder = os.path.dirname(os.path.abspath(self.params.memory.store.path))
        try:
            self._free_mb = shutil.disk_usage(folder).free / 1e6
        except OSError:
            self._free_mb = None
            return
        need = self.params.node.min_free_mb
        if need <= 0:
            return
        if self._fault != "disk_low" and self._free_mb < need:
            self.memory.set_writes_paused(True)
            self._set_fault("disk_low", f"{self._free_mb:.1f} MB free on {folder} (node.min_free_mb = {need:g})")
        elif self._fault == "disk_low" and self._free_mb >= 2 * need:
            self.memory.set_writes_paused(False)
            self._set_fault("ok", f"{self._free_mb:.1f} MB free again")
            self._commit_and_publish(force=True)

    @_guarded
    def _on_frame(self, msg: FrameObservations) -> None:
        """One frame: its observations and (for a keyframe) its View go in together."""
        self._frames_received += 1
        if time_to_ns(msg.header.stamp) <= 0:
            self._bad("zero_stamp", "a frame stamped 0 (no stamp) refused")
            return
        if not 0 <= int(msg.header.stamp.nanosec) < 1_000_000_000:
            self._bad("bad_stamp", f"a frame with nanosec {msg.header.stamp.nanosec} (outside [0, 1e9)) refused")
            return
        try:
            obs: Optional[list] = observations_from_msg(msg)
        except (InputError, ValueError) as e:
            self._bad(getattr(e, "cause", "bad_observations"), str(e))
            obs = None
        try:
            view = frame_view_from_msg(msg)
        except (InputError, ValueError) as e:
            self._bad(getattr(e, "cause", "bad_view"), str(e))
            view = None
        if obs is not None:
            ok = self._ingest(PerceptionOutput(time_to_ns(msg.header.stamp), obs, view, int(msg.place_id)))
        elif view is not None:     # a keyframe without its detections: stored, no absences drawn from it
            ok = self._ingest(PerceptionOutput(view.stamp_ns, [], view=view, place_id=view.place_id),
                              derive_absences=False)
        else:
            ok = False
        self._frames_ingested += int(ok)

    @_guarded
    def _on_places(self, msg: PlaceGraph) -> None:
        try:
            pg = place_graph_from_msg(msg)
        except InputError as e:
            self._bad(e.cause, str(e))
            return
        self._ingest(PerceptionOutput(pg.stamp_ns, [], places=pg))

    @_guarded
    def _on_rooms(self, msg: RoomSegmentation) -> None:
        try:
            seg = rooms_from_msg(msg)
        except InputError as e:
            self._bad(e.cause, str(e))
            return
        self._ingest(PerceptionOutput(seg.stamp_ns, [], rooms=seg))

    def _commit_and_publish(self, force: bool = False) -> None:
        mem = self.memory
        if mem is None or self._fault == "disk_low":
            return
        now = time.monotonic()
        if mem.store_fault is not None and not force and now < self._retry_at:
            return                                   # backing off
        store = mem.store
        if not mem.has_uncommitted and mem.store_fault is None and not (store is not None and store.has_pending):
            return
        try:
            mem.commit()
        except StoreError as e:
            self._set_fault(getattr(e, "fault", "io"), str(e))
            self._retry_wait = min(_RETRY_S[1], self._retry_wait * 2)
            self._retry_at = now + self._retry_wait
            return
        self._retry_wait = _RETRY_S[0]
        self._set_fault("ok", "")
        self._last_commit_wall = now
        self._publish_progress()
        self._graph_dirty = True

    def _on_tick(self) -> None:
        try:
            self._watch_space(time.monotonic())
            self._commit_and_publish()
            if time.monotonic() - self._last_progress_wall >= _PROGRESS_HEARTBEAT_S:
                self._publish_progress()          # so a reader that missed the last one (a resending
            self._publish_graph()                 # perception, a late joiner) learns where memory stands
        except Exception as e:        # nothing escapes into the executor
            self._bad("tick", f"{type(e).__name__}: {e}")

    # ------------------------------------------------------------------------------ publishing
    def _publish_progress(self) -> None:
        if self.memory is None or self._pub_progress is None:
            return
        self._last_progress_wall = time.monotonic()
        st = self.memory.stats()
        self._pub_progress.publish(ingest_progress_msg(
            self.memory.ingested_through_ns, st["observations"], st["views"], self.params.node.map_frame,
            self.get_clock().now().to_msg()))

    def _publish_graph(self, force: bool = False) -> None:
        if self.memory is None or self._pub_graph is None or not self._graph_dirty:
            return
        now = time.monotonic()
        if not force and now - self._last_graph_wall < self.params.node.scene_graph_period_s:
            return
        self._last_graph_wall = now
        self._graph_dirty = False
        try:
            g = self.memory.scene_graph()
            stamp = max(0, self.memory.now_ns())
            self._pub_graph.publish(scene_graph_to_msg(g, stamp, self.params.node.map_frame))
            if self.params.node.publish_markers:
                self._pub_markers.publish(markers_from_graph(g, stamp, self.params.node.map_frame,
                                                             self.params.node.max_marker_objects))
        except MemoryStackError as e:
            self._bad("scene_graph", str(e))

    # ------------------------------------------------------------------------------ diagnostics
    def _lifecycle_state(self) -> str:
        return str(self._state_machine.current_state[1])

    def _diagnose_lifecycle(self) -> Status:
        state = self._lifecycle_state()
        s = Status({"state": state, "store open": self.memory is not None}, ok_message="active")
        if state != "active":
            s.add(WARN, f"{state}: not ingesting or answering (the lifecycle manager configures and activates it)")
        return s

    def _diagnose_store(self) -> Optional[Status]:
        """Only while the store is open (configured / active)."""
        mem, p = self.memory, self.params
        if mem is None or p is None:
            return None
        now = time.monotonic()
        path = p.memory.store.path
        store = mem.store
        size = sum(os.path.getsize(f) for f in (path, f"{path}-wal") if os.path.isfile(f))
        errors = {c: n for c, n in self._log_bad.counts().items() if c == "store_error"}
        age = None if self._last_commit_wall is None else now - self._last_commit_wall
        s = Status({"path": path, "database size (MB)": size / 1e6, "last commit age (s)": age,
                    "uncommitted": mem.has_uncommitted, "store errors": sum(errors.values()),
                    "schema version": store.schema_version if store is not None else None,
                    "state": self._fault, "free space (MB)": self._free_mb,
                    "keyframes held in RAM": store.unwritten_keyframes if store is not None else 0,
                    "rows refused": store.rejected_rows if store is not None else 0,
                    "orphan files removed at open": store.orphans_removed if store is not None else 0,
                    "page check": getattr(store, "page_check", "n/a (server)")})
        s.counts("store errors", errors)
        if self._fault != "ok":
            s.add(ERROR, f"store fault ({self._fault}): {self._fault_why}; not acknowledging new input")
        recent = self._store_errors.count(now)
        if recent:
            s.add(ERROR, f"{recent} store error(s) in the last {_RECENT_S:.0f} s (see the log: 'bad input "
                         "(store_error)')")
        return s

    def _diagnose_ingest(self) -> Optional[Status]:
        mem = self.memory
        if mem is None:
            return None
        now_ns = self.get_clock().now().nanoseconds
        through = mem.ingested_through_ns
        st = mem.stats()
        bad = {c: n for c, n in self._log_bad.counts().items() if c != "store_error"}
        s = Status({"ingest lag (s)": (now_ns - through) / 1e9 if through >= 0 and now_ns > 0 else None,
                    "ingested through (ns)": through, "frames received": self._frames_received,
                    "frames ingested": self._frames_ingested, **st, "bad inputs": sum(bad.values())})
        s.counts("bad inputs", bad)
        recent = self._bad_recent.count(time.monotonic())
        if recent:
            s.add(WARN, f"{recent} bad input(s) in the last {_RECENT_S:.0f} s (causes: {', '.join(sorted(bad))})")
        return s

    # ------------------------------------------------------------------------------ services
    @memory_service("recall_failed", bad_request=(InputError, NotFoundError))
    def _on_recall(self, req: Recall.Request, resp: Recall.Response) -> Recall.Response:
        items = self._recall(req)
        if req.max_results > 0:
            items = items[:req.max_results]
        resp.items = items
        resp.error_code = Recall.Response.NONE
        return resp

    def _recall_table(self) -> Dict[str, Callable[["_RecallQuery"], list]]:
        """Recall kind (Recall.Request.KIND_*) -> its handler, in the order the srv lists them."""
        R = Recall.Request
        return {R.KIND_LAST_SEEN: self._recall_last_seen, R.KIND_WHERE_AT: self._recall_where_at,
                R.KIND_HISTORY: self._recall_history, R.KIND_OBJECTS_IN: self._recall_objects_in,
                R.KIND_COUNT: self._recall_count, R.KIND_CHANGES: self._recall_changes,
                R.KIND_STALENESS: self._recall_staleness, R.KIND_ABSENCES: self._recall_absences,
                R.KIND_PLACES: self._recall_places, R.KIND_ROBOT_POSES: self._recall_robot_poses,
                R.KIND_SEEN: self._recall_seen, R.KIND_OBJECT: self._recall_object}

    def _recall(self, req: Recall.Request) -> list:
        q = _RecallQuery(req)
        handler = self._recall_kinds.get(q.kind)
        if handler is None:
            raise InputError("bad_kind", f"unknown recall kind {req.kind!r}; known: {', '.join(self._recall_kinds)}")
        return handler(q)

    def _recall_last_seen(self, q: "_RecallQuery") -> list:
        q.need(q.query, "object_id or class_name")
        return [sighting_to_item(s) for s in self.memory.last_seen(q.query, before_ns=q.t)]

    def _recall_where_at(self, q: "_RecallQuery") -> list:
        q.need(q.object_id, "object_id")
        s = self.memory.where_at(q.object_id, q.t if q.t is not None else self.memory.now_ns())
        return [] if s is None else [sighting_to_item(s)]

    def _recall_object(self, q: "_RecallQuery") -> list:
        q.need(q.object_id, "object_id")
        return [sighting_to_item(self.memory.get_object(q.object_id))]

    def _recall_history(self, q: "_RecallQuery") -> list:
        q.need(q.query, "object_id or class_name")
        return [span_to_item(h) for h in self.memory.history(q.query, q.ws, q.we)]

    def _recall_objects_in(self, q: "_RecallQuery") -> list:
        return [sighting_to_item(s) for s in self.memory.objects_in(q.room, q.place, q.t)]

    def _recall_count(self, q: "_RecallQuery") -> list:
        mem = self.memory
        q.need(q.class_name, "class_name")
        n, ev = mem.count(q.class_name, q.room, q.t)
        return [count_to_item(q.class_name, n, ev, -1 if q.room is None else q.room,
                              q.t if q.t is not None else mem.now_ns())]

    def _recall_changes(self, q: "_RecallQuery") -> list:
        mem = self.memory
        evs = mem.changes_of(q.query, q.ws, q.we) if q.query else mem.changes(q.ws, q.we, q.room)
        if q.query and q.room is not None:
            evs = [e for e in evs if q.room in (e.from_room_id, e.to_room_id)]
        return [change_to_item(e) for e in evs]

    def _recall_staleness(self, q: "_RecallQuery") -> list:
        mem = self.memory
        q.need(q.object_id, "object_id")
        at = q.t if q.t is not None else mem.now_ns()
        s = mem.get_object(q.object_id)
        return [staleness_to_item(q.object_id, s.class_name, mem.p_still_there(q.object_id, at), at)]

    def _recall_absences(self, q: "_RecallQuery") -> list:
        mem = self.memory
        q.need(q.object_id, "object_id")
        return [absence_to_item(a, mem.view_keyframe(a.view_id)) for a in mem.absences(q.object_id, q.ws)]

    def _recall_places(self, q: "_RecallQuery") -> list:
        return [place_to_item(p) for p in self.memory.places()]

    def _recall_robot_poses(self, q: "_RecallQuery") -> list:
        return [pose_to_item(p) for p in self.memory.robot_poses(q.ws, q.we, q.room, q.max_results)]

    def _recall_seen(self, q: "_RecallQuery") -> list:
        if q.ws is None or q.we is None:
            raise InputError("bad_request", "recall seen needs window_start and window_end")
        return [span_to_item(h) for h in self.memory.seen_between(q.ws, q.we)]

    @memory_service("forget_failed", bad_request=(InputError,))
    def _on_forget(self, req: Forget.Request, resp: Forget.Response) -> Forget.Response:
        ws = time_to_ns(req.window_start) or None
        we = time_to_ns(req.window_end) or None
        if ws is not None and we is not None and ws > we:
            raise InputError("bad_request", f"window_start ({ws} ns) is after window_end ({we} ns)")
        res = self.memory.forget(object_id=req.object_id, class_name=req.class_name, room_id=int(req.room_id),
                                 start_ns=ws, end_ns=we)
        resp.observations_deleted = int(res.observations_deleted)
        resp.keyframes_deleted = int(res.keyframes_deleted)
        resp.error_code = Forget.Response.NONE
        self.get_logger().info(f"forget: {res.observations_deleted} observations, {res.keyframes_deleted} keyframes "
                               f"deleted")
        self._graph_dirty = True
        self._publish_graph(force=True)
        return resp

    @memory_service("scene_graph_failed")
    def _on_get_scene_graph(self, req: GetSceneGraph.Request, resp: GetSceneGraph.Response) -> GetSceneGraph.Response:
        t = time_to_ns(req.t) or None
        g = self.memory.scene_graph(t)
        resp.graph = scene_graph_to_msg(g, t if t is not None else max(0, self.memory.now_ns()),
                                        self.params.node.map_frame)
        resp.error_code = GetSceneGraph.Response.NONE
        return resp


class _RecallQuery:
    """A Recall request's fields as the core takes them (ns or None, ids or None)."""

    def __init__(self, req: Recall.Request):
        self.kind = req.kind.strip().lower()
        self.t = time_to_ns(req.t) or None
        self.ws = time_to_ns(req.window_start) or None
        self.we = time_to_ns(req.window_end) or None
        self.room = int(req.room_id) if req.room_id >= 0 else None
        self.place = int(req.place_id) if req.place_id >= 0 else None
        self.object_id = req.object_id
        self.class_name = req.class_name
        self.max_results = int(req.max_results)
        self.query = (req.object_id or req.class_name).strip()
        if self.ws is not None and self.we is not None and self.ws > self.we:
            raise InputError("bad_request", f"window_start ({self.ws} ns) is after window_end ({self.we} ns)")
        for name, text in (("object_id", req.object_id), ("class_name", req.class_name), ("kind", req.kind)):
            if len(text) > 256 or any(ord(c) < 32 for c in text):
                raise InputError("bad_request", f"{name}: {len(text)} characters, at most 256 printable")

    def need(self, value: str, what: str) -> None:
        if not value:
            raise InputError("bad_request", f"recall {self.kind} needs {what}")


def main(args=None) -> None:
    run_node(MemoryNode, args, before_destroy=MemoryNode.close_memory, name="memory", what="the memory node")


if __name__ == "__main__":
    main()
