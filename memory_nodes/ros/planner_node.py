"""Planner node: answers questions over the ``ask`` service and the ``ask_active`` action.

MemoryView is implemented over memory/recall and memory/get_scene_graph; Navigator over Nav2's
``navigate_to_pose`` action (a look = turning through ``node.look_yaws`` headings on the spot, collecting
perception/frames meanwhile, then waiting until perception/frames and memory/ingested_through have
passed the end of the look, so the look has all its frames and memory holds what was seen; frame_ack
alone is not enough, see wait_frames_through). The planner reads what a look saw from perception/frames
itself: the look's result needs the views' depth images (visibility of each hypothesis) at once, while
memory stores and answers about objects; memory/ingested_through tells it when memory has caught up, so
later recalls include the look. The robot's pose comes from ``odom`` (assumed aligned with the map frame,
as in the simulator) and NavigateToPose feedback.

Threads: a MultiThreadedExecutor and one answering thread. Questions are answered one at a time (there
is one robot) on the answering thread; the ask service and action callbacks (a reentrant group) are
coroutines that admit or refuse a request at once and then await its answer, so no executor thread is
held while a question waits its turn, and every client and subscription (another reentrant group) keeps
being served: the answering thread waits (with time-outs) on responses the executor threads deliver. The
node never waits on a service of its own.

Admission (section ``services``): the ask service and the action's goal/result services hold
``services.queue_depth`` requests (qos.py: with rclpy's default of 10 the 11th request of a burst was
dropped by DDS, unanswered and unlogged); at most ``services.max_concurrent_asks`` questions are admitted
(one answered, the rest waiting their turn, each within its own timeout_s from admission), a request
beyond that is answered BUSY at once. A bad field is BAD_REQUEST naming it (``request_problem``): an empty,
over-long or control-character question, a NaN / infinite / negative budget_m or timeout_s, a reversed
window or one starting more than ``services.max_window_ahead_s`` past the node clock.

Fleet questions (section ``fleet``, config/fleet.yaml; memory_nodes/planner/fleet_questions.py): a question
with a fleet scope ("has any robot seen my keys today?", "which robot saw the mug last?") is answered
before the normal path from the fleet server (``fleet.url``) through FleetView, naming the robot and its
evidence; with ``fleet.url`` empty, or the server unreachable, from this robot's own memory (over
memory/recall), the answer saying it covers only this robot. Other questions are answered as before.

Diagnostics (``/diagnostics``, see diagnostics.py): ``planner: answers`` (questions answered / not sure /
cannot parse / failed, the last answer's latency; WARN when the last question failed) and ``planner:
connections`` (memory/recall, memory/get_scene_graph and navigate_to_pose available; ERROR without memory,
WARN without navigate_to_pose: ask_active cannot look).
"""
from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from memory_interfaces.action import AskActive
from memory_interfaces.msg import FrameObservations, IngestProgress, SceneGraphNode
from memory_interfaces.srv import Ask, GetSceneGraph, Recall
from nav_msgs.msg import Odometry
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from memory_nodes.common.config import ConfigError
from memory_nodes.common.errors import InputError, MemoryStackError, StoreError
from memory_nodes.common.geometry import R_to_quat
from memory_nodes.common.place_graph import shortest_place_path
from memory_nodes.common.protocols import (
    Absence,
    ChangeEvent,
    Evidence,
    HistorySpan,
    LookResult,
    PlaceInfo,
    PoseSample,
    Sighting,
)
from memory_nodes.memory.repository.fleet import FleetConfig, fleet_robot_id
from memory_nodes.planner import query as Q
from memory_nodes.planner.answer import ANSWERED, CANNOT_PARSE, NOT_SURE, STOP_CANCELLED, Answer
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fleet_questions import answer_fleet, detect_fleet_question
from memory_nodes.planner.planner import Feedback, Planner

from . import compat
from .conversions.basic import ns_to_time, time_to_ns
from .conversions.perception import frame_view_from_msg, observations_from_msg
from .conversions.planner import (
    absence_from_item,
    change_from_item,
    evidence_from_msg,
    fill_error,
    fill_feedback,
    fill_reply,
    place_from_item,
    pose_from_item,
    scene_graph_rooms_places,
    sighting_from_item,
    span_from_item,
    window_from_request,
)
from .diagnostics import ERROR, WARN, Diagnostics, LatencyStats, Status, ms
from .log_once import LogOnce
from .params import NodeParameters, Section
from .qos import EVENTS, services_qos
from .runner import run_node
from .stream_wait import wait_stream_through

_UNIT = (0.0, 1.0)


@dataclass
class ServicesConfig:
    """Section ``services`` of the planner node: admission of ask / ask_active (see the module docstring)."""
    queue_depth: int = 100               # requests the ask service and ask_active's goal/result services hold
    max_concurrent_asks: int = 8         # questions admitted at once (one answered, the rest queued); more -> BUSY
    max_question_chars: int = 1000       # a longer question is BAD_REQUEST
    max_window_ahead_s: float = 86400.0  # a window starting this far past the node clock is BAD_REQUEST (0 = no check)

    def validate(self) -> None:
        if self.queue_depth < 1 or self.max_concurrent_asks < 1 or self.max_question_chars < 1:
            raise ConfigError("services.queue_depth, max_concurrent_asks and max_question_chars must be >= 1")
        if not self.max_window_ahead_s >= 0:
            raise ConfigError("services.max_window_ahead_s must be >= 0")


