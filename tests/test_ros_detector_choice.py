"""Choosing the detector is explicit and loud.

- The launch description picks it: with_sim:=true -> the simulator's oracle, with_sim:=false -> the real
  (onnx) detector (and the wall clock: use_sim_time follows with_sim), detector:=oracle|onnx overrides;
  both launchers read it (the pip runner's --print here).
- The perception node with the oracle and no simulator topics warns once, within a few seconds, what it
  waits for and how to switch; with the onnx detector and no model file it stops at start-up with a FATAL
  line naming the path and the setup (no traceback); camera images that arrive while no frame is
  processed get one warning per cause naming the missing input (depth, then tf).

Perception nodes run in their own processes on ROS_DOMAIN_IDs 76-78 (perception range; 71 is
tests/test_perception_node.py's); their log is read from the process output.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import List

import numpy as np
import pytest
from conftest import REPO_ROOT, require_default_model, ros_env, wait_until

LAUNCH = REPO_ROOT / "launch" / "memory_stack.launch.yaml"
SEC = 1_000_000_000
ORACLE_DOMAIN, ONNX_DOMAIN, STALL_DOMAIN = 76, 77, 78


# ------------------------------------------------------------------------------------------ the launch file
def _print(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memory_nodes.ros.launcher", str(LAUNCH), "--print", *args],
                          capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT))


@pytest.mark.parametrize("args,detector,sim", [
    ((), "oracle", True),                                         # the simulator: its noisy oracle
    (("with_sim:=false",), "onnx", False),                        # a real robot: the real detector
    (("with_sim:=false", "detector:=oracle"), "oracle", False),   # overrides, either way
    (("with_sim:=true", "detector:=onnx"), "onnx", True),
])
def test_the_launch_file_chooses_the_detector_from_with_sim(args, detector, sim):
    r = _print(*args)
    assert r.returncode == 0, r.stderr
    nodes = {n["name"]: n for n in json.loads(r.stdout)}
    assert ("sim" in nodes) == sim
    assert nodes["perception"]["parameters"]["detector.kind"] == detector
    # off the simulator nobody publishes /clock: the nodes follow the wall clock
    assert all(n["parameters"]["use_sim_time"] is sim for name, n in nodes.items() if name != "sim")
    # the value the launch sets comes after the section file and the site file: it wins
    cmd = nodes["perception"]["command"]
    files = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--params-file"]
    assert files[0].endswith("config/perception.yaml") and files[1].endswith("site.yaml") and len(files) == 3
    # and the choice is said out loud
    assert f"perception detector: {detector} (with_sim:={'true' if sim else 'false'}" in r.stderr


@pytest.mark.parametrize("arg,needle", [("detector:=yolo", "detector:=yolo is not one of ['oracle', 'onnx']"),
                                        ("with_sim:=True", "with_sim:=True is not one of ['true', 'false']")])
def test_a_detector_or_with_sim_outside_the_choices_is_a_clear_error(arg, needle):
    r = _print(arg)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


# ------------------------------------------------------------------------------------------ InputWatch (pure)
def test_input_watch_says_once_what_is_missing():
    pytest.importorskip("rclpy")
    from memory_nodes.ros.perception_node import CLASS_TABLE, COLOR, DEPTH, INFO, INSTANCES, InputWatch

    w = InputWatch([COLOR, DEPTH, INFO, INSTANCES], True, 3.0, 0.0, 0.02, "map <- cam, base base_link")
    assert w.check(2.9) == []                                     # within the timeout: nothing yet
    [(cause, text)] = w.check(3.0)
    assert cause == "oracle_waiting" and INSTANCES in text and CLASS_TABLE in text
    assert "detector:=onnx" in text and "detector.kind: onnx" in text
    onnx = InputWatch([COLOR, DEPTH, INFO], False, 3.0, 0.0, 0.02, "map <- cam, base base_link")
    assert [c for c, _ in onnx.check(3.5)] == ["no_input"]
    for k in range(40):                                           # colour + camera_info only, for 4 s
        onnx.seen(COLOR, 0.1 * k)
        onnx.seen(INFO, 0.1 * k)
    assert onnx.check(2.5) == [] and [c for c, _ in onnx.check(3.95)] == ["no_depth"]
    for k in range(40, 80):                                       # now depth too, but never synchronized
        for t in (COLOR, DEPTH, INFO):
            onnx.seen(t, 0.1 * k)
    assert [c for c, _ in onnx.check(7.95)] == ["not_synchronized"]
    onnx.matched()
    onnx.rejected("missing_tf")
    [(cause, text)] = onnx.check(7.95)
    assert cause == "rejected_missing_tf" and "map <- cam" in text
    onnx.processed(8.0)                                           # a frame went through: nothing stalls
    assert onnx.check(8.5) == []
    assert onnx.check(20.0) == []                                 # the camera went quiet: not a stall
    parked = InputWatch([COLOR, DEPTH, INFO, INSTANCES], True, 3.0, 0.0, 0.02, "")
    parked.seen(CLASS_TABLE, 0.5)                                 # a simulator parked: its table, no images
    assert parked.check(10.0) == []
    for k in range(40):                                           # ... then its camera, without instances
        for t in (COLOR, DEPTH, INFO):
            parked.seen(t, 10.0 + 0.1 * k)
    [(cause, text)] = parked.check(14.0)
    assert cause == "oracle_waiting" and INSTANCES in text and CLASS_TABLE not in text


# ------------------------------------------------------------------------------------------ nodes
class _Output:
    """A process's merged stdout/stderr, collected line by line by a thread (with the time each came)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: List[tuple] = []
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def with_text(self, needle: str) -> List[tuple]:
        return [(t, s) for t, s in list(self.lines) if needle in s]

    def text(self) -> str:
        return "\n".join(s for _, s in list(self.lines))


