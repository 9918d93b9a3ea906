"""The in-process simulator facade: world, household ground truth, navigation, patrol, camera."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from memory_nodes.common.errors import InputError
from memory_nodes.common.geometry import base_R_optical, make_T, pose2d_T
from memory_nodes.common.types import CameraIntrinsics, RGBDFrame

from .calendar import Calendar
from .config import SimConfig, load_sim_config
from .ground_truth import GroundTruthLog, ObjectState
from .household import Household
from .nav import GridPlanner
from .patrol import PatrolPlan, Pose2D, Trajectory, plan_drive, plan_patrol
from .world import World, generate_world

XY = Tuple[float, float]
_NOISE_SEED_TAG = 0xCA3E7A


@dataclass
class SceneState:
    """What moves, at one instant: object poses (absent objects are hidden) and drifting furniture."""
    objects: Dict[str, Optional[Tuple[float, float, float, float]]]   # id -> (x, y, z, yaw) or None if absent
    furniture: Dict[str, Tuple[float, float, float]]                   # id -> (x, y, yaw), moving pieces only


@dataclass
class SimFrame:
    """One camera frame with its poses. ``instance_to_object_id`` is for scorers only (ground truth)."""
    stamp_ns: int
    frame: RGBDFrame                       # rgb, depth_m (noisy, NaN = no return), instance_mask (int32)
    map_T_base: np.ndarray                 # (4, 4)
    map_T_camera: np.ndarray               # (4, 4) optical frame
    class_table: Dict[int, str]            # instance id -> class name (furniture and objects)
    instance_to_object_id: Dict[int, str]  # instance id -> object_id / furniture_id (SCORERS ONLY)


def camera_intrinsics(width: int, height: int, hfov_deg: float) -> CameraIntrinsics:
    """Square-pixel pinhole with the principal point at the image centre (pixel centres at integers)."""
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return CameraIntrinsics(width, height, fx, fx, (width - 1) / 2.0, (height - 1) / 2.0)


class Simulator:
    """Everything the stack needs from the simulated home, in-process and without ROS.

    Deterministic: the world from ``config.world.seed``; each day's household activity and patrol from
    (seed, day); camera noise from (seed, stamp).
    """

    def __init__(self, config: Optional[SimConfig] = None, seed: Optional[int] = None,
                 renderer: Optional[str] = None):
        self.config = config or load_sim_config()
        if seed is not None:
            self.config.world.seed = int(seed)
        if renderer is not None:
            self.config.render.backend = renderer
            self.config.render.validate()
        cfg = self.config
        self.world: World = generate_world(cfg.world, robot_radius_m=cfg.robot.radius_m)
        self.world.set_robot_radius(cfg.robot.radius_m)
        self.calendar = Calendar(cfg.household.start_date)
        self.household = Household(self.world, cfg.household, self.calendar)
        self.intrinsics = camera_intrinsics(cfg.camera.width, cfg.camera.height, cfg.camera.hfov_deg)
        self._log: Optional[GroundTruthLog] = None
        self._renderers: Dict[Tuple[int, int], object] = {}
        self.class_table: Dict[int, str] = self.world.instance_class_table()
        self.instance_to_object_id: Dict[int, str] = self.world.instance_to_entity_id()

    @classmethod
    def from_yaml(cls, path: Optional[str] = None, seed: Optional[int] = None,
                  renderer: Optional[str] = None) -> "Simulator":
        return cls(load_sim_config(path, seed=seed), renderer=renderer)

    @property
    def seed(self) -> int:
        return self.world.seed

    @property
    def planner(self) -> GridPlanner:
        return self.world.planner

    # -- ground truth ------------------------------------------------------------------------------------
    def ground_truth(self, num_days: int) -> GroundTruthLog:
        """The log covering at least days [0, num_days) (extended in place as needed)."""
        if self._log is None:
            self._log = self.household.new_log()
        if self._log.days_simulated < num_days:
            self.household.extend(self._log, num_days)
        return self._log

    def use_ground_truth(self, log: GroundTruthLog) -> None:
        """Continue from a stored log (e.g. GroundTruthLog.load(data_dir/...)); must match this world."""
        if log.world_hash != self.world.hash():
            raise InputError("ground_truth_mismatch",
                             f"log is of world {log.world_hash[:12]}, this is {self.world.hash()[:12]}")
        self._log = log

    def load_or_create_ground_truth(self, path: str | Path, num_days: int) -> GroundTruthLog:
        """Load ``path`` if it exists (and matches), extend it to ``num_days`` and save it back."""
        path = Path(path)
        if path.is_file():
            self.use_ground_truth(GroundTruthLog.load(path))
        log = self.ground_truth(num_days)
        log.save(path)
        return log

    def _ensure_day(self, t_ns: int) -> GroundTruthLog:
        day = max(0, self.calendar.day_of(t_ns))
        return self.ground_truth(day + 1)

    def object_states(self, t_ns: int) -> Dict[str, ObjectState]:
        """True state of every object at ``t_ns``."""
        return self._ensure_day(t_ns).object_states(t_ns)

    def object_state(self, object_id: str, t_ns: int) -> ObjectState:
        return self._ensure_day(t_ns).object_state(object_id, t_ns)

    def furniture_poses(self, t_ns: int) -> Dict[str, Tuple[float, float, float]]:
        """(x_m, y_m, yaw_rad) of every furniture piece at ``t_ns`` (drifting chairs included)."""
        log = self._ensure_day(t_ns)
        out = {}
        for f in self.world.furniture:
            p = log.furniture_pose(f.furniture_id, t_ns) if f.drifts else None
            out[f.furniture_id] = (p.x_m, p.y_m, p.yaw_rad) if p else (f.center_xy_m[0], f.center_xy_m[1], f.yaw_rad)
        return out

    def scene_state(self, t_ns: int) -> SceneState:
        log = self._ensure_day(t_ns)
        objs = {}
        for oid, s in log.object_states(t_ns).items():
            objs[oid] = (s.position_m[0], s.position_m[1], s.position_m[2], s.yaw_rad) if s.present else None
        furn = {}
        for f in self.world.furniture:
            if f.drifts:
                p = log.furniture_pose(f.furniture_id, t_ns)
                if p is not None:
                    furn[f.furniture_id] = (p.x_m, p.y_m, p.yaw_rad)
        return SceneState(objs, furn)

    # -- navigation -------------------------------------------------------------------------------------
    def plan_path(self, start_xy: XY, goal_xy: XY) -> Optional[List[XY]]:
        """Collision-free waypoints (A* + shortcutting), None if unreachable."""
        return self.planner.plan(start_xy, goal_xy)

    def path_length_m(self, start_xy: XY, goal_xy: XY) -> float:
        """Shortest collision-free path length (m); inf if unreachable."""
        return self.planner.path_length_m(start_xy, goal_xy)

    def drive(self, start_ns: int, start: Pose2D, goal: Pose2D) -> Optional[Trajectory]:
        """Timed trajectory at the robot's speeds from start to goal (x, y, yaw); None if unreachable."""
        return plan_drive(self.planner, self.config.robot, start_ns, start, goal)

    # -- patrol -----------------------------------------------------------------------------------------
    def patrol_start_ns(self, day: int) -> int:
        return self.calendar.stamp_ns(day, self.config.patrol.start_time_of_day_s)

    def patrol_plan(self, day: int, start_ns: Optional[int] = None,
                    start_pose: Optional[Pose2D] = None) -> PatrolPlan:
        t0 = self.patrol_start_ns(day) if start_ns is None else int(start_ns)
        return plan_patrol(self.world, self.planner, self.config.robot, self.config.patrol, day, t0, start_pose)

    def patrol(self, day: int, max_frames: Optional[int] = None, rate_hz: Optional[float] = None
               ) -> Iterator[SimFrame]:
        """Frames of the day's patrol at the camera rate (rendered lazily, one per ``next``)."""
        plan = self.patrol_plan(day)
        stamps = plan.trajectory.stamps_ns(rate_hz or self.config.camera.rate_hz)
        if max_frames is not None:
            stamps = stamps[:max_frames]
        self._ensure_day(plan.trajectory.end_ns)
        for t in stamps:
            yield self.frame_at(self.base_pose_T(plan.trajectory.pose_at(t)), t)

    # -- camera -----------------------------------------------------------------------------------------
    @property
    def base_T_camera(self) -> np.ndarray:
        """base_link -> camera optical frame (pitched down by robot.camera_pitch_down_rad)."""
        r = self.config.robot
        p = r.camera_pitch_down_rad
        Ry = np.array([[math.cos(p), 0.0, math.sin(p)], [0.0, 1.0, 0.0], [-math.sin(p), 0.0, math.cos(p)]])
        return make_T(Ry @ base_R_optical, (r.camera_forward_m, 0.0, r.camera_height_m))

    @staticmethod
    def base_pose_T(pose: Pose2D) -> np.ndarray:
        return pose2d_T(pose[0], pose[1], pose[2])

    def renderer(self, width: Optional[int] = None, height: Optional[int] = None):
        """The (cached) renderer for a resolution (default: the configured camera)."""
        from .render import make_renderer
        w = width or self.config.camera.width
        h = height or self.config.camera.height
        key = (w, h)
        if key not in self._renderers:
            intr = self.intrinsics if (w, h) == (self.intrinsics.width, self.intrinsics.height) \
                else camera_intrinsics(w, h, self.config.camera.hfov_deg)
            self._renderers[key] = make_renderer(self.world, intr, self.config)
        return self._renderers[key]

    def render(self, map_T_camera: np.ndarray, t_ns: int, width: Optional[int] = None,
               height: Optional[int] = None, noise: bool = True) -> RGBDFrame:
        """One RGB-D frame (with instance mask) from an arbitrary optical-frame pose at time ``t_ns``."""
        T = np.asarray(map_T_camera, dtype=float)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise InputError("bad_pose", "map_T_camera must be a finite 4x4 matrix")
        r = self.renderer(width, height)
        rgb, depth, inst = r.render(T, self.scene_state(t_ns))
        if noise:
            rgb, depth = self._add_noise(rgb, depth, t_ns)
        else:
            cam = self.config.camera
            depth = depth.copy()
            depth[(depth < cam.min_range_m) | (depth > cam.max_range_m)] = np.nan
        return RGBDFrame(stamp_ns=int(t_ns), rgb=rgb, depth_m=depth, intrinsics=r.intrinsics,
                         frame_id="camera_optical", instance_mask=inst)

    def frame_at(self, map_T_base: np.ndarray, t_ns: int, noise: bool = True) -> SimFrame:
        """The camera frame the robot at ``map_T_base`` sees at ``t_ns``."""
        map_T_camera = np.asarray(map_T_base, dtype=float) @ self.base_T_camera
        frame = self.render(map_T_camera, t_ns, noise=noise)
        return SimFrame(int(t_ns), frame, np.asarray(map_T_base, dtype=float), map_T_camera, self.class_table,
                        self.instance_to_object_id)

    def sweep(self, pose: Pose2D, t_ns: int, num_views: int = 8) -> List[SimFrame]:
        """A look around in place: ``num_views`` frames at evenly spaced yaws starting at ``pose``'s yaw,
        stamped one camera period apart from ``t_ns`` (what a robot turning on the spot would see)."""
        if num_views < 1:
            raise InputError("bad_sweep", "num_views must be >= 1")
        period = int(round(1e9 / self.config.camera.rate_hz))
        return [self.frame_at(self.base_pose_T((pose[0], pose[1], pose[2] + 2 * math.pi * k / num_views)),
                              int(t_ns) + k * period) for k in range(num_views)]

    def _add_noise(self, rgb: np.ndarray, depth: np.ndarray, t_ns: int) -> Tuple[np.ndarray, np.ndarray]:
        # in place where it can be (the same float32 operations, in the same order of draws, as
        # z + (base + quad * z * z) * N and clip(rgb + std * N)): a 640x480 frame's noise is a third of
        # the patrol's frame time otherwise
        cam = self.config.camera
        rng = np.random.default_rng([self.seed, _NOISE_SEED_TAG, int(t_ns) & 0x7FFFFFFFFFFFFFFF])
        z = depth.astype(np.float32, copy=True)
        sigma = z * np.float32(cam.depth_noise_quadratic)
        sigma *= z
        sigma += np.float32(cam.depth_noise_base_m)
        sigma *= rng.standard_normal(z.shape, dtype=np.float32)
        z += sigma
        bad = (depth < cam.min_range_m) | (depth > cam.max_range_m)
        if cam.depth_dropout_prob > 0:
            bad |= rng.random(z.shape, dtype=np.float32) < cam.depth_dropout_prob
        z[bad] = np.nan
        if cam.rgb_noise_std > 0:
            n = rng.standard_normal(rgb.shape, dtype=np.float32)
            n *= np.float32(cam.rgb_noise_std)
            n += rgb
            np.clip(n, 0, 255, out=n)
            rgb = n.astype(np.uint8)
        return rgb, z
