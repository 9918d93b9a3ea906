"""The planner node over ROS 2: Ask and AskActive against a fake memory + robot in another process.

Run as a script, this file IS the fake backend: memory/recall and memory/get_scene_graph over a small
FakeMemory, navigate_to_pose that teleports the robot (publishing odom), and perception/frames with
observations of the true objects near the robot after each goal, with frame_ack and memory/ingested_through following.
"""
from __future__ import annotations

import math
import subprocess
import sys
import threading

import pytest
from conftest import REPO_ROOT, RosContext, ros_env

pytestmark = pytest.mark.ros
H = 3600 * 10**9
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom"}
PLACES = {0: (0.0, 0.0, 0), 1: (3.0, 0.0, 0), 2: (8.0, 0.0, 1), 3: (11.0, 0.0, 1), 4: (16.0, 0.0, 2)}
TRUE_MUG = (16.3, 0.4, 0.8)          # memory thinks the mug is in the kitchen (stale); it is in the bedroom
# perception/frames reach the planner this long after their stamp while perception/frame_ack does not wait:
# the order of two topics is not kept (a loaded executor may run an ack's callback before its frame's), and
# a look that ended on the ack missed the frame that saw the mug. The lag is longer than the planner's
# node.look_settle_s (1.0 s below): loaded CI delivered frames more than 1.3 s late, and a look that gave
# frames only look_settle_s missed the mug again; a stream that lags but moves must be waited for
FRAMES_LAG_S = 1.6


