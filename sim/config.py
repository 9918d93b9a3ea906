"""Typed simulator configuration, read from config/sim.yaml (``sim_node: ros__parameters: <section>``).

The same sections and names are the ROS node's parameters (``world.seed``, ``camera.rate_hz`` ...), so
the pip core and the node share one vocabulary. Units are in the names.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Mapping, Optional

from memory_nodes.common.config import config_from_dict, load_node_params
from memory_nodes.common.errors import ConfigError

from .catalog import ROOM_TYPES

NODE_NAME = "sim"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "sim.yaml"


@dataclass
class WorldConfig:
    seed: int = 0
    # rooms besides the hallway (which every home has); order does not matter, the seed shuffles them
    room_types: List[str] = field(default_factory=lambda: [
        "kitchen", "living_room", "bedroom", "bedroom", "bathroom", "office", "kids_room"])
    num_objects: int = 64                 # objects present on day 0 (>= the catalog's base counts)
    num_new_objects: int = 6              # objects that appear on later days ("new items")
    new_objects_last_day: int = 13        # new items appear on days 1..this
    room_depth_m_min: float = 4.0
    room_depth_m_max: float = 5.0
    hallway_width_m: float = 1.6
    wall_height_m: float = 2.5
    wall_thickness_m: float = 0.1
    door_width_m: float = 0.9
    grid_resolution_m: float = 0.05

    def validate(self) -> None:
        if self.seed < 0:
            raise ConfigError("world.seed must be >= 0")
        if not self.room_types:
            raise ConfigError("world.room_types: empty")
        for t in self.room_types:
            if t not in ROOM_TYPES or t == "hallway":
                raise ConfigError(f"world.room_types: unknown or reserved room type {t!r}")
        if len(self.room_types) < 2:
            raise ConfigError("world.room_types: need at least 2 rooms besides the hallway")
        if self.num_objects < 1 or self.num_new_objects < 0:
            raise ConfigError("world.num_objects must be >= 1 and num_new_objects >= 0")
        if not (0.5 < self.room_depth_m_min <= self.room_depth_m_max):
            raise ConfigError("world.room_depth_m_min/max: need 0.5 < min <= max")
        if self.hallway_width_m < 1.0 or self.door_width_m < 0.6:
            raise ConfigError("world.hallway_width_m >= 1.0 and door_width_m >= 0.6 required")
        if not (0.01 <= self.grid_resolution_m <= 0.2):
            raise ConfigError("world.grid_resolution_m must be in [0.01, 0.2]")


@dataclass
class HouseholdConfig:
    start_date: str = "2025-03-03"        # ISO date of day 0 (a Monday); stamps are ns since the Unix epoch,
                                          # the home's local time taken as UTC
    activity_scale: float = 1.0           # multiplies every routine's participation probability
    chair_drift_m: float = 0.12           # max chair offset from its nominal spot

    def validate(self) -> None:
        try:
            _dt.date.fromisoformat(self.start_date)
        except ValueError as e:
            raise ConfigError(f"household.start_date: {e}") from e
        if not (0.0 <= self.activity_scale <= 2.0):
            raise ConfigError("household.activity_scale must be in [0, 2]")
        if not (0.0 <= self.chair_drift_m <= 0.3):
            raise ConfigError("household.chair_drift_m must be in [0, 0.3]")


@dataclass
class RobotConfig:
    radius_m: float = 0.22
    linear_speed_mps: float = 0.5
    angular_speed_radps: float = 0.8
    camera_forward_m: float = 0.10        # base_link -> camera, forward
    camera_height_m: float = 1.15         # base_link -> camera, up (base_link on the floor)
    camera_pitch_down_rad: float = 0.35
    odom_drift_enabled: bool = False
    odom_drift_linear_frac: float = 0.01  # drift per metre travelled (random walk std)
    odom_drift_yaw_rad_per_m: float = 0.005

    def validate(self) -> None:
        if not (0.05 <= self.radius_m <= 0.5):
            raise ConfigError("robot.radius_m must be in [0.05, 0.5]")
        if self.linear_speed_mps <= 0 or self.angular_speed_radps <= 0:
            raise ConfigError("robot speeds must be > 0")
        if not (0.2 <= self.camera_height_m <= 2.0):
            raise ConfigError("robot.camera_height_m must be in [0.2, 2.0]")


@dataclass
class CameraConfig:
    width: int = 320
    height: int = 240
    hfov_deg: float = 70.0
    rate_hz: float = 5.0
    min_range_m: float = 0.15
    max_range_m: float = 8.0
    depth_noise_base_m: float = 0.002     # sigma = base + quadratic * z^2 (structured-light like)
    depth_noise_quadratic: float = 0.0025
    depth_dropout_prob: float = 0.002     # per-pixel missing return (NaN)
    rgb_noise_std: float = 2.0            # per-pixel intensity noise, 0..255 scale

    def validate(self) -> None:
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ConfigError("camera.width/height must be in [16, 4096]")
        if not (20.0 <= self.hfov_deg <= 150.0):
            raise ConfigError("camera.hfov_deg must be in [20, 150]")
        if not (0.1 <= self.rate_hz <= 60.0):
            raise ConfigError("camera.rate_hz must be in [0.1, 60]")
        if not (0.0 < self.min_range_m < self.max_range_m):
            raise ConfigError("camera: need 0 < min_range_m < max_range_m")
        if self.depth_noise_base_m < 0 or self.depth_noise_quadratic < 0 or self.rgb_noise_std < 0:
            raise ConfigError("camera noise parameters must be >= 0")
        if not (0.0 <= self.depth_dropout_prob < 1.0):
            raise ConfigError("camera.depth_dropout_prob must be in [0, 1)")


@dataclass
class PatrolConfig:
    coverage_fraction: float = 0.6        # share of the home's rooms (by area) visited each day
    start_time_of_day_s: float = 36000.0  # 10:00
    always_visit_hallway: bool = True
    spin_at_stops: bool = True            # a slow 360 deg turn at each room stop
    stops_per_room_per_20m2: float = 1.0  # bigger rooms get more stops
    mapping_tour_first_day: bool = True   # day 0 visits every room, as a robot maps its home when installed

    def validate(self) -> None:
        if not (0.0 < self.coverage_fraction <= 1.0):
            raise ConfigError("patrol.coverage_fraction must be in (0, 1]")
        if not (0.0 <= self.start_time_of_day_s < 86400.0):
            raise ConfigError("patrol.start_time_of_day_s must be in [0, 86400)")


@dataclass
class RenderConfig:
    backend: str = "auto"                 # auto | mujoco | numpy (pip-only ray caster)
    mujoco_gl: str = "egl"                # egl | osmesa (tried in this order when auto)

    def validate(self) -> None:
        if self.backend not in ("auto", "mujoco", "numpy"):
            raise ConfigError("render.backend must be auto, mujoco or numpy")
        if self.mujoco_gl not in ("egl", "osmesa", "glfw"):
            raise ConfigError("render.mujoco_gl must be egl, osmesa or glfw")


@dataclass
class SimConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    household: HouseholdConfig = field(default_factory=HouseholdConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    patrol: PatrolConfig = field(default_factory=PatrolConfig)
    render: RenderConfig = field(default_factory=RenderConfig)


CORE_SECTIONS = ("world", "household", "robot", "camera", "patrol", "render")


def sim_config_from_params(params: Mapping[str, Any]) -> SimConfig:
    """SimConfig from a node's nested ros__parameters; sections other than the core's (e.g. ``node``)
    are ignored here (the ROS node reads them)."""
    return config_from_dict(SimConfig, {k: v for k, v in params.items() if k in CORE_SECTIONS})


def load_sim_config(path: Optional[str | Path] = None, seed: Optional[int] = None) -> SimConfig:
    """Read config/sim.yaml (or ``path``); ``seed`` overrides world.seed."""
    params = load_node_params(path or DEFAULT_CONFIG_PATH, NODE_NAME)
    cfg = sim_config_from_params(params)
    if seed is not None:
        cfg.world.seed = int(seed)
    return cfg
