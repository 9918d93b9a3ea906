"""The simulated base: where it is over time, and (optionally) drifting wheel odometry.

``RobotMotion`` is idle at a pose or follows a timed Trajectory (patrol or a navigation goal).
``OdometryDrift`` integrates the true motion increments with noise proportional to the distance driven,
as wheel odometry does; a localizer's correction is then ``map_T_odom = map_T_base @ inv(odom_T_base)``.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from memory_nodes.common.geometry import invert_T, pose2d_T

from .config import RobotConfig
from .patrol import Pose2D, Trajectory, wrap_angle

_DRIFT_SEED_TAG = 0xD81F7


class RobotMotion:
    """The base's planar pose over time."""

    def __init__(self, pose: Pose2D):
        self._idle_pose: Pose2D = (float(pose[0]), float(pose[1]), float(pose[2]))
        self.trajectory: Optional[Trajectory] = None
        self.kind = ""                                  # "patrol" | "nav" | "" (idle)

    def follow(self, trajectory: Trajectory, kind: str) -> None:
        self.trajectory = trajectory
        self.kind = kind

    def stop(self, t_ns: int) -> Pose2D:
        """Halt where the robot is at ``t_ns`` (cancel, preemption); returns that pose."""
        self._idle_pose = self.pose_at(t_ns)
        self.trajectory = None
        self.kind = ""
        return self._idle_pose

    def active(self, t_ns: int) -> bool:
        return self.trajectory is not None and t_ns < self.trajectory.end_ns

    def finish_if_done(self, t_ns: int) -> Optional[str]:
        """If the trajectory has ended by ``t_ns``: become idle at its end, return its kind."""
        if self.trajectory is not None and t_ns >= self.trajectory.end_ns:
            kind = self.kind
            self._idle_pose = self.trajectory.pose_at(self.trajectory.end_ns)
            self.trajectory = None
            self.kind = ""
            return kind
        return None

    def pose_at(self, t_ns: int) -> Pose2D:
        if self.trajectory is not None:
            return self.trajectory.pose_at(t_ns)
        return self._idle_pose

    def velocity_at(self, t_ns: int, dt_ns: int = 50_000_000) -> Tuple[float, float]:
        """(forward m/s, yaw rad/s) by finite difference."""
        if self.trajectory is None:
            return (0.0, 0.0)
        a = self.pose_at(t_ns - dt_ns)
        b = self.pose_at(t_ns)
        dt = dt_ns / 1e9
        fwd = ((b[0] - a[0]) * math.cos(a[2]) + (b[1] - a[1]) * math.sin(a[2])) / dt
        return (fwd, wrap_angle(b[2] - a[2]) / dt)


class OdometryDrift:
    """Wheel odometry: odom_T_base from true increments plus noise growing with distance travelled."""

    def __init__(self, cfg: RobotConfig, seed: int, start_pose: Pose2D):
        self.cfg = cfg
        self.enabled = cfg.odom_drift_enabled
        self._rng = np.random.default_rng([seed, _DRIFT_SEED_TAG])
        self._last_true: Pose2D = start_pose
        self._odom: Pose2D = start_pose          # odom frame starts aligned with map
        self.distance_m = 0.0

    def update(self, true_pose: Pose2D) -> Pose2D:
        """Advance with the new true pose; returns the odometry pose (x, y, yaw) in the odom frame."""
        a, b = self._last_true, true_pose
        # increment in the previous base frame
        c, s = math.cos(a[2]), math.sin(a[2])
        dx, dy = b[0] - a[0], b[1] - a[1]
        fx, fy = c * dx + s * dy, -s * dx + c * dy
        dyaw = wrap_angle(b[2] - a[2])
        dist = math.hypot(fx, fy)
        self.distance_m += dist
        if self.enabled and (dist > 0 or dyaw != 0):
            k = self.cfg.odom_drift_linear_frac
            fx += self._rng.normal(0.0, k * dist)
            fy += self._rng.normal(0.0, 0.5 * k * dist)
            dyaw += self._rng.normal(0.0, self.cfg.odom_drift_yaw_rad_per_m * dist + 0.002 * abs(dyaw))
        o = self._odom
        co, so = math.cos(o[2]), math.sin(o[2])
        self._odom = (o[0] + co * fx - so * fy, o[1] + so * fx + co * fy, wrap_angle(o[2] + dyaw))
        self._last_true = b
        return self._odom

    @property
    def odom_pose(self) -> Pose2D:
        return self._odom

    def odom_T_base(self) -> np.ndarray:
        return pose2d_T(*self._odom)

    def map_T_odom(self, true_pose: Pose2D) -> np.ndarray:
        """The localizer's correction that makes map -> odom -> base_link equal the true pose."""
        return pose2d_T(*true_pose) @ invert_T(self.odom_T_base())