# ------------------------------------------------------------------------------------- fake backend
def run_backend() -> None:
    import rclpy
    from builtin_interfaces.msg import Time
    from memory_interfaces.msg import (
        FrameObservations,
        IngestProgress,
        ObjectObservation,
        RecallItem,
        SceneGraphEdge,
        SceneGraphNode,
    )
    from memory_interfaces.srv import GetSceneGraph, Recall
    from nav2_msgs.action import NavigateToPose
    from nav_msgs.msg import Odometry
    from rclpy.action import ActionServer, CancelResponse, GoalResponse
    from rclpy.callback_groups import ReentrantCallbackGroup
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.node import Node

    from memory_nodes.planner.fakes import FakeMemory
    from memory_nodes.ros.conversions.basic import np_to_point, ns_to_time, time_to_ns
    from memory_nodes.ros.conversions.planner import evidence_to_msg
    from memory_nodes.ros.qos import EVENTS as events

    class Backend(Node):
        def __init__(self):
            super().__init__("fake_backend")
            now = self.get_clock().now().nanoseconds
            self.mem = FakeMemory(PLACES, ROOMS, now)
            self.mem.add_object("mug_7", "mug", (3.3, 0.5, 0.8), 1, now - 5 * H, now - 3 * H, p_still=0.2)
            self.mem.add_object("book_2", "book", (8.4, 0.3, 0.5), 2, now - 9 * H, now - 1 * H, p_still=0.98)
            self.pose = (0.0, 0.0, 0.0)
            self.goals = 0
            g = ReentrantCallbackGroup()
            self.create_service(Recall, "memory/recall", self.on_recall, callback_group=g)
            self.create_service(GetSceneGraph, "memory/get_scene_graph", self.on_graph, callback_group=g)
            ActionServer(self, NavigateToPose, "navigate_to_pose", self.on_nav, callback_group=g,
                         goal_callback=lambda _g: GoalResponse.ACCEPT, cancel_callback=lambda _g: CancelResponse.ACCEPT)
            self.pub_odom = self.create_publisher(Odometry, "odom", events)
            self.pub_obs = self.create_publisher(FrameObservations, "perception/frames", events)
            self.pub_ack = self.create_publisher(Time, "perception/frame_ack", events)
            self.pub_ing = self.create_publisher(IngestProgress, "memory/ingested_through", events)
            self.frames = []                 # (stamp ns, FrameObservations) not yet published, as perception lags
            self.frames_lock = threading.Lock()
            self.create_timer(0.05, self.tick, callback_group=g)

        def queue_frame(self, arr):
            with self.frames_lock:
                self.frames.append((time_to_ns(arr.header.stamp), arr))
                self.frames.sort(key=lambda f: f[0])

        def tick(self):
            now = self.get_clock().now()
            frame = FrameObservations()      # one message per camera frame, as perception sends
            frame.header.stamp, frame.header.frame_id = now.to_msg(), "map"
            frame.place_id = -1
            self.queue_frame(frame)
            with self.frames_lock:
                due = [f for t, f in self.frames if t <= now.nanoseconds - FRAMES_LAG_S * 1e9]
                self.frames = self.frames[len(due):]
                for f in due:                # in stamp order: one reliable stream
                    self.pub_obs.publish(f)
            self.pub_ack.publish(now.to_msg())
            m = IngestProgress()
            m.ingested_through = now.to_msg()
            self.pub_ing.publish(m)
            o = Odometry()
            o.pose.pose.position.x, o.pose.pose.position.y = self.pose[0], self.pose[1]
            q = o.pose.pose.orientation
            q.z, q.w = math.sin(self.pose[2] / 2), math.cos(self.pose[2] / 2)
            self.pub_odom.publish(o)

        def item(self, s, stamp, until, p=1.0, event=""):
            it = RecallItem()
            it.object_id, it.class_name = s.object_id, s.class_name
            it.position = np_to_point(s.position_m)
            it.place_id, it.room_id = int(s.place_id), int(s.room_id)
            it.stamp, it.until = ns_to_time(stamp), ns_to_time(until)
            it.p_still_there, it.event, it.count = float(p), event, -1
            it.evidence = evidence_to_msg(s.evidence)
            return it

        def on_recall(self, req, resp):
            m, k = self.mem, req.kind
            t = time_to_ns(req.t) or None
            a, b = time_to_ns(req.window_start) or None, time_to_ns(req.window_end) or None
            if k == "last_seen":
                resp.items = [self.item(s, s.first_seen_ns, s.last_seen_ns, s.p_still_there)
                              for s in m.last_seen(req.class_name, t)]
            elif k == "history":
                resp.items = [self.item(s, s.start_ns, s.end_ns) for s in m.history(req.class_name, a, b)]
            elif k == "staleness":
                resp.items = [self.item(m.sightings[req.object_id], 0, 0, m.p_still_there(req.object_id, t or 0))]
            elif k == "places":
                for p in m.places():
                    it = RecallItem()
                    it.place_id, it.room_id, it.position = p.place_id, p.room_id, np_to_point(p.position_m)
                    resp.items.append(it)
            elif k in ("objects_in", "changes", "where_at", "count"):
                resp.items = []
            else:
                resp.error_code, resp.error_msg = Recall.Response.BAD_REQUEST, f"unknown kind {k}"
            return resp

        def on_graph(self, req, resp):
            for rid, label in ROOMS.items():
                n = SceneGraphNode()
                n.id, n.layer, n.semantic_label = f"room_{rid}", SceneGraphNode.LAYER_ROOMS, label
                resp.graph.nodes.append(n)
            for pid, (x, y, _) in PLACES.items():
                n = SceneGraphNode()
                n.id, n.layer = f"place_{pid}", SceneGraphNode.LAYER_PLACES
                n.position.x, n.position.y = x, y
                resp.graph.nodes.append(n)
            ids = sorted(PLACES)
            for u, v in zip(ids, ids[1:]):
                e = SceneGraphEdge()
                e.source, e.target = f"place_{u}", f"place_{v}"
                resp.graph.edges.append(e)
            return resp

        def on_nav(self, goal_handle):
            p = goal_handle.request.pose.pose
            self.goals += 1
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return NavigateToPose.Result()
            yaw = 2 * math.atan2(p.orientation.z, p.orientation.w)
            self.pose = (p.position.x, p.position.y, yaw)
            self.tick()
            now = self.get_clock().now().nanoseconds
            if math.hypot(TRUE_MUG[0] - p.position.x, TRUE_MUG[1] - p.position.y) < 3.0:
                arr = FrameObservations()
                arr.header.stamp, arr.header.frame_id = ns_to_time(now), "map"   # as perception stamps a frame
                o = ObjectObservation()
                o.header.stamp, o.header.frame_id = ns_to_time(now), "map"
                o.class_name, o.score = "mug", 0.9
                o.centroid.x, o.centroid.y, o.centroid.z = TRUE_MUG
                arr.observations.append(o)
                arr.place_id = 4
                self.queue_frame(arr)
            goal_handle.succeed()
            return NavigateToPose.Result()

    rclpy.init()
    node = Backend()
    ex = MultiThreadedExecutor(num_threads=3)
    ex.add_node(node)
    try:
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