def request_problem(req, now_ns: int, cfg: ServicesConfig) -> Optional[str]:
    """What is wrong with an Ask request / AskActive goal, naming the field; None when nothing is."""
    q = req.question
    if not q.strip():
        return "question: empty"
    if len(q) > cfg.max_question_chars:
        return f"question: {len(q)} characters, at most {cfg.max_question_chars} (services.max_question_chars)"
    if any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in q):
        return "question: control characters"
    budget, timeout = float(req.budget_m), float(req.timeout_s)
    if not (math.isfinite(budget) and budget >= 0):
        return f"budget_m: {budget!r}; a finite number of m >= 0 (0 = answer from memory only)"
    if not (math.isfinite(timeout) and timeout >= 0):
        return f"timeout_s: {timeout!r}; a finite number of s >= 0 (0 = the node's default)"
    for name in ("window_start", "window_end"):
        t = getattr(req, name)
        if t.sec < 0 or t.nanosec >= 1_000_000_000:
            return f"{name}: sec {t.sec}, nanosec {t.nanosec} is not a time (sec >= 0, nanosec < 1e9)"
    a, b = time_to_ns(req.window_start), time_to_ns(req.window_end)
    if a and b and a > b:
        return f"window: window_start ({a} ns) is after window_end ({b} ns)"
    ahead = cfg.max_window_ahead_s
    if a and now_ns > 0 and ahead > 0 and a > now_ns + ahead * 1e9:
        return (f"window_start: {(a - now_ns) / 86400e9:.1f} days past the node clock (at most "
                f"services.max_window_ahead_s = {ahead:g} s)")
    return None


# The parameters: PlannerConfig's sections (utility.c_wrong, node.look_yaws, ...). Ranges: only those
# validate() enforces exactly (tests/test_ros_params.py checks each).
PARAMETERS = (
    Section(PlannerConfig, ranges={
        "utility.c_wrong": (0.0, None), "utility.look_cost": (0.0, None), "utility.lambda_per_m": (0.0, None),
        "detector.visibility_max": _UNIT, "detector.cross_room_visibility": _UNIT, "detector.min_visibility": _UNIT,
        "belief.p_gone_if_moved": _UNIT, "belief.p_absent_if_never_seen": _UNIT,
        "belief.past_span_confidence": _UNIT, "belief.unseen_instance_rate": _UNIT,
        "explore.max_looks": (0, None), "explore.max_viewpoints": (1, None), "explore.path_margin": (0.0, None),
        "explore.tour_lookahead": (0, None),
        **{f"parser.{n}": _UNIT for n in ("min_kind_similarity", "min_kind_margin", "min_class_similarity",
                                           "typo_cutoff")},
        "parser.calendar.day_start_hour": (0, 23),
        "node.look_yaws": (1, None), "node.look_settle_s": (0.0, None),
        "node.look_lag_timeout_s": (0.0, None), "node.path_detour_factor": (1.0, None)}),
    Section(ServicesConfig, "services.", ranges={
        "services.queue_depth": (1, None), "services.max_concurrent_asks": (1, None),
        "services.max_question_chars": (1, None), "services.max_window_ahead_s": (0.0, None)}),
    Section(FleetConfig, "fleet.", ranges={"fleet.min_score": _UNIT, "fleet.batch": (1, None)}),
)
NONE, UNKNOWN, TIMEOUT, MEMORY_UNAVAILABLE, NAVIGATION_FAILED, CANCELED = 0, 1, 2, 3, 4, 5
BAD_REQUEST, BUSY = Ask.Response.BAD_REQUEST, Ask.Response.BUSY


class WaitTimeout(MemoryStackError):
    """A service, action or topic did not answer in time."""


class _UnreachableFleet:
    """Stands for a configured fleet server that could not be opened: every call fails, so FleetView answers
    from this robot's own memory and says the server was unreachable (not that none is configured)."""

    def __getattr__(self, name: str):
        raise StoreError(f"the fleet server could not be reached ({name})")


def wait_future(fut, timeout_s: float, what: str):
    """Block this (worker) thread until the future is done; another executor thread completes it."""
    done = threading.Event()
    fut.add_done_callback(lambda _f: done.set())
    if not done.wait(timeout_s):
        raise WaitTimeout(f"{what}: no reply within {timeout_s:.1f} s")
    return fut.result()


