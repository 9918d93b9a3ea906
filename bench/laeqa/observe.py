"""The visibility-based observation model: what the robot's camera sees from a pose in the frozen true
world, with the noisy oracle detector's error rates, without rendering images.

An entity (small object or furniture piece) is *visible* when some of its sample points (centre, top,
left, right) lie in the camera frustum, within range, with no wall or furniture box on the ray before
them (its own supporting furniture excluded). A visible entity is *detected* with probability
1 - p_miss, p_miss = base + per_m * (distance beyond the free range) + occlusion * hidden fraction
+ small * (1 - projected area / small area) -- the noisy oracle's model (memory_nodes/perception/oracle.py)
evaluated analytically -- and reported as a look-alike class with ``confusion_prob``. Keyframe depth
(for memory's absence reasoning and perception's room grid) is ray-cast at low resolution against the
same boxes.

Scorers also use ``visible`` (no detector noise) for robot-centric truths such as "when did you last see X".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.geometry import base_R_optical, make_T
from memory_nodes.common.types import CameraIntrinsics, ObjectObservation, View
from sim.config import CameraConfig, RobotConfig
from sim.ground_truth import GroundTruthLog, ObjectState
from sim.world import World

from .config import ObservationConfig

Pose2D = Tuple[float, float, float]
_REF_FX_640 = 320.0   # focal length in px at 640 wide is 320 / tan(hfov / 2)


@dataclass
class Entity:
    """One thing that can be seen: a small object or a furniture piece, at the frozen time."""
    entity_id: str                       # object_id or furniture_id (scorer side only)
    class_name: str
    kind: str                            # "object" | "furniture"
    center_m: np.ndarray                 # (3,)
    half_m: np.ndarray                   # (3,) axis-aligned half extents
    rgb: Tuple[float, float, float]
    support_index: int = -1              # index into WorldState.boxes of the furniture it rests on


@dataclass
class WorldState:
    """The true world frozen at ``t_ns``: entities and the occluding boxes (walls, furniture)."""
    t_ns: int
    entities: List[Entity]
    box_min: np.ndarray                  # (M, 3) occluders: walls then furniture
    box_max: np.ndarray                  # (M, 3)
    furniture_box_index: Dict[str, int]
    object_states: Dict[str, ObjectState] = field(default_factory=dict)

    def entity(self, entity_id: str) -> Optional[Entity]:
        for e in self.entities:
            if e.entity_id == entity_id:
                return e
        return None


def world_state(world: World, log: GroundTruthLog, t_ns: int) -> WorldState:
    """The frozen true state at ``t_ns`` (objects from the log; chairs at their drifted pose)."""
    mins: List[np.ndarray] = []
    maxs: List[np.ndarray] = []
    for w in world.walls:
        c, h = np.asarray(w.center_m), np.asarray(w.half_m)
        mins.append(c - h)
        maxs.append(c + h)
    entities: List[Entity] = []
    fidx: Dict[str, int] = {}
    for f in world.furniture:
        cx, cy = f.center_xy_m
        if f.drifts:
            p = log.furniture_pose(f.furniture_id, t_ns)
            if p is not None:
                cx, cy = p.x_m, p.y_m
        hx, hy = f.footprint_half_xy_m
        c = np.array([cx, cy, f.height_m / 2])
        h = np.array([hx, hy, f.height_m / 2])
        fidx[f.furniture_id] = len(mins)
        mins.append(c - h)
        maxs.append(c + h)
        entities.append(Entity(f.furniture_id, f.class_name, "furniture", c, h, f.rgb, fidx[f.furniture_id]))
    states = log.object_states(t_ns)
    for o in world.objects:
        s = states.get(o.object_id)
        if s is None or not s.present:
            continue
        ex, ey = o.half_extents_xy_m(s.yaw_rad)
        entities.append(Entity(o.object_id, o.class_name, "object", np.asarray(s.position_m, float),
                               np.array([ex, ey, o.size_m[2] / 2]), o.rgb, fidx.get(s.furniture_id, -1)))
    return WorldState(t_ns, entities, np.asarray(mins), np.asarray(maxs), fidx, states)


def ray_box_hits(origin: np.ndarray, dirs: np.ndarray, bmin: np.ndarray, bmax: np.ndarray) -> np.ndarray:
    """(N, M) entry parameter t >= 0 of ray i (origin + t * dirs[i]) into box j; inf where it misses."""
    d = np.where(np.abs(dirs) < 1e-12, 1e-12, dirs)
    inv = (1.0 / d)[:, None, :]                                       # (N, 1, 3)
    t1 = (bmin[None] - origin) * inv
    t2 = (bmax[None] - origin) * inv
    tmin = np.minimum(t1, t2).max(axis=2)
    tmax = np.maximum(t1, t2).min(axis=2)
    np.maximum(tmin, 0.0, out=tmin)
    return np.where(tmax >= tmin, tmin, np.inf)


@dataclass
class Sighting:
    """One entity truly in view from a pose (before detector noise)."""
    entity: Entity
    distance_m: float
    hidden_fraction: float               # share of sample points not visible
    area_px_640: float                   # projected area in px at 640x480


class VisibilityModel:
    """Camera geometry from the simulator's robot/camera config; detection noise from ObservationConfig."""

    def __init__(self, world: World, robot: RobotConfig, camera: CameraConfig, config: ObservationConfig):
        config.validate()
        self.world = world
        self.robot = robot
        self.camera = camera
        self.config = config
        self.tan_h = math.tan(math.radians(camera.hfov_deg) / 2)
        self.tan_v = self.tan_h * camera.height / camera.width
        self.fx_640 = _REF_FX_640 / self.tan_h
        w, h = config.view_width_px, config.view_height_px
        fx = (w / 2.0) / self.tan_h
        self.view_K = CameraIntrinsics(w, h, fx, fx, (w - 1) / 2.0, (h - 1) / 2.0)
        u, v = np.meshgrid(np.arange(w), np.arange(h))
        self._view_dirs_c = np.stack([(u - self.view_K.cx) / fx, (v - self.view_K.cy) / fx,
                                      np.ones_like(u, float)], axis=-1).reshape(-1, 3)
        self._similar: Dict[str, List[str]] = {}
        for pair in config.confusion_pairs:
            a, b = pair.split(":")
            self._similar.setdefault(a, []).append(b)
            self._similar.setdefault(b, []).append(a)
        self._object_classes = sorted({o.class_name for o in world.objects})

    # -- geometry ---------------------------------------------------------------------------------------
    def map_T_camera(self, pose: Pose2D) -> np.ndarray:
        """Optical frame pose for the robot at ``pose`` (camera forward/up offsets, pitched down)."""
        x, y, yaw = pose
        r = self.robot
        c, s = math.cos(yaw), math.sin(yaw)
        p = r.camera_pitch_down_rad
        # base_link axes -> a link pitched down by p about its y axis
        R_yaw = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        cp, sp = math.cos(p), math.sin(p)
        R_pitch = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        R = R_yaw @ R_pitch @ base_R_optical
        t = (x + c * r.camera_forward_m, y + s * r.camera_forward_m, r.camera_height_m)
        return make_T(R, t)

    def sightings(self, state: WorldState, pose: Pose2D, kinds: Sequence[str] = ("object", "furniture"),
                  only: Optional[Sequence[str]] = None) -> List[Sighting]:
        """Entities truly in view from ``pose`` (frustum, range, occlusion by walls and furniture);
        ``only`` restricts the check to these entity ids."""
        T = self.map_T_camera(pose)
        R, o = T[:3, :3], T[:3, 3]
        ents = [e for e in state.entities if e.kind in kinds and (only is None or e.entity_id in only)]
        if not ents:
            return []
        centers = np.array([e.center_m for e in ents])
        d = np.linalg.norm(centers - o, axis=1)
        cand = np.nonzero((d < self.config.max_range_m + 1.0) & (d > 0.05))[0]
        if cand.size == 0:
            return []
        # four sample points per entity: centre, top, left, right (left/right across the line of sight)
        pts = []
        for i in cand:
            e = ents[i]
            c = e.center_m
            los = c[:2] - o[:2]
            n = np.linalg.norm(los)
            perp = np.array([-los[1], los[0]]) / n if n > 1e-9 else np.array([1.0, 0.0])
            lat = 0.4 * min(e.half_m[0] + e.half_m[1], 2 * max(e.half_m[0], e.half_m[1]))
            top = c + np.array([0.0, 0.0, 0.8 * e.half_m[2]])
            pts += [c, top, c + np.array([perp[0] * lat, perp[1] * lat, 0.0]),
                    c - np.array([perp[0] * lat, perp[1] * lat, 0.0])]
        P = np.asarray(pts)                                              # (4K, 3)
        pc = (P - o) @ R                                                 # camera (optical) coordinates
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            in_fov = (z > self.camera.min_range_m) & (np.abs(pc[:, 0] / z) <= self.tan_h) & \
                     (np.abs(pc[:, 1] / z) <= self.tan_v)
        dirs = P - o
        t = ray_box_hits(o, dirs, state.box_min, state.box_max)          # (4K, M)
        # a point inside (or on) its own support box is not occluded by it
        support = np.repeat([ents[i].support_index for i in cand], 4)
        own = [ents[i].entity_id for i in cand]
        furn_self = np.repeat([state.furniture_box_index.get(eid, -1) for eid in own], 4)
        rows = np.arange(P.shape[0])
        ok_s = support >= 0
        t[rows[ok_s], support[ok_s]] = np.inf
        ok_f = furn_self >= 0
        t[rows[ok_f], furn_self[ok_f]] = np.inf
        occluded = (t < 0.995).any(axis=1)
        seen = (in_fov & ~occluded).reshape(-1, 4)
        out: List[Sighting] = []
        for k, i in enumerate(cand):
            nvis = int(seen[k].sum())
            if nvis == 0 or d[i] > self.config.max_range_m:
                continue
            e = ents[i]
            hidden = 1.0 - nvis / 4.0
            w_m = 2 * max(e.half_m[0], e.half_m[1])
            h_m = 2 * e.half_m[2]
            area = (w_m * self.fx_640 / d[i]) * (h_m * self.fx_640 / d[i]) * (1.0 - hidden)
            out.append(Sighting(e, float(d[i]), hidden, float(area)))
        return out

    def seen_from(self, state: WorldState, xy: Tuple[float, float], entity_id: str, yaw_steps: int = 8) -> bool:
        """Is the entity truly in view from some heading of a yaw sweep at ``xy``?"""
        for k in range(yaw_steps):
            if self.sightings(state, (xy[0], xy[1], 2.0 * math.pi * k / yaw_steps), only=(entity_id,)):
                return True
        return False

    # -- detection --------------------------------------------------------------------------------------
    def p_miss(self, s: Sighting) -> float:
        c = self.config
        hidden_w = c.furniture_hidden_weight if s.entity.kind == "furniture" else 1.0
        p = c.miss_prob_base + c.miss_prob_per_m * max(0.0, s.distance_m - c.miss_free_distance_m) + \
            c.miss_prob_occlusion * hidden_w * s.hidden_fraction + \
            c.miss_prob_small * max(0.0, 1.0 - s.area_px_640 / c.small_area_px)
        if s.entity.kind == "object":
            p += c.object_miss_extra
        return float(min(1.0, max(0.0, p)))

    def detect(self, sightings: Sequence[Sighting], stamp_ns: int, rng: np.random.Generator, view_id: str = "",
               place_id: int = -1, pose: Optional[Pose2D] = None
               ) -> Tuple[List[ObjectObservation], List[str]]:
        """Noisy detections of the sightings (+ false positives). Returns (observations, true entity id of
        each observation, "" for a false positive) -- the second list is for scorers only."""
        c = self.config
        obs: List[ObjectObservation] = []
        truth: List[str] = []
        for s in sightings:
            if rng.random() < self.p_miss(s):
                continue
            e = s.entity
            cls = e.class_name
            alts = self._similar.get(cls)
            if alts and rng.random() < c.confusion_prob:
                cls = alts[int(rng.integers(len(alts)))]
            centre = e.center_m + rng.normal(0.0, c.position_noise_m, 3)
            rgb = tuple(float(min(1.0, max(0.0, v + rng.normal(0.0, 0.03)))) for v in e.rgb)
            obs.append(ObjectObservation(
                stamp_ns=stamp_ns, class_name=cls, score=float(np.clip(rng.normal(0.85, 0.08), 0.3, 1.0)),
                centroid_m=centre, bbox_min_m=centre - e.half_m, bbox_max_m=centre + e.half_m,
                num_points=int(max(1.0, s.area_px_640 / 16.0)), color_rgb=rgb,  # type: ignore[arg-type]
                distance_m=s.distance_m, view_id=view_id, place_id=place_id))
            truth.append(e.entity_id)
        n_fp = int(rng.poisson(c.false_positive_rate)) if c.false_positive_rate > 0 else 0
        if n_fp and pose is not None and self._object_classes:
            T = self.map_T_camera(pose)
            for _ in range(n_fp):
                ray = T[:3, :3] @ np.array([rng.uniform(-self.tan_h, self.tan_h) * 0.8,
                                            rng.uniform(0.1, self.tan_v), 1.0])
                if ray[2] >= -1e-6:
                    continue
                tt = -T[2, 3] / ray[2]
                p = T[:3, 3] + tt * ray
                p[2] = 0.05
                cls = self._object_classes[int(rng.integers(len(self._object_classes)))]
                half = np.full(3, 0.05)
                obs.append(ObjectObservation(
                    stamp_ns=stamp_ns, class_name=cls, score=float(np.clip(rng.normal(0.45, 0.1), 0.2, 0.9)),
                    centroid_m=p, bbox_min_m=p - half, bbox_max_m=p + half, num_points=5,
                    color_rgb=(0.5, 0.5, 0.5), distance_m=float(tt * np.linalg.norm(ray)), view_id=view_id,
                    place_id=place_id))
                truth.append("")
        return obs, truth

    # -- keyframe depth ---------------------------------------------------------------------------------
    def depth_image(self, state: WorldState, pose: Pose2D, include_objects: bool = True) -> np.ndarray:
        """(h, w) float32 optical-z depth at the view resolution; NaN where nothing is hit in range."""
        T = self.map_T_camera(pose)
        R, o = T[:3, :3], T[:3, 3]
        dirs = self._view_dirs_c @ R.T
        bmin, bmax = state.box_min, state.box_max
        if include_objects:
            objs = [e for e in state.entities if e.kind == "object"]
            if objs:
                bmin = np.vstack([bmin, [e.center_m - e.half_m for e in objs]])
                bmax = np.vstack([bmax, [e.center_m + e.half_m for e in objs]])
        keep = self._boxes_in_view(o, R[:, 2], bmin, bmax)
        t = ray_box_hits(o, dirs, bmin[keep], bmax[keep]).min(axis=1) if keep.any() else np.full(len(dirs), np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = np.where(dirs[:, 2] < 0, -o[2] / dirs[:, 2], np.inf)
        t = np.minimum(t, tf)
        t[(t < self.camera.min_range_m) | (t > self.camera.max_range_m)] = np.nan
        return t.astype(np.float32).reshape(self.view_K.height, self.view_K.width)

    def _boxes_in_view(self, o: np.ndarray, forward: np.ndarray, bmin: np.ndarray, bmax: np.ndarray) -> np.ndarray:
        """Boxes that may be hit: some corner in front of the camera and the box within range."""
        near = np.clip(o, bmin, bmax)
        in_range = np.linalg.norm(near - o, axis=1) <= self.camera.max_range_m
        corners = np.stack([np.where(np.array([i & 1, i & 2, i & 4], bool), bmax, bmin) for i in range(8)], axis=1)
        ahead = ((corners - o) @ forward > 0).any(axis=1)
        return in_range & ahead

    def make_view(self, state: WorldState, pose: Pose2D, stamp_ns: int, view_id: str, place_id: int,
                  detected_classes: Sequence[str]) -> View:
        return View(view_id=view_id, stamp_ns=stamp_ns, map_T_camera=self.map_T_camera(pose),
                    intrinsics=self.view_K, depth_m=self.depth_image(state, pose), place_id=place_id,
                    detected_classes=sorted(set(detected_classes)))