def _start_perception(process_factory, domain: int, tmp_path, *params: str) -> subprocess.Popen:
    extra = tmp_path / f"perception_{domain}.yaml"
    extra.write_text(textwrap.dedent(f"""
        perception:
          ros__parameters:
            sync: {{reliable: true}}
            persistence: {{state_file: "{tmp_path / f'state_{domain}.npz'}"}}
    """))
    args = [sys.executable, "-m", "memory_nodes.ros.perception_node", "--ros-args",
            "--params-file", str(REPO_ROOT / "config" / "perception.yaml"), "--params-file", str(extra)]
    for p in params:
        args += ["-p", p]
    return process_factory(args, env=ros_env(domain), cwd=str(REPO_ROOT))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=15)


class _Camera:
    """Publishes what a real RGB-D camera driver (and optionally the simulator, and tf) would."""

    def __init__(self, ros):
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        from memory_nodes.common.geometry import invert_T, pose2d_T
        from memory_nodes.perception.synthetic import demo_scene, intrinsics_for, look_at
        from memory_nodes.ros.conversions.basic import make_transform_stamped
        from memory_nodes.ros.qos import EVENTS, LATCHED, TF_STATIC
        from memory_nodes.ros.qos import RELIABLE_SENSOR as RELIABLE_CAMERA
        node = ros.node
        self.ros = ros
        self.pub = {name: node.create_publisher(Image, name, RELIABLE_CAMERA)
                    for name in ("camera/color/image_raw", "camera/depth/image_raw", "camera/instances/image_raw")}
        self.pub_info = node.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE_CAMERA)
        self.pub_tf = node.create_publisher(TFMessage, "/tf", EVENTS)
        self.pub_tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC)
        from memory_interfaces.msg import InstanceClassTable
        self.pub_table = node.create_publisher(InstanceClassTable, "camera/class_table", LATCHED)
        self.objects, self.walls = demo_scene()
        self.K = intrinsics_for(320, 240)
        self.map_T_base = pose2d_T(0.0, 0.0, 0.0)
        self.map_T_cam = look_at((0.1, 0.0, 1.15), (2.0, 0.0, 0.3))
        self.base_T_cam = invert_T(self.map_T_base) @ self.map_T_cam
        self._tf = (TFMessage, make_transform_stamped)

    def static_tf(self) -> None:
        TFMessage, make = self._tf
        self.pub_tf_static.publish(TFMessage(transforms=[make(np.eye(4), "map", "odom", 0),
                                                         make(self.base_T_cam, "base_link", "camera_optical", 0)]))

    def class_table(self) -> None:
        from memory_nodes.ros.conversions.perception import class_table_to_msg
        self.pub_table.publish(class_table_to_msg({o.instance_id: o.class_name for o in self.objects}))

    def frame(self, stamp_ns: int, depth: bool = True, instances: bool = False, tf: bool = True) -> None:
        from memory_nodes.perception.synthetic import render
        from memory_nodes.ros.conversions.basic import intrinsics_to_camera_info, numpy_to_image
        TFMessage, make = self._tf
        f = render(self.objects, self.K, self.map_T_cam, stamp_ns, walls=self.walls)
        if tf:
            self.pub_tf.publish(TFMessage(transforms=[make(self.map_T_base, "odom", "base_link", stamp_ns)]))
        self.pub["camera/color/image_raw"].publish(numpy_to_image(f.rgb, "rgb8", "camera_optical", stamp_ns))
        if depth:
            self.pub["camera/depth/image_raw"].publish(numpy_to_image(f.depth_m, "32FC1", "camera_optical", stamp_ns))
        if instances:
            self.pub["camera/instances/image_raw"].publish(
                numpy_to_image(f.instance_mask, "32SC1", "camera_optical", stamp_ns))
        self.pub_info.publish(intrinsics_to_camera_info(self.K, "camera_optical", stamp_ns))

    def stream(self, seconds: float, t0_ns: int, **kw) -> int:
        """Frames at ~5 Hz for ``seconds`` (wall), spinning the test node; the next stamp."""
        t = t0_ns
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.frame(t, **kw)
            t += SEC // 5
            for _ in range(4):
                self.ros.spin_once(0.05)
        return t


