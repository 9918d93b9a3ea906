"""Memory node: the lifecycle node around MemoryCore (memory_nodes/memory).

configure  -> read parameters, open the store (a corrupt or foreign store fails the transition, untouched)
activate   -> subscribe perception/observations, perception/views, perception/places, perception/rooms
deactivate -> unsubscribe, commit
cleanup / shutdown -> commit and close the store

Serves memory/recall (Recall), memory/forget (Forget), memory/get_scene_graph (GetSceneGraph); publishes
memory/ingested_through (IngestProgress) after every commit, memory/scene_graph (latched) and
memory/markers (MarkerArray, latched). An ObjectObservationArray that names a view is ingested together
with that View (they are published separately for the same frame); a half that waits longer than
node.pair_timeout_s goes in alone (a view without its detections is stored without deriving absences).
Bad input is logged once per cause (then at debug level); the node stays up and loses nothing else.
"""
from __future__ import annotations

import array
import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import rclpy
from memory_interfaces.msg import IngestProgress, ObjectObservationArray, PlaceGraph, RoomSegmentation, SceneGraph
from memory_interfaces.msg import View as ViewMsg
from memory_interfaces.srv import Forget, GetSceneGraph, Recall
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.exceptions import ParameterUninitializedException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

from memory_nodes.common.config import ConfigError, config_from_dict, flatten, unflatten
from memory_nodes.common.errors import InputError, MemoryStackError, NotFoundError, StoreError
from memory_nodes.common.types import PerceptionOutput, View
from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.vocab import VocabConfig, Vocabulary

from .conversions.basic import time_to_ns
from .conversions.memory import (absence_to_item, change_to_item, count_to_item, ingest_progress_msg,
                                 markers_from_graph, place_to_item, scene_graph_to_msg, sighting_to_item,
                                 span_to_item, staleness_to_item)
from .conversions.perception import observations_from_msg, place_graph_from_msg, rooms_from_msg, view_from_msg

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)
STREAM = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                   history=HistoryPolicy.KEEP_LAST)   # every frame's perception output, even in a burst
EVENTS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                    history=HistoryPolicy.KEEP_LAST)

RECALL_KINDS = ("last_seen", "where_at", "history", "objects_in", "count", "changes", "staleness", "absences",
                "places", "object")


@dataclass
class MemoryNodeConfig:
    """Section ``node`` of the memory node's parameters."""
    map_frame: str = "map"
    pair_timeout_s: float = 1.0          # wall time an observation array waits for its View (and back)
    flush_period_s: float = 0.2          # commit what is pending at least this often (wall time)
    scene_graph_period_s: float = 2.0    # republish memory/scene_graph and markers at most this often
    publish_markers: bool = True
    max_marker_objects: int = 2000

    def validate(self) -> None:
        if self.pair_timeout_s <= 0 or self.flush_period_s <= 0 or self.scene_graph_period_s <= 0:
            raise ConfigError("node.pair_timeout_s, flush_period_s and scene_graph_period_s must be > 0")
        if not self.map_frame:
            raise ConfigError("node.map_frame must not be empty")


@dataclass
class MemoryNodeParams:
    """Everything the node reads: the core's sections, the vocabulary and the node's own section."""
    memory: MemoryConfig
    vocab: VocabConfig
    node: MemoryNodeConfig
    data_dir: str


_CORE_SECTIONS = tuple(f.name for f in dataclasses.fields(MemoryConfig))


def _defaults() -> Dict[str, Any]:
    d = flatten(dataclasses.asdict(MemoryConfig()))
    v = dataclasses.asdict(VocabConfig())
    v.pop("extra_synonyms")          # a mapping of lists: core YAML only, not a ROS parameter
    d.update(flatten(v, "vocab."))
    d.update(flatten(dataclasses.asdict(MemoryNodeConfig()), "node."))
    d["data_dir"] = "data"
    return d


