"""The memory lifecycle node in its own process (ROS_DOMAIN_ID 51): configure / activate, ingest from the
perception topics (one FrameObservations per frame), ingested_through, recall, the latched scene graph, bad
input, forget, flush on exit."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

pytestmark = pytest.mark.ros

DOMAIN = 51


def _frame_msg(stamp_ns: int, view_id: str, with_mug: bool):
    from memory_nodes.common.geometry import base_R_optical, make_T
    from memory_nodes.common.types import CameraIntrinsics, ObjectObservation, PerceptionOutput, View
    from memory_nodes.ros.conversions.perception import frame_to_msg
    p = np.array([2.0, 0.0, 1.0])
    obs = [ObjectObservation(stamp_ns, "cup", 0.9, p, p - 0.05, p + 0.05, 100, (0.8, 0.1, 0.1), None, 2.0,
                             view_id, 0)] if with_mug else []
    intr = CameraIntrinsics(40, 30, 30.0, 30.0, 19.5, 14.5)
    view = View(view_id, stamp_ns, make_T(base_R_optical, (0.0, 0.0, 1.0)), intr,
                np.full((30, 40), 5.0, np.float32), b"\xff\xd8fake-jpeg-" + view_id.encode(), 0, ["cup"])
    return frame_to_msg(PerceptionOutput(stamp_ns, obs, view, 0), "map")


def _static_msgs(stamp_ns: int):
    from memory_nodes.common.types import Place, PlaceGraph, Room, RoomSegmentation
    from memory_nodes.ros.conversions.perception import place_graph_to_msg, rooms_to_msg
    pg = PlaceGraph(stamp_ns, [Place(0, np.zeros(3), 0, stamp_ns, stamp_ns),
                               Place(1, np.array([3.0, 0.0, 0.0]), 0, stamp_ns, stamp_ns)], [(0, 1)])
    grid = np.zeros((50, 50), np.int16)
    seg = RoomSegmentation(stamp_ns, [Room(0, "kitchen", 0.9, np.array([2.5, 0.0, 0.0]), 25.0)], grid, 0.1,
                           (-1.0, -2.5))
    return place_graph_to_msg(pg, "map"), rooms_to_msg(seg, "map")


def test_memory_node_lifecycle_ingest_recall_forget(tmp_path, ros_context_factory, process_factory):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from memory_interfaces.msg import FrameObservations, IngestProgress, PlaceGraph, RoomSegmentation, SceneGraph
    from memory_interfaces.srv import Forget, GetSceneGraph, Recall
    from visualization_msgs.msg import MarkerArray

    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    from memory_nodes.ros.qos import EVENTS as events
    from memory_nodes.ros.qos import LATCHED as latched
    env = ros_env(DOMAIN, {"PYTHONPATH": str(REPO_ROOT)})
    proc = process_factory([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                            "--params-file", str(REPO_ROOT / "config" / "memory.yaml"),
                            "-p", f"data_dir:={tmp_path}", "-p", "node.flush_period_s:=0.1",
                            "-p", "node.scene_graph_period_s:=0.2", "-p", "vocab.allow_model:=false"], env)
    ctx = ros_context_factory(DOMAIN)
    node = ctx.node
    change = node.create_client(ChangeState, "memory/change_state")
    recall = node.create_client(Recall, "memory/recall")
    forget = node.create_client(Forget, "memory/forget")
    get_graph = node.create_client(GetSceneGraph, "memory/get_scene_graph")
    progress, graphs, markers = [], [], []
    node.create_subscription(IngestProgress, "memory/ingested_through", progress.append, events)
    node.create_subscription(SceneGraph, "memory/scene_graph", graphs.append, latched)
    node.create_subscription(MarkerArray, "memory/markers", markers.append, latched)
    pub_frames = node.create_publisher(FrameObservations, "perception/frames", events)
    pub_places = node.create_publisher(PlaceGraph, "perception/places", latched)
    pub_rooms = node.create_publisher(RoomSegmentation, "perception/rooms", latched)

    ctx.spin_until(lambda: change.service_is_ready(), 60, "memory/change_state")

    def transition(tid):
        return ctx.wait_future(change.call_async(ChangeState.Request(transition=Transition(id=tid))), 30).success

    def ask(kind, **kw):
        req = Recall.Request(kind=kind, room_id=-1, place_id=-1)
        for k, v in kw.items():
            setattr(req, k, v)
        return ctx.wait_future(recall.call_async(req), 10)

    assert transition(Transition.TRANSITION_CONFIGURE)
    ctx.spin_until(lambda: recall.service_is_ready(), 30, "memory/recall")
    assert ask("last_seen", class_name="mug").error_code == Recall.Response.NOT_ACTIVE
    assert transition(Transition.TRANSITION_ACTIVATE)

    t0 = 1000 * 10**9
    pl, rm = _static_msgs(t0)
    pub_places.publish(pl)
    pub_rooms.publish(rm)
    ctx.spin_until(lambda: pub_frames.get_subscription_count() > 0, 30, "memory subscriptions")
    stamps = [t0 + k * 200_000_000 for k in range(5)]
    for k, s in enumerate(stamps):
        pub_frames.publish(_frame_msg(s, f"v{k}", True))
        ctx.spin_once(0.01)
    ctx.spin_until(lambda: progress and time_to_ns(progress[-1].ingested_through) >= stamps[-1], 30,
                   "ingested_through to pass the last frame")
    assert progress[-1].observations_total == 5 and progress[-1].views_total == 5

    r = ask("last_seen", class_name="coffee cups")
    assert r.error_code == 0 and len(r.items) == 1
    it = r.items[0]
    assert it.class_name == "mug" and abs(it.position.x - 2.0) < 0.05 and it.room_id == 0 and it.place_id == 0
    assert time_to_ns(it.stamp) == stamps[0] and time_to_ns(it.until) == stamps[-1]
    assert len(it.evidence.observation_ids) == 2 and len(it.evidence.keyframe_refs) == 2
    oid = it.object_id
    assert ask("count", class_name="mug").items[0].count == 1
    assert [i.object_id for i in ask("objects_in", room_id=0).items] == [oid]
    assert {i.place_id for i in ask("places").items} == {0, 1}
    assert ask("where_at", object_id=oid, t=ns_to_time(stamps[2])).items[0].object_id == oid
    assert ask("staleness", object_id=oid).items[0].p_still_there > 0.9
    assert ask("history", class_name="mug").items[0].object_id == oid
    assert ask("teleport", class_name="mug").error_code == Recall.Response.BAD_REQUEST

    ctx.spin_until(lambda: graphs and any(n.id == oid for n in graphs[-1].nodes), 30, "latched scene graph")
    layers = {n.layer for n in graphs[-1].nodes}
    assert layers == {2, 3, 4}
    ctx.spin_until(lambda: markers and any(m.ns == "objects" for m in markers[-1].markers), 30, "markers")
    g = ctx.wait_future(get_graph.call_async(GetSceneGraph.Request()), 10)
    assert g.error_code == 0 and any(n.id == oid for n in g.graph.nodes)

    # bad input: a view whose depth image lies about its size; the node logs and carries on
    bad = _frame_msg(stamps[-1] + 10**8, "bad", False)
    bad.view[0].depth.step = 3
    pub_frames.publish(bad)
    pub_frames.publish(_frame_msg(stamps[-1] + 2 * 10**8, "v9", True))
    ctx.spin_until(lambda: time_to_ns(progress[-1].ingested_through) >= stamps[-1] + 2 * 10**8, 30,
                   "ingest after bad input")
    assert proc.poll() is None

    f = ctx.wait_future(forget.call_async(Forget.Request(object_id=oid, room_id=-1)), 20)
    assert f.error_code == 0 and f.observations_deleted == 6 and f.keyframes_deleted == 6
    assert ask("last_seen", class_name="mug").items == []
    assert ctx.wait_future(forget.call_async(Forget.Request(room_id=-1)), 10).error_code == Forget.Response.BAD_REQUEST

    # one more sighting, then Ctrl-C: the node commits before it exits
    for k in range(3):
        s = stamps[-1] + (10 + k) * 10**8
        pub_frames.publish(_frame_msg(s, f"w{k}", True))
        ctx.spin_once(0.01)
    last = stamps[-1] + 12 * 10**8
    ctx.spin_until(lambda: time_to_ns(progress[-1].ingested_through) >= last, 30, "last frames")
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    bad_lines = [line for line in out.splitlines() if "bad input (" in line]
    assert len(bad_lines) >= 1 and "WARN" in bad_lines[0]

    from memory_nodes.memory import MemoryCore
    from memory_nodes.vocab import VocabConfig, Vocabulary
    mem = MemoryCore.open(str(tmp_path / "memory.db"), vocab=Vocabulary(VocabConfig(allow_model=False)))
    assert mem.ingested_through_ns >= last and mem.count_observations() == 3
    assert mem.store.integrity_check() == "ok"
    mem.close()


def test_memory_commits_on_wall_time_while_sim_time_stands_still(tmp_path, ros_context_factory, process_factory):
    """Under use_sim_time a lockstep replay holds /clock at a frame's stamp until memory/ingested_through
    passes it: the node's flush (node.flush_period_s) must run on wall time, or the frame is never
    committed and the replay waits forever. Here no /clock is published at all."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from memory_interfaces.msg import FrameObservations, IngestProgress

    from memory_nodes.ros.conversions.basic import time_to_ns
    from memory_nodes.ros.qos import EVENTS as events
    domain = 57
    env = ros_env(domain, {"PYTHONPATH": str(REPO_ROOT)})
    process_factory([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                     "--params-file", str(REPO_ROOT / "config" / "memory.yaml"),
                     "-p", f"data_dir:={tmp_path}", "-p", "node.flush_period_s:=0.1", "-p", "use_sim_time:=true",
                     "-p", "store.commit_every_frames:=100", "-p", "store.commit_every_s:=100.0",
                     "-p", "vocab.allow_model:=false"], env)
    ctx = ros_context_factory(domain)
    node = ctx.node
    change = node.create_client(ChangeState, "memory/change_state")
    progress = []
    node.create_subscription(IngestProgress, "memory/ingested_through", progress.append, events)
    pub_frames = node.create_publisher(FrameObservations, "perception/frames", events)
    ctx.spin_until(lambda: change.service_is_ready(), 60, "memory/change_state")
    for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert ctx.wait_future(change.call_async(ChangeState.Request(transition=Transition(id=tid))), 30).success
    ctx.spin_until(lambda: pub_frames.get_subscription_count() > 0, 30, "memory subscriptions")
    stamps = [1000 * 10**9 + k * 100_000_000 for k in range(2)]
    for k, s in enumerate(stamps):
        pub_frames.publish(_frame_msg(s, f"v{k}", True))
        ctx.spin_once(0.01)
    ctx.spin_until(lambda: progress and time_to_ns(progress[-1].ingested_through) >= stamps[-1], 20,
                   "ingested_through to pass the last frame with sim time standing still")