@pytest.mark.ros
def test_oracle_without_the_simulators_topics_warns_once_what_it_waits_for(tmp_path, ros_context_factory,
                                                                           process_factory):
    proc = _start_perception(process_factory, ORACLE_DOMAIN, tmp_path)
    out = _Output(proc)
    wait_until(lambda: out.with_text("perception up") or proc.poll() is not None, 30.0, what="the node up")
    assert proc.poll() is None, out.text()
    up_s = out.with_text("perception up")[0][0]
    assert "detector=oracle" in out.with_text("perception up")[0][1]
    # nothing at all (no simulator, no camera): within a few seconds it says what it waits for, and how to switch
    wait_until(lambda: out.with_text("(oracle_waiting)"), 8.0, what="the oracle's waiting warning")
    t, line = out.with_text("(oracle_waiting)")[0]
    assert t - up_s <= 5.0, f"warned after {t - up_s:.1f} s"
    assert "[WARN]" in line and "camera/instances/image_raw" in line and "camera/class_table" in line
    assert "detector:=onnx (launch argument)" in line and "detector.kind: onnx (parameter)" in line
    # a real camera starts publishing (RGB-D, camera_info, tf; no instance topic): still that one warning
    ros = ros_context_factory(ORACLE_DOMAIN)
    cam = _Camera(ros)
    cam.static_tf()
    ros.spin_until(lambda: ros.node.count_subscribers("camera/color/image_raw") > 0, 20.0, "the subscriptions")
    cam.stream(5.0, SEC)
    _stop(proc)
    log = out.text()
    warnings = [s for s in log.splitlines() if "[WARN]" in s]
    assert len(out.with_text("perception input (oracle_waiting)")) == 1, log
    assert warnings == [out.with_text("perception input (oracle_waiting)")[0][1]], log   # nothing else loud
    assert "Traceback" not in log


@pytest.mark.ros
def test_onnx_without_a_model_file_stops_at_configure_with_the_path_and_the_setup(tmp_path, process_factory):
    missing = tmp_path / "models" / "no-such-detector.onnx"
    proc = _start_perception(process_factory, ONNX_DOMAIN, tmp_path, "detector.kind:=onnx",
                             f"onnx.model_path:={missing}")
    log, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, log
    fatal = [s for s in log.splitlines() if "[FATAL]" in s]
    assert len(fatal) == 1, log
    line = fatal[0]
    assert "cannot start the perception node" in line and str(missing) in line and "no such file" in line
    assert "scripts/setup.sh" in line and "detector:=oracle" in line
    assert "Traceback" not in log


@pytest.mark.ros
def test_onnx_with_the_installed_default_model_comes_up_from_any_folder(tmp_path, process_factory):
    require_default_model()
    args = [sys.executable, "-m", "memory_nodes.ros.perception_node", "--ros-args", "--params-file",
            str(REPO_ROOT / "config" / "perception.yaml"), "-p", "detector.kind:=onnx",
            "-p", f"persistence.state_file:={tmp_path / 'state.npz'}"]
    proc = process_factory(args, env=ros_env(ONNX_DOMAIN), cwd=str(tmp_path))   # models/ is not under cwd
    out = _Output(proc)
    wait_until(lambda: out.with_text("perception up") or proc.poll() is not None, 60.0, what="the node up")
    _stop(proc)
    line = out.with_text("perception up")[0][1] if out.with_text("perception up") else out.text()
    assert "detector=onnx (" in line and "nanodet-coco.onnx" in line, line


@pytest.mark.ros
def test_frames_that_arrive_but_are_not_processed_name_the_missing_input(tmp_path, ros_context_factory,
                                                                          process_factory):
    proc = _start_perception(process_factory, STALL_DOMAIN, tmp_path, "transforms.wait_for_tf_s:=0.2")
    out = _Output(proc)
    ros = ros_context_factory(STALL_DOMAIN)
    cam = _Camera(ros)
    ros.spin_until(lambda: proc.poll() is not None or ros.node.count_subscribers("camera/depth/image_raw") > 0,
                   30.0, "the subscriptions")
    assert proc.poll() is None, out.text()
    cam.static_tf()
    cam.class_table()
    # the simulator's topics and the colour image, but no depth: "no_depth"
    t = cam.stream(5.0, SEC, depth=False, instances=True)
    wait_until(lambda: out.with_text("(no_depth)"), 5.0, what="the missing-depth warning")
    assert "camera/depth/image_raw" in out.with_text("(no_depth)")[0][1]
    # depth too, but no odom -> base transform (no localizer): every frame is rejected for its tf
    t = cam.stream(5.0, t + 10 * SEC, instances=True, tf=False)
    wait_until(lambda: out.with_text("(rejected_missing_tf)"), 5.0, what="the missing-tf warning")
    assert "map <- " in out.with_text("(rejected_missing_tf)")[0][1]
    # with tf the frames go through: no further warning of any cause
    n_warn = len([s for _, s in out.lines if "[WARN]" in s])
    cam.stream(3.0, t + 10 * SEC, instances=True)
    _stop(proc)
    log = out.text()
    assert len([s for s in log.splitlines() if "[WARN]" in s]) == n_warn, log
    for cause in ("no_depth", "rejected_missing_tf"):
        assert len(out.with_text(f"perception input ({cause})")) == 1, log
    assert "oracle_waiting" not in log and "Traceback" not in log