def call_read_only(client, req, timeout_s: float, what: str):
    """Call a read-only service, sending the request again a third of ``timeout_s`` after an unanswered send.

    A client's first request can go unanswered though the server is ready: ``service_is_ready`` turns true
    when the request reader is matched, before the server has matched the client's response reader, and DDS
    drops the reply (ros2/rmw_fastrtps#238, ros2/rmw_cyclonedds#187). Recall and get_scene_graph change
    nothing, so asking again is safe; the first reply to come wins and the other requests are forgotten."""
    done = threading.Event()
    futures: List[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            f = client.call_async(req)
            f.add_done_callback(lambda _f: done.set())
            futures.append(f)
            left = deadline - time.monotonic()
            if done.wait(max(0.0, min(timeout_s / 3.0, left))):
                return next(f.result() for f in futures if f.done())
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"{what}: no reply within {timeout_s:.1f} s ({len(futures)} request(s) sent)")
    finally:
        forget = getattr(client, "remove_pending_request", None)
        for f in futures:
            if not f.done() and forget is not None:
                forget(f)


_KIND = Recall.Request     # the recall kinds: Recall.Request.KIND_* (memory_interfaces/srv/Recall.srv)


class RosMemoryView:
    """MemoryView over memory/recall and memory/get_scene_graph (one per question: it caches the graph)."""

    def __init__(self, node: "PlannerNode"):
        self.node = node
        self.cfg = node.config.node
        self._graph: Optional[Tuple[Dict[int, str], Dict[int, np.ndarray], List[Tuple[int, int]]]] = None
        self._places: Optional[List[PlaceInfo]] = None

    def _recall(self, kind: str, object_id: str = "", class_name: str = "", room_id: Optional[int] = None,
                place_id: Optional[int] = None, t_ns: Optional[int] = None, start_ns: Optional[int] = None,
                end_ns: Optional[int] = None, optional: bool = False, limit: int = 0):
        client = self.node.recall_client
        if not client.wait_for_service(timeout_sec=self.cfg.server_wait_s):
            raise WaitTimeout("memory/recall is not available")
        req = Recall.Request()
        req.kind = kind
        req.object_id = object_id
        req.class_name = class_name
        req.room_id = -1 if room_id is None else int(room_id)
        req.place_id = -1 if place_id is None else int(place_id)
        req.t = ns_to_time(t_ns) if t_ns else Time()
        req.window_start = ns_to_time(start_ns) if start_ns else Time()
        req.window_end = ns_to_time(end_ns) if end_ns else Time()
        cap = self.cfg.max_recall_results
        req.max_results = min(limit, cap) if limit > 0 and cap > 0 else max(limit, cap)
        resp = call_read_only(client, req, self.cfg.service_timeout_s, f"memory/recall {kind}")
        if resp.error_code != Recall.Response.NONE:
            if optional and resp.error_code == Recall.Response.BAD_REQUEST:
                self.node.log_once(f"recall-{kind}", f"memory/recall does not serve kind '{kind}': {resp.error_msg}")
                return []
            raise MemoryStackError(f"memory/recall {kind} failed ({resp.error_code}): {resp.error_msg}")
        return list(resp.items)

    def _scene_graph(self):
        if self._graph is None:
            client = self.node.graph_client
            if not client.wait_for_service(timeout_sec=self.cfg.server_wait_s):
                raise WaitTimeout("memory/get_scene_graph is not available")
            resp = call_read_only(client, GetSceneGraph.Request(), self.cfg.service_timeout_s,
                                  "memory/get_scene_graph")
            if resp.error_code != 0:
                raise MemoryStackError(f"memory/get_scene_graph failed ({resp.error_code}): {resp.error_msg}")
            self._graph = scene_graph_rooms_places(resp.graph, SceneGraphNode.LAYER_ROOMS, SceneGraphNode.LAYER_PLACES)
        return self._graph

    # ------------------------------------------------------------------------------- MemoryView
    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]:
        items = self._recall(_KIND.KIND_LAST_SEEN, class_name=query, t_ns=before_ns)
        return [sighting_from_item(i) for i in items]

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]:
        items = self._recall(_KIND.KIND_WHERE_AT, object_id=object_id, t_ns=t_ns)
        return sighting_from_item(items[0]) if items else None

    def history(self, query: str, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> List[HistorySpan]:
        items = self._recall(_KIND.KIND_HISTORY, class_name=query, start_ns=start_ns, end_ns=end_ns)
        return [span_from_item(i) for i in items]

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]:
        items = self._recall(_KIND.KIND_OBJECTS_IN, room_id=room_id, place_id=place_id, t_ns=t_ns)
        return [sighting_from_item(i) for i in items]

    def count(self, class_name: str, room_id: Optional[int] = None, t_ns: Optional[int] = None):
        items = self._recall(_KIND.KIND_COUNT, class_name=class_name, room_id=room_id, t_ns=t_ns)
        if not items:
            return 0, Evidence()
        return int(items[0].count), evidence_from_msg(items[0].evidence)

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]:
        items = self._recall(_KIND.KIND_CHANGES, room_id=room_id, start_ns=start_ns, end_ns=end_ns)
        return [change_from_item(i) for i in items]

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]:
        items = self._recall(_KIND.KIND_ABSENCES, object_id=object_id, start_ns=since_ns, optional=True)
        return [absence_from_item(i) for i in items if i.event in ("", "absent")]

    def p_still_there(self, object_id: str, t_ns: int) -> float:
        items = self._recall(_KIND.KIND_STALENESS, object_id=object_id, t_ns=t_ns)
        return float(items[0].p_still_there) if items else 0.0

    def class_move_rate_per_day(self, class_name: str) -> float:
        return -1.0          # not served by memory/recall: the planner uses its configured default

    def places(self) -> List[PlaceInfo]:
        if self._places is None:
            rooms = self.rooms()
            items = self._recall(_KIND.KIND_PLACES)
            if items:
                self._places = [place_from_item(i, rooms) for i in items]
            else:
                _, pos, _ = self._scene_graph()
                self._places = [PlaceInfo(k, p, -1, "") for k, p in pos.items()]
        return self._places

    def place_edges(self) -> List[Tuple[int, int]]:
        return self._scene_graph()[2]

    def path_between_places(self, a: int, b: int) -> List[int]:
        pos = {p.place_id: p.position_m for p in self.places()}
        return shortest_place_path(pos, self.place_edges(), a, b)[1]

    def robot_poses(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                    room_id: Optional[int] = None, limit: int = 0) -> List[PoseSample]:
        items = self._recall(_KIND.KIND_ROBOT_POSES, room_id=room_id, start_ns=start_ns, end_ns=end_ns, limit=limit)
        return [pose_from_item(i) for i in items]

    def seen_between(self, start_ns: int, end_ns: int, limit: int = 0) -> List[HistorySpan]:
        items = self._recall(_KIND.KIND_SEEN, start_ns=start_ns, end_ns=end_ns, limit=limit)
        return [span_from_item(i) for i in items]

    def rooms(self) -> Dict[int, str]:
        rooms = dict(self._scene_graph()[0])
        if not rooms and self._places:
            rooms = {p.room_id: p.room_label for p in self._places if p.room_id >= 0 and p.room_label}
        return rooms

    def room_at(self, position_m: np.ndarray, observed_room_id: int = -1) -> int:
        # memory/recall serves no room map; what it returns already carries the room of its position
        return observed_room_id


