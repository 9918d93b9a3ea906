"""The simulator node: the household, the robot base and its RGB-D camera on ROS 2.

Publishes (relative names unless noted): camera/color/image_raw (rgb8), camera/depth/image_raw (32FC1, m,
NaN = no return), camera/color/camera_info, camera/instances/image_raw (32SC1 instance ids, 0 = structure),
camera/class_table (InstanceClassTable, latched), odom (nav_msgs/Odometry), /tf (map -> odom -> base_link),
/tf_static (base_link -> camera optical frame), /clock (sim time). Serves navigate_to_pose
(nav2_msgs/action/NavigateToPose; Humble's result without error fields and Jazzy's with them).
Subscribes perception/frame_ack (builtin_interfaces/Time) in lockstep mode.

Time: a wall timer advances sim time by one camera period per tick, ``node.real_time_factor`` times faster
than real time (0 = as fast as possible). Each day the robot patrols part of the home (patrol.*); between
patrols, with ``node.fast_forward_idle``, sim time jumps to the next patrol. In lockstep the next frame
is published only after perception acknowledges the previous one (or ``node.frame_ack_timeout_s`` of wall
time passes: warned once, then it continues); it also holds sim time still until something subscribes to
the colour image, so a first frame is not sent before perception can hear it. With ``data_dir`` set, the
ground-truth log and the node's state live there; ``node.start_day`` = N starts at day N of that stored
world, -1 continues where it was.

Diagnostics (``/diagnostics``, memory_nodes/ros/diagnostics.py): one status, ``sim: simulator`` (rendering
rate over 5 s of wall time, sim time, day, phase, frames; WARN when a lockstep frame went without its
acknowledgement past ``node.frame_ack_timeout_s`` in the last minute).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Optional, Tuple

from builtin_interfaces.msg import Time
from memory_interfaces.msg import InstanceClassTable, SimStatus
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from rclpy.node import Node
from rclpy.task import Future
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from memory_nodes.common.errors import ConfigError, MemoryStackError
from memory_nodes.common.geometry import R_to_quat, pose2d_T, quat_to_R, yaw_of
from memory_nodes.ros.conversions.basic import intrinsics_to_camera_info, ns_to_duration, numpy_to_image, time_to_ns
from memory_nodes.ros.diagnostics import WARN, Diagnostics, RateWindow, Status
from memory_nodes.ros.log_once import LogOnce
from memory_nodes.ros.params import NodeParameters, Section
from memory_nodes.ros.qos import EVENTS, LATCHED, TF, TF_STATIC, camera_qos
from memory_nodes.ros.runner import run_node

from ..calendar import NS_PER_S
from ..config import SimConfig
from ..ground_truth import GroundTruthLog
from ..robot import OdometryDrift, RobotMotion
from ..simulator import Simulator
from .conversions import class_table_msg, clock_msg, odometry_msg, tf_message

try:  # the real nav2_msgs on a ROS install; the wire-identical stand-in from ros2_ws/src/compat otherwise
    from nav2_msgs.action import NavigateToPose
except ImportError as _e:  # pragma: no cover - only without any nav2_msgs
    raise ImportError("nav2_msgs is missing: build ros2_ws (scripts/setup.sh) or install "
                      "ros-<distro>-nav2-msgs") from _e

STATE_FILE = "sim_state.json"
GT_FILE = "ground_truth.jsonl"
STATE_VERSION = 1


@dataclasses.dataclass
class NodeParams:
    start_day: int = -1                  # -1: continue the stored run (or day 0); N: start at day N
    start_time_of_day_s: float = -1.0    # -1: two seconds before the day's patrol
    real_time_factor: float = 5.0        # sim seconds per wall second; 0 = as fast as possible
    lockstep: bool = False
    frame_ack_timeout_s: float = 5.0     # wall seconds to wait for perception/frame_ack in lockstep
    patrol_enabled: bool = True
    fast_forward_idle: bool = True       # jump to the next patrol when nothing happens
    camera_when_idle: bool = False       # render while parked (costly; off: camera runs while moving)
    max_days: int = 0                    # stop patrolling after this many days (0 = no limit)
    map_odom_period_s: float = 1.0       # how often the localizer's map -> odom correction updates
    camera_reliable: bool = False        # RELIABLE camera QoS (always on in lockstep)
    feedback_period_s: float = 0.5       # NavigateToPose feedback period (sim time)

    def validate(self) -> None:
        if self.real_time_factor < 0:
            raise ConfigError("node.real_time_factor must be >= 0")
        if self.frame_ack_timeout_s <= 0:
            raise ConfigError("node.frame_ack_timeout_s must be > 0")
        if self.max_days < 0:
            raise ConfigError("node.max_days must be >= 0")
        if self.map_odom_period_s <= 0 or self.feedback_period_s <= 0:
            raise ConfigError("node.map_odom_period_s and node.feedback_period_s must be > 0")


@dataclasses.dataclass
class FrameParams:
    map: str = "map"
    odom: str = "odom"
    base: str = "base_link"
    camera: str = "camera_optical"


# The parameters: SimConfig's sections (world.seed, camera.rate_hz, ...), node.*, frames.*, data_dir. Ranges:
# those validate() enforces exactly (tests/test_ros_params.py checks each), plus the two bounds the node
# has always declared beyond validate(): node.real_time_factor <= 1000 and node.start_day in [-1, 100000].
PARAMETERS = (
    Section(SimConfig, ranges={
        "world.seed": (0, None), "world.num_objects": (1, None), "world.num_new_objects": (0, None),
        "world.grid_resolution_m": (0.01, 0.2), "household.activity_scale": (0.0, 2.0),
        "household.chair_drift_m": (0.0, 0.3), "robot.radius_m": (0.05, 0.5), "robot.camera_height_m": (0.2, 2.0),
        "camera.width": (16, 4096), "camera.height": (16, 4096), "camera.hfov_deg": (20.0, 150.0),
        "camera.rate_hz": (0.1, 60.0), "camera.depth_noise_base_m": (0.0, None),
        "camera.depth_noise_quadratic": (0.0, None), "camera.rgb_noise_std": (0.0, None)}),
    Section(NodeParams, "node.", ranges={"node.real_time_factor": (0.0, 1000.0), "node.start_day": (-1, 100000),
                                         "node.max_days": (0, None)}),
    Section(FrameParams, "frames."),
)


class _NavGoal:
    def __init__(self, handle, future: Future, start_ns: int, goal_xy: Tuple[float, float]):
        self.handle = handle
        self.future = future
        self.start_ns = start_ns
        self.goal_xy = goal_xy
        self.last_feedback_ns = start_ns


class SimNode(Node):
    """The household simulator as a ROS 2 node (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__("sim", **kwargs)
        self._log_once = LogOnce(self.get_logger())
        self.sim_cfg, self.params, self.frames, self.data_dir = self._declare_and_read()
        self.sim = Simulator(self.sim_cfg)
        cal = self.sim.calendar
        self.period_ns = int(round(NS_PER_S / self.sim_cfg.camera.rate_hz))

        # ground truth and start state
        self._gt_path = Path(self.data_dir) / GT_FILE if self.data_dir else None
        self._state_path = Path(self.data_dir) / STATE_FILE if self.data_dir else None
        if self._gt_path is not None and self._gt_path.is_file():
            self.sim.use_ground_truth(GroundTruthLog.load(self._gt_path))   # raises on a foreign world
        start_ns, pose, patrol_done_day = self._start_state()
        self.t_ns = start_ns
        self.day = cal.day_of(start_ns)
        self.first_day = self.day
        self._ensure_ground_truth(self.day)
        self.motion = RobotMotion(pose)
        self.odom = OdometryDrift(self.sim_cfg.robot, self.sim.seed, pose)
        self._map_T_odom = self.odom.map_T_odom(pose)
        self._last_correction_ns = start_ns
        self.patrol_done_day = patrol_done_day
        self.patrols_started = 0            # in this run: node.max_days counts these
        self.frames_published = 0
        self._last_status: Optional[tuple] = None
        self._last_status_wall = 0.0
        self._nav: Optional[_NavGoal] = None
        self._pending_frame_ns: Optional[int] = None
        self._pending_wall = 0.0
        self._acked_ns = -1
        self._render_rate = RateWindow(5.0, time.monotonic())
        self._ack_timeouts = RateWindow(60.0, time.monotonic())
        self._waiting_for_camera_subscriber = False

        # interfaces
        cam_qos = camera_qos(self.params.camera_reliable or self.params.lockstep)
        self.pub_rgb = self.create_publisher(Image, "camera/color/image_raw", cam_qos)
        self.pub_depth = self.create_publisher(Image, "camera/depth/image_raw", cam_qos)
        self.pub_info = self.create_publisher(CameraInfo, "camera/color/camera_info", cam_qos)
        self.pub_inst = self.create_publisher(Image, "camera/instances/image_raw", cam_qos)
        self.pub_table = self.create_publisher(InstanceClassTable, "camera/class_table", LATCHED)
        self.pub_odom = self.create_publisher(Odometry, "odom", EVENTS)
        self.pub_tf = self.create_publisher(TFMessage, "/tf", TF)
        self.pub_tf_static = self.create_publisher(TFMessage, "/tf_static", TF_STATIC)
        self.pub_clock = self.create_publisher(Clock, "/clock", EVENTS)
        self.pub_status = self.create_publisher(SimStatus, "sim/status", LATCHED)
        self.sub_ack = self.create_subscription(Time, "perception/frame_ack", self._on_ack, EVENTS)
        self.nav_server = ActionServer(self, NavigateToPose, "navigate_to_pose", execute_callback=self._execute_nav,
                                       goal_callback=self._on_goal, cancel_callback=self._on_cancel)

        self.pub_table.publish(class_table_msg(self.sim.class_table, self.t_ns, self.frames.camera))
        self.pub_tf_static.publish(tf_message([(self.sim.base_T_camera, self.frames.base, self.frames.camera)],
                                              self.t_ns))
        self._publish_state(self.t_ns, render=False)
        rtf = self.params.real_time_factor
        # as fast as possible: in lockstep each acknowledgement triggers the next tick directly, so the timer
        # only paces idle time and time-outs and need not poll (a 1 ms timer costs most of a core in rclpy)
        wall_period = (self.period_ns / NS_PER_S) / rtf if rtf > 0 else (0.01 if self.params.lockstep else 0.001)
        # a wall (steady) timer: this node is the /clock source, so it must not tick on sim time even when
        # a site file sets use_sim_time for every node
        self.timer = self.create_timer(max(wall_period, 0.001), self._on_tick,
                                       clock=RosClock(clock_type=ClockType.STEADY_TIME))
        self.diagnostics = Diagnostics(self)
        self.diagnostics.add("simulator", self._diagnose)
        choice = self.sim.renderer().choice
        self.get_logger().info(
            f"world seed {self.sim.seed} ({self.sim.world.hash()[:12]}): {len(self.sim.world.rooms)} rooms, "
            f"{len(self.sim.world.furniture)} furniture, {len(self.sim.world.objects)} objects; start "
            f"{cal.describe(self.t_ns)}; renderer {choice.backend} ({choice.reason}); camera "
            f"{self.sim_cfg.camera.width}x{self.sim_cfg.camera.height} @ {self.sim_cfg.camera.rate_hz} Hz; "
            f"real-time factor {rtf or 'max'}; lockstep {self.params.lockstep}; data_dir {self.data_dir or '-'}")

    # -- parameters ----------------------------------------------------------------------------------------
    def _declare_and_read(self) -> Tuple[SimConfig, NodeParams, FrameParams, str]:
        params = NodeParameters(self)
        params.declare_sections(PARAMETERS)
        params.declare_value("data_dir", "", "folder for the ground-truth log and the node's state ('' = keep nothing)")
        return (params.read(SimConfig), params.read(NodeParams, "node."), params.read(FrameParams, "frames."),
                str(params.value("data_dir") or ""))

    # -- start / persistence ---------------------------------------------------------------------------------
    def _start_state(self) -> Tuple[int, Tuple[float, float, float], int]:
        cal = self.sim.calendar
        p = self.params
        if p.start_day < 0 and self._state_path is not None and self._state_path.is_file():
            try:
                st = json.loads(self._state_path.read_text())
                if st.get("version") == STATE_VERSION and st.get("world_hash") == self.sim.world.hash():
                    pose = tuple(float(v) for v in st["pose"])
                    self.get_logger().info(f"continuing the stored run at {cal.describe(int(st['t_ns']))}")
                    return int(st["t_ns"]), pose, int(st.get("patrol_done_day", -1))
                self.get_logger().warning(f"{self._state_path}: state of another world or version; starting afresh")
            except (ValueError, KeyError, TypeError, OSError) as e:
                self.get_logger().warning(f"{self._state_path}: unreadable state ({e}); starting afresh")
        day = max(0, p.start_day)
        tod = p.start_time_of_day_s if p.start_time_of_day_s >= 0 else \
            max(0.0, self.sim_cfg.patrol.start_time_of_day_s - 2.0)
        return cal.stamp_ns(day, tod), self.sim.world.dock_pose, day - 1

    def _ensure_ground_truth(self, day: int) -> None:
        log = self.sim.ground_truth(day + 1)
        if self._gt_path is not None:
            try:
                log.save(self._gt_path)
            except OSError as e:
                self._warn_once("gt_save", f"cannot save the ground truth to {self._gt_path}: {e}")

    def save_state(self) -> None:
        if self._state_path is None:
            return
        x, y, yaw = self.motion.pose_at(self.t_ns)
        st = {"version": STATE_VERSION, "world_hash": self.sim.world.hash(), "t_ns": int(self.t_ns),
              "pose": [x, y, yaw], "patrol_done_day": int(self.patrol_done_day)}
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(st))
            tmp.replace(self._state_path)
        except OSError as e:
            self._warn_once("state_save", f"cannot save the state to {self._state_path}: {e}")

    # -- logging helpers -------------------------------------------------------------------------------------
    def _warn_once(self, cause: str, msg: str) -> None:
        self._log_once.warning(cause, msg)

    def _error_once(self, cause: str, msg: str) -> None:
        self._log_once.error(cause, msg)

    # -- the clock tick --------------------------------------------------------------------------------------
    def _on_ack(self, msg: Time) -> None:
        try:
            self._acked_ns = max(self._acked_ns, time_to_ns(msg))
        except Exception as e:  # a malformed message must not take the node down
            self._error_once("bad_ack", f"bad frame_ack: {e}")
            return
        if (self.params.lockstep and self.params.real_time_factor == 0 and self._pending_frame_ns is not None
                and self._acked_ns >= self._pending_frame_ns):
            self._on_tick()   # as fast as possible: the next frame goes out as soon as this one is done

    def _on_tick(self) -> None:
        if not self.context.ok():       # shutting down (SIGINT/SIGTERM): publishers are gone
            return
        try:
            self._tick()
        except MemoryStackError as e:
            self._error_once(f"tick:{type(e).__name__}", f"sim step failed: {e}")
        except Exception as e:  # nothing escapes into the executor
            if not self.context.ok():   # shutdown raced the tick: not an error
                return
            self._error_once(f"tick:{type(e).__name__}", f"sim step failed unexpectedly: {type(e).__name__}: {e}")

    def _patrol_due(self, day: int) -> bool:
        p = self.params
        if not p.patrol_enabled or self.patrol_done_day >= day:
            return False
        return p.max_days == 0 or self.patrols_started < p.max_days

    def _camera_heard(self) -> bool:
        """True when the colour image has a subscriber (discovery matched it; a reader's depth and info
        subscriptions live in the same participant and match with it)."""
        return self.pub_rgb.get_subscription_count() > 0

    def _tick(self) -> None:
        p = self.params
        if p.lockstep and self._pending_frame_ns is None and not self._camera_heard():
            # a RELIABLE, volatile frame sent before discovery matched its reader is lost, and lockstep would
            # then wait frame_ack_timeout_s for an ack that cannot come: hold sim time until it is heard
            if not self._waiting_for_camera_subscriber:
                self._waiting_for_camera_subscriber = True
                self.get_logger().info("lockstep: holding sim time until camera/color/image_raw has a subscriber")
            self._publish_status(self.t_ns)
            return
        if self._waiting_for_camera_subscriber:
            self._waiting_for_camera_subscriber = False
            self.get_logger().info("lockstep: camera subscriber matched; sim time runs")
        if p.lockstep and self._pending_frame_ns is not None:
            if self._acked_ns < self._pending_frame_ns:
                if time.monotonic() - self._pending_wall < p.frame_ack_timeout_s:
                    return
                self._ack_timeouts.tick(time.monotonic())
                self._warn_once("ack_timeout", f"no perception/frame_ack for frame {self._pending_frame_ns} "
                                f"within {p.frame_ack_timeout_s} s: continuing without it (warned once)")
            self._pending_frame_ns = None
        cal = self.sim.calendar
        t = self.t_ns + self.period_ns
        # finished motions
        done = self.motion.finish_if_done(t)
        if done == "patrol":
            self.patrol_done_day = cal.day_of(t)
            self.get_logger().info(f"patrol of day {self.patrol_done_day} done at {cal.describe(t)}")
            self.save_state()
        if done == "nav" and self._nav is not None and not self._nav.future.done():
            self._nav.future.set_result("succeeded")
        # cancel requests
        if self._nav is not None and not self._nav.future.done() and self._nav.handle.is_cancel_requested:
            self.motion.stop(t)
            self._nav.future.set_result("canceled")
        idle = not self.motion.active(t) and (self._nav is None or self._nav.future.done())
        day = cal.day_of(t)
        if idle and self._patrol_due(day) and t >= self.sim.patrol_start_ns(day):
            plan = self.sim.patrol_plan(day, start_ns=t, start_pose=self.motion.pose_at(t))
            self.motion.follow(plan.trajectory, "patrol")
            self.patrols_started += 1
            names = [self.sim.world.rooms[r].name for r in plan.rooms]
            self.get_logger().info(f"day {day} ({cal.weekday_name(day)}) patrol: {', '.join(names)} "
                                   f"({plan.trajectory.duration_s:.0f} s, {plan.trajectory.distance_m():.1f} m)")
            idle = False
        elif idle and p.fast_forward_idle:
            nxt = self._next_patrol_ns(t)
            if nxt is not None and nxt - self.period_ns > t:
                t = nxt - self.period_ns
        new_day = cal.day_of(t)
        if new_day != self.day:
            self._ensure_ground_truth(new_day)
            self.day = new_day
            self.save_state()
        self.t_ns = t
        render = self.motion.active(t) or p.camera_when_idle
        self._publish_state(t, render)
        self._nav_feedback(t)
        self._publish_status(t)

    def _publish_status(self, t: int) -> None:
        """sim/status on every change of phase, and at most once per wall second otherwise."""
        patrolling = self.motion.active(t) and (self._nav is None or self._nav.future.done())
        navigating = self._nav is not None and not self._nav.future.done()
        key = (self.day, patrolling, navigating, self.patrol_done_day, self.patrols_started)
        now = time.monotonic()
        if key == self._last_status and now - self._last_status_wall < 1.0:
            return
        self._last_status, self._last_status_wall = key, now
        cal = self.sim.calendar
        msg = SimStatus(day=int(self.day), weekday=cal.weekday_name(self.day), description=cal.describe(t),
                        patrolling=bool(patrolling), navigating=bool(navigating),
                        last_patrol_day=int(self.patrol_done_day), patrols_this_run=int(self.patrols_started),
                        patrols_remaining=(int(self.params.max_days - self.patrols_started)
                                           if self.params.max_days else -1),
                        frames_published=int(self.frames_published))
        msg.header.stamp = clock_msg(t).clock
        msg.header.frame_id = self.frames.map
        self.pub_status.publish(msg)

    def _next_patrol_ns(self, t: int) -> Optional[int]:
        cal = self.sim.calendar
        for day in (cal.day_of(t), cal.day_of(t) + 1):
            if self._patrol_due(day):
                s = self.sim.patrol_start_ns(day)
                if s >= t:
                    return s
        return None

    def _publish_state(self, t: int, render: bool) -> None:
        f = self.frames
        pose = self.motion.pose_at(t)
        self.pub_clock.publish(clock_msg(t))
        self.odom.update(pose)
        if t - self._last_correction_ns >= int(self.params.map_odom_period_s * NS_PER_S) or not self.odom.enabled:
            self._map_T_odom = self.odom.map_T_odom(pose)
            self._last_correction_ns = t
        odom_T_base = self.odom.odom_T_base()
        self.pub_tf.publish(tf_message([(self._map_T_odom, f.map, f.odom), (odom_T_base, f.odom, f.base)], t))
        v, w = self.motion.velocity_at(t)
        self.pub_odom.publish(odometry_msg(odom_T_base, v, w, f.odom, f.base, t))
        if not render:
            return
        # the camera sees the true pose; map -> base in tf equals it up to the localizer's update lag
        sf = self.sim.frame_at(pose2d_T(*pose), t)
        fr = sf.frame
        self.pub_info.publish(intrinsics_to_camera_info(fr.intrinsics, f.camera, t))
        self.pub_rgb.publish(numpy_to_image(fr.rgb, "rgb8", f.camera, t))
        self.pub_depth.publish(numpy_to_image(fr.depth_m, "32FC1", f.camera, t))
        self.pub_inst.publish(numpy_to_image(fr.instance_mask, "32SC1", f.camera, t))
        self.frames_published += 1
        self._render_rate.tick(time.monotonic())
        if self.params.lockstep:
            self._pending_frame_ns = t
            self._pending_wall = time.monotonic()

    def _diagnose(self) -> Status:
        now = time.monotonic()
        t = self.t_ns
        navigating = self._nav is not None and not self._nav.future.done()
        s = Status({"rendering rate (Hz)": self._render_rate.rate_hz(now), "sim time (s)": t / NS_PER_S,
                    "sim time": self.sim.calendar.describe(t), "day": self.day,
                    "patrolling": self.motion.active(t) and not navigating, "navigating": navigating,
                    "frames published": self.frames_published, "lockstep": self.params.lockstep,
                    "waiting for a camera subscriber": self._waiting_for_camera_subscriber,
                    "real-time factor": self.params.real_time_factor or "max"})
        s.set("frame ack time-outs", self._ack_timeouts.total)
        recent = self._ack_timeouts.count(now)
        if recent:
            s.add(WARN, f"{recent} frame(s) not acknowledged on perception/frame_ack within "
                        f"{self.params.frame_ack_timeout_s} s in the last minute (is perception up?)")
        return s

    # -- NavigateToPose --------------------------------------------------------------------------------------
    def _on_goal(self, goal) -> GoalResponse:
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        return CancelResponse.ACCEPT

    def _result(self, code: int = 0, msg: str = ""):
        r = NavigateToPose.Result()
        if hasattr(r, "error_code"):      # Jazzy and later; Humble's result has no fields
            r.error_code = int(code)
        if hasattr(r, "error_msg"):
            r.error_msg = msg
        return r

    def _nav_feedback(self, t: int) -> None:
        nav = self._nav
        if nav is None or nav.future.done():
            return
        if t - nav.last_feedback_ns < int(self.params.feedback_period_s * NS_PER_S):
            return
        nav.last_feedback_ns = t
        try:
            fb = NavigateToPose.Feedback()
            x, y, yaw = self.motion.pose_at(t)
            fb.current_pose.header.frame_id = self.frames.map
            fb.current_pose.header.stamp = clock_msg(t).clock
            fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = float(x), float(y)
            qx, qy, qz, qw = R_to_quat(pose2d_T(x, y, yaw)[:3, :3])
            o = fb.current_pose.pose.orientation
            o.x, o.y, o.z, o.w = qx, qy, qz, qw
            fb.navigation_time = ns_to_duration(t - nav.start_ns)
            traj = self.motion.trajectory
            remaining = (traj.end_ns - t) if traj is not None else 0
            fb.estimated_time_remaining = ns_to_duration(max(0, remaining))
            fb.distance_remaining = float(math.hypot(nav.goal_xy[0] - x, nav.goal_xy[1] - y))
            nav.handle.publish_feedback(fb)
        except Exception as e:  # feedback is best effort
            self._error_once("feedback", f"NavigateToPose feedback failed: {e}")

    async def _execute_nav(self, goal_handle):
        try:
            req = goal_handle.request
            frame = req.pose.header.frame_id
            if frame not in ("", self.frames.map):
                goal_handle.abort()
                return self._result(getattr(NavigateToPose.Result, "TF_ERROR", 9002),
                                    f"goal frame {frame!r}: only {self.frames.map!r} is supported")
            q = req.pose.pose.orientation
            pos = req.pose.pose.position
            vals = [pos.x, pos.y, q.x, q.y, q.z, q.w]
            if not all(math.isfinite(v) for v in vals) or (q.x == q.y == q.z == q.w == 0.0):
                goal_handle.abort()
                return self._result(getattr(NavigateToPose.Result, "UNKNOWN", 9000), "goal pose is not finite/valid")
            yaw = yaw_of(pose2d_T(0.0, 0.0, 0.0) @ _R4(quat_to_R(q.x, q.y, q.z, q.w)))
            goal = (float(pos.x), float(pos.y), float(yaw))
            t = self.t_ns
            if self._nav is not None and not self._nav.future.done():
                self._nav.future.set_result("preempted")
            if self.motion.kind == "patrol":
                self.patrol_done_day = self.sim.calendar.day_of(t)
                self.get_logger().info("patrol interrupted by a NavigateToPose goal")
            start = self.motion.stop(t)
            try:
                traj = self.sim.drive(t, start, goal)
            except MemoryStackError as e:
                traj = None
                why = str(e)
            else:
                why = "no collision-free path to the goal"
            if traj is None:
                goal_handle.abort()
                return self._result(getattr(NavigateToPose.Result, "UNKNOWN", 9000), why)
            self.motion.follow(traj, "nav")
            nav = _NavGoal(goal_handle, Future(), t, (goal[0], goal[1]))
            self._nav = nav
            outcome = await nav.future
            if outcome == "succeeded":
                goal_handle.succeed()
                return self._result(0, "")
            if outcome == "canceled":
                goal_handle.canceled()
                return self._result(0, "canceled")
            goal_handle.abort()
            return self._result(getattr(NavigateToPose.Result, "UNKNOWN", 9000), outcome)
        except Exception as e:  # never let the action server see an exception
            self._error_once(f"nav:{type(e).__name__}", f"NavigateToPose failed: {type(e).__name__}: {e}")
            try:
                goal_handle.abort()
            except Exception:
                pass
            return self._result(getattr(NavigateToPose.Result, "UNKNOWN", 9000), str(e))

    def destroy_node(self):
        try:
            if getattr(self, "motion", None) is not None:     # fully constructed
                self.save_state()
                if self._gt_path is not None:
                    self.sim.ground_truth(self.day + 1).save(self._gt_path)
        except Exception as e:  # shutting down: report, do not raise
            self.get_logger().error(f"saving on shutdown failed: {e}")
        return super().destroy_node()


def _R4(R):
    import numpy as np
    T = np.eye(4)
    T[:3, :3] = R
    return T


def main(args=None) -> None:
    # bad parameters or a foreign stored world (MemoryStackError): a FATAL line saying why, exit status 1
    run_node(SimNode, args, name="sim", what="the simulator")


if __name__ == "__main__":
    main()
