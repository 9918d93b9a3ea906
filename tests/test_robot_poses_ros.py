"""The robot's own day over ROS 2 (ROS_DOMAIN_ID 111): the memory node stores the views perception sends,
serves their poses as Recall kind robot_poses (window, room, latest N) and the objects seen in a window as
Recall kind seen, and the planner node answers "where were you then / when were you last in / how long in /
what did you pass on your way to" from them through its Ask service."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

pytestmark = pytest.mark.ros

DOMAIN = 111
S = 10**9


def _frame_msg(stamp_ns: int, k: int, x: float, place: int, seen=()):
    """One keyframe at x; ``seen``: (class, (x, y, z)) objects detected in it."""
    from memory_nodes.common.geometry import base_R_optical, make_T, yaw_to_R
    from memory_nodes.common.types import CameraIntrinsics, ObjectObservation, PerceptionOutput, View
    from memory_nodes.ros.conversions.perception import frame_to_msg
    intr = CameraIntrinsics(8, 6, 6.0, 6.0, 3.5, 2.5)
    view = View(f"v{k}", stamp_ns, make_T(yaw_to_R(0.5) @ base_R_optical, (x, 2.0, 1.0)), intr,
                np.full((6, 8), 3.0, np.float32), b"\xff\xd8fake-jpeg-" + str(k).encode(), place, [])
    obs = [ObjectObservation(stamp_ns, cls, 0.9, np.asarray(p, float), np.asarray(p, float) - 0.1,
                             np.asarray(p, float) + 0.1, 100, (0.2, 0.3, 0.8), None, 2.0, f"v{k}", place)
           for cls, p in seen]
    return frame_to_msg(PerceptionOutput(stamp_ns, obs, view, place), "map")


def _static_msgs(stamp_ns: int):
    """Places 0 (kitchen, x 2) and 1 (living room, x 6); rooms: kitchen x < 4, living room beyond."""
    from memory_nodes.common.types import Place, PlaceGraph, Room, RoomSegmentation
    from memory_nodes.ros.conversions.perception import place_graph_to_msg, rooms_to_msg
    pg = PlaceGraph(stamp_ns, [Place(0, np.array([2.0, 2.0, 0.0]), 0, stamp_ns, stamp_ns),
                               Place(1, np.array([6.0, 2.0, 0.0]), 1, stamp_ns, stamp_ns)], [(0, 1)])
    grid = np.zeros((8, 16), np.int16)
    grid[:, 8:] = 1
    seg = RoomSegmentation(stamp_ns, [Room(0, "kitchen", 0.9, np.array([2.0, 2.0, 0.0]), 16.0),
                                      Room(1, "living room", 0.9, np.array([6.0, 2.0, 0.0]), 16.0)], grid, 0.5,
                           (0.0, 0.0))
    return place_graph_to_msg(pg, "map"), rooms_to_msg(seg, "map")


def test_robot_poses_over_recall_and_ask(tmp_path, ros_context_factory, process_factory):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from memory_interfaces.msg import FrameObservations, IngestProgress, PlaceGraph, RoomSegmentation
    from memory_interfaces.srv import Ask, Recall

    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    from memory_nodes.ros.qos import EVENTS as events
    from memory_nodes.ros.qos import LATCHED as latched
    env = ros_env(DOMAIN, {"PYTHONPATH": str(REPO_ROOT)})
    process_factory([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                     "--params-file", str(REPO_ROOT / "config" / "memory.yaml"),
                     "-p", f"data_dir:={tmp_path}", "-p", "node.flush_period_s:=0.1",
                     "-p", "node.scene_graph_period_s:=0.2", "-p", "vocab.allow_model:=false"], env)
    process_factory([PYTHON, "-m", "memory_nodes.ros.planner_node", "--ros-args",
                     "-p", "parser.use_embeddings:=false", "-p", "node.server_wait_s:=10.0",
                     "-p", "node.service_timeout_s:=20.0"], env)
    ctx = ros_context_factory(DOMAIN)
    node = ctx.node
    change = node.create_client(ChangeState, "memory/change_state")
    recall = node.create_client(Recall, "memory/recall")
    ask_cli = node.create_client(Ask, "ask")
    progress = []
    node.create_subscription(IngestProgress, "memory/ingested_through", progress.append, events)
    pub_frames = node.create_publisher(FrameObservations, "perception/frames", events)
    pub_places = node.create_publisher(PlaceGraph, "perception/places", latched)
    pub_rooms = node.create_publisher(RoomSegmentation, "perception/rooms", latched)
    ctx.spin_until(lambda: change.service_is_ready(), 60, "memory/change_state")
    for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert ctx.wait_future(change.call_async(ChangeState.Request(transition=Transition(id=tid))), 30).success

    # 20 poses in the kitchen then 20 in the living room, 10 s apart, ending a minute ago (wall clock: the
    # planner's "now")
    t0 = time.time_ns() - 460 * S
    stamps = [t0 + k * 10 * S for k in range(40)]
    pl, rm = _static_msgs(t0 - S)
    pub_places.publish(pl)
    pub_rooms.publish(rm)
    ctx.spin_until(lambda: pub_frames.get_subscription_count() > 0, 30, "memory subscriptions")
    for k, s in enumerate(stamps):
        kitchen = k < 20
        x = 1.0 + 0.1 * k if kitchen else 5.0 + 0.1 * (k - 20)
        # a mug seen in the kitchen early on; a chair by the door while the robot drives through it
        seen = [("mug", (1.5, 1.0, 0.9))] if k < 6 else [("chair", (4.2, 1.0, 0.5))] if 16 <= k < 24 else []
        pub_frames.publish(_frame_msg(s, k, x, 0 if kitchen else 1, seen))
        ctx.spin_once(0.01)
    ctx.spin_until(lambda: progress and time_to_ns(progress[-1].ingested_through) >= stamps[-1], 60,
                   "ingested_through to pass the last frame")

    def poses(**kw):
        req = Recall.Request(kind=Recall.Request.KIND_ROBOT_POSES, room_id=-1, place_id=-1)
        for k, v in kw.items():
            setattr(req, k, v)
        r = ctx.wait_future(recall.call_async(req), 20)
        assert r.error_code == 0, r.error_msg
        return list(r.items)

    ctx.spin_until(lambda: recall.service_is_ready(), 30, "memory/recall")
    every = poses()
    assert [time_to_ns(i.stamp) for i in every] == stamps and {i.event for i in every} == {"pose"}
    assert every[3].object_id == "v3" and abs(every[3].position.x - 1.3) < 1e-6 and abs(every[3].yaw_rad - 0.5) < 1e-5
    assert [i.room_id for i in every] == [0] * 20 + [1] * 20 and len(every[3].evidence.keyframe_refs) == 1
    assert [i.object_id for i in poses(room_id=0, max_results=2)] == ["v18", "v19"]
    assert [i.object_id for i in poses(window_start=ns_to_time(stamps[5]), window_end=ns_to_time(stamps[7]))] == \
        ["v5", "v6", "v7"]

    # the objects seen while leaving the kitchen (its last pose) and entering the living room (its first)
    req = Recall.Request(kind=Recall.Request.KIND_SEEN, room_id=-1, place_id=-1,
                         window_start=ns_to_time(stamps[19]), window_end=ns_to_time(stamps[20]))
    r = ctx.wait_future(recall.call_async(req), 20)
    assert r.error_code == 0, r.error_msg
    assert [i.class_name for i in r.items] == ["chair"] and time_to_ns(r.items[0].stamp) == stamps[19]
    assert time_to_ns(r.items[0].until) == stamps[20] and len(r.items[0].evidence.observation_ids) == 2
    r = ctx.wait_future(recall.call_async(Recall.Request(kind=Recall.Request.KIND_SEEN, room_id=-1, place_id=-1)), 20)
    assert r.error_code == Recall.Response.BAD_REQUEST and "window" in r.error_msg

    ctx.spin_until(lambda: ask_cli.service_is_ready(), 60, "ask service")

    def ask(question, at_ns=None, since_ns=None):
        req = Ask.Request(question=question, budget_m=0.0, timeout_s=30.0)
        if at_ns is not None:
            req.window_start, req.window_end = ns_to_time(at_ns), ns_to_time(at_ns)
        if since_ns is not None:
            req.window_start, req.window_end = ns_to_time(since_ns), ns_to_time(time.time_ns())
        return ctx.wait_future(ask_cli.call_async(req), 60, f"answer to {question!r}")

    r = ask("Where were you?", at_ns=stamps[7] + 2 * S)
    assert r.status == Ask.Response.STATUS_ANSWERED and r.query_kind == "robot_where_at", r.reason
    assert r.room_label == "kitchen" and r.place_id == 0 and stamps[7] in [time_to_ns(t) for t in r.evidence.stamps]
    r = ask("When were you last in the kitchen?")
    assert r.status == Ask.Response.STATUS_ANSWERED and r.query_kind == "robot_last_in", r.reason
    assert time_to_ns(r.time) == stamps[19] and r.room_label == "kitchen"
    r = ask("How long were you in the living room?", since_ns=t0 - 60 * S)
    assert r.status == Ask.Response.STATUS_ANSWERED and r.query_kind == "robot_time_in", r.reason
    assert "about 3 min" in r.answer          # 19 intervals of 10 s + half the 10 s door crossing
    r = ask("Where were you?", at_ns=t0 - 3600 * S)
    assert r.status == Ask.Response.STATUS_NOT_SURE and "no pose record" in r.reason
    r = ask("What did you pass on your way to the living room?")
    assert r.status == Ask.Response.STATUS_ANSWERED and r.query_kind == "robot_passed", r.reason
    assert "chair" in r.answer and "mug" not in r.answer and "kitchen" in r.answer and r.room_label == "living room"
    assert stamps[19] in [time_to_ns(t) for t in r.evidence.stamps] and r.evidence.observation_ids
