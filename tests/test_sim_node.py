"""The sim node in its own process: valid messages to a subscriber, NavigateToPose drives the robot,
lockstep on perception/frame_ack, starting at day N of a stored world. Domains 41-50."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

pytestmark = pytest.mark.ros

CONFIG = str(REPO_ROOT / "config" / "sim.yaml")


def _start(process_factory, domain: int, *params: str):
    args = [PYTHON, "-m", "sim.ros.sim_node", "--ros-args", "--params-file", CONFIG]
    for p in params:
        args += ["-p", p]
    return process_factory(args, env=ros_env(domain), cwd=str(REPO_ROOT))


def _qos():
    from memory_nodes.ros.qos import EVENTS, LATCHED
    return LATCHED, EVENTS


def _sim():
    from sim import Simulator
    return Simulator(seed=0)


def _alive(proc):
    if proc.poll() is not None:
        out = proc.stdout.read() if proc.stdout else ""
        raise AssertionError(f"sim node exited with {proc.returncode}:\n{out[-3000:]}")


def test_node_publishes_valid_messages(ros_context_factory, process_factory):
    from memory_interfaces.msg import InstanceClassTable
    from nav_msgs.msg import Odometry
    from rclpy.qos import qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from memory_nodes.ros.conversions.basic import (
        camera_info_to_intrinsics,
        depth_from_image,
        image_to_numpy,
        rgb_from_image,
        time_to_ns,
        transform_to_T,
    )
    proc = _start(process_factory, 41, "node.real_time_factor:=0.0")
    ctx = ros_context_factory(41)
    latched, events = _qos()
    got = {k: [] for k in ("rgb", "depth", "inst", "info", "table", "odom", "tf", "tf_static", "clock")}
    n = ctx.node
    n.create_subscription(Image, "camera/color/image_raw", got["rgb"].append, qos_profile_sensor_data)
    n.create_subscription(Image, "camera/depth/image_raw", got["depth"].append, qos_profile_sensor_data)
    n.create_subscription(Image, "camera/instances/image_raw", got["inst"].append, qos_profile_sensor_data)
    n.create_subscription(CameraInfo, "camera/color/camera_info", got["info"].append, qos_profile_sensor_data)
    n.create_subscription(InstanceClassTable, "camera/class_table", got["table"].append, latched)
    n.create_subscription(Odometry, "odom", got["odom"].append, events)
    n.create_subscription(TFMessage, "/tf", got["tf"].append, events)
    n.create_subscription(TFMessage, "/tf_static", got["tf_static"].append, latched)
    n.create_subscription(Clock, "/clock", got["clock"].append, events)

    def enough():
        _alive(proc)
        return (all(len(v) >= 1 for v in got.values())
                and min(len(got[k]) for k in ("rgb", "depth", "inst", "info")) >= 5)
    ctx.spin_until(enough, 60.0, "camera, odom, tf, clock and class table messages")

    sim = _sim()
    K = sim.intrinsics
    # images: encodings, sizes, steps, contents
    for m in got["rgb"][:3]:
        assert (m.encoding, m.width, m.height, m.step, m.header.frame_id) == ("rgb8", 320, 240, 960, "camera_optical")
        assert rgb_from_image(m).shape == (240, 320, 3)
    for m in got["depth"][:3]:
        assert m.encoding == "32FC1" and m.step == 320 * 4
        d = depth_from_image(m)
        fin = d[np.isfinite(d)]
        assert fin.size > 0.5 * d.size and fin.min() >= 0.1 and fin.max() <= 8.5
    table = got["table"][0]
    ids = dict(zip(table.instance_ids, table.class_names))
    assert ids == sim.class_table
    for m in got["inst"][:3]:
        assert m.encoding == "32SC1"
        inst = image_to_numpy(m)
        assert set(np.unique(inst).tolist()) <= set(ids) | {0}
    info = got["info"][0]
    assert camera_info_to_intrinsics(info) == K and info.header.frame_id == "camera_optical"
    stamps = {k: [time_to_ns(m.header.stamp) for m in got[k]] for k in ("rgb", "depth", "inst", "info")}
    common = set(stamps["rgb"]) & set(stamps["depth"]) & set(stamps["inst"]) & set(stamps["info"])
    assert common, "colour, depth, instances and camera info share stamps"
    # tf: map -> odom -> base_link at frame stamps; static base_link -> camera_optical
    st = got["tf_static"][0].transforms[0]
    assert (st.header.frame_id, st.child_frame_id) == ("base_link", "camera_optical")
    assert np.allclose(transform_to_T(st.transform), sim.base_T_camera, atol=1e-6)
    names = {(t.header.frame_id, t.child_frame_id) for m in got["tf"] for t in m.transforms}
    assert {("map", "odom"), ("odom", "base_link")} <= names
    first = got["tf"][-1].transforms
    map_T_base = transform_to_T(first[0].transform) @ transform_to_T(first[1].transform)
    assert abs(map_T_base[2, 3]) < 1e-9 and sim.planner.is_free(map_T_base[0, 3], map_T_base[1, 3])
    od = got["odom"][0]
    assert (od.header.frame_id, od.child_frame_id) == ("odom", "base_link")
    # /clock: sim time, increasing, on day 0 around the patrol start
    clocks = [time_to_ns(c.clock) for c in got["clock"]]
    assert clocks == sorted(clocks)
    assert sim.calendar.day_of(clocks[0]) == 0
    assert abs(sim.calendar.time_of_day_s(clocks[0]) - sim.config.patrol.start_time_of_day_s) < 60
    # a frame over ROS is exactly what the in-process simulator renders at that stamp and tf pose
    tf_at = {time_to_ns(m.transforms[0].header.stamp): m for m in got["tf"]}
    rgb_at = {time_to_ns(m.header.stamp): m for m in got["rgb"]}
    depth_at = {time_to_ns(m.header.stamp): m for m in got["depth"]}
    both = sorted(set(tf_at) & set(rgb_at) & set(depth_at))
    assert both
    t = both[-1]
    tr = tf_at[t].transforms
    map_T_base = transform_to_T(tr[0].transform) @ transform_to_T(tr[1].transform)
    local = sim.frame_at(map_T_base, t)
    assert np.abs(rgb_from_image(rgb_at[t]).astype(int) - local.frame.rgb.astype(int)).max() <= 1
    d_ros, d_loc = depth_from_image(depth_at[t]), local.frame.depth_m
    fin = np.isfinite(d_ros) & np.isfinite(d_loc)
    assert fin.mean() > 0.5 and np.abs(d_ros[fin] - d_loc[fin]).max() < 1e-3


def test_navigate_to_pose_drives_the_robot(ros_context_factory, process_factory):
    from action_msgs.msg import GoalStatus
    from nav2_msgs.action import NavigateToPose
    from rclpy.action import ActionClient
    from tf2_msgs.msg import TFMessage

    from memory_nodes.common.geometry import R_to_quat, yaw_to_R
    from memory_nodes.ros.conversions.basic import transform_to_T
    proc = _start(process_factory, 42, "node.real_time_factor:=0.0", "node.patrol_enabled:=false",
                  "node.fast_forward_idle:=false", "robot.odom_drift_enabled:=true",
                  "robot.odom_drift_linear_frac:=0.05")
    ctx = ros_context_factory(42)
    _, events = _qos()
    tfs = []
    ctx.node.create_subscription(TFMessage, "/tf", tfs.append, events)
    client = ActionClient(ctx.node, NavigateToPose, "navigate_to_pose")
    ctx.spin_until(lambda: (_alive(proc) or True) and client.server_is_ready(), 60.0, "navigate_to_pose server")

    sim = _sim()
    kitchen = next(r for r in sim.world.rooms if r.room_type == "kitchen")
    gx, gy = sim.planner.nearest_free(*kitchen.center_xy_m, max_dist_m=2.0)
    goal = NavigateToPose.Goal()
    goal.pose.header.frame_id = "map"
    goal.pose.pose.position.x, goal.pose.pose.position.y = gx, gy
    qx, qy, qz, qw = R_to_quat(yaw_to_R(1.0))
    goal.pose.pose.orientation.x, goal.pose.pose.orientation.y = qx, qy
    goal.pose.pose.orientation.z, goal.pose.pose.orientation.w = qz, qw
    feedback = []
    send = client.send_goal_async(goal, feedback_callback=feedback.append)
    handle = ctx.wait_future(send, 30.0, "goal acceptance")
    assert handle.accepted
    res = ctx.wait_future(handle.get_result_async(), 120.0, "navigation result")
    assert res.status == GoalStatus.STATUS_SUCCEEDED
    if hasattr(res.result, "error_code"):           # Jazzy-style result; Humble's has no fields
        assert res.result.error_code == 0
    assert feedback, "feedback while driving"
    from memory_nodes.ros.conversions.basic import time_to_ns
    ctx.spin_until(lambda: len(tfs) > 0, 10.0, "tf")
    t_done = time_to_ns(tfs[-1].transforms[0].header.stamp)
    # the localizer's map -> odom correction updates every node.map_odom_period_s (1 s of sim time)
    ctx.spin_until(lambda: time_to_ns(tfs[-1].transforms[0].header.stamp) > t_done + 1_500_000_000, 30.0,
                   "a map -> odom correction after arrival")
    last = tfs[-1].transforms
    map_T_odom = transform_to_T(last[0].transform)
    assert np.linalg.norm(map_T_odom[:2, 3]) > 1e-3       # odometry drifted; the correction absorbs it
    T = map_T_odom @ transform_to_T(last[1].transform)
    assert math.hypot(T[0, 3] - gx, T[1, 3] - gy) < 0.05
    assert abs(math.atan2(T[1, 0], T[0, 0]) - 1.0) < 0.05
    assert sim.world.room_at(T[0, 3], T[1, 3]) == kitchen.room_id

    # a goal can be cancelled while driving: the robot stops where it is
    far = next(r for r in sim.world.rooms if r.room_id != kitchen.room_id and r.room_type != "hallway")
    fx, fy = sim.planner.nearest_free(*far.center_xy_m, max_dist_m=2.0)
    g3 = NavigateToPose.Goal()
    g3.pose.header.frame_id = "map"
    g3.pose.pose.position.x, g3.pose.pose.position.y = fx, fy
    g3.pose.pose.orientation.w = 1.0
    fb3 = []
    h3 = ctx.wait_future(client.send_goal_async(g3, feedback_callback=fb3.append), 30.0, "goal acceptance")
    ctx.spin_until(lambda: len(fb3) > 0, 30.0, "feedback before cancelling")
    ctx.wait_future(h3.cancel_goal_async(), 30.0, "cancel response")
    r3 = ctx.wait_future(h3.get_result_async(), 30.0, "result after cancel")
    assert r3.status == GoalStatus.STATUS_CANCELED

    # a goal in another frame is refused with an error, and the node stays up
    bad = NavigateToPose.Goal()
    bad.pose.header.frame_id = "somewhere_else"
    bad.pose.pose.orientation.w = 1.0
    h2 = ctx.wait_future(client.send_goal_async(bad), 30.0, "goal acceptance")
    r2 = ctx.wait_future(h2.get_result_async(), 30.0, "result")
    assert r2.status == GoalStatus.STATUS_ABORTED
    if hasattr(r2.result, "error_code"):
        assert r2.result.error_code != 0 and r2.result.error_msg
    _alive(proc)


def test_lockstep_waits_for_frame_ack(ros_context_factory, process_factory):
    from builtin_interfaces.msg import Time
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image

    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    proc = _start(process_factory, 43, "node.real_time_factor:=0.0", "node.lockstep:=true",
                  "node.frame_ack_timeout_s:=60.0")
    ctx = ros_context_factory(43)
    _, events = _qos()
    frames, clocks = [], []
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    ctx.node.create_subscription(Image, "camera/color/image_raw", frames.append,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    ctx.node.create_subscription(Clock, "/clock", clocks.append, events)
    ack = ctx.node.create_publisher(Time, "perception/frame_ack", events)
    ctx.spin_until(lambda: (_alive(proc) or True) and len(frames) >= 1, 60.0, "first frame")
    period = int(1e9 / 5.0)
    for _ in range(3):
        stamp = time_to_ns(frames[-1].header.stamp)
        # without an ack the node holds: no further frame and the clock stays at the frame's stamp
        n_before = len(frames)
        ctx.spin_until(lambda: len(clocks) > 0, 5.0, "clock")
        for _ in range(10):                       # half a second of listening: nothing may arrive
            ctx.spin_once(0.05)
        assert len(frames) == n_before
        assert max(time_to_ns(c.clock) for c in clocks) == stamp
        ack.publish(ns_to_time(stamp))
        ctx.spin_until(lambda n=n_before: len(frames) > n, 30.0, "next frame after the ack")
        assert time_to_ns(frames[-1].header.stamp) == stamp + period
    _alive(proc)


def test_lockstep_times_out_and_continues(ros_context_factory, process_factory):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    proc = _start(process_factory, 44, "node.real_time_factor:=0.0", "node.lockstep:=true",
                  "node.frame_ack_timeout_s:=0.2")
    from rosgraph_msgs.msg import Clock

    from memory_nodes.ros.conversions.basic import time_to_ns
    ctx = ros_context_factory(44)
    from memory_interfaces.msg import SimStatus
    latched, events = _qos()
    clocks, frames, status = [], [], []
    ctx.node.create_subscription(Clock, "/clock", clocks.append, events)
    ctx.node.create_subscription(SimStatus, "sim/status", status.append, latched)
    ctx.spin_until(lambda: (_alive(proc) or True) and len(status) >= 1, 60.0, "the simulator up (sim/status)")
    # nothing hears the camera yet: lockstep holds sim time (without the hold, 0.2 s time-outs would
    # advance it by a frame every 0.2 s and those frames would be lost)
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        ctx.spin_once(0.05)
    _alive(proc)
    stamps = {time_to_ns(c.clock) for c in clocks}
    assert len(stamps) <= 1, f"sim time advanced with no camera subscriber: {sorted(stamps)}"
    ctx.node.create_subscription(Image, "camera/color/image_raw", frames.append,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    ctx.spin_until(lambda: (_alive(proc) or True) and len(frames) >= 4, 60.0, "frames without acks")
    _alive(proc)


def test_start_at_day_n_of_a_stored_world_and_continue(ros_context_factory, process_factory, tmp_path):
    import os
    import signal

    from rosgraph_msgs.msg import Clock

    from memory_nodes.ros.conversions.basic import time_to_ns
    from sim.ground_truth import GroundTruthLog
    sim = _sim()
    data = tmp_path / "data"
    proc = _start(process_factory, 45, "node.real_time_factor:=0.0", "node.start_day:=3",
                  f"data_dir:={data}", "node.max_days:=1")
    ctx = ros_context_factory(45)
    _, events = _qos()
    clocks = []
    ctx.node.create_subscription(Clock, "/clock", clocks.append, events)
    ctx.spin_until(lambda: (_alive(proc) or True) and len(clocks) >= 3, 60.0, "clock")
    t0 = time_to_ns(clocks[0].clock)
    assert sim.calendar.day_of(t0) == 3
    gt = GroundTruthLog.load(data / "ground_truth.jsonl")
    assert gt.days_simulated >= 4 and gt.world_hash == sim.world.hash()
    fresh = sim.ground_truth(4)
    t = sim.calendar.stamp_ns(3, 9 * 3600)
    assert gt.object_states(t) == fresh.object_states(t)
    # wait until day 3's patrol is done (state saved), then stop the node cleanly
    ctx.spin_until(lambda: (data / "sim_state.json").is_file() and
                   json.loads((data / "sim_state.json").read_text()).get("patrol_done_day") == 3,
                   120.0, "day 3 patrol done")
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=20)
    saved = json.loads((data / "sim_state.json").read_text())
    # continue where it was
    # /clock messages of the first run still queued in this subscriber are not the second run's: take them
    # (until none came for 0.3 s, at most 3 s) before listening to the restarted node
    n, quiet = len(clocks), time.monotonic()
    end = quiet + 3.0
    while time.monotonic() - quiet < 0.3 and time.monotonic() < end:
        ctx.spin_once(0.05)
        if len(clocks) != n:
            n, quiet = len(clocks), time.monotonic()
    clocks.clear()
    proc2 = _start(process_factory, 45, "node.real_time_factor:=0.0", f"data_dir:={data}",
                   "node.max_days:=1")
    ctx.spin_until(lambda: (_alive(proc2) or True) and len(clocks) >= 3, 60.0, "clock after restart")
    later = [time_to_ns(c.clock) for c in clocks]
    assert min(later) >= saved["t_ns"]
    assert sim.calendar.day_of(min(later)) >= 3