def yaw_quat(yaw: float) -> Tuple[float, float, float, float]:
    c, s = math.cos(yaw), math.sin(yaw)
    return R_to_quat(np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))


class RosNavigator:
    """Navigator over NavigateToPose; looks collect perception's output and wait for memory to ingest it."""

    def __init__(self, node: "PlannerNode", memory: RosMemoryView, should_stop: Callable[[], bool]):
        self.node = node
        self.cfg = node.config.node
        self.memory = memory
        self.should_stop = should_stop

    def current_pose(self) -> Tuple[float, float, float]:
        return self.node.latest_pose()

    def path_cost_m(self, start, goal) -> float:
        straight = math.hypot(goal[0] - start[0], goal[1] - start[1])
        try:
            places = {p.place_id: p.position_m for p in self.memory.places()}
            edges = self.memory.place_edges()
        except MemoryStackError:
            places, edges = {}, []
        if places and edges:
            def nearest(x, y):
                return min(places, key=lambda k: (places[k][0] - x) ** 2 + (places[k][1] - y) ** 2)
            a, b = nearest(start[0], start[1]), nearest(goal[0], goal[1])
            graph_len, _ = shortest_place_path(places, edges, a, b)
            if math.isfinite(graph_len):
                legs = math.hypot(places[a][0] - start[0], places[a][1] - start[1]) + \
                    math.hypot(places[b][0] - goal[0], places[b][1] - goal[1])
                return max(straight, graph_len + legs)
        return straight * self.cfg.path_detour_factor

    def go_to(self, goal) -> float:
        from nav2_msgs.action import NavigateToPose
        client = self.node.nav_client
        if not client.wait_for_server(timeout_sec=self.cfg.server_wait_s):
            raise WaitTimeout("navigate_to_pose is not available")
        msg = NavigateToPose.Goal()
        ps = PoseStamped()
        ps.header.frame_id = self.cfg.map_frame
        ps.header.stamp = self.node.get_clock().now().to_msg()
        ps.pose.position.x, ps.pose.position.y = float(goal[0]), float(goal[1])
        qx, qy, qz, qw = yaw_quat(float(goal[2]))
        ps.pose.orientation.x, ps.pose.orientation.y, ps.pose.orientation.z, ps.pose.orientation.w = qx, qy, qz, qw
        msg.pose = ps
        start_odometer = self.node.odometer()
        start_pose = self.current_pose()
        handle = wait_future(client.send_goal_async(msg, feedback_callback=self.node.on_nav_feedback),
                             self.cfg.server_wait_s, "navigate_to_pose goal")
        if not handle.accepted:
            raise MemoryStackError("navigate_to_pose rejected the goal")
        result_future = handle.get_result_async()
        done = threading.Event()
        result_future.add_done_callback(lambda _f: done.set())
        deadline = time.monotonic() + self.cfg.nav_timeout_s
        while not done.wait(0.05):
            if self.should_stop() or time.monotonic() > deadline:
                try:
                    wait_future(handle.cancel_goal_async(), self.cfg.server_wait_s, "navigate_to_pose cancel")
                except WaitTimeout:
                    self.node.log_once("nav-cancel", "navigate_to_pose did not confirm the cancel")
                driven = self._driven(start_odometer, start_pose)
                if time.monotonic() > deadline:
                    raise WaitTimeout(f"navigate_to_pose did not finish within {self.cfg.nav_timeout_s:.0f} s")
                return driven
        status, result = compat.goal_result(result_future.result())
        code = getattr(result, "error_code", 0)       # Humble's result has no error_code
        from action_msgs.msg import GoalStatus
        if status != GoalStatus.STATUS_SUCCEEDED or code:
            msg = getattr(result, "error_msg", "")
            raise MemoryStackError(f"navigate_to_pose failed (status {status}, code {code}) {msg}".strip())
        return self._driven(start_odometer, start_pose, goal)

    def _driven(self, start_odometer: float, start_pose, goal=None) -> float:
        moved = self.node.odometer() - start_odometer
        if moved > 0:
            return moved
        end = goal if goal is not None else self.current_pose()
        return math.hypot(end[0] - start_pose[0], end[1] - start_pose[1])

    def look(self) -> LookResult:
        x, y, yaw = self.current_pose()
        t0 = self.node.get_clock().now().nanoseconds
        self.node.start_collecting(t0)
        n = self.cfg.look_yaws
        try:
            for k in range(1, n):
                if self.should_stop():
                    break
                self.go_to((x, y, yaw + 2.0 * math.pi * k / n))
            t_end = self.node.get_clock().now().nanoseconds
            if not self.node.wait_frames_through(t_end, self.cfg.look_settle_s, self.cfg.look_lag_timeout_s):
                self.node.log_once("look-frames", (
                    "perception/frames did not pass the end of a look: silent for node.look_settle_s "
                    f"({self.cfg.look_settle_s:.1f} s) or behind for node.look_lag_timeout_s "
                    f"({self.cfg.look_lag_timeout_s:.1f} s); the look keeps what came "
                    "(is perception rejecting frames?)"))
        finally:
            views, observations = self.node.stop_collecting()
        stamps = [o.stamp_ns for o in observations] + [v.stamp_ns for v in views]
        if stamps and not self.node.wait_ingested(max(stamps), self.cfg.ingest_timeout_s):
            self.node.log_once("ingest-wait", "memory/ingested_through did not pass the end of a look in time")
        return LookResult(views=views, observations=observations)


class PlannerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("planner", automatically_declare_parameters_from_overrides=True, **kwargs)
        self._params = NodeParameters(self)
        self._params.declare_sections(PARAMETERS)
        self.config = self._params.read(PlannerConfig)
        self.admission = self._params.read(ServicesConfig, "services.")
        self.fleet_config = self._params.read(FleetConfig, "fleet.")
        self.robot_id = fleet_robot_id(self.fleet_config.robot_id, self.get_namespace())
        self._fleet_server: Any = None       # FleetServer, opened at the first fleet question (fleet.url set)
        cfg = self.config
        from memory_nodes.vocab.vocabulary import default_vocabulary
        self.vocab = default_vocabulary()
        calibrator = None
        if cfg.node.calibration_file:
            from memory_nodes.planner.calibration import load_calibrator
            try:
                calibrator = load_calibrator(cfg.node.calibration_file)
                self.get_logger().info(f"calibration from {cfg.node.calibration_file}")
            except (OSError, ValueError, KeyError) as e:
                self.get_logger().error(f"calibration file {cfg.node.calibration_file} not used ({e}): "
                                        f"probabilities are the model's own")
        self.planner = Planner(cfg, None, None, self.vocab, calibrator=calibrator)
        self._log_once = LogOnce(self.get_logger(), repeat_s=30.0)
        self._lock = threading.Lock()
        self._pose = (0.0, 0.0, 0.0)
        self._odometer = 0.0                 # m driven, integrated from odom
        self._odom_seen = False
        self._odom_xy = (0.0, 0.0)
        self._collect_since: Optional[int] = None
        self._views: List[Any] = []
        self._observations: List[Any] = []
        self._frames_through_ns = 0          # the latest header stamp heard on perception/frames
        self._ingested_ns = 0
        self._cond = threading.Condition(self._lock)

        self.ask_group = ReentrantCallbackGroup()      # admission at once; answers queue for _worker
        self._in_flight = 0                            # questions admitted and not yet answered
        self._jobs: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="planner-answer", daemon=True)
        self._worker.start()
        self.io_group = ReentrantCallbackGroup()
        self.recall_client = self.create_client(Recall, "memory/recall", callback_group=self.io_group)
        self.graph_client = self.create_client(GetSceneGraph, "memory/get_scene_graph", callback_group=self.io_group)
        from nav2_msgs.action import NavigateToPose
        self.nav_client = ActionClient(self, NavigateToPose, "navigate_to_pose", callback_group=self.io_group)
        self.create_subscription(Odometry, "odom", self._on_odom, EVENTS, callback_group=self.io_group)
        self.create_subscription(IngestProgress, "memory/ingested_through", self._on_ingested, EVENTS,
                                 callback_group=self.io_group)
        self.create_subscription(FrameObservations, "perception/frames", self._on_frame, EVENTS,
                                 callback_group=self.io_group)
        qos = services_qos(self.admission.queue_depth)
        self.create_service(Ask, "ask", self._on_ask, qos_profile=qos, callback_group=self.ask_group)
        self.action_server = ActionServer(self, AskActive, "ask_active", execute_callback=self._on_ask_active,
                                          goal_callback=lambda _g: GoalResponse.ACCEPT,
                                          cancel_callback=lambda _g: CancelResponse.ACCEPT,
                                          goal_service_qos_profile=qos, result_service_qos_profile=qos,
                                          cancel_service_qos_profile=qos, callback_group=self.ask_group)
        self._answers: Dict[str, int] = {"answered": 0, "not sure": 0, "cannot parse": 0, "failed": 0,
                                         "busy": 0, "bad request": 0}
        self._last_failure = ""
        self._answer_latency = LatencyStats()
        self.diagnostics = Diagnostics(self, callback_group=self.io_group)
        self.diagnostics.add("answers", self._diagnose_answers)
        self.diagnostics.add("connections", self._diagnose_connections)
        self.get_logger().info(f"planner up: selection={cfg.explore.selection}, lambda={cfg.utility.lambda_per_m}/m, "
                               f"c_wrong={cfg.utility.c_wrong}, granularity={cfg.explore.answer_granularity}")
        if self.fleet_config.url:
            from memory_nodes.memory.repository.fleet import redact_url
            self.get_logger().info(f"fleet questions: robot {self.robot_id!r} on {redact_url(self.fleet_config.url)}")

    def log_once(self, key: str, text: str) -> None:
        """A warning per key, repeated at most every 30 s (debug in between)."""
        self._log_once.warning(key, text)

    # ----------------------------------------------------------------------------- robot state
    def _on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        q = p.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        with self._lock:
            if self._odom_seen:
                self._odometer += math.hypot(p.position.x - self._odom_xy[0], p.position.y - self._odom_xy[1])
            self._odom_seen = True
            self._odom_xy = (p.position.x, p.position.y)
            self._pose = (p.position.x, p.position.y, yaw)

    def on_nav_feedback(self, fb_msg) -> None:
        p = fb_msg.feedback.current_pose.pose
        if p.orientation.w == 0 and p.orientation.z == 0:
            return
        q = p.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        with self._lock:
            self._pose = (p.position.x, p.position.y, yaw)

    def latest_pose(self) -> Tuple[float, float, float]:
        with self._lock:
            return self._pose

    def odometer(self) -> float:
        with self._lock:
            return self._odometer

    def _on_ingested(self, msg: IngestProgress) -> None:
        with self._cond:
            self._ingested_ns = max(self._ingested_ns, time_to_ns(msg.ingested_through))
            self._cond.notify_all()

    def _on_frame(self, msg: FrameObservations) -> None:
        """During a look: keep the frame's observations and view (stamped at or after the look's start)."""
        with self._cond:
            since = self._collect_since
            if since is None:
                self._frames_through_ns = max(self._frames_through_ns, time_to_ns(msg.header.stamp))
                self._cond.notify_all()
                return
        try:
            obs = [o for o in observations_from_msg(msg) if o.stamp_ns >= since]
        except (InputError, ValueError) as e:  # malformed: log once per cause, keep the look going
            self.log_once("bad-observations", f"ignored malformed perception/frames observations: {e}")
            obs = []
        try:
            v = frame_view_from_msg(msg)
        except Exception as e:  # a malformed view: log once per cause, keep the look going
            self.log_once("bad-view", f"ignored a malformed perception/frames view: {e}")
            v = None
        with self._cond:
            if self._collect_since is not None:
                self._observations.extend(obs)
                if v is not None and v.stamp_ns >= self._collect_since:
                    self._views.append(v)
            self._frames_through_ns = max(self._frames_through_ns, time_to_ns(msg.header.stamp))
            self._cond.notify_all()

    def start_collecting(self, since_ns: int) -> None:
        with self._lock:
            self._collect_since, self._views, self._observations = since_ns, [], []

    def stop_collecting(self):
        with self._lock:
            out = (self._views, self._observations)
            self._collect_since, self._views, self._observations = None, [], []
            return out

    def wait_frames_through(self, t_ns: int, idle_s: float, cap_s: float) -> bool:
        """Wait until a perception/frames message stamped at or after ``t_ns`` has been handled.

        perception/frames is one reliable, ordered stream, so once a frame from after the look is in, every
        frame of the look is. perception/frame_ack is not enough: it is another topic, and the executor may
        run its callback before the frames callback of the same camera frame, ending the look before its
        last frame is kept (seen on loaded CI as a look that missed the object in front of it). Frames that
        keep coming but lag are waited for up to ``cap_s``; a silent stream only ``idle_s`` (stream_wait)."""
        with self._cond:
            return wait_stream_through(self._cond, lambda: self._frames_through_ns, t_ns, idle_s, cap_s)

    def wait_ingested(self, t_ns: int, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._ingested_ns >= t_ns, timeout=timeout_s)

    # ------------------------------------------------------------------------------- answering
    def _answer(self, req, is_cancelled: Callable[[], bool], on_feedback=None,
                admitted_s: Optional[float] = None) -> Tuple[Optional[Answer], int, str]:
        timeout_s = float(req.timeout_s) if req.timeout_s > 0 else self.config.node.default_timeout_s
        deadline = (time.monotonic() if admitted_s is None else admitted_s) + timeout_s
        if time.monotonic() > deadline:
            return None, TIMEOUT, f"timed out after {timeout_s:.0f} s waiting behind other questions"
        state = {"timed_out": False}

        def should_stop() -> bool:
            if time.monotonic() > deadline:
                state["timed_out"] = True
                return True
            return is_cancelled()
        memory = RosMemoryView(self)
        now_ns = self.get_clock().now().nanoseconds
        try:
            fleet = self._answer_fleet(req, memory, now_ns)     # a fleet question, else None
            if fleet is not None:
                return fleet, NONE, ""
            nav = RosNavigator(self, memory, should_stop) if req.budget_m > 0 else None
            a = self.planner.answer(req.question, now_ns, budget_m=float(req.budget_m), window=window_from_request(req),
                                    should_stop=should_stop, on_feedback=on_feedback, memory=memory, navigator=nav)
        except WaitTimeout as e:
            self.log_once(f"wait:{e}", f"question failed: {e}")
            return None, MEMORY_UNAVAILABLE, str(e)
        except MemoryStackError as e:
            self.log_once(f"mem:{type(e).__name__}", f"question failed: {e}")
            return None, MEMORY_UNAVAILABLE, str(e)
        except Exception as e:  # nothing escapes into the executor
            self.get_logger().error(f"question failed unexpectedly: {type(e).__name__}: {e}")
            return None, UNKNOWN, f"{type(e).__name__}: {e}"
        code, msg = NONE, ""
        if a.stop_reason == STOP_CANCELLED:
            timed_out = state["timed_out"]
            code, msg = (TIMEOUT, f"timed out after {timeout_s:.0f} s") if timed_out else (CANCELED, "cancelled")
        elif a.error:
            code, msg = NAVIGATION_FAILED, a.error
        return a, code, msg

    def _fleet(self):
        """The fleet server, opened at the first fleet question (None: fleet.url empty, or not reachable now;
        the next fleet question tries again)."""
        if self._fleet_server is None and self.fleet_config.url:
            from memory_nodes.memory.repository.fleet import FleetServer, redact_url
            try:
                self._fleet_server = FleetServer(self.fleet_config.url, pool_size=2,
                                                 timeout_s=self.fleet_config.timeout_s)
            except Exception as e:  # unreachable or refused: this robot's own memory answers, saying so
                self.log_once("fleet-open", f"fleet server {redact_url(self.fleet_config.url)} not reachable "
                                            f"({type(e).__name__}: {e}): fleet questions answered from this "
                                            "robot's own memory")
                return None
        return self._fleet_server

    def _answer_fleet(self, req, memory: RosMemoryView, now_ns: int) -> Optional[Answer]:
        """A fleet question answered (None: the question has no fleet scope)."""
        fq = detect_fleet_question(req.question, self.planner.parser, now_ns, window_from_request(req))
        if fq is None:
            return None
        from memory_nodes.memory.repository.fleet_view import FleetView
        server = self._fleet()
        if server is None and self.fleet_config.url:     # configured, but could not be opened: say so
            server = _UnreachableFleet()
        view = FleetView(self.robot_id, memory, server, self.fleet_config.min_score, vocab=self.vocab)
        rooms: Dict[str, Dict[int, str]] = {}

        def room_label(room_id: int) -> str:
            """This robot's room names, read once per question and only for its own sightings (at most a
            second's wait for memory/get_scene_graph: without it the answer names room ids)."""
            if "r" not in rooms:
                rooms["r"] = {}
                if self.graph_client.wait_for_service(timeout_sec=min(1.0, self.config.node.server_wait_s)):
                    try:
                        rooms["r"] = memory.rooms()
                    except MemoryStackError:
                        pass
            return rooms["r"].get(room_id, "")
        p = self.planner.calibrator.apply(self.config.belief.past_span_confidence, Q.LAST_SEEN)
        return answer_fleet(fq, view, self.robot_id, now_ns, p, room_label=room_label)

    def _answer_counted(self, req, is_cancelled: Callable[[], bool], on_feedback=None,
                        admitted_s: Optional[float] = None) -> Tuple[Optional[Answer], int, str]:
        """_answer, counted for the diagnostics: by status, failures with their reason, latency (wall s)."""
        t0 = time.monotonic()
        a, code, msg = self._answer(req, is_cancelled, on_feedback, admitted_s)
        kind = "failed" if a is None or code not in (NONE, CANCELED) else \
            {ANSWERED: "answered", NOT_SURE: "not sure", CANNOT_PARSE: "cannot parse"}.get(a.status, "failed")
        with self._lock:
            self._answers[kind] += 1
            self._last_failure = f"{msg} (error_code {code})" if kind == "failed" else ""
        self._answer_latency.add(time.monotonic() - t0)
        return a, code, msg

    def _diagnose_answers(self) -> Status:
        with self._lock:
            counts, failure = dict(self._answers), self._last_failure
        s = Status({"questions": sum(counts.values()), **counts,
                    "last answer latency (ms)": ms(self._answer_latency.last_s),
                    "mean answer latency (ms)": ms(self._answer_latency.mean_s())})
        if failure:
            s.add(WARN, f"the last question failed: {failure}")
        return s

    def _diagnose_connections(self) -> Status:
        recall, graph = self.recall_client.service_is_ready(), self.graph_client.service_is_ready()
        nav = self.nav_client.server_is_ready()
        s = Status({"memory/recall": recall, "memory/get_scene_graph": graph, "navigate_to_pose": nav})
        missing = [n for n, up in (("memory/recall", recall), ("memory/get_scene_graph", graph)) if not up]
        if missing:
            s.add(ERROR, f"{' and '.join(missing)} not available: no answers from memory (is the memory node "
                         "active?)")
        if not nav:
            s.add(WARN, "navigate_to_pose not available: ask_active cannot look (is Nav2 or the simulator up?)")
        return s

    # ------------------------------------------------------------------------------- admission
    def _admit(self, req) -> Optional[Tuple[int, str]]:
        """None when the question is admitted (counted in flight until _release); else (code, why)."""
        problem = request_problem(req, self.get_clock().now().nanoseconds, self.admission)
        with self._lock:
            if problem is None and self._in_flight < self.admission.max_concurrent_asks:
                self._in_flight += 1
                return None
            kind = "bad request" if problem is not None else "busy"
            self._answers[kind] += 1
        if problem is not None:
            self.get_logger().debug(f"bad request: {problem}")
            return BAD_REQUEST, problem
        self.log_once("busy", f"{self.admission.max_concurrent_asks} questions in flight "
                              "(services.max_concurrent_asks): answering BUSY")
        return BUSY, f"busy: {self.admission.max_concurrent_asks} questions in flight, ask again shortly"

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _work(self) -> None:
        """The answering thread: one question at a time, in the order admitted."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    async def _answered(self, req, is_cancelled: Callable[[], bool], on_feedback=None):
        """Queue the question for the answering thread and await its (answer, code, msg), holding no executor
        thread meanwhile. Without an executor (a direct call in a test) it is answered in this thread."""
        admitted_s = time.monotonic()
        executor = self.executor
        if executor is None:
            return self._answer_counted(req, is_cancelled, on_feedback, admitted_s)
        fut: Future = Future(executor=executor)
        fut.add_done_callback(lambda _f: None)      # a done callback: completion wakes the executor

        def job() -> None:
            try:
                fut.set_result(self._answer_counted(req, is_cancelled, on_feedback, admitted_s))
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting callback
                fut.set_exception(e)
        self._jobs.put(job)
        return await fut

    def destroy_node(self) -> None:
        jobs = getattr(self, "_jobs", None)        # None when __init__ failed before the worker started
        if jobs is not None:
            jobs.put(None)
        server = getattr(self, "_fleet_server", None)
        if server is not None:
            server.close()
        super().destroy_node()

    async def _on_ask(self, req: Ask.Request, resp: Ask.Response) -> Ask.Response:
        refused = self._admit(req)
        if refused is not None:
            return fill_error(resp, *refused)
        try:
            a, code, msg = await self._answered(req, lambda: False)
        finally:
            self._release()
        if a is None:
            return fill_error(resp, code, msg)
        self.get_logger().info(f"ask {req.question!r}: {a.status} {a.answer} (p={a.probability:.2f}, "
                               f"path {a.path_m:.1f} m)")
        return fill_reply(resp, a, code, msg)

    async def _on_ask_active(self, goal_handle):
        req = goal_handle.request
        result = AskActive.Result()
        refused = self._admit(req)
        if refused is not None:
            goal_handle.abort()
            return fill_error(result, *refused)

        def feedback(fb: Feedback) -> None:
            goal_handle.publish_feedback(fill_feedback(AskActive.Feedback(), fb))
        try:
            a, code, msg = await self._answered(req, lambda: goal_handle.is_cancel_requested, feedback)
        finally:
            self._release()
        if a is None:
            goal_handle.abort()
            return fill_error(result, code, msg)
        fill_reply(result, a, code, msg)
        if code == CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return result


def main(args=None) -> None:
    # several threads: the answering callback waits on replies the other threads deliver (see the docstring)
    run_node(PlannerNode, args, executor="multi", num_threads=4, name="planner", what="the planner")


if __name__ == "__main__":
    main()