# -------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def stack():
    domain = 63
    env = ros_env(domain)
    py = sys.executable
    procs = [
        subprocess.Popen([py, str(REPO_ROOT / "tests" / "test_planner_node.py")], env=env, cwd=str(REPO_ROOT)),
        subprocess.Popen([py, "-m", "memory_nodes.ros.planner_node", "--ros-args", "-p", "node.look_yaws:=2",
                          "-p", "node.look_settle_s:=1.0", "-p", "parser.use_embeddings:=false",
                          # generous waits: the suite runs on 2 loaded cores (behaviour is asserted, not speed)
                          "-p", "node.server_wait_s:=10.0", "-p", "node.ingest_timeout_s:=20.0",
                          "-p", "node.service_timeout_s:=20.0"],
                         env=env, cwd=str(REPO_ROOT)),
    ]
    ctx = RosContext(domain, "planner_test_client")
    try:
        # the planner waits only node.server_wait_s for memory/recall: ask once the fake memory is up
        from memory_interfaces.srv import Recall
        recall = ctx.node.create_client(Recall, "memory/recall")
        ctx.spin_until(recall.service_is_ready, 30.0, "fake memory/recall")
        yield ctx
    finally:
        ctx.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _ask(ctx, question, budget=0.0, timeout_s=20.0):
    from memory_interfaces.srv import Ask
    cli = ctx.node.create_client(Ask, "ask")
    ctx.spin_until(lambda: cli.service_is_ready(), 30.0, "ask service")
    req = Ask.Request()
    req.question, req.budget_m, req.timeout_s = question, float(budget), float(timeout_s)
    return ctx.wait_future(cli.call_async(req), 60.0, f"answer to {question!r}")


def test_ask_memory_only_answers_with_evidence(stack):
    r = _ask(stack, "where is the book?")
    assert r.status == 0 and r.query_kind == "where_now", r.reason
    assert r.room_id == 1 and r.room_label == "living room" and r.has_position
    assert "book_2" in list(r.evidence.object_ids) and r.path_m == 0.0 and r.error_code == 0
    assert 0.5 < r.probability <= 1.0 and r.top_answers


def test_ask_out_of_scope_is_cannot_parse(stack):
    r = _ask(stack, "is the oven on?")
    assert r.status == 2 and r.reason.startswith("out of scope") and r.error_code == 0


def _send_mug_goal(ctx):
    """Send 'where is my mug?' (40 m budget) to ask_active; the goal handle and its live feedback list."""
    from memory_interfaces.action import AskActive
    from rclpy.action import ActionClient
    client = ActionClient(ctx.node, AskActive, "ask_active")
    ctx.spin_until(lambda: client.server_is_ready(), 30.0, "ask_active server")
    goal = AskActive.Goal()
    goal.question, goal.budget_m, goal.timeout_s = "where is my mug?", 40.0, 60.0
    feedback = []
    handle = ctx.wait_future(client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)),
                             20.0, "goal accepted")
    return handle, feedback


def test_ask_active_explores_with_feedback(stack):
    from action_msgs.msg import GoalStatus
    ctx = stack
    handle, feedback = _send_mug_goal(ctx)
    assert handle.accepted
    res = ctx.wait_future(handle.get_result_async(), 90.0, "result")
    r = res.result
    assert res.status == GoalStatus.STATUS_SUCCEEDED and r.error_code == 0, r.error_msg
    assert r.status == 0 and r.room_id == 2 and r.path_m > 0.0, (r.answer, r.reason)
    phases = {f.phase for f in feedback}
    assert {"recall", "navigating", "looking"} <= phases
    assert any(f.target_place_id >= 0 and f.current_target for f in feedback)


def test_ask_active_cancel_stops(stack):
    from action_msgs.msg import GoalStatus
    ctx = stack
    handle, feedback = _send_mug_goal(ctx)
    ctx.spin_until(lambda: any(f.phase == "navigating" for f in feedback), 30.0, "navigating feedback")
    ctx.wait_future(handle.cancel_goal_async(), 20.0, "cancel reply")
    res = ctx.wait_future(handle.get_result_async(), 60.0, "result")
    assert res.status == GoalStatus.STATUS_CANCELED and res.result.error_code == 5
    looks_after = [f for f in feedback if f.phase == "looking"]
    assert len(looks_after) <= 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    run_backend()
