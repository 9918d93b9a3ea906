"""Diagnostics (memory_nodes/ros/diagnostics.py): the updater's logic with injected time (rates over a
sliding window, level aggregation, a task that raises or returns garbage), and the nodes' /diagnostics in
their own processes (ROS_DOMAIN_ID 32): perception's, memory's (by lifecycle state) and the planner's
statuses with their keys (the planner under use_sim_time without /clock), a WARN for a silent camera, and
a malformed image counted as a rejection with its cause."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

from memory_nodes.ros.diagnostics import (
    ERROR,
    OK,
    STALE,
    WARN,
    DiagnosticTasks,
    LatencyStats,
    RateWindow,
    Status,
    format_value,
    status_name_prefix,
    worst_level,
)

DOMAIN = 32
SEC = 1_000_000_000


# ----------------------------------------------------------------------------------------------- pure
def test_rate_over_a_sliding_window_with_injected_time():
    r = RateWindow(window_s=5.0, start_s=100.0)
    assert r.rate_hz(100.0) == 0.0 and r.age_s(100.0) is None
    for k in range(20):                       # 10 Hz for 2 s: the window is not full yet
        r.tick(100.0 + 0.1 * k)
    assert r.rate_hz(102.0) == pytest.approx(10.0)
    for k in range(20, 80):                   # 10 Hz up to 108 s
        r.tick(100.0 + 0.1 * k)
    assert r.rate_hz(108.0) == pytest.approx(10.0, abs=0.3)
    assert r.total == 80 and r.age_s(108.0) == pytest.approx(0.1)
    assert r.rate_hz(110.4) == pytest.approx(26 / 5.0, abs=0.3)    # silent for 2.5 s: decays...
    assert r.rate_hz(120.0) == 0.0 and r.count(120.0) == 0             # ... to zero within one window
    assert r.total == 80 and r.age_s(120.0) == pytest.approx(12.1)
    with pytest.raises(ValueError):
        RateWindow(window_s=0.0)


def test_rate_window_is_bounded():
    r = RateWindow(window_s=10.0, start_s=0.0, max_events=5)
    r.tick(1.0, n=100)
    assert r.count(1.0) == 5 and r.total == 100


def test_levels_aggregate_to_the_worst_and_messages_join_worst_first():
    assert worst_level([]) == OK
    assert worst_level([OK, WARN]) == WARN
    assert worst_level([WARN, STALE, OK]) == STALE
    assert worst_level([STALE, ERROR, WARN]) == ERROR
    s = Status({"a": 1}, ok_message="fine")
    assert (s.level, s.message) == (OK, "fine")
    s.add(OK, "ignored").add(WARN, "camera slow").add(ERROR, "nothing processed").add(WARN, "depth silent")
    assert s.level == ERROR
    assert s.message == "nothing processed; camera slow; depth silent"
    with pytest.raises(ValueError):
        s.add(7, "no such level")


def test_values_are_formatted_and_counts_get_one_key_per_cause():
    assert [format_value(v) for v in (1.23456, 2.0, -0.0001, True, None, 3, "x", float("nan"))] == \
        ["1.235", "2", "0", "true", "-", "3", "x", "nan"]
    s = Status({"processed": 3}).counts("rejected", {"missing_tf": 2, "bad_step": 1})
    assert s.key_values() == [("processed", "3"), ("rejected: bad_step", "1"), ("rejected: missing_tf", "2")]


def test_latency_stats():
    lat = LatencyStats(size=3)
    assert lat.mean_s() is None and lat.max_s() is None
    for v in (1.0, 2.0, 3.0, 4.0):
        lat.add(v)
    assert lat.mean_s() == pytest.approx(3.0) and lat.max_s() == 4.0 and lat.last_s == 4.0


def test_tasks_are_named_after_the_node_and_a_failing_task_is_an_error_not_a_crash():
    assert status_name_prefix("/perception") == "perception"
    assert status_name_prefix("/robot1/memory") == "robot1/memory"
    tasks = DiagnosticTasks("robot1/perception")
    tasks.add("ok", lambda: Status({"n": 1}))
    tasks.add("raises", lambda: {}["missing"])
    tasks.add("garbage", lambda: "not a status")
    tasks.add("quiet", lambda: None)
    tasks.add("warn", lambda: Status().add(WARN, "slow"))
    with pytest.raises(ValueError):
        tasks.add("ok", lambda: Status())
    out = {name: (level, message, values) for name, level, message, values in tasks.run()}
    assert list(out) == ["robot1/perception: ok", "robot1/perception: raises", "robot1/perception: garbage",
                         "robot1/perception: warn"]             # "quiet" says nothing this period
    assert out["robot1/perception: ok"] == (OK, "OK", [("n", "1")])
    level, message, _ = out["robot1/perception: raises"]
    assert level == ERROR and "KeyError" in message and "missing" in message
    level, message, _ = out["robot1/perception: garbage"]
    assert level == ERROR and "str" in message
    assert out["robot1/perception: warn"][:2] == (WARN, "slow")
    assert tasks.remove("warn") and not tasks.remove("warn")
    assert tasks.names() == ["ok", "raises", "garbage", "quiet"]


def test_perception_input_watch_stall():
    from memory_nodes.ros.perception_node import COLOR, DEPTH, INFO, InputWatch
    w = InputWatch([COLOR, DEPTH, INFO], oracle=False, timeout_s=3.0, now_s=0.0, slop_s=0.05, frames="")
    assert w.stalled_s(10.0) is None                       # no image yet: a silent camera, not a stall
    for k in range(50):
        w.seen(COLOR, 1.0 + 0.1 * k)
    assert w.stalled_s(3.5) is None and w.stalled_s(5.9) == pytest.approx(4.9)
    assert [c for c, _ in w.check(5.9)] == ["no_depth", "no_camera_info"]
    w.processed(5.9)
    assert w.stalled_s(6.0) is None
    assert w.stalled_s(20.0) is None                       # the camera went quiet: nothing stalls


# ----------------------------------------------------------------------------------------------- ROS
def _perception_params(tmp_path) -> str:
    p = tmp_path / "perception_diag.yaml"
    p.write_text(textwrap.dedent(f"""
        perception:
          ros__parameters:
            sync: {{reliable: true}}
            node: {{input_timeout_s: 1.0}}
            persistence: {{state_file: "{tmp_path / 'perception_state.npz'}"}}
            diagnostic_updater: {{period: 0.5, hardware_id: "test-robot"}}
    """))
    return str(p)


def _statuses(arrays):
    """The latest DiagnosticStatus per name over the received arrays."""
    latest = {}
    for a in arrays:
        for s in a.status:
            latest[s.name] = s
    return latest


def _level(status) -> int:
    """DiagnosticStatus.level is a byte field: bytes of length 1 in rclpy."""
    lv = status.level
    return lv[0] if isinstance(lv, (bytes, bytearray)) else int(lv)


def _values(status):
    return {kv.key: kv.value for kv in status.values}


@pytest.mark.ros
def test_nodes_report_on_diagnostics(tmp_path, ros_context_factory, process_factory):
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from sensor_msgs.msg import CameraInfo, Image

    from memory_nodes.perception.synthetic import intrinsics_for
    from memory_nodes.ros.conversions.basic import intrinsics_to_camera_info, numpy_to_image
    from memory_nodes.ros.qos import EVENTS, RELIABLE_SENSOR

    env = ros_env(DOMAIN, {"PYTHONPATH": str(REPO_ROOT)})
    perception = process_factory([sys.executable, "-m", "memory_nodes.ros.perception_node", "--ros-args",
                                  "--params-file", str(REPO_ROOT / "config" / "perception.yaml"),
                                  "--params-file", _perception_params(tmp_path),
                                  "-p", "detector.kind:=oracle"], env, cwd=str(REPO_ROOT))
    memory = process_factory([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                              "--params-file", str(REPO_ROOT / "config" / "memory.yaml"),
                              "-p", f"data_dir:={tmp_path}", "-p", "vocab.allow_model:=false",
                              "-p", "diagnostic_updater.period:=0.5"], env)
    planner = process_factory([PYTHON, "-m", "memory_nodes.ros.planner_node", "--ros-args",
                               "--params-file", str(REPO_ROOT / "config" / "planner.yaml"),
                               "-p", "diagnostic_updater.period:=0.5", "-p", "use_sim_time:=true"], env)
    ros = ros_context_factory(DOMAIN)
    node = ros.node
    arrays = []
    node.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, EVENTS)

    def wait_status(name, pred=lambda s: True, timeout_s=60.0, what=""):
        def ok():
            s = _statuses(arrays).get(name)
            return s is not None and pred(s)
        for p in (perception, memory, planner):
            assert p.poll() is None, p.stdout.read()
        try:
            ros.spin_until(ok, timeout_s, what or name)
        except AssertionError:
            seen = {n: (_level(s), s.message) for n, s in _statuses(arrays).items()}
            raise AssertionError(f"no {what or name} within {timeout_s:.0f} s; last statuses: {seen}") from None
        return _statuses(arrays)[name]

    # perception: no camera at all -> every camera topic is silent (WARN), nothing stalls (no ERROR)
    inputs = wait_status("perception: inputs", lambda s: _level(s) == WARN, what="a silent-camera WARN")
    assert inputs.hardware_id == "test-robot"
    assert "silent" in inputs.message and "camera/depth/image_raw" in inputs.message
    assert {"camera/color/image_raw rate (Hz)", "camera/depth/image_raw received",
            "camera/color/camera_info rate (Hz)"} <= set(_values(inputs))
    frames = wait_status("perception: frames")
    assert _level(frames) == OK and {"processed", "rejected", "waiting for tf", "processed rate (Hz)"} <= \
        set(_values(frames))
    detector = wait_status("perception: detector")
    assert _values(detector)["kind"] == "oracle" and "mean time per frame (ms)" in _values(detector)

    # memory, unconfigured: the lifecycle state (WARN), no store figures
    life = wait_status("memory: lifecycle", what="memory's lifecycle status")
    assert _level(life) == WARN and _values(life)["state"] == "unconfigured"
    assert "memory: store" not in _statuses(arrays) and "memory: ingest" not in _statuses(arrays)
    change = node.create_client(ChangeState, "memory/change_state")
    ros.spin_until(change.service_is_ready, 60, "memory/change_state")
    for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert ros.wait_future(change.call_async(ChangeState.Request(transition=Transition(id=tid))), 30).success
    wait_status("memory: lifecycle", lambda s: _level(s) == OK and _values(s)["state"] == "active")
    store = wait_status("memory: store")
    assert _level(store) == OK, store.message
    store = _values(store)
    from memory_nodes.memory.repository.schema import SCHEMA_VERSION
    assert store["path"] == str(tmp_path / "memory.db") and store["schema version"] == str(SCHEMA_VERSION)
    assert {"database size (MB)", "last commit age (s)", "store errors"} <= set(store)
    ingest = _values(wait_status("memory: ingest"))
    assert {"ingest lag (s)", "frames received", "frames ingested", "objects", "observations", "views",
            "bad inputs"} <= set(ingest)

    # the planner sees memory's services once memory is active; no navigate_to_pose here (WARN)
    # each service is discovered on its own (CI saw recall a cycle before get_scene_graph): wait for both
    conn = wait_status("planner: connections",
                       lambda s: _values(s)["memory/recall"] == _values(s)["memory/get_scene_graph"] == "true",
                       what="the planner to see memory/recall and memory/get_scene_graph")
    assert _level(conn) == WARN and _values(conn)["navigate_to_pose"] == "false"
    answers = _values(wait_status("planner: answers"))
    assert {"answered", "not sure", "failed", "last answer latency (ms)"} <= set(answers)
    # under use_sim_time with no /clock the planner still reports (steady timer), stamped with its clock: 0
    stamps = {(a.header.stamp.sec, a.header.stamp.nanosec) for a in arrays
              if any(s.name.startswith("planner: ") for s in a.status)}
    assert stamps == {(0, 0)}

    # a malformed image (depth in mono8): counted as a rejection with its cause, the level at least WARN
    pubs = {t: node.create_publisher(Image, t, RELIABLE_SENSOR)
            for t in ("camera/color/image_raw", "camera/depth/image_raw", "camera/instances/image_raw")}
    pub_info = node.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE_SENSOR)
    ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values())
                   and pub_info.get_subscription_count() > 0, 30, "perception's camera subscriptions")
    K = intrinsics_for(64, 48)
    for k in range(1, 200):
        stamp = k * SEC // 10
        pubs["camera/color/image_raw"].publish(numpy_to_image(np.zeros((48, 64, 3), np.uint8), "rgb8", "cam", stamp))
        pubs["camera/depth/image_raw"].publish(numpy_to_image(np.zeros((48, 64), np.uint8), "mono8", "cam", stamp))
        pubs["camera/instances/image_raw"].publish(numpy_to_image(np.zeros((48, 64), np.int32), "32SC1", "cam",
                                                                  stamp))
        pub_info.publish(intrinsics_to_camera_info(K, "cam", stamp))
        ros.spin_once(0.05)
        s = _statuses(arrays).get("perception: frames")
        if s is not None and int(_values(s).get("rejected: unsupported_encoding", "0")) > 0:
            break
    frames = wait_status("perception: frames", lambda s: "rejected: unsupported_encoding" in _values(s),
                         timeout_s=10.0, what="the rejection in perception's diagnostics")
    assert _level(frames) in (WARN, ERROR) and "unsupported_encoding" in frames.message
    assert int(_values(frames)["rejected"]) >= 1 and _values(frames)["processed"] == "0"
    inputs = wait_status("perception: inputs",
                         lambda s: float(_values(s)["camera/depth/image_raw rate (Hz)"]) > 0)
    assert int(_values(inputs)["camera/depth/image_raw received"]) >= 1
    for p in (perception, memory, planner):
        assert p.poll() is None


def test_lifecycle_manager_reports_its_managed_nodes(tmp_path, ros_context_factory, process_factory):
    """The lifecycle manager's status: WARN while a managed node is missing, OK with each node's state once
    start-up has brought it to active (states cached from the transitions, no service call per report)."""
    from diagnostic_msgs.msg import DiagnosticArray

    from memory_nodes.ros.qos import EVENTS

    env = ros_env(DOMAIN + 1, {"PYTHONPATH": str(REPO_ROOT)})
    manager = process_factory([PYTHON, "-m", "memory_nodes.ros.lifecycle_manager", "--ros-args",
                               "-p", "diagnostic_updater.period:=0.5", "-p", "service_wait_s:=60.0"], env)
    ros = ros_context_factory(DOMAIN + 1)
    arrays: list = []
    ros.node.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, EVENTS)
    name = "lifecycle_manager: managed nodes"
    ros.spin_until(lambda: name in _statuses(arrays), 60, "the lifecycle manager's status")
    waiting = _statuses(arrays)[name]
    assert _level(waiting) == WARN and _values(waiting)["all active"] == "false"
    assert _values(waiting)["memory"] == "not contacted yet"
    memory = process_factory([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                              "--params-file", str(REPO_ROOT / "config" / "memory.yaml"),
                              "-p", f"data_dir:={tmp_path}", "-p", "vocab.allow_model:=false"], env)
    ros.spin_until(lambda: _level(_statuses(arrays)[name]) == OK, 90, "managed nodes active")
    active = _values(_statuses(arrays)[name])
    assert active["memory"] == "active" and active["all active"] == "true" and active["phase"] == "active"
    for p in (manager, memory):
        assert p.poll() is None