def params_from_flat(values: Dict[str, Any]) -> MemoryNodeParams:
    """Typed, validated parameters from flat ROS names ("store.path", "vocab.allow_model", ...)."""
    nested = unflatten(values)
    data_dir = str(nested.pop("data_dir", "data"))
    vocab = config_from_dict(VocabConfig, nested.pop("vocab", {}) or {}, prefix="vocab.")
    node = config_from_dict(MemoryNodeConfig, nested.pop("node", {}) or {}, prefix="node.")
    core = {k: v for k, v in nested.items() if k in _CORE_SECTIONS}
    mem = config_from_dict(MemoryConfig, core)
    mem.validate()
    if not os.path.isabs(mem.store.path):
        mem.store.path = os.path.join(data_dir, mem.store.path)
    return MemoryNodeParams(mem, vocab, node, data_dir)


class MemoryNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("memory", automatically_declare_parameters_from_overrides=True, **kwargs)
        self._declare_parameters()
        self.params: Optional[MemoryNodeParams] = None
        self.memory: Optional[MemoryCore] = None
        self._active = False
        self._causes: Dict[str, int] = {}
        self._pending_obs: Dict[str, Tuple[PerceptionOutput, float]] = {}
        self._pending_views: Dict[str, Tuple[View, float]] = {}
        self._mem_subs: List[Any] = []
        self._mem_services: List[Any] = []
        self._mem_timers: List[Any] = []
        self._pub_progress = None
        self._pub_graph = None
        self._pub_markers = None
        self._graph_dirty = False
        self._last_graph_wall = 0.0
        self.get_logger().info("memory node created (unconfigured)")

    # ------------------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        for name, value in _defaults().items():
            if self.has_parameter(name):
                continue
            self.declare_parameter(name, value, ParameterDescriptor(
                description=f"memory {name} (see memory_nodes/memory/config.py, vocab, or MemoryNodeConfig)",
                read_only=True))

    def _read_params(self) -> MemoryNodeParams:
        values: Dict[str, Any] = {}
        for name in self.list_parameters([], 0).names:
            top = name.split(".", 1)[0]
            if top not in _CORE_SECTIONS and top not in ("vocab", "node", "data_dir"):
                continue
            try:
                v = self.get_parameter(name).value
            except ParameterUninitializedException:
                continue
            values[name] = list(v) if isinstance(v, (array.array, tuple)) else v
        return params_from_flat(values)

    # ------------------------------------------------------------------------------ lifecycle
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.params = self._read_params()
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
        self._mem_services = [
            self.create_service(Recall, "memory/recall", self._on_recall),
            self.create_service(Forget, "memory/forget", self._on_forget),
            self._make_graph_service(),
        ]
        st = self.memory.stats()
        self.get_logger().info(
            f"memory store {p.memory.store.path}: {st['objects']} objects, {st['observations']} observations, "
            f"ingested through {self.memory.ingested_through_ns} ns")
        return TransitionCallbackReturn.SUCCESS

    def _make_graph_service(self):
        return self.create_service(GetSceneGraph, "memory/get_scene_graph", self._on_get_scene_graph)

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._mem_subs = [
            self.create_subscription(ObjectObservationArray, "perception/observations", self._on_observations, STREAM),
            self.create_subscription(ViewMsg, "perception/views", self._on_view, STREAM),
            self.create_subscription(PlaceGraph, "perception/places", self._on_places, LATCHED),
            self.create_subscription(RoomSegmentation, "perception/rooms", self._on_rooms, LATCHED),
        ]
        self._mem_timers = [self.create_timer(self.params.node.flush_period_s, self._on_tick)]
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
        self._flush_pairs(force=True)
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
                self._flush_pairs(force=True)
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
        n = self._causes.get(cause, 0) + 1
        self._causes[cause] = n
        if n == 1:
            self.get_logger().warning(f"bad input ({cause}): {detail} [further '{cause}' are logged at debug level]")
        else:
            self.get_logger().debug(f"bad input ({cause}) #{n}: {detail}")

    # ------------------------------------------------------------------------------ ingest
    def _ingest(self, out: PerceptionOutput, derive_absences: bool = True) -> None:
        if self.memory is None:
            return
        try:
            through = self.memory.ingest(out, derive_absences=derive_absences)
        except InputError as e:
            self._bad(e.cause, str(e))
            through = None
        except StoreError as e:
            self._bad("store_error", str(e))
            through = None
        for w in self.memory.drain_warnings():
            self._bad(w.cause, str(w))
        if through is not None:
            self._publish_progress()
            self._graph_dirty = True

    def _on_observations(self, msg: ObjectObservationArray) -> None:
        try:
            obs = observations_from_msg(msg)
        except (InputError, ValueError) as e:
            self._bad(getattr(e, "cause", "bad_observations"), str(e))
            return
        out = PerceptionOutput(time_to_ns(msg.header.stamp), obs, None, int(msg.place_id))
        if msg.view_id:
            pending = self._pending_views.pop(msg.view_id, None)
            if pending is None:
                self._pending_obs[msg.view_id] = (out, time.monotonic() + self.params.node.pair_timeout_s)
                return
            out.view = pending[0]
        self._ingest(out)

    def _on_view(self, msg: ViewMsg) -> None:
        try:
            v = view_from_msg(msg)
        except (InputError, ValueError) as e:
            self._bad(getattr(e, "cause", "bad_view"), str(e))
            return
        pending = self._pending_obs.pop(v.view_id, None)
        if pending is None:
            self._pending_views[v.view_id] = (v, time.monotonic() + self.params.node.pair_timeout_s)
            return
        out = pending[0]
        out.view = v
        self._ingest(out)

    def _on_places(self, msg: PlaceGraph) -> None:
        try:
            pg = place_graph_from_msg(msg)
        except InputError as e:
            self._bad(e.cause, str(e))
            return
        self._ingest(PerceptionOutput(pg.stamp_ns, [], places=pg))

    def _on_rooms(self, msg: RoomSegmentation) -> None:
        try:
            seg = rooms_from_msg(msg)
        except InputError as e:
            self._bad(e.cause, str(e))
            return
        self._ingest(PerceptionOutput(seg.stamp_ns, [], rooms=seg))

    def _flush_pairs(self, force: bool = False) -> None:
        now = time.monotonic()
        for vid, (out, deadline) in list(self._pending_obs.items()):
            if force or now >= deadline:
                del self._pending_obs[vid]
                self._bad("view_missing", f"observations of view {vid} went in without their View")
                self._ingest(out)
        for vid, (v, deadline) in list(self._pending_views.items()):
            if force or now >= deadline:
                del self._pending_views[vid]
                self._bad("observations_missing", f"view {vid} stored without observations (no absences drawn)")
                self._ingest(PerceptionOutput(v.stamp_ns, [], view=v, place_id=v.place_id), derive_absences=False)

    def _commit_and_publish(self) -> None:
        if self.memory is None or not self.memory.has_uncommitted:
            return
        try:
            self.memory.commit()
        except StoreError as e:
            self._bad("store_error", str(e))
            return
        self._publish_progress()
        self._graph_dirty = True

    def _on_tick(self) -> None:
        self._flush_pairs()
        self._commit_and_publish()
        self._publish_graph()

    # ------------------------------------------------------------------------------ publishing
    def _publish_progress(self) -> None:
        if self.memory is None or self._pub_progress is None:
            return
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

    # ------------------------------------------------------------------------------ services
    def _on_recall(self, req: Recall.Request, resp: Recall.Response) -> Recall.Response:
        if not self._active or self.memory is None:
            resp.error_code = Recall.Response.NOT_ACTIVE
            resp.error_msg = "memory is not active"
            return resp
        try:
            items = self._recall(req)
        except InputError as e:
            resp.error_code = Recall.Response.BAD_REQUEST
            resp.error_msg = str(e)
            return resp
        except NotFoundError as e:
            resp.error_code = Recall.Response.BAD_REQUEST
            resp.error_msg = str(e)
            return resp
        except Exception as e:        # nothing escapes into the executor
            resp.error_code = Recall.Response.UNKNOWN
            resp.error_msg = f"{type(e).__name__}: {e}"
            self._bad("recall_failed", resp.error_msg)
            return resp
        if req.max_results > 0:
            items = items[:req.max_results]
        resp.items = items
        resp.error_code = Recall.Response.NONE
        return resp

    def _recall(self, req: Recall.Request) -> list:
        mem = self.memory
        kind = req.kind.strip().lower()
        t = time_to_ns(req.t) or None
        ws = time_to_ns(req.window_start) or None
        we = time_to_ns(req.window_end) or None
        room = int(req.room_id) if req.room_id >= 0 else None
        place = int(req.place_id) if req.place_id >= 0 else None
        query = (req.object_id or req.class_name).strip()
        if kind == "last_seen":
            self._need(query, kind, "object_id or class_name")
            return [sighting_to_item(s) for s in mem.last_seen(query, before_ns=t)]
        if kind == "where_at":
            self._need(req.object_id, kind, "object_id")
            s = mem.where_at(req.object_id, t if t is not None else mem.now_ns())
            return [] if s is None else [sighting_to_item(s)]
        if kind == "object":
            self._need(req.object_id, kind, "object_id")
            return [sighting_to_item(mem.get_object(req.object_id))]
        if kind == "history":
            self._need(query, kind, "object_id or class_name")
            return [span_to_item(h) for h in mem.history(query, ws, we)]
        if kind == "objects_in":
            return [sighting_to_item(s) for s in mem.objects_in(room, place, t)]
        if kind == "count":
            self._need(req.class_name, kind, "class_name")
            n, ev = mem.count(req.class_name, room, t)
            return [count_to_item(req.class_name, n, ev, -1 if room is None else room,
                                  t if t is not None else mem.now_ns())]
        if kind == "changes":
            evs = mem.changes_of(query, ws, we) if query else mem.changes(ws, we, room)
            if query and room is not None:
                evs = [e for e in evs if room in (e.from_room_id, e.to_room_id)]
            return [change_to_item(e) for e in evs]
        if kind == "staleness":
            self._need(req.object_id, kind, "object_id")
            at = t if t is not None else mem.now_ns()
            s = mem.get_object(req.object_id)
            return [staleness_to_item(req.object_id, s.class_name, mem.p_still_there(req.object_id, at), at)]
        if kind == "absences":
            self._need(req.object_id, kind, "object_id")
            return [absence_to_item(a, mem.view_keyframe(a.view_id)) for a in mem.absences(req.object_id, ws)]
        if kind == "places":
            return [place_to_item(p) for p in mem.places()]
        raise InputError("bad_kind", f"unknown recall kind {req.kind!r}; known: {', '.join(RECALL_KINDS)}")

    @staticmethod
    def _need(value: str, kind: str, what: str) -> None:
        if not value:
            raise InputError("bad_request", f"recall {kind} needs {what}")

    def _on_forget(self, req: Forget.Request, resp: Forget.Response) -> Forget.Response:
        if not self._active or self.memory is None:
            resp.error_code = Forget.Response.NOT_ACTIVE
            resp.error_msg = "memory is not active"
            return resp
        ws = time_to_ns(req.window_start) or None
        we = time_to_ns(req.window_end) or None
        try:
            res = self.memory.forget(object_id=req.object_id, class_name=req.class_name, room_id=int(req.room_id),
                                     start_ns=ws, end_ns=we)
        except InputError as e:
            resp.error_code = Forget.Response.BAD_REQUEST
            resp.error_msg = str(e)
            return resp
        except Exception as e:
            resp.error_code = Forget.Response.UNKNOWN
            resp.error_msg = f"{type(e).__name__}: {e}"
            self._bad("forget_failed", resp.error_msg)
            return resp
        resp.observations_deleted = int(res.observations_deleted)
        resp.keyframes_deleted = int(res.keyframes_deleted)
        resp.error_code = Forget.Response.NONE
        self.get_logger().info(f"forget: {res.observations_deleted} observations, {res.keyframes_deleted} keyframes "
                               f"deleted")
        self._graph_dirty = True
        self._publish_graph(force=True)
        return resp

    def _on_get_scene_graph(self, req: GetSceneGraph.Request, resp: GetSceneGraph.Response) -> GetSceneGraph.Response:
        if not self._active or self.memory is None:
            resp.error_code = GetSceneGraph.Response.NOT_ACTIVE
            resp.error_msg = "memory is not active"
            return resp
        try:
            t = time_to_ns(req.t) or None
            g = self.memory.scene_graph(t)
            resp.graph = scene_graph_to_msg(g, t if t is not None else max(0, self.memory.now_ns()),
                                            self.params.node.map_frame)
            resp.error_code = GetSceneGraph.Response.NONE
        except Exception as e:
            resp.error_code = GetSceneGraph.Response.UNKNOWN
            resp.error_msg = f"{type(e).__name__}: {e}"
            self._bad("scene_graph_failed", resp.error_msg)
        return resp


def main(args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = MemoryNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close_memory()
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
